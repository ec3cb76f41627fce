package sla_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
	"github.com/svar-dev/svar/ticketing/sla"
)

// node is one Svar node's core and SLA on a shared NATS and store.
type node struct {
	bus   *natsbus.Bus
	store *mongostore.Store
	core  *ticketing.Service
	sla   *sla.Service
	stop  func()
}

type cluster struct {
	t        *testing.T
	url, ns  string
	stores   []*mongostore.Store
	breaches atomic.Int64
	now      func() time.Time
}

func newCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, url: natstest.NewServer(t), ns: natstest.Namespace(t), stores: mongotest.NewNodes(t, n)}
	return c
}

func (c *cluster) start(i int) *node {
	t := c.t
	bus := natstest.Connect(t, c.url, c.ns)
	st := c.stores[i]
	core := ticketing.New(ticketing.Options{Store: st, Bus: bus, Logger: mongotest.Logger(t), Now: c.now})
	s := sla.New(sla.Options{Store: st, Core: core, Scheduler: bus, Events: bus, Hours: hours.NewService(st, nil),
		Logger: mongotest.Logger(t), OnBreach: func(string, string, time.Time) { c.breaches.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("sla run: %v", err)
		}
	})
	stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stop)
	return &node{bus: bus, store: st, core: core, sla: s, stop: stop}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func raw(s string) *json.RawMessage { r := json.RawMessage(s); return &r }
func str(s string) *string          { return &s }

