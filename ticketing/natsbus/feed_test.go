package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
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
