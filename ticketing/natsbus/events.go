package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
// repeats; should it fail, or NATS be unreachable when the call starts, it
// is recreated with backoff after the last event delivered. Event.Seq is
// set from the stream. An undecodable event is logged and skipped. It
// returns an error only when the Bus is closed first.
func (b *Bus) SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error {
	// mu serializes fn and guards last and stopped: fn is not running, and
	// never runs again, once we return.
	var (
		mu      sync.Mutex
		stopped bool
		last    = from
		fresh   = from == 0 // nothing asked for before "now"
	)
	defer func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
	}()
	deliver := func(m jetstream.Msg) {
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
		if ev.Seq <= last && !fresh {
			return // a restarted consumer overlapping what fn has seen
		}
		fresh = false
		last = ev.Seq
		fn(ev)
	}
	for attempt := 1; ; attempt++ {
		mu.Lock()
		resume, onlyNew := last, fresh
		mu.Unlock()
		cc, err := b.resumeEvents(ctx, resume, onlyNew, func() {
			mu.Lock()
			last = 0
			mu.Unlock()
		}, deliver)
		if err == nil {
			attempt = 0
			select {
			case <-ctx.Done():
				cc.Stop()
				return nil
			case <-cc.Closed():
			}
			err = errors.New("consumer closed")
		}
		if ctx.Err() != nil {
			return nil
		}
		if b.nc.IsClosed() {
			return fmt.Errorf("natsbus: subscribe events: %w", nats.ErrConnectionClosed)
		}
		b.log.Warn("natsbus: events subscription interrupted; resuming", "after", resume, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(reconnectDelay(max(attempt, 1))):
		}
	}
}

// resumeEvents starts an ordered consumer after seq, or after the
// stream's end when onlyNew. When seq is past the stream's end (the stream
// was recreated) it calls rewind and starts at the stream's beginning.
func (b *Bus) resumeEvents(ctx context.Context, seq uint64, onlyNew bool, rewind func(), deliver func(jetstream.Msg)) (jetstream.ConsumeContext, error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if !onlyNew {
		end, err := b.LastEventSeq(ctx)
		if err != nil {
			return nil, err
		}
		if seq > end {
			b.log.Warn("natsbus: events: resume point is past the stream's end (recreated?); delivering from its start",
				"after", seq, "last", end)
			rewind()
			seq = 0
		}
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		if seq > 0 {
			cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
			cfg.OptStartSeq = seq + 1
		}
	}
	cctx, cancel := opContext(ctx)
	defer cancel()
	cons, err := b.js.OrderedConsumer(cctx, b.n.events, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe events: %w", err)
	}
	cc, err := cons.Consume(deliver, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.log.Debug("natsbus: events consumer", "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("natsbus: subscribe events: %w", err)
	}
	return cc, nil
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
