package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// Stream names (before any Namespace prefix).
const (
	StreamInbound  = "SVAR_INBOUND"
	StreamOutbound = "SVAR_OUTBOUND"
	StreamEvents   = "SVAR_EVENTS"
	StreamDLQ      = "SVAR_DLQ"
	StreamHealth   = "SVAR_HEALTH"
	StreamJobs     = "SVAR_JOBS"
)

// CoreConsumer is the durable inbound consumer every node shares.
const CoreConsumer = "svar-core"

// Defaults for the zero values of Options.
const (
	DefaultMaxDeliver         = 5
	DefaultOutboundMaxDeliver = 20
	DefaultAckWait            = 30 * time.Second
	DefaultDedupeWindow       = 2 * time.Hour
	DefaultEventsMaxAge       = 24 * time.Hour
	DefaultEventsMaxMsgs      = 1_000_000
	DefaultRetryDelay         = time.Second
	DefaultDLQMaxAge          = 30 * 24 * time.Hour
)

const (
	inboundBatch     = 200             // envelopes handed to the inbound handler at once
	outboundWorkers  = 4               // concurrent deliveries per channel and node
	maxInboundDelay  = time.Minute     // cap of the inbound redelivery backoff
	maxOutboundDelay = 5 * time.Minute // cap of the outbound redelivery backoff
	eventsMaxPending = 4096            // async event publishes awaiting their ack
	defaultOpTimeout = 5 * time.Second // for calls whose ctx has no deadline
)

// Options configure Connect. Zero values mean the documented defaults.
type Options struct {
	// URL of the NATS server or cluster (comma-separated URLs allowed).
	URL string
	// Name is the connection name the server shows, e.g. "svar-node-1".
	// Default "svar".
	Name   string
	Logger *slog.Logger
	// Namespace is empty in production. Tests that share one external
	// server set a unique token of [A-Za-z0-9_-]; it prefixes every stream
	// name (NS_SVAR_INBOUND) and every subject (NS.svar.inbound.email).
	Namespace string
	// MaxDeliver is how many times an inbound envelope is tried before it
	// is moved to the dead-letter stream. Default 5.
	MaxDeliver int
	// OutboundMaxDeliver is the same for outbound messages, whose handler
	// asks for retries itself. Default 20 (about an hour of backoff).
	OutboundMaxDeliver int
	// AckWait is how long a delivered message may go unacknowledged before
	// JetStream redelivers it. Default 30s.
	AckWait time.Duration
	// DedupeWindow is how long a Nats-Msg-Id is remembered on the inbound
	// and outbound streams. Default 2h.
	DedupeWindow time.Duration
	// EventsMaxAge bounds how long events are kept for catching up.
	// Default 24h.
	EventsMaxAge time.Duration
	// RetryDelay is the first redelivery delay after a failure; it doubles
	// with each delivery (capped at 1 minute inbound, 5 minutes outbound).
	// Default 1s.
	RetryDelay time.Duration
	// Replicas of each stream on a clustered server. Default 1.
	Replicas int
	// Embedded is the in-process server URL points at, nil for an external
	// one. With it Ping also reports what the server itself knows is
	// broken (a stream that can no longer write).
	Embedded *Embedded
}

