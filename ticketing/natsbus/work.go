package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// EventWork is a durable consumer on the events stream, shared by every
// node: each event it selects is handled once, by one node, and
// redelivered to another when that node dies before acknowledging it.
type EventWork struct {
	// Name is the durable consumer's name ("svar-assign").
	Name string
	// Types are the event types it selects (each may end in ".>"), e.g.
	// "ticket.>".
	Types []string
	// MaxAckPending bounds events in hand across all nodes; 1 serializes
	// the handler across nodes (decisions that must not race).
	MaxAckPending int
	// AckWait is how long a node may hold an event before it is
	// redelivered elsewhere; default 5s, renewed while the handler runs.
	AckWait time.Duration
}

// maxWorkDelay caps the backoff of a failing work handler.
const maxWorkDelay = time.Minute

// ConsumeEventWork runs w until ctx ends, calling h for each event (Seq
// set). nil acknowledges the event; a *ticketing.RetryError redelivers it
// after its After (or the backoff); any other error redelivers it after
// the backoff, and after 20 deliveries it is dead-lettered. Events from
// before the consumer was first created are not delivered.
func (b *Bus) ConsumeEventWork(ctx context.Context, w EventWork, h func(ctx context.Context, ev *ticketing.Event) error) error {
	if w.Name == "" || !validToken(w.Name) || len(w.Types) == 0 {
		return ticketing.FieldError("name", "a work consumer needs a name and event types")
	}
	if w.MaxAckPending <= 0 {
		w.MaxAckPending = 1
	}
	if w.AckWait <= 0 {
		w.AckWait = 5 * time.Second
	}
	return b.superviseConsumer(ctx, w.Name, func(ctx context.Context) error {
		return b.consumeEventWork(ctx, w, h)
	})
}

func (b *Bus) consumeEventWork(ctx context.Context, w EventWork, h func(context.Context, *ticketing.Event) error) error {
	subjects := make([]string, len(w.Types))
	for i, t := range w.Types {
		subjects[i] = b.n.evSubj + t
	}
	cctx, cancel := opContext(ctx)
	cons, err := b.js.CreateOrUpdateConsumer(cctx, b.n.events, jetstream.ConsumerConfig{
		Durable:        w.Name,
		Description:    "Svar: " + w.Name + " (once across nodes)",
		FilterSubjects: subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        w.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  w.MaxAckPending,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("natsbus: create consumer %s: %w", w.Name, err)
	}
	r, err := b.startReader(cons, w.MaxAckPending, w.Name)
	if err != nil {
		return err
	}
	defer r.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-r.msgs:
			if !ok {
				return r.failure()
			}
			b.handleSerialWork(ctx, w, h, m)
		}
	}
}

func (b *Bus) handleSerialWork(ctx context.Context, w EventWork, h func(context.Context, *ticketing.Event) error, m jetstream.Msg) {
	deliveries, seq := msgDeliveries(m)
	kind := "work." + w.Name
	if deliveries > 20 {
		b.deadLetter(ctx, m, kind, fmt.Sprintf("not handled after %d deliveries", deliveries-1))
		return
	}
	ev := new(ticketing.Event)
	if err := json.Unmarshal(m.Data(), ev); err != nil {
		b.deadLetter(ctx, m, kind, "decode event: "+err.Error())
		return
	}
	ev.Seq = seq
	stop := keepAlive([]jetstream.Msg{m}, w.AckWait/2)
	err := h(ctx, ev)
	stop()
	var retry *ticketing.RetryError
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: ack failed", "consumer", w.Name, "seq", seq, "err", aerr)
		}
	case ctx.Err() != nil:
		b.nak(m, 0)
	case errors.As(err, &retry) && retry.After > 0:
		b.nak(m, retry.After)
	default:
		delay := retryDelay(b.opts.RetryDelay, maxWorkDelay, int(deliveries))
		b.log.Warn("natsbus: event work failed; will retry", "consumer", w.Name, "seq", seq, "type", ev.Type,
			"attempt", deliveries, "retry_in", delay, "err", err)
		b.nak(m, delay)
	}
}
