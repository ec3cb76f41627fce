package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
	"github.com/svar-dev/svar/ticketing/webhook"
)

// node is one Svar node's webhook deliveries: its own bus, store
// connection and leases, sharing the NATS server and database.
type node struct {
	bus    *natsbus.Bus
	leases *natsbus.Leases
	svc    *webhook.Service
	stop   func() // stops Run and waits for it
}

func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	url, ns := natstest.NewServer(t), natstest.Namespace(t)
	stores := mongotest.NewNodes(t, n)
	var out []*node
	for i := range n {
		bus := natstest.Connect(t, url, ns)
		leases := natsbus.NewLeases(bus, natsbus.LeaseOptions{TTL: time.Second, Node: fmt.Sprintf("n%d", i+1)})
		svc := webhook.New(webhook.Options{Store: stores[i], Feed: bus, Leases: leases, AllowPrivate: true,
			Refresh: 100 * time.Millisecond, Logger: mongotest.Logger(t)})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = svc.Run(ctx) })
		stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
		t.Cleanup(stop)
		out = append(out, &node{bus: bus, leases: leases, svc: svc, stop: stop})
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request is one request a receiver got: the event (its ticket's Subject,
// "a-2") and what was answered (0: the sender gave up first).
type request struct {
	Event  string
	Seq    int
	Status int
}

// receiver is a webhook target on 127.0.0.1. answer decides each
// request's status; it may block until the request's context ends.
type receiver struct {
	url    string
	mu     sync.Mutex
	got    []request
	answer func(r *http.Request, event string, nth int) int
}

func newReceiver(t *testing.T, answer func(r *http.Request, event string, nth int) int) *receiver {
	rc := &receiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.Ticket == nil {
			t.Errorf("payload %s: %v", body, err)
			return
		}
		var seq int
		fmt.Sscanf(p.ID, "evt_%d", &seq)
		rc.mu.Lock()
		nth := 1
		for _, g := range rc.got {
			if g.Event == p.Ticket.Subject {
				nth++
			}
		}
		i := len(rc.got)
		rc.got = append(rc.got, request{Event: p.Ticket.Subject, Seq: seq})
		rc.mu.Unlock()
		status := rc.answer(r, p.Ticket.Subject, nth)
		if status != 0 {
			w.WriteHeader(status)
		}
		rc.mu.Lock()
		rc.got[i].Status = status
		rc.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hook"
	return rc
}

// delivered returns the events answered 2xx, in the order they came.
func (rc *receiver) delivered() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []request
	for _, g := range rc.got {
		if g.Status >= 200 && g.Status < 300 {
			out = append(out, g)
		}
	}
	return out
}

// requests counts the requests for event.
func (rc *receiver) requests(event string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, g := range rc.got {
		if g.Event == event {
			n++
		}
	}
	return n
}