func (o *Options) setDefaults() {
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.OutboundMaxDeliver <= 0 {
		o.OutboundMaxDeliver = DefaultOutboundMaxDeliver
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = DefaultDedupeWindow
	}
	if o.EventsMaxAge <= 0 {
		o.EventsMaxAge = DefaultEventsMaxAge
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "svar"
	}
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// names holds the stream names and subject prefix of one namespace.
type names struct {
	prefix                            string // "" or "NS."
	inbound, outbound, events, dlq    string // stream names
	health, healthSubj                string
	inboundSubj, outboundSubj, evSubj string // "svar.inbound." etc., with prefix
	dlqSubj, relaySubj                string
	jobs, jobsSubj                    string
}

func newNames(ns string) names {
	sp, np := "", ""
	if ns != "" {
		sp, np = ns+"_", ns+"."
	}
	return names{
		prefix:       np,
		inbound:      sp + StreamInbound,
		outbound:     sp + StreamOutbound,
		events:       sp + StreamEvents,
		dlq:          sp + StreamDLQ,
		health:       sp + StreamHealth,
		healthSubj:   np + "svar.health.",
		inboundSubj:  np + "svar.inbound.",
		outboundSubj: np + "svar.outbound.",
		evSubj:       np + "svar.events.",
		dlqSubj:      np + "svar.dlq.",
		relaySubj:    np + "svar.relay.",
		jobs:         sp + StreamJobs,
		jobsSubj:     np + "svar.jobs.",
	}
}

// Bus implements ticketing.Bus on NATS JetStream. It is safe for
// concurrent use. Close it after the Consume* and SubscribeEvents calls
// have returned.
type Bus struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
	log  *slog.Logger
	n    names

	probeSubj string        // this Bus's subject on SVAR_HEALTH (health.go)
	closed    chan struct{} // closed by the connection's ClosedHandler
	closeOnce sync.Once
	relay     *relayDispatch
	// msgSchedules: SVAR_JOBS takes scheduled messages (nats-server 2.12
	// and later), so a job due later waits in the server's timer wheel
	// rather than on the consumer (jobs.go).
	msgSchedules bool
	// connected is when Connect began: a work consumer created for the
	// first time starts from the events published since (work.go).
	connected time.Time
	// batchGet: the server answers batched direct gets (2.11 and later),
	// which the erasure reads streams with (erase.go).
	batchGet bool
}

var _ ticketing.Bus = (*Bus)(nil)

// Connect connects to NATS, retrying with backoff until ctx ends, and
// creates or updates the streams. Once connected it reconnects forever.
func Connect(ctx context.Context, o Options) (*Bus, error) {
	o.setDefaults()
	if o.URL == "" {
		return nil, errors.New("natsbus: connect: URL is required")
	}
	if o.Namespace != "" && !tokenRE.MatchString(o.Namespace) {
		return nil, fmt.Errorf("natsbus: connect: namespace %q: use letters, digits, _ and -", o.Namespace)
	}
	b := &Bus{opts: o, log: o.Logger, n: newNames(o.Namespace), closed: make(chan struct{}), relay: newRelayDispatch(),
		connected: time.Now()}
	b.probeSubj = probeSubject(b.n)
	nopts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DrainTimeout(10 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.log.Error("nats async error", "subject", subj, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	}
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(o.URL, nopts...)
		if err == nil {
			b.nc = nc
			break
		}
		b.log.Warn("nats connect failed; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsbus: connect %s: %w", redactURL(o.URL), err)
		case <-time.After(reconnectDelay(attempt)):
		}
	}
	js, err := jetstream.New(b.nc,
		jetstream.WithPublishAsyncMaxPending(eventsMaxPending),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			b.log.Error("natsbus: event publish failed", "subject", m.Subject, "err", err)
		}),
	)
	if err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	b.js = js
	if err := b.ensureStreams(ctx); err != nil {
		b.nc.Close()
		return nil, err
	}
	go b.relay.run(b.log)
	return b, nil
}

// reconnectDelay backs off 500ms, 1s, 2s, … up to 5s, with jitter.
func reconnectDelay(attempts int) time.Duration {
	d := 250 * time.Millisecond << min(attempts, 5)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// redactURL hides the credentials of every URL in a comma-separated list.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			start := 0
			if j := strings.Index(u, "://"); j >= 0 && j < at {
				start = j + 3
			}
			parts[i] = u[:start] + "***" + u[at:]
		}
	}
	return strings.Join(parts, ",")
}

