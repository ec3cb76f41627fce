package natsbus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// leaseNode is one node competing for a lease in the tests.
type leaseNode struct {
	bus    *natsbus.Bus
	leases *natsbus.Leases
	cancel context.CancelFunc
	done   chan error
}

// jobRecorder counts how many nodes run the job at once.
type jobRecorder struct {
	active, maxActive atomic.Int32
	mu                sync.Mutex
	holders           []string
}

func (r *jobRecorder) job(node string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		n := r.active.Add(1)
		for {
			m := r.maxActive.Load()
			if n <= m || r.maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		r.mu.Lock()
		r.holders = append(r.holders, node)
		r.mu.Unlock()
		<-ctx.Done()
		r.active.Add(-1)
		return ctx.Err()
	}
}

func (r *jobRecorder) runs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.holders...)
}

func TestLeaseOneHolderTakeoverAndRelease(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	rec := &jobRecorder{}
	var nodes []*leaseNode
	for range 3 {
		b := natstest.Connect(t, url, ns)
		n := &leaseNode{bus: b, leases: natsbus.NewLeases(b, natsbus.LeaseOptions{TTL: 2 * time.Second}), done: make(chan error, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		n.cancel = cancel
		go func() { n.done <- n.leases.Run(ctx, "email:support@example.se/INBOX", rec.job(n.leases.Node())) }()
		t.Cleanup(func() { cancel(); <-n.done })
		nodes = append(nodes, n)
	}
	byNode := func(name string) *leaseNode {
		for _, n := range nodes {
			if n.leases.Node() == name {
				return n
			}
		}
		t.Fatalf("no node %q", name)
		return nil
	}
	eventually(t, 10*time.Second, "a first holder", func() bool { return len(rec.runs()) == 1 })
	first := byNode(rec.runs()[0])
	holder, err := nodes[0].leases.Holder(ctxTimeout(t, 5*time.Second), "email:support@example.se/INBOX")
	if err != nil || holder != first.leases.Node() {
		t.Fatalf("Holder = %q, %v; want %q", holder, err, first.leases.Node())
	}

	// The holder dies without a word: its connection drops. Its job stops
	// when it can no longer renew, and another node takes over once the
	// entry expires.
	first.bus.Conn().Close()
	eventually(t, 15*time.Second, "a second holder", func() bool { return len(rec.runs()) == 2 })
	second := byNode(rec.runs()[1])
	if second == first {
		t.Fatal("the dead node took the lease again")
	}

	// A node that stops releases the lease: the third takes over.
	second.cancel()
	if err := <-second.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	second.done <- nil // for the cleanup
	eventually(t, 15*time.Second, "a third holder", func() bool { return len(rec.runs()) == 3 })
	if third := byNode(rec.runs()[2]); third == first || third == second {
		t.Fatalf("holders %v: the third is not the remaining node", rec.runs())
	}
	if m := rec.maxActive.Load(); m != 1 {
		t.Fatalf("%d nodes ran the job at once", m)
	}
}

func TestLeaseJobThatEndsReleasesAndOneThatFailsIsRetried(t *testing.T) {
	b := natstest.New(t)
	l := natsbus.NewLeases(b, natsbus.LeaseOptions{TTL: time.Second})
	var calls atomic.Int32
	err := l.Run(ctxTimeout(t, 20*time.Second), "sweep", func(ctx context.Context) error {
		if calls.Add(1) < 3 {
			return errors.New("store unavailable")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("job ran %d times, want 3 (two failures, one success)", n)
	}
	if h, err := l.Holder(ctxTimeout(t, 5*time.Second), "sweep"); err != nil || h != "" {
		t.Fatalf("after the job: holder %q, %v; want released", h, err)
	}
}
