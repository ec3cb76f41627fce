package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

const eventWorkers = 4 // per shared events consumer and node

// ConsumeEvents hands each event published from now on to h on exactly
// one node (at least once; h must be idempotent), on the durable consumer
// durable of SVAR_EVENTS that every node shares. It is for capabilities
// that react to events with work that must happen once (SLA clocks);
// SubscribeEvents is for what every node must see. On a node, events of
// one ticket go to one worker in stream order. nil from h acknowledges;
// an error redelivers with backoff, and after MaxDeliver deliveries the
// event is dead-lettered (svar.dlq.events.<durable>).
func (b *Bus) ConsumeEvents(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error) error {
	if !validToken(durable) {
		return ticketing.FieldError("durable", "is not a valid consumer name")
	}
	return b.superviseConsumer(ctx, durable, func(ctx context.Context) error {
		return b.consumeEvents(ctx, durable, h)
	})
}

func (b *Bus) consumeEvents(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error) error {
	cctx, cancel := opContext(ctx)
	cons, err := b.js.CreateOrUpdateConsumer(cctx, b.n.events, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "Svar: " + durable + " reacts to events once across nodes",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 2000,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("natsbus: create consumer %s: %w", durable, err)
	}
	r, err := b.startReader(cons, 256, durable)
	if err != nil {
		return err
	}
	defer r.stop()
	queues := make([]chan jetstream.Msg, eventWorkers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 64)
		q := queues[i]
		wg.Go(func() {
			for m := range q {
				b.handleEventWork(ctx, durable, h, m)
			}
		})
	}
	var failure error
	func() {
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-r.msgs:
				if !ok {
					failure = r.failure()
					return
				}
				ev, err := decodeEvent(m)
				if err != nil {
					b.deadLetter(ctx, m, "events."+durable, "undecodable event: "+err.Error())
					continue
				}
				key := ""
				switch {
				case ev.Ticket != nil:
					key = ev.Ticket.ID
				case ev.Message != nil:
					key = ev.Message.TicketID
				}
				hs := fnv.New32a()
				hs.Write([]byte(key))
				select {
				case queues[hs.Sum32()%eventWorkers] <- m:
				case <-ctx.Done():
					r.release(m)
					return
				}
			}
		}
	}()
	wg.Wait()
	return failure
}

func (b *Bus) handleEventWork(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error, m jetstream.Msg) {
	if ctx.Err() != nil {
		r := reader{bus: b, label: durable}
		r.release(m)
		return
	}
	deliveries, _ := msgDeliveries(m)
	ev, _ := decodeEvent(m) // decoded once already
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("event handler panic: %v", p)
			}
		}()
		return h(ctx, ev)
	}()
	if err == nil {
		_ = m.Ack()
		return
	}
	var poison *ticketing.PoisonError
	if errors.As(err, &poison) || deliveries >= uint64(b.opts.MaxDeliver) {
		b.deadLetter(ctx, m, "events."+durable, err.Error())
		return
	}
	b.log.Warn("natsbus: event handler failed; retrying", "consumer", durable, "type", ev.Type, "err", err)
	_ = m.NakWithDelay(retryDelay(b.opts.RetryDelay, maxInboundDelay, int(deliveries)))
}
