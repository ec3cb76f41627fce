package natsbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

func event(typ, ticketID string) *ticketing.Event {
	return &ticketing.Event{
		Type:   typ,
		Ticket: &ticketing.Ticket{ID: ticketID, Number: 7, Status: "open", Subject: "Retur <åäö>"},
		At:     time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC),
	}
}

// eventLog collects delivered events.
type eventLog struct {
	mu  sync.Mutex
	evs []*ticketing.Event
}

func (l *eventLog) add(ev *ticketing.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *eventLog) snapshot() []*ticketing.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*ticketing.Event(nil), l.evs...)
}

func TestEventsReachEveryNode(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	a, b, c := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	ctx := ctxTimeout(t, 20*time.Second)
	// Subscribe from a known sequence, so nothing published after it can
	// be missed however long the subscription takes to start.
	start, err := c.PublishEventSync(ctx, event(ticketing.EventTicketCreated, "before"))
	if err != nil {
		t.Fatal(err)
	}
	logs := []*eventLog{{}, {}}
	for i, node := range []interface {
		SubscribeEvents(context.Context, uint64, func(*ticketing.Event)) error
	}{a, b} {
		run(t, func(ctx context.Context) error { return node.SubscribeEvents(ctx, start, logs[i].add) })
	}
	types := []string{ticketing.EventTicketCreated, ticketing.EventMessageCreated, ticketing.EventTicketUpdated}
	for i, typ := range types {
		if err := c.PublishEvent(ctx, event(typ, fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range logs {
		eventually(t, 10*time.Second, fmt.Sprintf("node %d's events", i), func() bool { return len(l.snapshot()) >= len(types) })
		got := l.snapshot()
		if len(got) != len(types) {
			t.Fatalf("node %d got %d events, want %d", i, len(got), len(types))
		}
		for j, ev := range got {
			if ev.Type != types[j] || ev.Ticket == nil || ev.Ticket.ID != fmt.Sprint("t", j) ||
				ev.Ticket.Subject != "Retur <åäö>" || !ev.At.Equal(event("", "").At) {
				t.Errorf("node %d event %d = %+v", i, j, ev)
			}
			if want := start + 1 + uint64(j); ev.Seq != want {
				t.Errorf("node %d event %d Seq = %d, want %d", i, j, ev.Seq, want)
			}
		}
	}
}

func TestSubscribeEventsFromZeroGetsOnlyNew(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	if _, err := b.PublishEventSync(ctx, event(ticketing.EventTicketCreated, "old")); err != nil {
		t.Fatal(err)
	}
	var l eventLog
	subCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var subErr error
	wg.Go(func() { subErr = b.SubscribeEvents(subCtx, 0, l.add) })
	// The subscription starts at some point: publish until it hears one.
	eventually(t, 10*time.Second, "a new event", func() bool {
		if err := b.PublishEvent(ctx, event(ticketing.EventTicketUpdated, "new")); err != nil {
			t.Fatal(err)
		}
		return len(l.snapshot()) > 0
	})
	stop()
	wg.Wait()
	if subErr != nil {
		t.Fatalf("SubscribeEvents returned %v", subErr)
	}
	n := len(l.snapshot())
	for _, ev := range l.snapshot() {
		if ev.Ticket.ID != "new" {
			t.Fatalf("got an event from before the subscription: %+v", ev)
		}
	}
	// fn is never called once SubscribeEvents has returned.
	if _, err := b.PublishEventSync(ctx, event(ticketing.EventTicketUpdated, "new")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a call after return would have to happen now
	if len(l.snapshot()) != n {
		t.Fatal("fn was called after SubscribeEvents returned")
	}
}

func TestEventsAfterAndLastSeq(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	if last, err := b.LastEventSeq(ctx); err != nil || last != 0 {
		t.Fatalf("LastEventSeq on an empty stream = %d, %v", last, err)
	}
	if evs, err := b.EventsAfter(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("EventsAfter on an empty stream = %v, %v", evs, err)
	}
	var seqs []uint64
	for i := range 5 {
		seq, err := b.PublishEventSync(ctx, event(ticketing.EventMessageCreated, fmt.Sprint("t", i)))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	last, err := b.LastEventSeq(ctx)
	if err != nil || last != seqs[4] {
		t.Fatalf("LastEventSeq = %d, %v; want %d", last, err, seqs[4])
	}
	tests := []struct {
		name  string
		after uint64
		limit int
		want  []uint64
	}{
		{"missed three", seqs[1], 10, seqs[2:]},
		{"limited", seqs[0], 2, seqs[1:3]},
		{"from the start", 0, 0, seqs},
		{"nothing missed", seqs[4], 10, nil},
		{"past the end", seqs[4] + 100, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := b.EventsAfter(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(evs), len(tt.want))
			}
			for i, ev := range evs {
				if ev.Seq != tt.want[i] {
					t.Errorf("event %d Seq = %d, want %d", i, ev.Seq, tt.want[i])
				}
				if wantID := fmt.Sprint("t", tt.want[i]-seqs[0]); ev.Ticket == nil || ev.Ticket.ID != wantID {
					t.Errorf("event %d ticket = %+v, want %s", i, ev.Ticket, wantID)
				}
			}
		})
	}
}

func TestPublishEventRejectsBadType(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 5*time.Second)
	for _, typ := range []string{"", "ticket.*", "ticket..created", "a b"} {
		if err := b.PublishEvent(ctx, event(typ, "t")); ticketing.ErrorCode(err) != ticketing.EInvalid {
			t.Errorf("PublishEvent(type %q) = %v, want invalid", typ, err)
		}
	}
}

// A console that remembers a sequence from before the stream was recreated
// gets everything the new stream holds.
func TestSubscribeEventsPastTheEndRewinds(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	for i := range 2 {
		if _, err := b.PublishEventSync(ctx, event(ticketing.EventTicketCreated, fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
	}
	var l eventLog
	run(t, func(ctx context.Context) error { return b.SubscribeEvents(ctx, 1000, l.add) })
	eventually(t, 10*time.Second, "the stored events", func() bool { return len(l.snapshot()) == 2 })
	if got := l.snapshot(); got[0].Seq != 1 || got[1].Seq != 2 {
		t.Errorf("seqs %d, %d; want 1, 2", got[0].Seq, got[1].Seq)
	}
}

func TestSubscribeEventsAfterCloseFails(t *testing.T) {
	b := natstest.New(t)
	b.Close() // the cleanup's second Close is harmless
	ctx := ctxTimeout(t, 20*time.Second)
	var l eventLog
	if err := b.SubscribeEvents(ctx, 0, l.add); err == nil {
		t.Fatal("SubscribeEvents on a closed Bus returned nil")
	}
}
