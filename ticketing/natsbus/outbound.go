package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// OutboundConsumer is the durable consumer name of channel ch.
func OutboundConsumer(ch ticketing.Channel) string { return "svar-outbound-" + string(ch) }

// ConsumeOutbound runs the durable consumer svar-outbound-<ch>, shared by
// every node, until ctx ends. A few workers on this node call h one
// message each; attempt is JetStream's delivery count.
//
// nil acknowledges the message. A *ticketing.RetryError redelivers it
// after its After, or after the backoff (RetryDelay doubling: 1s, 2s, 4s …
// capped at 5 minutes); on the OutboundMaxDeliver-th attempt it is moved
// to svar.dlq.outbound.<ch> instead. A *ticketing.PoisonError or an
// undecodable message goes to the dead letters at once. Any other error is
// final and acknowledged (the handler has reported the failure). While h
// runs longer than AckWait/2, JetStream is told it is still in progress.
//
// When ctx ends, the deliveries in hand finish (an error caused by ctx
// ending redelivers the message) and messages not started are released.
func (b *Bus) ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error {
	if !validToken(string(ch)) {
		return ticketing.FieldError("channel", "is not a valid channel")
	}
	name := OutboundConsumer(ch)
	return b.superviseConsumer(ctx, name, func(ctx context.Context) error {
		return b.consumeOutbound(ctx, ch, h)
	})
}

func (b *Bus) outboundConsumer(ctx context.Context, ch ticketing.Channel) (jetstream.Consumer, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	name := OutboundConsumer(ch)
	c, err := b.js.CreateOrUpdateConsumer(ctx, b.n.outbound, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Svar: delivers replies on " + string(ch),
		FilterSubject: b.n.outboundSubj + string(ch),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1, // counted by the bus; no BackOff, as for svar-core
		MaxAckPending: 1000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: create consumer %s: %w", name, err)
	}
	return c, nil
}

func (b *Bus) consumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error {
	cons, err := b.outboundConsumer(ctx, ch)
	if err != nil {
		return err
	}
	r, err := b.startReader(cons, outboundWorkers, OutboundConsumer(ch))
	if err != nil {
		return err
	}
	defer r.stop()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	for range outboundWorkers {
		wg.Go(func() {
			for {
				select {
				case <-wctx.Done():
					return
				case m, ok := <-r.msgs:
					if !ok {
						errOnce.Do(func() { failure = r.failure() })
						cancel()
						return
					}
					if wctx.Err() != nil {
						r.release(m)
						return
					}
					b.handleOutbound(ctx, ch, h, m)
				}
			}
		})
	}
	wg.Wait()
	return failure
}

func (b *Bus) handleOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler, m jetstream.Msg) {
	kind := "outbound." + string(ch)
	deliveries, seq := msgDeliveries(m)
	maxDeliver := uint64(b.opts.OutboundMaxDeliver)
	if deliveries > maxDeliver {
		b.deadLetter(ctx, m, kind, fmt.Sprintf("not acknowledged after %d deliveries", deliveries-1))
		return
	}
	o := new(ticketing.Outbound)
	if err := json.Unmarshal(m.Data(), o); err != nil {
		b.deadLetter(ctx, m, kind, "decode outbound: "+err.Error())
		return
	}
	stop := keepAlive([]jetstream.Msg{m}, b.opts.AckWait/2)
	err := h(ctx, o, int(deliveries))
	stop()
	var (
		retry  *ticketing.RetryError
		poison *ticketing.PoisonError
	)
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: ack failed", "subject", m.Subject(), "seq", seq, "err", aerr)
		}
	case ctx.Err() != nil:
		b.nak(m, 0)
	case errors.As(err, &poison):
		b.deadLetter(ctx, m, kind, "poison: "+poison.Reason)
	case errors.As(err, &retry):
		if deliveries >= maxDeliver {
			b.deadLetter(ctx, m, kind, fmt.Sprintf("gave up after %d attempts, last: %v", deliveries, err))
			return
		}
		delay := retry.After
		if delay <= 0 {
			delay = retryDelay(b.opts.RetryDelay, maxOutboundDelay, int(deliveries))
		}
		b.log.Info("natsbus: outbound delivery will be retried", "subject", m.Subject(), "message_id", o.MessageID,
			"attempt", deliveries, "retry_in", delay, "err", err)
		b.nak(m, delay)
	default:
		b.log.Info("natsbus: outbound delivery failed for good", "subject", m.Subject(), "message_id", o.MessageID,
			"attempt", deliveries, "err", err)
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: ack failed", "subject", m.Subject(), "seq", seq, "err", aerr)
		}
	}
}
