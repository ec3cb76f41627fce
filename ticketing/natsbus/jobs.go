package natsbus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// Headers of a job on SVAR_JOBS.
const (
	HeaderJobAt  = "Svar-Job-At"  // due time, RFC 3339 with nanoseconds, UTC
	HeaderJobKey = "Svar-Job-Key" // the job's key within its kind

	headerSchedule       = "Nats-Schedule"        // "@at <RFC 3339>": the server publishes the message then
	headerScheduleTarget = "Nats-Schedule-Target" // where it publishes it
)

const (
	// DefaultJobsDedupeWindow is how long SVAR_JOBS remembers a job's
	// Nats-Msg-Id. Scheduling the same job after it is a second copy; the
	// handlers' idempotence makes that harmless.
	DefaultJobsDedupeWindow = 24 * time.Hour
	// JobsMaxAckPending bounds the jobs one kind holds in flight: every job
	// that waits for its due time is delivered, refused with a delay and
	// pending on the consumer until then. Jobs beyond it wait in the
	// stream and are delivered (late) as pending ones finish.
	JobsMaxAckPending = 500_000
	jobWorkers        = 4   // concurrent handlers per kind and node
	jobPrefetch       = 256 // deliveries pulled ahead (most are not due yet)
	maxJobDelay       = 5 * time.Minute
)

var _ ticketing.Scheduler = (*Bus)(nil)

// JobsConsumer is the durable consumer of a job kind, shared by all nodes.
func JobsConsumer(kind string) string { return "svar-jobs-" + kind }

// JobDedupeID is a job's Nats-Msg-Id.
func JobDedupeID(kind, key string) string { return "job:" + kind + ":" + key }

func (b *Bus) jobsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        b.n.jobs,
		Description: "Svar scheduled jobs (SLA clocks, surveys, retention), one work queue per kind",
		Subjects:    []string{b.n.jobsSubj + ">"},
		// Work queue: a job stays until a handler acknowledges it; it waits
		// for its due time as a pending delivery refused with a delay.
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  DefaultJobsDedupeWindow,
		AllowDirect: true, // read by the erasure (erase.go)
		Replicas:    b.opts.Replicas,
		// A job due later is a scheduled message on svar.jobs.at.<kind>.<key
		// hash>, which the server publishes to svar.jobs.<kind> at its due
		// time (and then purges); the server requires roll-ups for it.
		AllowMsgSchedules: true,
		AllowRollup:       true,
	}
}

// scheduleAhead is how far ahead a job must be due to wait as a scheduled
// message; one due sooner goes straight to its consumer, which holds it
// until its time with NakWithDelay. A scheduled job is released
// scheduleLead before its due time (the server's scheduler fires at most
// every 250 ms), so that it reaches the consumer early and the consumer's
// own timer, precise to the millisecond, runs it when due.
const (
	scheduleAhead = 2 * time.Second
	scheduleLead  = time.Second
)

// scheduleSubject is where a job due later waits: one subject per job, so
// the server keeps one schedule for it.
func (b *Bus) scheduleSubject(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return b.n.jobsSubj + "at." + kind + "." + hex.EncodeToString(sum[:16])
}

// Schedule stores a job on svar.jobs.<kind> with its due time in a header
// and Nats-Msg-Id "job:<kind>:<key>". It returns once JetStream has it.
func (b *Bus) Schedule(ctx context.Context, kind, key string, at time.Time, payload []byte) error {
	if !validToken(kind) || kind == "at" {
		return ticketing.FieldError("kind", "is not a valid job kind")
	}
	if key == "" || len(key) > 512 {
		return ticketing.FieldError("key", "must be 1 to 512 bytes")
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	h := nats.Header{}
	h.Set(HeaderJobAt, at.UTC().Format(time.RFC3339Nano))
	h.Set(HeaderJobKey, headerSafe(key))
	m := &nats.Msg{Subject: b.n.jobsSubj + kind, Data: payload, Header: h}
	if b.msgSchedules && time.Until(at) > scheduleAhead {
		// The server holds it until at: thousands of clocks due later cost
		// the consumer nothing, and a due one is delivered at once.
		h.Set(headerSchedule, "@at "+at.Add(-scheduleLead).UTC().Format(time.RFC3339Nano))
		h.Set(headerScheduleTarget, m.Subject)
		m.Subject = b.scheduleSubject(kind, key)
	}
	if _, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(JobDedupeID(kind, key))); err != nil {
		return fmt.Errorf("natsbus: schedule %s job %s: %w", kind, key, err)
	}
	return nil
}

// ConsumeJobs runs h for due jobs of kind until ctx ends. A job that is
// not due yet is refused with NakWithDelay until its due time, so the
// server redelivers it then to whichever node has a pull open: timing is
// the server's, to the millisecond, and survives restarts of every node.
func (b *Bus) ConsumeJobs(ctx context.Context, kind string, h ticketing.JobHandler) error {
	if !validToken(kind) {
		return ticketing.FieldError("kind", "is not a valid job kind")
	}
	return b.superviseConsumer(ctx, JobsConsumer(kind), func(ctx context.Context) error {
		return b.consumeJobs(ctx, kind, h)
	})
}