// publish sends, for each round, a ticket.updated event of every ticket
// ("a-1 b-1 c-1 a-2 …", each event's ticket Subject naming it).
func publish(t *testing.T, bus *natsbus.Bus, tickets []string, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		for _, tk := range tickets {
			ev := &ticketing.Event{Type: ticketing.EventTicketUpdated, At: time.Now(),
				Ticket: &ticketing.Ticket{ID: "t-" + tk, Subject: fmt.Sprintf("%s-%d", tk, n), Status: ticketing.StatusOpen}}
			if _, err := bus.PublishEventSync(ctxT(t), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func allEvents(tickets []string, from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		for _, tk := range tickets {
			out = append(out, fmt.Sprintf("%s-%d", tk, n))
		}
	}
	return out
}

// checkDelivered fails unless every one of want was answered 2xx exactly
// once and each ticket's events came in stream order.
func checkDelivered(t *testing.T, rc *receiver, want []string) {
	t.Helper()
	got := rc.delivered()
	count := map[string]int{}
	last := map[string]int{}
	for _, d := range got {
		count[d.Event]++
		tk, _, _ := strings.Cut(d.Event, "-")
		if d.Seq <= last[tk] {
			t.Errorf("ticket %s: %s (seq %d) came after seq %d", tk, d.Event, d.Seq, last[tk])
		}
		last[tk] = d.Seq
	}
	for _, e := range want {
		if count[e] != 1 {
			t.Errorf("%s delivered %d times, want once", e, count[e])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d deliveries, want %d", len(got), len(want))
	}
}

func waitDelivered(t *testing.T, rc *receiver, want []string) {
	t.Helper()
	eventually(t, "the deliveries", func() error {
		have := map[string]bool{}
		for _, d := range rc.delivered() {
			have[d.Event] = true
		}
		for _, e := range want {
			if !have[e] {
				return fmt.Errorf("%s not delivered", e)
			}
		}
		return nil
	})
}

// TestWebhookTwoNodesDeliverOnceInTicketOrder: two nodes deliver a
// webhook's events, several tickets at once: each event once (the failed
// attempt once more), each ticket's in order, and the delivery log holds
// every attempt once.
func TestWebhookTwoNodesDeliverOnceInTicketOrder(t *testing.T) {
	nodes := startNodes(t, 2)
	rc := newReceiver(t, func(_ *http.Request, event string, nth int) int {
		if event == "a-3" && nth == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	w, err := nodes[0].svc.Create(ctxT(t), "test", webhook.Input{URL: rc.url, Events: []string{ticketing.EventTicketUpdated}, Secret: "s3cret-s3cret-s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	tickets := []string{"a", "b", "c", "d", "e"}
	publish(t, nodes[1].bus, tickets, 1, 10)
	want := allEvents(tickets, 1, 10)
	waitDelivered(t, rc, want)
	eventually(t, "the delivery log", func() error {
		as, err := nodes[1].svc.Deliveries(ctxT(t), w.ID)
		if err != nil || len(as) < len(want)+1 {
			return fmt.Errorf("%d attempts logged (%v)", len(as), err)
		}
		return nil
	})
	for _, n := range nodes {
		n.stop() // every request under way has ended
	}
	checkDelivered(t, rc, want)
	if n := rc.requests("a-3"); n != 2 {
		t.Errorf("a-3 requested %d times, want 2 (a 503, then 204)", n)
	}
	as, err := nodes[0].svc.Deliveries(ctxT(t), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(want)+1 {
		t.Errorf("%d attempts logged, want %d", len(as), len(want)+1)
	}
}

// TestWebhookNodeStoppedMidDeliveryLosesNothing: the node holding the
// webhook stops while a request for a-2 is under way, with a-3 and a-4
// waiting behind it; the other node takes over and delivers a-2 to a-5 in
// order, each once, while the other tickets went on all along.
func TestWebhookNodeStoppedMidDeliveryLosesNothing(t *testing.T) {
	nodes := startNodes(t, 2)
	stuck := make(chan struct{})
	var stuckOnce sync.Once
	rc := newReceiver(t, func(r *http.Request, event string, nth int) int {
		if event == "a-2" && nth == 1 {
			stuckOnce.Do(func() { close(stuck) })
			<-r.Context().Done() // answers only when the sender gives up
			return 0
		}
		return http.StatusNoContent
	})
	w, err := nodes[0].svc.Create(ctxT(t), "test", webhook.Input{URL: rc.url, Events: []string{ticketing.EventTicketUpdated}, Secret: "s3cret-s3cret-s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	tickets := []string{"a", "b", "c"}
	publish(t, nodes[1].bus, tickets, 1, 4)
	<-stuck
	// Everything but a-2 and what waits behind it goes out meanwhile.
	waitDelivered(t, rc, slices.DeleteFunc(allEvents(tickets, 1, 4), func(e string) bool { return e == "a-2" || e == "a-3" || e == "a-4" }))
	if n := rc.requests("a-3"); n != 0 {
		t.Fatalf("a-3 was sent while a-2 was under way")
	}

	holder, err := nodes[0].leases.Holder(ctxT(t), "webhook "+w.ID)
	if err != nil {
		t.Fatal(err)
	}
	var running *node
	for _, n := range nodes {
		if n.leases.Node() == holder {
			n.stop()
		} else {
			running = n
		}
	}
	if running == nil {
		t.Fatalf("lease holder %q is none of the nodes", holder)
	}
	publish(t, running.bus, tickets, 5, 5)
	want := allEvents(tickets, 1, 5)
	waitDelivered(t, rc, want)
	running.stop()
	checkDelivered(t, rc, want)
	if n := rc.requests("a-2"); n != 2 {
		t.Errorf("a-2 requested %d times, want 2 (cut off by the stop, then delivered)", n)
	}
}
