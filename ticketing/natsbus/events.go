package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// Bounds of EventsAfter.
const (
	DefaultEventsAfterMax = 1000
	MaxEventsAfter        = 10000
)

// SubscribeEvents calls fn, one event at a time in stream order, for every
// event after sequence from (0: only events published from now on) until
// ctx ends; then it returns nil once fn is no longer running. Each call
// has its own ordered consumer, which survives reconnects without gaps or
// repeats. Event.Seq is set from the stream. An undecodable event is
// logged and skipped.
func (b *Bus) SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if from > 0 {
		last, err := b.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		if from > last {
			// The stream is younger than the caller's memory (it was
			// recreated): everything in it is new to the caller.
			b.log.Warn("natsbus: events: resume point is past the stream's end; delivering from its start",
				"from", from, "last", last)
			cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		} else {
			cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
			cfg.OptStartSeq = from + 1
		}
	}
	cctx, cancel := opContext(ctx)
	cons, err := b.js.OrderedConsumer(cctx, b.n.events, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("natsbus: subscribe events: %w", err)
	}
	// mu makes sure fn is not running, and never runs again, once we return.
	var (
		mu      sync.Mutex
		stopped bool
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		ev, err := decodeEvent(m)
		if err != nil {
			b.log.Error("natsbus: events: undecodable event skipped", "subject", m.Subject(), "err", err)
			return
		}
		fn(ev)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.log.Debug("natsbus: events consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("natsbus: subscribe events: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	mu.Lock()
	stopped = true
	mu.Unlock()
	return nil
}

func decodeEvent(m jetstream.Msg) (*ticketing.Event, error) {
	ev := new(ticketing.Event)
	if err := json.Unmarshal(m.Data(), ev); err != nil {
		return nil, err
	}
	md, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	ev.Seq = md.Sequence.Stream
	return ev, nil
}

// EventsAfter returns up to limit stored events with a sequence above seq,
// oldest first (limit <= 0: 1000; at most 10000). Events older than the
// stream keeps are gone: a first Seq above seq+1 tells the caller it
// missed some and should reload.
func (b *Bus) EventsAfter(ctx context.Context, seq uint64, limit int) ([]*ticketing.Event, error) {
	if limit <= 0 {
		limit = DefaultEventsAfterMax
	}
	limit = min(limit, MaxEventsAfter)
	ctx, cancel := opContext(ctx)
	defer cancel()
	stream, err := b.js.Stream(ctx, b.n.events)
	if err != nil {
		return nil, fmt.Errorf("natsbus: events after %d: %w", seq, err)
	}
	state := stream.CachedInfo().State
	if state.Msgs == 0 || state.LastSeq <= seq {
		return nil, nil
	}
	// A throwaway consumer reads the range in one pull; GetMsg would cost
	// a round trip per event.
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       seq + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: 30 * time.Second,
		Replicas:          1,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: events after %d: %w", seq, err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), defaultOpTimeout)
		defer dcancel()
		if err := stream.DeleteConsumer(dctx, cons.CachedInfo().Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			b.log.Debug("natsbus: events after: delete consumer", "err", err)
		}
	}()
	// Events are only removed from the front (age, count), so this is
	// how many there are after seq.
	want := min(uint64(limit), state.LastSeq-max(seq, state.FirstSeq-1))
	out := make([]*ticketing.Event, 0, want)
	// No-wait: the server sends what is stored and ends the pull.
	batch, err := cons.FetchNoWait(int(want))
	if err != nil {
		return nil, fmt.Errorf("natsbus: events after %d: %w", seq, err)
	}
	for m := range batch.Messages() {
		ev, err := decodeEvent(m)
		if err != nil {
			b.log.Error("natsbus: events after: undecodable event skipped", "subject", m.Subject(), "err", err)
			continue
		}
		out = append(out, ev)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		if len(out) == 0 {
			return nil, fmt.Errorf("natsbus: events after %d: %w", seq, err)
		}
	}
	return out, nil
}

// LastEventSeq is the sequence of the newest stored event (0: none yet).
func (b *Bus) LastEventSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	stream, err := b.js.Stream(ctx, b.n.events)
	if err != nil {
		return 0, fmt.Errorf("natsbus: last event seq: %w", err)
	}
	return stream.CachedInfo().State.LastSeq, nil
}
