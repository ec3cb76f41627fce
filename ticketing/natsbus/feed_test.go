package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// TestEventFeedInOrderWithRetriesAndHandBack: a feed hands events over one
// at a time in stream order; a retried event is never overtaken; an event
// in hand when the consumer stops is handed back, not lost, and the next
// consumer of the feed gets it and what follows, once each.
func TestEventFeedInOrderWithRetriesAndHandBack(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 30*time.Second)
	if err := b.CreateEventFeed(ctx, "hook1"); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			tk := &ticketing.Ticket{ID: fmt.Sprintf("t-%d", i), Status: ticketing.StatusOpen}
			if err := b.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: tk}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 5)

	var mu sync.Mutex
	var got []string
	blocked := make(chan struct{})
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeEventFeed(cctx, "hook1", func(hctx context.Context, ev *ticketing.Event, attempt int) error {
			id := ev.Ticket.ID
			mu.Lock()
			got = append(got, fmt.Sprintf("%s#%d", id, attempt))
			mu.Unlock()
			switch {
			case id == "t-1" && attempt < 3:
				return ticketing.Retry(errors.New("receiver down"), 10*time.Millisecond)
			case id == "t-3":
				close(blocked)
				<-hctx.Done() // the node stops mid-delivery
				return hctx.Err()
			}
			return nil
		})
	}()
	select {
	case <-blocked:
	case <-ctx.Done():
		t.Fatalf("t-3 never came: %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("consume: %v", err)
	}
	mu.Lock()
	first := strings.Join(got, " ")
	mu.Unlock()
	if first != "t-0#1 t-1#1 t-1#2 t-1#3 t-2#1 t-3#1" {
		t.Fatalf("first consumer saw %s", first)
	}

	// Another node takes over: t-3 again, then t-4 and what comes later.
	publish(5, 7)
	var again []string
	cctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		done2 <- b.ConsumeEventFeed(cctx2, "hook1", func(_ context.Context, ev *ticketing.Event, attempt int) error {
			mu.Lock()
			again = append(again, ev.Ticket.ID)
			mu.Unlock()
			return nil
		})
	}()
	eventually(t, 15*time.Second, "the rest of the feed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(again) >= 4
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("consume: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(again, []string{"t-3", "t-4", "t-5", "t-6"}) {
		t.Fatalf("second consumer saw %v, want t-3 t-4 t-5 t-6", again)
	}
}

// feedLog records what a feed handler sees, "<ticket>-<n>#<attempt>".
type feedLog struct {
	mu  sync.Mutex
	got []string
}

func (l *feedLog) add(ev *ticketing.Event, attempt int) string {
	s := fmt.Sprintf("%s#%d", ev.Ticket.Subject, attempt)
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
	return ev.Ticket.Subject
}

// seen returns what the handler got of ticket (every attempt), in order.
func (l *feedLog) seen(ticket string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.got {
		if strings.HasPrefix(s, ticket+"-") {
			out = append(out, s)
		}
	}
	return out
}

// events drops the attempts from what seen returns.
func events(seen []string) []string {
	out := make([]string, len(seen))
	for i, s := range seen {
		out[i], _, _ = strings.Cut(s, "#")
	}
	return out
}