// streamConfigs are the streams. Only features of nats-server 2.9 are
// relied on, so an older external server works too.
func (b *Bus) streamConfigs() []jetstream.StreamConfig {
	o := b.opts
	return []jetstream.StreamConfig{{
		Name:        b.n.inbound,
		Description: "Svar inbound envelopes from the channel adapters",
		AllowDirect: true, // read by the erasure (erase.go)
		Subjects:    []string{b.n.inboundSubj + ">"},
		// Work queue: an envelope stays until the core acknowledges it, and
		// nothing expires unprocessed. Re-processing after the dedupe
		// window is harmless: message ids are deterministic.
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: o.DedupeWindow,
		Replicas:   o.Replicas,
	}, {
		Name:        b.n.outbound,
		Description: "Svar replies on their way to the channel adapters",
		AllowDirect: true, // read by the erasure (erase.go)
		Subjects:    []string{b.n.outboundSubj + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  o.DedupeWindow,
		Replicas:    o.Replicas,
	}, {
		Name:        b.n.events,
		Description: "Svar domain events for consoles, chat sessions and read models",
		AllowDirect: true, // read by the erasure (erase.go)
		Subjects:    []string{b.n.evSubj + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      o.EventsMaxAge,
		MaxMsgs:     DefaultEventsMaxMsgs,
		Discard:     jetstream.DiscardOld,
		Duplicates:  min(2*time.Minute, o.EventsMaxAge),
		Replicas:    o.Replicas,
	}, {
		Name:        b.n.dlq,
		Description: "Svar dead letters: messages that could not be processed, with the reason in Svar-Reason",
		AllowDirect: true, // read by the erasure (erase.go)
		Subjects:    []string{b.n.dlqSubj + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      DefaultDLQMaxAge,
		Discard:     jetstream.DiscardOld,
		Duplicates:  2 * time.Minute,
		Replicas:    o.Replicas,
	}, b.jobsStreamConfig(), {
		Name:        b.n.health,
		Description: "Svar health probes: a tiny write per check proves JetStream can store",
		Subjects:    []string{b.n.healthSubj + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		// One message per node, gone an hour after the node's last check.
		MaxMsgsPerSubject: 1,
		MaxAge:            time.Hour,
		Discard:           jetstream.DiscardOld,
		Replicas:          o.Replicas,
	}}
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	for _, cfg := range b.streamConfigs() {
		cctx, cancel := opContext(ctx)
		st, err := b.js.CreateOrUpdateStream(cctx, cfg)
		if err != nil && cfg.AllowMsgSchedules && strings.Contains(strings.ToLower(err.Error()), "schedul") {
			// A server that knows scheduled messages but refuses them
			// here: jobs wait on the consumer instead.
			cfg.AllowMsgSchedules = false
			st, err = b.js.CreateOrUpdateStream(cctx, cfg)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("natsbus: create or update stream %s: %w", cfg.Name, err)
		}
		b.batchGet = serverAtLeast(b.nc.ConnectedServerVersion(), 2, 11)
		if cfg.Name == b.n.jobs {
			// A server older than 2.12 ignores the setting it does not know:
			// only the stream's own answer says whether it holds.
			b.msgSchedules = st.CachedInfo().Config.AllowMsgSchedules
			if !b.msgSchedules {
				b.log.Info("natsbus: this NATS server has no scheduled messages (2.12 and later do); jobs due later wait on their consumer")
			}
		}
	}
	// Create the shared inbound consumer now, so the stream has its
	// consumer before the core starts consuming.
	if _, err := b.coreConsumer(ctx); err != nil {
		return err
	}
	return nil
}

func (b *Bus) coreConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cctx, cancel := opContext(ctx)
	defer cancel()
	c, err := b.js.CreateOrUpdateConsumer(cctx, b.n.inbound, jetstream.ConsumerConfig{
		Durable:     CoreConsumer,
		Description: "Svar core: threads inbound envelopes into tickets",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     b.opts.AckWait,
		// No BackOff: the server measures a NakWithDelay from the
		// delivery's BackOff step, not from AckWait, which would stretch
		// the bus's own backoff by minutes. Failures are delayed with
		// NakWithDelay; a dead node's messages come back after AckWait.
		// Deliveries are counted and dead-lettered by the bus, not the
		// server: a message whose last delivery was lost with a dead
		// node is delivered once more and then moved to the DLQ, instead
		// of staying in the stream forever.
		MaxDeliver:    -1,
		MaxAckPending: 2000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: create consumer %s: %w", CoreConsumer, err)
	}
	return c, nil
}

// serverAtLeast reports whether version ("2.15.2") is major.minor or later.
func serverAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// opContext bounds ctx with the default timeout when it has no deadline.
func opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultOpTimeout)
}

// Close waits for pending event publishes, drains the connection (pending
// acknowledgements and publishes go out) and closes it. Stop the Consume*
// and SubscribeEvents calls first. Close is safe to call more than once.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		select {
		case <-b.js.PublishAsyncComplete():
		case <-time.After(5 * time.Second):
			b.log.Warn("natsbus: closing with event publishes unacknowledged", "pending", b.js.PublishAsyncPending())
		}
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		select {
		case <-b.closed:
		case <-time.After(15 * time.Second):
			b.nc.Close()
		}
		b.relay.close()
	})
}