func (b *Bus) jobsConsumer(ctx context.Context, kind string) (jetstream.Consumer, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	name := JobsConsumer(kind)
	c, err := b.js.CreateOrUpdateConsumer(ctx, b.n.jobs, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Svar: runs " + kind + " jobs when due",
		FilterSubject: b.n.jobsSubj + kind,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1, // a job waits through many refusals; no BackOff (see coreConsumer)
		MaxAckPending: JobsMaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: create consumer %s: %w", name, err)
	}
	return c, nil
}

func (b *Bus) consumeJobs(ctx context.Context, kind string, h ticketing.JobHandler) error {
	cons, err := b.jobsConsumer(ctx, kind)
	if err != nil {
		return err
	}
	r, err := b.startReader(cons, jobPrefetch, JobsConsumer(kind))
	if err != nil {
		return err
	}
	defer r.stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	due := make(chan jetstream.Msg)
	var (
		wg      sync.WaitGroup
		failure error
	)
	for range jobWorkers {
		wg.Go(func() {
			for m := range due {
				b.runJob(ctx, kind, h, m)
			}
		})
	}
	// The dispatcher refuses early jobs itself, so that thousands of
	// waiting jobs never hold up a worker.
	func() {
		defer close(due)
		for {
			select {
			case <-wctx.Done():
				return
			case m, ok := <-r.msgs:
				if !ok {
					failure = r.failure()
					return
				}
				at, ok := jobAt(m)
				if !ok {
					b.deadLetter(ctx, m, "jobs."+kind, "job without a valid "+HeaderJobAt+" header")
					continue
				}
				if wait := time.Until(at); wait > 0 {
					if err := m.NakWithDelay(wait); err != nil {
						b.log.Debug("natsbus: jobs: delay refused", "kind", kind, "err", err)
					}
					continue
				}
				select {
				case due <- m:
				case <-wctx.Done():
					r.release(m)
					return
				}
			}
		}
	}()
	wg.Wait()
	return failure
}

func jobAt(m jetstream.Msg) (time.Time, bool) {
	at, err := time.Parse(time.RFC3339Nano, m.Headers().Get(HeaderJobAt))
	return at, err == nil
}

func (b *Bus) runJob(ctx context.Context, kind string, h ticketing.JobHandler, m jetstream.Msg) {
	at, _ := jobAt(m)
	deliveries, seq := msgDeliveries(m)
	j := &ticketing.Job{Kind: kind, Key: m.Headers().Get(HeaderJobKey), At: at, Payload: m.Data(), Attempt: int(deliveries)}
	stop := keepAlive([]jetstream.Msg{m}, max(b.opts.AckWait/3, time.Second))
	err := safeJob(ctx, h, j)
	stop()
	var retry *ticketing.RetryError
	var poison *ticketing.PoisonError
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: jobs: ack failed; the job will run again", "kind", kind, "key", j.Key, "err", aerr)
		}
	case errors.As(err, &poison):
		b.deadLetter(ctx, m, "jobs."+kind, poison.Reason)
	case errors.As(err, &retry) && retry.After > 0:
		_ = m.NakWithDelay(retry.After)
	default:
		// Back off by how late the job already is: 1s, then about doubling,
		// capped at five minutes.
		d := min(max(time.Since(at), time.Second), maxJobDelay)
		b.log.Warn("natsbus: job failed; retrying", "kind", kind, "key", j.Key, "seq", seq,
			"deliveries", strconv.FormatUint(deliveries, 10), "after", d, "err", err)
		_ = m.NakWithDelay(d)
	}
}

// safeJob runs h, turning a panic into an error so one bad job does not
// take the node's other jobs with it.
func safeJob(ctx context.Context, h ticketing.JobHandler, j *ticketing.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job handler panic: %v", r)
		}
	}()
	return h(ctx, j)
}

// JobsPending reports the jobs of kind not yet done (waiting or due).
func (b *Bus) JobsPending(ctx context.Context, kind string) (uint64, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	var n uint64
	c, err := b.js.Consumer(ctx, b.n.jobs, JobsConsumer(kind))
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return 0, fmt.Errorf("natsbus: jobs pending: %w", err)
	default:
		info := c.CachedInfo()
		n = info.NumPending + uint64(max(info.NumAckPending, 0))
	}
	if b.msgSchedules {
		st, err := b.js.Stream(ctx, b.n.jobs)
		if err != nil {
			return 0, fmt.Errorf("natsbus: jobs pending: %w", err)
		}
		si, err := st.Info(ctx, jetstream.WithSubjectFilter(b.n.jobsSubj+"at."+kind+".>"))
		if err != nil {
			return 0, fmt.Errorf("natsbus: jobs pending: %w", err)
		}
		for _, c := range si.State.Subjects {
			n += c
		}
	}
	return n, nil
}

// MsgSchedules reports whether jobs due later wait as scheduled messages
// in the server (nats-server 2.12 and later) rather than on their consumer.
func (b *Bus) MsgSchedules() bool { return b.msgSchedules }