// publishRounds publishes, for each round, one event of every ticket:
// "a-1 b-1 c-1 a-2 b-2 …", each event's Subject naming it.
func publishRounds(t *testing.T, ctx context.Context, b interface {
	PublishEventSync(context.Context, *ticketing.Event) (uint64, error)
}, tickets []string, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		for _, tk := range tickets {
			ev := &ticketing.Event{Type: ticketing.EventTicketUpdated,
				Ticket: &ticketing.Ticket{ID: "t-" + tk, Subject: fmt.Sprintf("%s-%d", tk, n), Status: ticketing.StatusOpen}}
			if _, err := b.PublishEventSync(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEventFeedPerTicketRetriesInLane: with several tickets in flight, an
// event that keeps failing holds up only the later events of its own
// ticket; once it succeeds its ticket goes on in order.
func TestEventFeedPerTicketRetriesInLane(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 60*time.Second)
	if err := b.CreateEventFeed(ctx, "lanes"); err != nil {
		t.Fatal(err)
	}
	tickets := []string{"a", "b", "c", "d"}
	publishRounds(t, ctx, b, tickets, 1, 3)

	var log feedLog
	var healed atomic.Bool
	run(t, func(ctx context.Context) error {
		return b.ConsumeEventFeedPerTicket(ctx, "lanes", 4, func(_ context.Context, ev *ticketing.Event, attempt int) error {
			if log.add(ev, attempt) == "a-2" && !healed.Load() {
				return ticketing.Retry(errors.New("receiver refuses a-2"), 5*time.Millisecond)
			}
			return nil
		})
	})
	eventually(t, 15*time.Second, "the other tickets' events while a-2 fails", func() bool {
		for _, tk := range tickets[1:] {
			if len(log.seen(tk)) < 3 {
				return false
			}
		}
		return len(log.seen("a")) >= 4 // a-1 and a-2 tried more than once
	})
	if got := log.seen("a"); slices.Contains(got, "a-3#1") {
		t.Fatalf("a-3 overtook the failing a-2: %v", got)
	}
	healed.Store(true)
	eventually(t, 15*time.Second, "a-3", func() bool { return slices.Contains(log.seen("a"), "a-3#1") })

	got := log.seen("a")
	if got[0] != "a-1#1" || got[len(got)-1] != "a-3#1" {
		t.Fatalf("ticket a saw %v", got)
	}
	for i, s := range got[1 : len(got)-1] {
		if want := fmt.Sprintf("a-2#%d", i+1); s != want {
			t.Fatalf("ticket a saw %v: attempt %d is %s, want %s", got, i+2, s, want)
		}
	}
	for _, tk := range tickets[1:] {
		if got, want := log.seen(tk), []string{tk + "-1#1", tk + "-2#1", tk + "-3#1"}; !slices.Equal(got, want) {
			t.Fatalf("ticket %s saw %v, want %v", tk, got, want)
		}
	}
}

// TestEventFeedHandOverKeepsTicketOrder: a reader dies holding a ticket's
// events (nothing handed back); the next reader gets them after the ack
// wait and delivers them before that ticket's newer events, which it got
// at once.
func TestEventFeedHandOverKeepsTicketOrder(t *testing.T) {
	url, ns := natstest.NewServer(t), natstest.Namespace(t)
	// The feed's ack wait is that of the bus that creates it.
	b1 := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: ns, AckWait: 2 * time.Second})
	b2 := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: ns, AckWait: 2 * time.Second})
	ctx := ctxTimeout(t, 60*time.Second)
	if err := b1.CreateEventFeed(ctx, "handover"); err != nil {
		t.Fatal(err)
	}
	tickets := []string{"a", "b"}
	publishRounds(t, ctx, b1, tickets, 1, 2)

	var first feedLog
	inA := make(chan struct{})
	done1 := make(chan error, 1)
	go func() {
		done1 <- b1.ConsumeEventFeedPerTicket(context.Background(), "handover", 4, func(hctx context.Context, ev *ticketing.Event, attempt int) error {
			if first.add(ev, attempt) == "a-1" {
				close(inA)
				<-hctx.Done() // the node dies mid-delivery
				return hctx.Err()
			}
			return nil
		})
	}()
	eventually(t, 15*time.Second, "b's events and a-1 in hand", func() bool {
		select {
		case <-inA:
		default:
			return false
		}
		return len(first.seen("b")) == 2
	})
	// The node dies: its acknowledgements so far are out, nothing else.
	if err := b1.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	b1.Conn().Close()
	if err := <-done1; err == nil {
		t.Fatal("the dead node's reader returned nil")
	}

	publishRounds(t, ctx, b2, tickets, 3, 3)
	var second feedLog
	run(t, func(ctx context.Context) error {
		return b2.ConsumeEventFeedPerTicket(ctx, "handover", 4, func(_ context.Context, ev *ticketing.Event, attempt int) error {
			second.add(ev, attempt)
			return nil
		})
	})
	eventually(t, 20*time.Second, "ticket a on the second reader", func() bool { return len(second.seen("a")) >= 3 })
	eventually(t, 5*time.Second, "b-3 on the second reader", func() bool { return len(second.seen("b")) >= 1 })
	// (a-3 may count a second delivery: the server can hand it to the dead
	// node's pull request before it notices the node is gone.)
	if got := events(second.seen("a")); !slices.Equal(got, []string{"a-1", "a-2", "a-3"}) || second.seen("a")[0] != "a-1#2" {
		t.Fatalf("the second reader saw ticket a as %v, want a-1#2 a-2 a-3", second.seen("a"))
	}
	if got := events(second.seen("b")); !slices.Equal(got, []string{"b-3"}) {
		t.Fatalf("the second reader saw ticket b as %v, want b-3 only", second.seen("b"))
	}
}

// TestEventFeedRaisedInPlace: a feed created when feeds held one event at a
// time gets FeedMaxAckPending when it is next read, and keeps its place.
func TestEventFeedRaisedInPlace(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 30*time.Second)
	stream := b.StreamName(natsbus.StreamEvents)
	if _, err := b.JetStream().CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: natsbus.EventFeedConsumer("old"), AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		MaxDeliver: -1, MaxAckPending: 1, DeliverPolicy: jetstream.DeliverNewPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	publishRounds(t, ctx, b, []string{"a", "b"}, 1, 2)
	var log feedLog
	run(t, func(ctx context.Context) error {
		return b.ConsumeEventFeedPerTicket(ctx, "old", 4, func(_ context.Context, ev *ticketing.Event, attempt int) error {
			log.add(ev, attempt)
			return nil
		})
	})
	eventually(t, 15*time.Second, "the events", func() bool { return len(log.seen("a"))+len(log.seen("b")) == 4 })
	c, err := b.JetStream().Consumer(ctx, stream, natsbus.EventFeedConsumer("old"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.MaxAckPending; got != natsbus.FeedMaxAckPending {
		t.Fatalf("MaxAckPending = %d, want %d", got, natsbus.FeedMaxAckPending)
	}
	for _, tk := range []string{"a", "b"} {
		if got := events(log.seen(tk)); !slices.Equal(got, []string{tk + "-1", tk + "-2"}) {
			t.Fatalf("ticket %s: %v", tk, got)
		}
	}
}
