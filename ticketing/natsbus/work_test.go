package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// Nodes share an event-work consumer with four workers each: every event
// is handled once across them; on a node, a ticket's events in stream
// order (one node here, so all of them); a failing event is retried, a
// poison one dead-lettered, and neither holds up the others.
func TestEventWorkOnceAcrossNodesInOrderPerTicket(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) { testEventWork(t, nodes) })
	}
}

func testEventWork(t *testing.T, nodes int) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	a := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: ns, RetryDelay: 50 * time.Millisecond})
	b := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: ns, RetryDelay: 50 * time.Millisecond})
	var (
		mu      sync.Mutex
		seen    = map[string][]int64{} // ticket → versions in handling order
		handled = map[uint64]int{}     // seq → times acknowledged
		failed  bool
	)
	h := func(_ context.Context, ev *ticketing.Event) error {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Ticket.ID {
		case "poison":
			return &ticketing.PoisonError{Reason: "refused"}
		case "flaky":
			if !failed {
				failed = true
				return errors.New("the store is away")
			}
		}
		seen[ev.Ticket.ID] = append(seen[ev.Ticket.ID], ev.Ticket.Version)
		handled[ev.Seq]++
		return nil
	}
	w := natsbus.EventWork{Name: "svar-test-work", Types: []string{"ticket.>"}, MaxAckPending: 100, Workers: 4}
	ready := make(chan struct{}, 2)
	for _, bus := range []*natsbus.Bus{a, b}[:nodes] {
		run(t, func(ctx context.Context) error {
			ready <- struct{}{}
			return bus.ConsumeEventWork(ctx, w, h)
		})
	}
	for range nodes {
		<-ready
	}
	time.Sleep(300 * time.Millisecond) // the consumer exists: events from now on are delivered
	ctx := ctxTimeout(t, 30*time.Second)
	const tickets, versions = 8, 12
	for v := 1; v <= versions; v++ {
		for k := range tickets {
			ev := &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &ticketing.Ticket{ID: fmt.Sprintf("t%d", k), Version: int64(v)}}
			if err := a.PublishEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range []string{"poison", "flaky"} {
		if err := a.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &ticketing.Ticket{ID: id, Version: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "every event handled and the poison one dead-lettered", func() bool {
		mu.Lock()
		n := len(handled)
		mu.Unlock()
		dl, err := a.DLQCount(ctx)
		return n == tickets*versions+1 && err == nil && dl == 1
	})
	time.Sleep(500 * time.Millisecond) // a second delivery would show now
	mu.Lock()
	defer mu.Unlock()
	for seq, n := range handled {
		if n != 1 {
			t.Errorf("event %d handled %d times", seq, n)
		}
	}
	for k := range tickets {
		id := fmt.Sprintf("t%d", k)
		got := seen[id]
		if nodes > 1 {
			if len(got) != versions {
				t.Errorf("%s: %d events handled, want %d", id, len(got), versions)
			}
			continue // across nodes a ticket's events may overlap
		}
		if len(got) != versions {
			t.Fatalf("%s: %d events handled, want %d", id, len(got), versions)
		}
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("%s handled out of order: %v", id, got)
			}
		}
	}
	if len(seen["flaky"]) != 1 || !failed {
		t.Errorf("the failing event was not retried once: %v", seen["flaky"])
	}
}

// A node publishes events while its services are still creating their
// work consumers (the core takes in messages from the start): an event
// published after the Bus connected reaches a consumer created later,
// one from long before does not, and a consumer created again keeps
// where it started.
func TestEventWorkCreatedLateSeesTheEventsSinceConnect(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	old := natstest.Connect(t, url, ns)
	ctx := ctxTimeout(t, 30*time.Second)
	publish := func(bus *natsbus.Bus, id string) {
		// In the stream when this returns, before the consumer is created.
		if _, err := bus.PublishEventSync(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &ticketing.Ticket{ID: id, Version: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	publish(old, "before")
	time.Sleep(1500 * time.Millisecond) // past the second's allowance for clocks
	a := natstest.Connect(t, url, ns)
	publish(a, "since")
	var mu sync.Mutex
	var seen []string
	h := func(_ context.Context, ev *ticketing.Event) error {
		mu.Lock()
		seen = append(seen, ev.Ticket.ID)
		mu.Unlock()
		return nil
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	w := natsbus.EventWork{Name: "svar-test-late", Types: []string{"ticket.>"}}
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.ConsumeEventWork(cctx, w, h) }()
	eventually(t, 10*time.Second, "the event published before the consumer existed", func() bool { return len(got()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := got(); s[0] != "since" {
		t.Fatalf("handled %v, want only the event since the Bus connected", s)
	}
	// Again on a new connection: the consumer exists and starts where it
	// left off (not refused for another start time, no event twice).
	b := natstest.Connect(t, url, ns)
	publish(b, "later")
	run(t, func(ctx context.Context) error { return b.ConsumeEventWork(ctx, w, h) })
	eventually(t, 10*time.Second, "the event published while no node consumed", func() bool { return len(got()) == 2 })
	time.Sleep(300 * time.Millisecond)
	if s := got(); len(s) != 2 || s[1] != "later" {
		t.Fatalf("handled %v, want since then later", s)
	}
}
