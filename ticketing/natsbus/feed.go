package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// An event feed is a durable consumer of the events stream that one node
// at a time reads (the caller holds a ticketing.Leases lease for it): the
// node keeps up to FeedMaxAckPending events in hand and puts them on
// lanes, one per ticket, each lane in stream order; a failing event is
// retried inside its lane, held with InProgress, so that the later events
// of its ticket wait behind it and are never overtaken, while other
// tickets go ahead (webhook deliveries, ticketing/webhook). A node dying
// mid-event hands its events back after the ack wait, and the next reader
// takes them before anything newer (feedlanes.go: the hand-over).
//
// Two nodes reading one feed at once still handle every event at least
// once, but not in order: the lease is what keeps the order.

// FeedMaxAckPending is how many events a feed's reader holds at once.
// Feeds created when it was 1 are raised in place when read.
const FeedMaxAckPending = 256

// EventFeedConsumer is the durable consumer name of feed name.
func EventFeedConsumer(name string) string { return "svar-feed-" + name }

// CreateEventFeed creates the feed, starting with the next event
// published. Creating an existing feed changes nothing.
func (b *Bus) CreateEventFeed(ctx context.Context, name string) error {
	_, err := b.eventFeed(ctx, name, true)
	return err
}

// eventFeed returns the feed's consumer, creating it when create is set;
// a feed with another MaxAckPending (one created before lanes) is updated
// to FeedMaxAckPending.
func (b *Bus) eventFeed(ctx context.Context, name string, create bool) (jetstream.Consumer, error) {
	if !validToken(name) {
		return nil, ticketing.FieldError("name", "is not a valid feed name")
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	cname := EventFeedConsumer(name)
	c, err := b.js.Consumer(ctx, b.n.events, cname)
	switch {
	case err == nil:
		cfg := c.CachedInfo().Config
		if cfg.MaxAckPending == FeedMaxAckPending {
			return c, nil
		}
		cfg.MaxAckPending = FeedMaxAckPending
		c, err = b.js.UpdateConsumer(ctx, b.n.events, cfg)
		if err != nil {
			return nil, fmt.Errorf("natsbus: update event feed %s: %w", name, err)
		}
		return c, nil
	case !create:
		return nil, fmt.Errorf("natsbus: event feed %s: %w", name, err)
	}
	c, err = b.js.CreateConsumer(ctx, b.n.events, jetstream.ConsumerConfig{
		Durable:       cname,
		Description:   "Svar: event feed " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: FeedMaxAckPending,
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

// FeedHandler handles one event of a feed; attempt counts from 1 (after a
// hand-over between nodes it goes on from the event's delivery count).
// nil acknowledges it; a *RetryError calls h again with the same event
// after its delay (its After, or 1s doubling per attempt up to 10
// minutes), the later events of its lane waiting; any other error is
// final, the event acknowledged. h must return promptly when ctx ends: the
// event is then handed back for the next reader.
type FeedHandler = func(ctx context.Context, ev *ticketing.Event, attempt int) error

// maxFeedDelay caps the backoff of an event retried in its lane.
const maxFeedDelay = 10 * time.Minute

// ConsumeEventFeed runs h on the feed's events one at a time, in stream
// order, until ctx ends (nil) or the feed is deleted (then it waits for
// ctx). It is ConsumeEventFeedPerTicket with a single lane.
func (b *Bus) ConsumeEventFeed(ctx context.Context, name string, h FeedHandler) error {
	return b.ConsumeEventFeedPerTicket(ctx, name, 1, h)
}

// ConsumeEventFeedPerTicket runs h on the feed's events until ctx ends
// (nil) or the feed is deleted (then it waits for ctx), with up to
// parallel calls of h at once: the events of one ticket one after another
// in stream order, each retried until it succeeds before the next, the
// tickets side by side. parallel 1 (or less) is a single lane: every
// event in stream order. Run it on one node at a time per feed.
func (b *Bus) ConsumeEventFeedPerTicket(ctx context.Context, name string, parallel int, h FeedHandler) error {
	label := EventFeedConsumer(name)
	parallel = max(parallel, 1)
	return b.superviseConsumer(ctx, label, func(ctx context.Context) error {
		cons, err := b.eventFeed(ctx, name, false)
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				<-ctx.Done() // deleted: the caller stops it
				return nil
			}
			return err
		}
		return b.readFeed(ctx, cons, name, parallel, h)
	})
}
