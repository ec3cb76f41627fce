package natsbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// How a reader of a feed works (feed.go has the contract):
//
//   - The reader pulls up to FeedMaxAckPending events and puts each on its
//     lane: the ticket's (one lane for all when parallel is 1). A lane is
//     a goroutine that lives while its queue has events and handles them
//     one after another; at most parallel calls of the handler run at
//     once across lanes (a lane waiting out a retry's backoff does not
//     count).
//   - Every event in hand, queued or being handled, is kept alive with
//     InProgress, so that JetStream redelivers none of them while this
//     reader holds them; a failing event is retried in its lane, and
//     acknowledged only once handled, so it keeps its place.
//   - The hand-over: a reader that starts while the consumer has events
//     pending (a previous reader died, or stopped and handed its events
//     back with Nak) must not run a ticket's newer event before the older
//     one it has not yet got back. So it holds every event it receives
//     until all pending events are in its hands (the consumer's
//     NumAckPending is no more than what it holds), then puts them on
//     their lanes in stream order. A dead reader's events come back after
//     the ack wait; the hold gives up after two ack waits, in case the
//     server's count never settles.
//   - When the reader stops (ctx ended: the lease was lost or the node is
//     stopping) the lanes stop, and every event in hand is handed back
//     with Nak, in stream order, for the next reader.
//
// Lock order: feedRun.mu only; it is never held across I/O or the handler.

// feedItem is one event in hand.
type feedItem struct {
	m          jetstream.Msg
	ev         *ticketing.Event
	deliveries uint64
}

// feedRun is one reader's pass over a feed.
type feedRun struct {
	b         *Bus
	name      string
	h         FeedHandler
	perTicket bool
	sem       chan struct{} // a token per running handler call
	wg        sync.WaitGroup

	mu    sync.Mutex
	held  map[uint64]jetstream.Msg // every event in hand, by stream sequence
	lanes map[string][]feedItem    // a lane's queue, the event being handled first; present while the lane runs
}

// feedHoldPoll is how often a starting reader checks whether every pending
// event is back in its hands.
const feedHoldPoll = 100 * time.Millisecond

func (b *Bus) readFeed(ctx context.Context, cons jetstream.Consumer, name string, parallel int, h FeedHandler) error {
	label := EventFeedConsumer(name)
	ictx, cancel := opContext(ctx)
	info, err := cons.Info(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("natsbus: %s: info: %w", label, err)
	}
	f := &feedRun{b: b, name: name, h: h, perTicket: parallel > 1, sem: make(chan struct{}, parallel),
		held: map[uint64]jetstream.Msg{}, lanes: map[string][]feedItem{}}
	r, err := b.startReader(cons, FeedMaxAckPending, label)
	if err != nil {
		return err
	}
	lctx, stopLanes := context.WithCancel(ctx)
	stopKeep := f.keepAlive(max(b.opts.AckWait/3, time.Second))
	defer func() {
		stopLanes()
		f.wg.Wait()
		stopKeep()
		f.handBack()
		r.stop()
	}()

	var hold []feedItem // events received before the hand-over is complete
	var poll <-chan time.Time
	if info.NumAckPending > 0 {
		t := time.NewTicker(feedHoldPoll)
		defer t.Stop()
		poll = t.C
	}
	holdUntil := time.Now().Add(2*b.opts.AckWait + 5*time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-r.msgs:
			if !ok {
				return r.failure()
			}
			it, ok := f.take(m)
			switch {
			case !ok:
			case poll != nil:
				hold = append(hold, it)
			default:
				f.enqueue(lctx, it)
			}
		case <-poll:
			n := f.inHand()
			ictx, cancel := opContext(ctx)
			info, err := cons.Info(ictx)
			cancel()
			switch {
			case err == nil && info.NumAckPending <= n:
			case time.Now().After(holdUntil):
				b.log.Warn("natsbus: event feed: pending events did not all come back; going on", "feed", name,
					"pending", pendingOf(info), "in_hand", n, "err", err)
			default:
				continue
			}
			poll = nil
			slices.SortFunc(hold, func(a, b feedItem) int { return cmp.Compare(a.ev.Seq, b.ev.Seq) })
			for _, it := range hold {
				f.enqueue(lctx, it)
			}
			hold = nil
		}
	}
}