// ConsumerLag reports how many inbound envelopes the shared core consumer
// has not finished: not yet delivered plus delivered but unacknowledged.
func (b *Bus) ConsumerLag(ctx context.Context) (uint64, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	c, err := b.js.Consumer(ctx, b.n.inbound, CoreConsumer) // fetches the info
	if err != nil {
		return 0, fmt.Errorf("natsbus: consumer lag: %w", err)
	}
	info := c.CachedInfo()
	return info.NumPending + uint64(max(info.NumAckPending, 0)), nil
}

// DLQCount is the number of dead letters stored, for /metrics.
func (b *Bus) DLQCount(ctx context.Context) (uint64, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	s, err := b.js.Stream(ctx, b.n.dlq) // fetches the info
	if err != nil {
		return 0, fmt.Errorf("natsbus: dlq count: %w", err)
	}
	return s.CachedInfo().State.Msgs, nil
}

// DeleteStreams removes this Bus's streams. It is for tests that share an
// external server under a Namespace, and refuses to run without one.
func (b *Bus) DeleteStreams(ctx context.Context) error {
	if b.opts.Namespace == "" {
		return errors.New("natsbus: delete streams: only a namespaced bus may delete its streams")
	}
	var errs []error
	for _, cfg := range b.streamConfigs() {
		cctx, cancel := opContext(ctx)
		err := b.js.DeleteStream(cctx, cfg.Name)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("natsbus: delete stream %s: %w", cfg.Name, err))
		}
	}
	cctx, cancel := opContext(ctx)
	defer cancel()
	if err := b.js.DeleteKeyValue(cctx, b.StreamName(BucketLeases)); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		errs = append(errs, fmt.Errorf("natsbus: delete bucket %s: %w", BucketLeases, err))
	}
	return errors.Join(errs...)
}

// Conn exposes the NATS connection, for diagnostics and the benchmarks'
// raw baselines.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream exposes the JetStream context, as Conn does.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Subjects and stream names of this Bus (with its Namespace applied).

// InboundSubject is the subject envelopes of channel ch are published on.
func (b *Bus) InboundSubject(ch ticketing.Channel) string { return b.n.inboundSubj + string(ch) }

// StreamName returns the name of one of the Stream* streams in this Bus's
// namespace.
func (b *Bus) StreamName(base string) string {
	if b.opts.Namespace == "" {
		return base
	}
	return b.opts.Namespace + "_" + base
}

// DLQSubject is the subject dead letters of kind ("inbound",
// "outbound.email", …) are stored on.
func (b *Bus) DLQSubject(kind string) string { return b.n.dlqSubj + kind }