func policy(t *testing.T, n *node, in sla.Input) *sla.Policy {
	t.Helper()
	if in.Name == nil {
		in.Name = str("test")
	}
	p, err := n.sla.CreatePolicy(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var seq atomic.Int64

// ingest threads one customer email on n and returns its ticket.
func ingest(t *testing.T, n *node, from string, at time.Time) *ticketing.Ticket {
	t.Helper()
	id := fmt.Sprintf("m%d-%d", time.Now().UnixNano(), seq.Add(1))
	env := &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: id,
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: from}, Name: "Kund", Subject: "Hjälp",
		Text: "Hej, var är mitt paket?", ReceivedAt: at, Meta: map[string]string{"message_id": "<" + id + "@example.se>"}}
	if errs := n.core.Ingest(ctxT(t), []*ticketing.Envelope{env}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	m, err := n.store.GetMessage(ctxT(t), env.MessageID())
	if err != nil {
		t.Fatal(err)
	}
	tk, err := n.store.GetTicket(ctxT(t), m.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func ticketSLA(t *testing.T, n *node, id string) *ticketing.SLAState {
	t.Helper()
	tk, err := n.store.GetTicket(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk.SLA
}

// notifications collects sla notifications as a console's node hears them.
func notifications(t *testing.T, n *node) func() []*ticketing.Notification {
	var mu sync.Mutex
	var got []*ticketing.Notification
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = n.bus.SubscribeEvents(ctx, 0, func(ev *ticketing.Event) {
			if ev.Type == ticketing.EventNotification && ev.Notification != nil {
				mu.Lock()
				got = append(got, ev.Notification)
				mu.Unlock()
			}
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func() []*ticketing.Notification {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestFirstResponseBreachOnceOnTwoNodes(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.start(0), c.start(1)
	notes := notifications(t, a)
	policy(t, a, sla.Input{FirstResponse: raw(`"2s"`), Resolution: raw(`"1h"`)})
	// A second ticket gets a reply in time: no breach.
	tk := ingest(t, a, "anna@example.se", time.Now())
	ok := ingest(t, b, "bo@example.se", time.Now())
	eventually(t, 10*time.Second, "the clocks to start", func() bool {
		s1, s2 := ticketSLA(t, a, tk.ID), ticketSLA(t, a, ok.ID)
		return s1 != nil && !s1.FirstResponseDue.IsZero() && s2 != nil && !s2.FirstResponseDue.IsZero()
	})
	if _, err := b.core.Reply(ctxT(t), ok.ID, &ticketing.Agent{ID: "ag1", Name: "Agent"}, ticketing.ReplyInput{Text: "Vi kollar!"}); err != nil {
		// No outbound consumer runs; the reply is stored and queued.
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the reply to stop the first-response clock", func() bool {
		s := ticketSLA(t, a, ok.ID)
		return s.FirstResponseDue.IsZero() && !s.ResolutionDue.IsZero()
	})
	eventually(t, 15*time.Second, "the breach", func() bool {
		return slices.Contains(ticketSLA(t, a, tk.ID).Breaches, sla.FirstResponse)
	})
	eventually(t, 10*time.Second, "no sla jobs left but the resolution clocks'", func() bool {
		n, err := a.bus.JobsPending(ctxT(t), sla.JobKind)
		return err == nil && n == 4 // warn + breach of both resolution clocks
	})
	if n := c.breaches.Load(); n != 1 {
		t.Errorf("%d breaches recorded, want 1", n)
	}
	if s := ticketSLA(t, a, ok.ID); len(s.Breaches) != 0 {
		t.Errorf("answered ticket breached: %+v", s)
	}
	eventually(t, 5*time.Second, "the warning and the breach notifications", func() bool { return len(notes()) >= 2 })
	var kinds []string
	for _, n := range notes() {
		if n.TicketID != tk.ID || n.Kind != ticketing.NotifySLA {
			t.Errorf("unexpected notification %+v", n)
		}
		kinds = append(kinds, n.ID)
	}
	if len(kinds) != 2 {
		t.Errorf("notifications %v, want one warning and one breach", kinds)
	}
}

func TestPendingPausesAndResumes(t *testing.T) {
	c := newCluster(t, 1)
	a := c.start(0)
	policy(t, a, sla.Input{FirstResponse: raw(`"3s"`)})
	tk := ingest(t, a, "cilla@example.se", time.Now())
	var due0 time.Time
	eventually(t, 10*time.Second, "the clock to start", func() bool {
		s := ticketSLA(t, a, tk.ID)
		if s != nil {
			due0 = s.FirstResponseDue
		}
		return !due0.IsZero()
	})
	agent := &ticketing.Agent{ID: "ag1", Name: "Agent"}
	pending, err := a.core.UpdateTicket(ctxT(t), tk.ID, agent, ticketing.TicketUpdate{Status: str(ticketing.StatusPending)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the clock to pause", func() bool { return ticketSLA(t, a, tk.ID).Paused })
	// Stay pending past the original due time: its breach job finds the
	// clock paused and does nothing.
	eventually(t, 10*time.Second, "the original due time to pass", func() bool { return time.Now().After(due0.Add(500 * time.Millisecond)) })
	opened, err := a.core.UpdateTicket(ctxT(t), tk.ID, agent, ticketing.TicketUpdate{Status: str(ticketing.StatusOpen)})
	if err != nil {
		t.Fatal(err)
	}
	pause := opened.UpdatedAt.Truncate(time.Millisecond).Sub(pending.UpdatedAt.Truncate(time.Millisecond))
	var s *ticketing.SLAState
	eventually(t, 10*time.Second, "the clock to resume", func() bool {
		s = ticketSLA(t, a, tk.ID)
		return !s.Paused && !s.FirstResponseDue.IsZero()
	})
	if want := due0.Add(pause); !s.FirstResponseDue.Equal(want) {
		t.Errorf("resumed due %v, want %v (moved by the pause %v)", s.FirstResponseDue, want, pause)
	}
	if len(s.Breaches) != 0 || c.breaches.Load() != 0 {
		t.Errorf("breached while pending: %+v", s)
	}
	eventually(t, 15*time.Second, "the breach at the moved due time", func() bool {
		return slices.Contains(ticketSLA(t, a, tk.ID).Breaches, sla.FirstResponse)
	})
}

func TestRestartKeepsDueAndFiresOnce(t *testing.T) {
	c := newCluster(t, 1)
	a := c.start(0)
	policy(t, a, sla.Input{FirstResponse: raw(`"3s"`)})
	tk := ingest(t, a, "dan@example.se", time.Now())
	var due time.Time
	eventually(t, 10*time.Second, "the clock to start", func() bool {
		if s := ticketSLA(t, a, tk.ID); s != nil {
			due = s.FirstResponseDue
		}
		return !due.IsZero()
	})
	a.stop()
	a.bus.Close()
	b := c.start(0) // the node again, on a new connection
	eventually(t, 15*time.Second, "the breach after the restart", func() bool {
		return slices.Contains(ticketSLA(t, b, tk.ID).Breaches, sla.FirstResponse)
	})
	if s := ticketSLA(t, b, tk.ID); !s.FirstResponseDue.Equal(due) {
		t.Errorf("due moved over the restart: %v → %v", due, s.FirstResponseDue)
	}
	eventually(t, 10*time.Second, "the jobs to finish", func() bool {
		n, err := b.bus.JobsPending(ctxT(t), sla.JobKind)
		return err == nil && n == 0
	})
	if n := c.breaches.Load(); n != 1 {
		t.Errorf("%d breaches, want 1", n)
	}
}

// Business-time targets on the real stack, with the core's clock set to
// fixed dates in 2027 (so the jobs are in the future whatever today is).
func TestBusinessTimeTargets(t *testing.T) {
	c := newCluster(t, 1)
	var clock atomic.Pointer[time.Time]
	c.now = func() time.Time {
		if p := clock.Load(); p != nil {
			return *p
		}
		return time.Now()
	}
	a := c.start(0)
	policy(t, a, sla.Input{FirstResponse: raw(`"2h"`), BusinessHours: new(bool)})
	p, _ := a.sla.Policies(ctxT(t))
	yes := true
	if _, err := a.sla.UpdatePolicy(ctxT(t), p[0].ID, sla.Input{BusinessHours: &yes}); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Stockholm")
	cases := []struct {
		name     string
		from, to time.Time
	}{
		{"night", time.Date(2027, 11, 2, 22, 0, 0, 0, loc), time.Date(2027, 11, 3, 10, 0, 0, 0, loc)},
		{"weekend", time.Date(2027, 11, 12, 16, 0, 0, 0, loc), time.Date(2027, 11, 15, 9, 0, 0, 0, loc)},
		{"kristi himmelsfärdsdag", time.Date(2027, 5, 5, 16, 30, 0, 0, loc), time.Date(2027, 5, 7, 9, 30, 0, 0, loc)},
		{"julafton and jul", time.Date(2027, 12, 23, 16, 0, 0, 0, loc), time.Date(2027, 12, 27, 9, 0, 0, 0, loc)},
	}
	for i, tc := range cases {
		from := tc.from
		clock.Store(&from)
		tk := ingest(t, a, fmt.Sprintf("e%d@example.se", i), from)
		eventually(t, 10*time.Second, tc.name+": the clock", func() bool {
			s := ticketSLA(t, a, tk.ID)
			return s != nil && !s.FirstResponseDue.IsZero()
		})
		if got := ticketSLA(t, a, tk.ID).FirstResponseDue; !got.Equal(tc.to) {
			t.Errorf("%s: due %v, want %v", tc.name, got.In(loc), tc.to)
		}
	}
}

// A customer who becomes VIP moves their open ticket's clock to the VIP
// policy's target at once.
func TestTierChangeMovesTheClock(t *testing.T) {
	c := newCluster(t, 1)
	a := c.start(0)
	policy(t, a, sla.Input{Name: str("vip"), FirstResponse: raw(`"10m"`), Match: &sla.Match{Tier: []string{"vip"}}})
	policy(t, a, sla.Input{Name: str("everyone"), FirstResponse: raw(`"4h"`)})
	tk := ingest(t, a, "vera@example.se", time.Now())
	var due0 time.Time
	eventually(t, 10*time.Second, "the clock to start", func() bool {
		if s := ticketSLA(t, a, tk.ID); s != nil {
			due0 = s.FirstResponseDue
		}
		return !due0.IsZero()
	})
	if d := due0.Sub(tk.CreatedAt); d < 3*time.Hour {
		t.Fatalf("first response due after %v, want the 4h policy's", d)
	}
	vip := "vip"
	if _, err := a.core.PatchCustomer(ctxT(t), tk.CustomerID, ticketing.CustomerPatch{Tier: &vip}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the VIP policy's due time", func() bool {
		s := ticketSLA(t, a, tk.ID)
		return s != nil && s.FirstResponseDue.Sub(tk.CreatedAt) < 11*time.Minute
	})
}
