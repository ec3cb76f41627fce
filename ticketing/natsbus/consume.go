package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter on SVAR_DLQ.
const (
	HeaderReason     = "Svar-Reason"     // why it was dead-lettered
	HeaderSubject    = "Svar-Subject"    // the subject it was published on
	HeaderDeliveries = "Svar-Deliveries" // how many times it was delivered
	HeaderStreamSeq  = "Svar-Stream-Seq" // its sequence in its stream
)

const maxReasonLen = 1000

// reader pulls messages from a consumer on its own goroutine into a
// buffered channel, so that the next messages arrive while the current
// ones are processed.
type reader struct {
	it    jetstream.MessagesContext
	msgs  chan jetstream.Msg
	errc  chan error // the iterator's terminal error, at most one
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	bus   *Bus
	label string
}

func (b *Bus) startReader(cons jetstream.Consumer, prefetch int, label string) (*reader, error) {
	it, err := cons.Messages(jetstream.PullMaxMessages(prefetch))
	if err != nil {
		return nil, fmt.Errorf("natsbus: %s: pull: %w", label, err)
	}
	r := &reader{
		it:    it,
		msgs:  make(chan jetstream.Msg, prefetch),
		errc:  make(chan error, 1),
		quit:  make(chan struct{}),
		bus:   b,
		label: label,
	}
	r.wg.Go(r.run)
	return r, nil
}

func (r *reader) run() {
	defer close(r.msgs)
	for {
		m, err := r.it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				r.errc <- err
			}
			return
		}
		select {
		case r.msgs <- m:
		case <-r.quit:
			r.release(m)
		}
	}
}

// release hands a message we will not process back for immediate
// redelivery (to another node, typically).
func (r *reader) release(m jetstream.Msg) {
	if err := m.Nak(); err != nil {
		r.bus.log.Debug("natsbus: nak on shutdown failed", "consumer", r.label, "err", err)
	}
}

// stop drains the iterator and releases every message not yet processed.
// Call it once the processors no longer read msgs.
func (r *reader) stop() {
	r.once.Do(func() {
		close(r.quit)
		r.it.Drain()
		r.wg.Wait()
		for m := range r.msgs {
			r.release(m)
		}
	})
}

// failure is the iterator's error after msgs was closed.
func (r *reader) failure() error {
	select {
	case err := <-r.errc:
		return err
	default:
		return errors.New("message iterator closed")
	}
}

// keepAlive tells JetStream every interval that msgs are still being
// worked on, so a slow handler is not raced by a redelivery.
func keepAlive(msgs []jetstream.Msg, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// retryDelay is the backoff before delivery n+1: base, 2·base, 4·base, …
// capped at limit.
func retryDelay(base, limit time.Duration, deliveries int) time.Duration {
	d := base
	for i := 1; i < deliveries && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// superviseConsumer runs once until ctx ends, restarting it with backoff
// when it fails (a deleted consumer, a lost server). It gives up only when
// the Bus has been closed.
func (b *Bus) superviseConsumer(ctx context.Context, label string, once func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if b.nc.IsClosed() {
			return fmt.Errorf("natsbus: %s: %w", label, nats.ErrConnectionClosed)
		}
		if time.Since(start) > time.Minute {
			attempt = 1
		}
		b.log.Error("natsbus: consumer stopped; restarting", "consumer", label, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(reconnectDelay(attempt)):
		}
	}
}

func msgDeliveries(m jetstream.Msg) (deliveries uint64, streamSeq uint64) {
	md, err := m.Metadata()
	if err != nil {
		return 1, 0
	}
	return md.NumDelivered, md.Sequence.Stream
}

// deadLetter copies m to SVAR_DLQ on svar.dlq.<kind> with the reason in
// its headers, then terminates it so it is never delivered again. If the
// copy cannot be stored, m is redelivered later instead: nothing is lost.
func (b *Bus) deadLetter(ctx context.Context, m jetstream.Msg, kind, reason string) {
	deliveries, seq := msgDeliveries(m)
	reason = headerSafe(reason)
	h := nats.Header{}
	h.Set(HeaderReason, reason)
	h.Set(HeaderSubject, m.Subject())
	h.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	h.Set(HeaderStreamSeq, strconv.FormatUint(seq, 10))
	// Outlive a shutdown: the copy should land before the Term.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultOpTimeout)
	defer cancel()
	dl := &nats.Msg{Subject: b.n.dlqSubj + kind, Data: m.Data(), Header: h}
	msgID := "dlq:" + kind + ":" + strconv.FormatUint(seq, 10)
	if _, err := b.js.PublishMsg(ctx, dl, jetstream.WithMsgID(msgID)); err != nil {
		b.log.Error("natsbus: dead-letter publish failed; will retry", "subject", m.Subject(), "seq", seq, "err", err)
		_ = m.NakWithDelay(retryDelay(b.opts.RetryDelay, maxInboundDelay, int(deliveries)))
		return
	}
	b.log.Warn("natsbus: message dead-lettered", "subject", m.Subject(), "seq", seq,
		"deliveries", deliveries, "reason", reason, "dlq_subject", dl.Subject)
	if err := m.Term(); err != nil {
		b.log.Warn("natsbus: term after dead-letter failed", "subject", m.Subject(), "seq", seq, "err", err)
	}
}

// headerSafe keeps a reason to one bounded line.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxReasonLen {
		s = strings.ToValidUTF8(s[:maxReasonLen], "")
	}
	return s
}
