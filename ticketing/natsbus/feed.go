package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// An event feed is a durable consumer of the events stream that hands
// events over one at a time, in stream order, to whichever node runs it:
// the next event waits until the one before it is acknowledged, so a
// retried event is never overtaken (webhook deliveries, ticketing/webhook).
// A node dying mid-event hands it to another node after the ack wait.

// EventFeedConsumer is the durable consumer name of feed name.
func EventFeedConsumer(name string) string { return "svar-feed-" + name }

// CreateEventFeed creates the feed, starting with the next event
// published. Creating an existing feed changes nothing.
func (b *Bus) CreateEventFeed(ctx context.Context, name string) error {
	_, err := b.eventFeed(ctx, name, true)
	return err
}

func (b *Bus) eventFeed(ctx context.Context, name string, create bool) (jetstream.Consumer, error) {
	if !validToken(name) {
		return nil, ticketing.FieldError("name", "is not a valid feed name")
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	cname := EventFeedConsumer(name)
	if c, err := b.js.Consumer(ctx, b.n.events, cname); err == nil || !create {
		if err != nil {
			return nil, fmt.Errorf("natsbus: event feed %s: %w", name, err)
		}
		return c, nil
	}
	c, err := b.js.CreateConsumer(ctx, b.n.events, jetstream.ConsumerConfig{
		Durable:       cname,
		Description:   "Svar: event feed " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1, // in order: the next event waits for this one
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: create event feed %s: %w", name, err)
	}
	return c, nil
}

// DeleteEventFeed deletes the feed; deleting none is not an error.
func (b *Bus) DeleteEventFeed(ctx context.Context, name string) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	err := b.js.DeleteConsumer(ctx, b.n.events, EventFeedConsumer(name))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("natsbus: delete event feed %s: %w", name, err)
	}
	return nil
}

// FeedHandler handles one event of a feed; attempt counts from 1. nil
// acknowledges it; a *RetryError hands it over again after its delay
// (its After, or 1s doubling per attempt up to 10 minutes); any other
// error is final, the event acknowledged.
type FeedHandler = func(ctx context.Context, ev *ticketing.Event, attempt int) error

// ConsumeEventFeed runs h on the feed's events until ctx ends (nil) or the
// feed is deleted (ErrConsumerNotFound wrapped).
func (b *Bus) ConsumeEventFeed(ctx context.Context, name string, h FeedHandler) error {
	label := EventFeedConsumer(name)
	return b.superviseConsumer(ctx, label, func(ctx context.Context) error {
		cons, err := b.eventFeed(ctx, name, false)
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				<-ctx.Done() // deleted: the caller stops it
				return nil
			}
			return err
		}
		r, err := b.startReader(cons, 1, label)
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
				b.runFeed(ctx, name, h, m)
			}
		}
	})
}

func (b *Bus) runFeed(ctx context.Context, name string, h FeedHandler, m jetstream.Msg) {
	ev, err := decodeEvent(m)
	if err != nil {
		b.log.Error("natsbus: event feed: undecodable event skipped", "feed", name, "err", err)
		_ = m.Ack()
		return
	}
	deliveries, _ := msgDeliveries(m)
	stop := keepAlive([]jetstream.Msg{m}, max(b.opts.AckWait/3, time.Second))
	err = h(ctx, ev, int(deliveries))
	stop()
	var retry *ticketing.RetryError
	switch {
	case err != nil && ctx.Err() != nil:
		_ = m.Nak()
	case errors.As(err, &retry):
		d := retry.After
		if d <= 0 {
			d = min(time.Second<<min(deliveries-1, 20), 10*time.Minute)
		}
		_ = m.NakWithDelay(d)
	default:
		if aerr := m.Ack(); aerr != nil {
			b.log.Warn("natsbus: event feed: ack failed; the event comes again", "feed", name, "err", aerr)
		}
	}
}