func pendingOf(info *jetstream.ConsumerInfo) int {
	if info == nil {
		return -1
	}
	return info.NumAckPending
}

// take decodes m and adds it to the events in hand; false when it is not
// to be handled (undecodable, or a second copy of an event in hand).
func (f *feedRun) take(m jetstream.Msg) (feedItem, bool) {
	ev, err := decodeEvent(m)
	if err != nil {
		f.b.log.Error("natsbus: event feed: undecodable event skipped", "feed", f.name, "err", err)
		_ = m.Ack()
		return feedItem{}, false
	}
	deliveries, _ := msgDeliveries(m)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.held[ev.Seq]; dup {
		// Redelivered while in hand (a keep-alive did not arrive in
		// time): the copy in hand goes on, and its ack settles both.
		return feedItem{}, false
	}
	f.held[ev.Seq] = m
	return feedItem{m: m, ev: ev, deliveries: deliveries}, true
}

func (f *feedRun) inHand() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// enqueue puts it at the end of its lane, starting the lane if it is not
// running.
func (f *feedRun) enqueue(ctx context.Context, it feedItem) {
	key := ""
	if f.perTicket {
		key = eventTicket(it.ev)
	}
	f.mu.Lock()
	q, running := f.lanes[key]
	f.lanes[key] = append(q, it)
	f.mu.Unlock()
	if !running {
		f.wg.Go(func() { f.lane(ctx, key) })
	}
}

// lane handles its queue's events in order until the queue is empty or
// ctx ends (the events left stay in hand, for handBack).
func (f *feedRun) lane(ctx context.Context, key string) {
	for {
		f.mu.Lock()
		q := f.lanes[key]
		if len(q) == 0 {
			delete(f.lanes, key)
			f.mu.Unlock()
			return
		}
		it := q[0]
		f.mu.Unlock()
		if !f.handle(ctx, it) {
			return
		}
		f.mu.Lock()
		q = f.lanes[key]
		q[0] = feedItem{}
		f.lanes[key] = q[1:]
		delete(f.held, it.ev.Seq)
		f.mu.Unlock()
	}
}

// handle runs the handler on it until it succeeds or fails for good (the
// event is acknowledged: true) or ctx ends (false).
func (f *feedRun) handle(ctx context.Context, it feedItem) bool {
	attempt := int(it.deliveries)
	for {
		select {
		case f.sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		err := f.h(ctx, it.ev, attempt)
		<-f.sem
		if err != nil && ctx.Err() != nil {
			return false
		}
		var retry *ticketing.RetryError
		if !errors.As(err, &retry) {
			if err != nil {
				f.b.log.Warn("natsbus: event feed: event failed for good", "feed", f.name, "seq", it.ev.Seq, "err", err)
			}
			if aerr := it.m.Ack(); aerr != nil {
				f.b.log.Warn("natsbus: event feed: ack failed; the event comes again", "feed", f.name, "seq", it.ev.Seq, "err", aerr)
			}
			return true
		}
		d := retry.After
		if d <= 0 {
			d = retryDelay(time.Second, maxFeedDelay, attempt)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		attempt++
	}
}

// keepAlive sends InProgress for every event in hand every interval.
func (f *feedRun) keepAlive(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var ms []jetstream.Msg
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			f.mu.Lock()
			ms = ms[:0]
			for _, m := range f.held {
				ms = append(ms, m)
			}
			f.mu.Unlock()
			for _, m := range ms {
				_ = m.InProgress()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// handBack naks every event in hand, in stream order, for the next reader.
// Call it once the lanes have stopped.
func (f *feedRun) handBack() {
	f.mu.Lock()
	seqs := make([]uint64, 0, len(f.held))
	for seq := range f.held {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	ms := make([]jetstream.Msg, len(seqs))
	for i, seq := range seqs {
		ms[i] = f.held[seq]
	}
	clear(f.held)
	clear(f.lanes)
	f.mu.Unlock()
	for _, m := range ms {
		if err := m.Nak(); err != nil {
			f.b.log.Debug("natsbus: event feed: hand back failed (it comes back after the ack wait)", "feed", f.name, "err", err)
		}
	}
}
