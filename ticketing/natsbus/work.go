package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// EventWork is a durable consumer on the events stream, shared by every
// node: each event it selects is handled once, by one node, and
// redelivered to another when that node dies before acknowledging it.
// It is the one way capabilities react to events with work that must
// happen once (assignment, notifications, SLA clocks, auto-replies);
// SubscribeEvents is for what every node must see.
type EventWork struct {
	// Name is the durable consumer's name ("svar-assign").
	Name string
	// Types are the event types it selects (each may end in ".>"), e.g.
	// "ticket.>"; none selects every event.
	Types []string
	// MaxAckPending bounds events in hand across all nodes; 1 serializes
	// the handler across nodes (decisions that must not race). Default 1.
	MaxAckPending int
	// Workers is how many events a node handles at once (default 1). With
	// more than one, events of one ticket still go to one worker, in
	// stream order.
	Workers int
	// AckWait is how long a node may hold an event before it is
	// redelivered elsewhere; default 5s, renewed while the handler runs.
	AckWait time.Duration
	// MaxDeliver is how many deliveries an event gets before it is
	// dead-lettered (svar.dlq.work.<name>); default 20.
	MaxDeliver int
}

// eventWorkers is ConsumeEvents' workers per node.
const eventWorkers = 4

// maxWorkDelay caps the backoff of a failing work handler.
const maxWorkDelay = time.Minute

// ConsumeEvents is ConsumeEventWork for the events of types (none: every
// event) from now on, with eventWorkers per node and up to 2,000 events in
// hand across nodes: for capabilities whose work per ticket is
// independent (SLA clocks, auto-replies). h must be idempotent.
func (b *Bus) ConsumeEvents(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error, types ...string) error {
	return b.ConsumeEventWork(ctx, EventWork{Name: durable, Types: types, MaxAckPending: 2000, Workers: eventWorkers,
		AckWait: b.opts.AckWait, MaxDeliver: b.opts.MaxDeliver}, h)
}

// ConsumeEventWork runs w until ctx ends, calling h for each event (Seq
// set). nil acknowledges the event; a *ticketing.RetryError redelivers it
// after its After; a *ticketing.PoisonError dead-letters it; any other
// error (or a panic) redelivers it after the backoff, and after
// w.MaxDeliver deliveries it is dead-lettered. Events from before the
// consumer was first created (less those since this Bus connected) are
// not delivered.
func (b *Bus) ConsumeEventWork(ctx context.Context, w EventWork, h func(ctx context.Context, ev *ticketing.Event) error) error {
	if w.Name == "" || !validToken(w.Name) {
		return ticketing.FieldError("name", "a work consumer needs a valid name")
	}
	w.MaxAckPending = max(w.MaxAckPending, 1)
	w.Workers = max(w.Workers, 1)
	if w.AckWait <= 0 {
		w.AckWait = 5 * time.Second
	}
	if w.MaxDeliver <= 0 {
		w.MaxDeliver = 20
	}
	return b.superviseConsumer(ctx, w.Name, func(ctx context.Context) error {
		return b.consumeEventWork(ctx, w, h)
	})
}

// workItem is a delivery and its event, decoded once.
type workItem struct {
	m  jetstream.Msg
	ev *ticketing.Event
}

func (b *Bus) consumeEventWork(ctx context.Context, w EventWork, h func(context.Context, *ticketing.Event) error) error {
	subjects := make([]string, len(w.Types))
	for i, t := range w.Types {
		subjects[i] = b.n.evSubj + t
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        w.Name,
		Description:    "Svar: " + w.Name + " (once across nodes)",
		FilterSubjects: subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        w.AckWait,
		MaxDeliver:     -1, // counted and dead-lettered here, as the other consumers do
		MaxAckPending:  w.MaxAckPending,
	}
	cctx, cancel := opContext(ctx)
	defer cancel()
	if err := b.workStart(cctx, &cfg); err != nil {
		return err
	}
	cons, err := b.js.CreateOrUpdateConsumer(cctx, b.n.events, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("natsbus: create consumer %s: %w", w.Name, err)
	}
	r, err := b.startReader(cons, min(w.MaxAckPending, 256), w.Name)
	if err != nil {
		return err
	}
	defer r.stop()
	queues := make([]chan workItem, w.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan workItem, 64)
		q := queues[i]
		wg.Go(func() {
			for it := range q {
				b.handleWork(ctx, w, h, it)
			}
		})
	}
	defer wg.Wait()
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-r.msgs:
			if !ok {
				return r.failure()
			}
			ev, err := decodeEvent(m)
			if err != nil {
				b.deadLetter(ctx, m, "work."+w.Name, "undecodable event: "+err.Error())
				continue
			}
			q := queues[0]
			if len(queues) > 1 {
				hs := fnv.New32a()
				hs.Write([]byte(eventTicket(ev)))
				q = queues[hs.Sum32()%uint32(len(queues))]
			}
			select {
			case q <- workItem{m, ev}:
			case <-ctx.Done():
				r.release(m)
				return nil
			}
		}
	}
}

// workStart sets where cfg's consumer starts. Created for the first time,
// it starts from the events published since this Bus connected, less a
// second for clocks: the node's own services start their consumers while
// the node already takes in messages, and an event published between the
// two must not be missed (handlers are idempotent, so the second's
// earlier events are harmless). An existing consumer keeps where it
// started (the server refuses to change it).
func (b *Bus) workStart(ctx context.Context, cfg *jetstream.ConsumerConfig) error {
	c, err := b.js.Consumer(ctx, b.n.events, cfg.Durable)
	switch {
	case err == nil:
		old := c.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
		return nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		start := b.connected.Add(-time.Second)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
		return nil
	default:
		return fmt.Errorf("natsbus: consumer %s: %w", cfg.Durable, err)
	}
}

// eventTicket is the ticket an event is about ("" for none).
func eventTicket(ev *ticketing.Event) string {
	switch {
	case ev.Ticket != nil:
		return ev.Ticket.ID
	case ev.Message != nil:
		return ev.Message.TicketID
	}
	return ""
}

func (b *Bus) handleWork(ctx context.Context, w EventWork, h func(context.Context, *ticketing.Event) error, it workItem) {
	m, ev := it.m, it.ev
	deliveries, seq := msgDeliveries(m)
	kind := "work." + w.Name
	if ctx.Err() != nil {
		b.nak(m, 0)
		return
	}
	if deliveries > uint64(w.MaxDeliver) {
		b.deadLetter(ctx, m, kind, fmt.Sprintf("not handled after %d deliveries", deliveries-1))
		return
	}
	stop := keepAlive([]jetstream.Msg{m}, w.AckWait/2)
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("event handler panic: %v", p)
			}
		}()
		return h(ctx, ev)
	}()
	stop()
	var retry *ticketing.RetryError
	var poison *ticketing.PoisonError
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: ack failed", "consumer", w.Name, "seq", seq, "err", aerr)
		}
	case errors.As(err, &poison):
		b.deadLetter(ctx, m, kind, poison.Reason)
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
