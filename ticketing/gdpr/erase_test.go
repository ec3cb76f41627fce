package gdpr_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/gdpr"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// countingAudit counts the entries of each action.
type countingAudit struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *countingAudit) Record(_ context.Context, e audit.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[e.Action]++
}

func (a *countingAudit) count(action string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[action]
}

// mustBeErased checks that nothing of customer cid (seeded by seed) is
// left in the store: customer, identity, messages, files; the ticket is
// a tombstone.
func mustBeErased(t *testing.T, store *mongostore.Store, cid string, ticket *ticketing.Ticket) {
	t.Helper()
	ctx := context.Background()
	if _, err := store.GetCustomer(ctx, cid); !ticketing.IsNotFound(err) {
		t.Errorf("customer: %v, want not found", err)
	}
	if _, err := store.LookupIdentity(ctx, "email:"+cid+"@example.se"); !ticketing.IsNotFound(err) {
		t.Errorf("identity: %v, want not found", err)
	}
	msgs, err := store.GetMessages(ctx, ticket.MessageIDs)
	if err != nil || len(msgs) != 0 {
		t.Errorf("messages left: %d (%v)", len(msgs), err)
	}
	for _, id := range ticket.MessageIDs[:1] {
		if _, err := store.GetBlob(ctx, "bench/"+cid+"/0"); !ticketing.IsNotFound(err) {
			t.Errorf("file of %s: %v, want not found", id, err)
		}
	}
	tomb, err := store.GetTicket(ctx, ticket.ID)
	if err != nil || !tomb.Erased || tomb.Subject != "" || tomb.CustomerID != "" || len(tomb.MessageIDs) != 0 || tomb.Number != ticket.Number {
		t.Errorf("ticket after erasure: %+v (%v), want a tombstone with number %d", tomb, err, ticket.Number)
	}
}

// TestEraseOnTwoNodesAtOnce: two nodes (Services on one store and one
// NATS) erase the same customer at the same moment. The erasure runs once
// (one audit entry), both return the same result and neither an error;
// a third request afterwards is a conflict.
func TestEraseOnTwoNodesAtOnce(t *testing.T) {
	stores := mongotest.NewNodes(t, 2)
	url, ns := natstest.NewServer(t), ""
	buses := []*natsbus.Bus{natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)}
	aud := &countingAudit{}
	var svcs []*gdpr.Service
	for i := range 2 {
		leases := natsbus.NewLeases(buses[i], natsbus.LeaseOptions{TTL: 3 * time.Second, Node: []string{"a", "b"}[i]})
		svcs = append(svcs, gdpr.New(gdpr.Options{Store: stores[i], Streams: buses[i], Events: buses[i], Scheduler: buses[i],
			Leases: leases, Audit: aud}))
	}
	ctx := context.Background()
	cid := seed(t, stores[0], buses[0], 200)
	c, err := stores[0].GetCustomer(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := stores[0].GetTicket(ctx, c.TicketIDs[0])
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	results := make([]*gdpr.Result, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = svcs[i].Erase(ctx, cid)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if *results[0] != *results[1] {
		t.Fatalf("results differ: %+v and %+v", results[0], results[1])
	}
	if results[0].Tickets != 1 || results[0].Streams < 200 {
		t.Fatalf("result %+v, want 1 ticket and at least the 200 events", results[0])
	}
	if n := aud.count("customer.erased"); n != 1 {
		t.Fatalf("%d erasures audited, want 1 (the erasure ran more than once)", n)
	}
	mustBeErased(t, stores[1], cid, ticket)
	if _, err := svcs[1].Erase(ctx, cid); ticketing.ErrorCode(err) != ticketing.EConflict {
		t.Fatalf("erasing again: %v, want a conflict", err)
	}
}

// crashingStore fails the first erasure step that deletes messages, as a
// node that dies midway would leave it: identities gone, the customer and
// tickets marked, the messages still there, the record "running".
type crashingStore struct {
	*mongostore.Store
	crashed atomic.Bool
}

var errCrash = errors.New("the node died")

func (s *crashingStore) DeleteMessages(ctx context.Context, ids []string) error {
	if s.crashed.CompareAndSwap(false, true) {
		return errCrash
	}
	return s.Store.DeleteMessages(ctx, ids)
}

// TestErasureResumedAfterACrash: an erasure cut short midway leaves its
// record running; the safety-net job (on another node, through the real
// scheduler) finishes it.
func TestErasureResumedAfterACrash(t *testing.T) {
	stores := mongotest.NewNodes(t, 2)
	url, ns := natstest.NewServer(t), ""
	dying, healthy := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	ctx := context.Background()
	cid := seed(t, stores[0], dying, 50)
	c, err := stores[0].GetCustomer(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := stores[0].GetTicket(ctx, c.TicketIDs[0])
	if err != nil {
		t.Fatal(err)
	}

	cs := &crashingStore{Store: stores[0]}
	first := gdpr.New(gdpr.Options{Store: cs, Streams: dying, Events: dying, Scheduler: dying, ResumeAfter: time.Second})
	if _, err := first.Erase(ctx, cid); !errors.Is(err, errCrash) {
		t.Fatalf("first erasure: %v, want the crash", err)
	}
	// Half done: the messages are there, the customer is not found.
	if msgs, _ := stores[1].GetMessages(ctx, ticket.MessageIDs); len(msgs) != len(ticket.MessageIDs) {
		t.Fatalf("%d of %d messages left after the crash; the crash came too late", len(msgs), len(ticket.MessageIDs))
	}

	aud := &countingAudit{}
	second := gdpr.New(gdpr.Options{Store: stores[1], Streams: healthy, Events: healthy, Scheduler: healthy, Audit: aud, Logger: natstest.Logger(t)})
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- healthy.ConsumeJobs(jctx, gdpr.JobKind, second.HandleJob) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for aud.count("customer.erased") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the safety-net job did not finish the erasure")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustBeErased(t, stores[1], cid, ticket)
	if _, err := second.Erase(ctx, cid); ticketing.ErrorCode(err) != ticketing.EConflict {
		t.Fatalf("erasing the resumed one again: %v, want a conflict", err)
	}
}

// A finished erasure is settled by its safety-net job a moment later (the
// second read of the streams, for copies that messages in flight put
// there): the erasure's own read must not delete that job, though it is
// about the customer.
func TestFinishedErasureIsSettled(t *testing.T) {
	st := mongotest.New(t)
	bus := natstest.New(t)
	ctx := context.Background()
	cid := seed(t, st, bus, 5)
	s := gdpr.New(gdpr.Options{Store: st, Streams: bus, Events: bus, Scheduler: bus, ResumeAfter: time.Second})
	if _, err := s.Erase(ctx, cid); err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- bus.ConsumeJobs(jctx, gdpr.JobKind, s.HandleJob) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var rec struct {
		Status  string `bson:"status"`
		Settled bool   `bson:"settled"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := st.GetState(ctx, "erasure:"+cid, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the erasure was not settled (record %+v)", rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec.Status != "done" {
		t.Errorf("settled record status %q, want done", rec.Status)
	}
}
