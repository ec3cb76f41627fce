package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// ConsumeInbound runs the shared durable consumer svar-core until ctx
// ends, handing h batches of up to 200 envelopes in stream order. While h
// works on a batch the next messages are already being pulled.
//
// For each envelope: nil is acknowledged; a *ticketing.PoisonError, an
// undecodable message, or a failure on the MaxDeliver-th delivery is
// copied to svar.dlq.inbound (headers Svar-Reason, Svar-Subject,
// Svar-Deliveries) and terminated; any other failure is redelivered after
// a backoff (RetryDelay doubling, capped at a minute). Failures caused by
// ctx ending are redelivered at once without counting against the limit.
//
// When ctx ends, the batch in hand is finished and every message pulled
// but not handled is released for redelivery. It returns nil then; a
// failing consumer is restarted, so it returns earlier only with an error
// when the Bus is closed.
func (b *Bus) ConsumeInbound(ctx context.Context, h ticketing.InboundHandler) error {
	return b.superviseConsumer(ctx, CoreConsumer, func(ctx context.Context) error {
		return b.consumeInbound(ctx, h)
	})
}

func (b *Bus) consumeInbound(ctx context.Context, h ticketing.InboundHandler) error {
	cons, err := b.coreConsumer(ctx)
	if err != nil {
		return err
	}
	r, err := b.startReader(cons, inboundBatch, CoreConsumer)
	if err != nil {
		return err
	}
	defer r.stop()
	batch := make([]jetstream.Msg, 0, inboundBatch)
	for {
		var first jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-r.msgs:
			if !ok {
				return r.failure()
			}
			first = m
		}
		if ctx.Err() != nil {
			r.release(first)
			return nil
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < inboundBatch {
			select {
			case m, ok := <-r.msgs:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		b.handleInbound(ctx, h, batch)
		clear(batch) // let the messages go
	}
}

// handleInbound decodes a batch, calls h and settles every message.
func (b *Bus) handleInbound(ctx context.Context, h ticketing.InboundHandler, batch []jetstream.Msg) {
	maxDeliver := uint64(b.opts.MaxDeliver)
	envs := make([]*ticketing.Envelope, 0, len(batch))
	msgs := make([]jetstream.Msg, 0, len(batch))
	for _, m := range batch {
		deliveries, _ := msgDeliveries(m)
		if deliveries > maxDeliver {
			// The last allowed delivery was never settled (its node died).
			b.deadLetter(ctx, m, "inbound", fmt.Sprintf("not acknowledged after %d deliveries", deliveries-1))
			continue
		}
		env, err := DecodeEnvelope(m.Data())
		if err != nil {
			b.deadLetter(ctx, m, "inbound", "decode envelope: "+err.Error())
			continue
		}
		envs = append(envs, env)
		msgs = append(msgs, m)
	}
	if len(envs) == 0 {
		return
	}
	stop := keepAlive(msgs, b.opts.AckWait/2)
	errs := h(ctx, envs)
	// Acknowledge only once the events the handler published are stored:
	// an envelope acknowledged while its events are in flight loses them
	// if this node dies now, and agents never see the message live.
	flushed := b.eventsFlushed(ctx)
	stop()
	if len(errs) != len(envs) {
		b.log.Error("natsbus: inbound handler returned the wrong number of results; redelivering the batch",
			"envelopes", len(envs), "results", len(errs))
		errs = make([]error, len(envs))
		for i := range errs {
			errs[i] = errors.New("inbound handler returned no result for this envelope")
		}
	}
	for i, err := range errs {
		m := msgs[i]
		var poison *ticketing.PoisonError
		switch {
		case err == nil && !flushed:
			b.nak(m, b.opts.RetryDelay) // redelivered: the core repeats its events idempotently
		case err == nil:
			// Acks are fire-and-forget publishes; the connection's writer
			// sends a batch's acks together. A lost ack means one
			// redelivery, which the idempotent core shrugs off.
			if aerr := m.Ack(); aerr != nil {
				b.log.Warn("natsbus: ack failed", "subject", m.Subject(), "err", aerr)
			}
		case errors.As(err, &poison):
			b.deadLetter(ctx, m, "inbound", "poison: "+poison.Reason)
		case ctx.Err() != nil:
			b.nak(m, 0)
		default:
			deliveries, seq := msgDeliveries(m)
			if deliveries >= maxDeliver {
				b.deadLetter(ctx, m, "inbound", fmt.Sprintf("failed %d deliveries, last: %v", deliveries, err))
				continue
			}
			delay := retryDelay(b.opts.RetryDelay, maxInboundDelay, int(deliveries))
			b.log.Warn("natsbus: inbound envelope failed; will retry", "subject", m.Subject(), "seq", seq,
				"deliveries", deliveries, "retry_in", delay, "err", err)
			b.nak(m, delay)
		}
	}
}

func (b *Bus) nak(m jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = m.NakWithDelay(delay)
	} else {
		err = m.Nak()
	}
	if err != nil {
		b.log.Warn("natsbus: nak failed", "subject", m.Subject(), "err", err)
	}
}

// eventsFlushed waits until every asynchronous event publish of this bus
// has its acknowledgement (a barrier: later publishes by others count too)
// and reports whether that happened before ctx ended or AckWait/2 passed.
func (b *Bus) eventsFlushed(ctx context.Context) bool {
	if b.js.PublishAsyncPending() == 0 {
		return true
	}
	t := time.NewTimer(b.opts.AckWait / 2)
	defer t.Stop()
	select {
	case <-b.js.PublishAsyncComplete():
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		b.log.Warn("natsbus: events not acknowledged in time; redelivering their envelopes", "pending", b.js.PublishAsyncPending())
		return false
	}
}
