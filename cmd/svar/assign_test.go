package main

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// ledger follows every ticket.updated/created on a live socket and checks,
// in stream order, that no ticket changes from one agent to another and
// that nobody ever holds more than capacity open tickets.
type ledger struct {
	t        *testing.T
	mu       sync.Mutex
	capacity int
	tickets  map[string]*ticketing.Ticket
	errs     []string
	reasons  map[string]int // reason prefixes seen
}

func follow(t *testing.T, ws *websocket.Conn, capacity int) *ledger {
	l := &ledger{t: t, capacity: capacity, tickets: map[string]*ticketing.Ticket{}, reasons: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ev ticketing.Event
			if err := ws.ReadJSON(&ev); err != nil {
				return
			}
			if ev.Ticket != nil {
				l.apply(ev.Ticket)
			}
		}
	}()
	t.Cleanup(func() { ws.Close(); <-done })
	return l
}

func (l *ledger) apply(t *ticketing.Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.tickets[t.ID]
	if old != nil && old.Version > t.Version {
		return
	}
	if old != nil && old.AssigneeID != "" && t.AssigneeID != "" && old.AssigneeID != t.AssigneeID {
		l.errs = append(l.errs, fmt.Sprintf("ticket %d went from %s to %s", t.Number, old.AssigneeID, t.AssigneeID))
	}
	l.tickets[t.ID] = t
	if t.AssigneeID != "" && (old == nil || old.AssigneeID != t.AssigneeID) {
		l.reasons[strings.SplitN(t.AssignmentReason, ":", 2)[0]]++
		n := 0
		for _, o := range l.tickets {
			if o.AssigneeID == t.AssigneeID && o.Live() {
				n++
			}
		}
		if n > l.capacity {
			l.errs = append(l.errs, fmt.Sprintf("agent %s holds %d open tickets", t.AssigneeID, n))
		}
	}
}

// counts returns open tickets per assignee ("" unassigned in a team,
// "-" not routed yet).
func (l *ledger) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := map[string]int{}
	for _, t := range l.tickets {
		switch {
		case t.Status != ticketing.StatusOpen:
		case t.TeamID == "":
			c["-"]++
		default:
			c[t.AssigneeID]++
		}
	}
	return c
}

func (l *ledger) open(agentID string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, t := range l.tickets {
		if t.Status == ticketing.StatusOpen && t.AssigneeID == agentID {
			ids = append(ids, id)
		}
	}
	return ids
}

func (l *ledger) check() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		l.t.Fatalf("assignment broke its rules: %v", l.errs)
	}
}

// waitCounts polls until the ledger's open counts satisfy ok.
func (l *ledger) waitCounts(what string, ok func(map[string]int) bool) {
	l.t.Helper()
	eventually(l.t, what, func() error {
		if c := l.counts(); !ok(c) {
			return fmt.Errorf("counts %v", c)
		}
		return nil
	})
}

// supportTeam makes an auto-assign team, routes every new ticket to it and
// signs in n agents with open consoles on the given nodes (round robin).
func supportTeam(t *testing.T, admin *agentClient, nodes []*Main, n, capacity int) (ticketing.Team, []string, []*websocket.Conn) {
	t.Helper()
	team := createTeam(t, admin, "Support", true)
	if res := admin.do("PUT", "/api/v1/routing", map[string]any{"default_team_id": team.ID}); res.status != 200 {
		t.Fatalf("routing: %d %s", res.status, res.body)
	}
	var ids []string
	var consoles []*websocket.Conn
	for i := range n {
		email := fmt.Sprintf("agent%d@shop.se", i)
		a := invite(t, admin, map[string]any{"email": email, "name": fmt.Sprintf("Agent %d", i),
			"team_ids": []string{team.ID}, "capacity": capacity})
		c := signIn(t, nodes[i%len(nodes)], email, a.Password)
		consoles = append(consoles, c.live(""))
		ids = append(ids, a.Agent.ID)
	}
	// Every node sees every console.
	eventually(t, "agents online", func() error {
		var out struct{ Agents []ticketing.Agent }
		admin.do("GET", "/api/v1/agents", nil).decode(t, &out)
		on := 0
		for _, a := range out.Agents {
			if a.Availability == ticketing.AvailabilityOnline {
				on++
			}
		}
		if on < n {
			return fmt.Errorf("%d online", on)
		}
		return nil
	})
	for _, m := range nodes {
		for _, id := range ids {
			eventually(t, "node sees agent online", func() error {
				if !m.Hub.Online(id) {
					return fmt.Errorf("%s offline on a node", id)
				}
				return nil
			})
		}
	}
	return team, ids, consoles
}

func solve(t *testing.T, c *agentClient, id string) {
	t.Helper()
	if res := c.do("PATCH", "/api/v1/tickets/"+id, map[string]any{"status": "solved"}); res.status != 200 {
		t.Fatalf("solve: %d %s", res.status, res.body)
	}
}

func TestHundredTicketsIntoATeamOfThree(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	l := follow(t, admin.live(""), 10)
	_, agents, _ := supportTeam(t, admin, []*Main{m}, 3, 10)
	ctx := context.Background()
	for i := range 100 {
		if err := m.Bus.PublishInbound(ctx, envelope(fmt.Sprintf("c%d@example.se", i), fmt.Sprintf("<h%d@x>", i), "Help")); err != nil {
			t.Fatal(err)
		}
	}
	full := func(c map[string]int) bool {
		return c[agents[0]] == 10 && c[agents[1]] == 10 && c[agents[2]] == 10 && c[""] == 70
	}
	l.waitCounts("30 assigned, 70 waiting", full)
	l.check()
	// Lists come from the node's query index, which follows the same
	// events a moment later.
	var page ticketing.TicketPage
	eventually(t, "70 unassigned in the list", func() error {
		page = ticketing.TicketPage{}
		admin.do("GET", "/api/v1/tickets?assignee=none&limit=200", nil).decode(t, &page)
		if len(page.Tickets) != 70 {
			return fmt.Errorf("%d unassigned listed", len(page.Tickets))
		}
		return nil
	})
	if len(page.Tickets) != 70 || !strings.HasPrefix(page.Tickets[0].AssignmentReason, "routed to Support") ||
		!strings.Contains(page.Tickets[0].AssignmentReason, "waiting") {
		t.Fatalf("waiting: %d, reason %q %+v", len(page.Tickets), page.Tickets[0].AssignmentReason, page.Tickets[0])
	}
	// Solving frees room, which the oldest waiting tickets take.
	for round := 0; ; round++ {
		c := l.counts()
		if c[""] == 0 {
			break
		}
		if round > 200 {
			t.Fatalf("tickets still waiting: %v", c)
		}
		ids := l.open(agents[round%3])
		for _, id := range ids[:min(3, len(ids))] {
			solve(t, admin, id)
		}
		want := c[""] - 3
		l.waitCounts("room taken", func(c map[string]int) bool { return c[""] == max(want, 0) || c[""] < want })
	}
	l.waitCounts("everything placed", func(c map[string]int) bool { return c[""] == 0 })
	l.check()
	l.mu.Lock()
	defer l.mu.Unlock()
	per := map[string]int{}
	for _, tk := range l.tickets {
		if tk.AssigneeID == "" {
			t.Fatalf("ticket %d never assigned", tk.Number)
		}
		per[tk.AssigneeID]++
	}
	for _, id := range agents {
		if per[id] < 25 || per[id] > 42 {
			t.Fatalf("unfair share: %v", per)
		}
	}
}

func TestAgentGoingOfflineHandsBackAndGetsNoNewTickets(t *testing.T) {
	m := startNode(t, "", func(m *Main) {
		m.ConsoleGrace = 200 * time.Millisecond
		m.Config.HandBackAfter = time.Second
	})
	admin := login(t, m)
	l := follow(t, admin.live(""), 10)
	_, agents, consoles := supportTeam(t, admin, []*Main{m}, 2, 10)
	ctx := context.Background()
	for i := range 4 {
		if err := m.Bus.PublishInbound(ctx, envelope(fmt.Sprintf("o%d@example.se", i), fmt.Sprintf("<o%d@x>", i), "Help")); err != nil {
			t.Fatal(err)
		}
	}
	l.waitCounts("two each", func(c map[string]int) bool { return c[agents[0]] == 2 && c[agents[1]] == 2 })
	consoles[1].Close()
	eventually(t, "agent 1 offline", func() error {
		var out struct{ Agents []ticketing.Agent }
		admin.do("GET", "/api/v1/agents", nil).decode(t, &out)
		for _, a := range out.Agents {
			if a.ID == agents[1] && a.Availability != ticketing.AvailabilityOffline {
				return fmt.Errorf("availability %s", a.Availability)
			}
		}
		return nil
	})
	// Agent 1's unanswered tickets go back and to agent 0; new ones too.
	if err := m.Bus.PublishInbound(ctx, envelope("o9@example.se", "<o9@x>", "Help")); err != nil {
		t.Fatal(err)
	}
	l.waitCounts("all with agent 0", func(c map[string]int) bool { return c[agents[0]] == 5 && c[agents[1]] == 0 })
	l.mu.Lock()
	if l.reasons["least loaded online agent in Support"] != 2 { // the two handed back
		t.Errorf("reasons = %v", l.reasons)
	}
	l.mu.Unlock()
	var page ticketing.TicketPage
	admin.do("GET", "/api/v1/tickets?assignee="+agents[0], nil).decode(t, &page)
	if len(page.Tickets) != 5 {
		t.Fatalf("agent 0 holds %d", len(page.Tickets))
	}
}

// Two nodes decide from one queue, both cores busy: every ticket is
// assigned once, nobody above capacity.
func TestTwoNodesNeverDoubleAssign(t *testing.T) {
	dir := t.TempDir()
	a := startNode(t, filepath.Join(dir, "a"), nil)
	b := startNode(t, filepath.Join(dir, "b"), func(m *Main) {
		m.Config.NATSURL = a.embNATS.ClientURL()
		m.Config.MongoDBURI = a.embStore.URI()
	})
	admin := login(t, a)
	l := follow(t, login(t, b).live(""), 5)
	_, agents, _ := supportTeam(t, admin, []*Main{a, b}, 3, 5)

	// Two busy loops in other processes keep both cores busy.
	for range 2 {
		busy := exec.Command("sh", "-c", "while :; do :; done")
		if err := busy.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { busy.Process.Kill(); busy.Wait() })
	}

	ctx := context.Background()
	for i := range 40 {
		node := a
		if i%2 == 1 {
			node = b
		}
		if err := node.Bus.PublishInbound(ctx, envelope(fmt.Sprintf("n%d@example.se", i), fmt.Sprintf("<n%d@x>", i), "Help")); err != nil {
			t.Fatal(err)
		}
	}
	l.waitCounts("15 assigned, 25 waiting", func(c map[string]int) bool {
		return c[agents[0]] == 5 && c[agents[1]] == 5 && c[agents[2]] == 5 && c[""] == 25
	})
	l.check()
	// Solving on both nodes keeps placing without doubles.
	clients := []*agentClient{admin, login(t, b)}
	for round := 0; l.counts()[""] > 0; round++ {
		if round > 100 {
			t.Fatalf("still waiting: %v", l.counts())
		}
		ag := agents[round%3]
		for _, id := range l.open(ag) {
			solve(t, clients[round%2], id)
		}
		l.waitCounts("refilled", func(c map[string]int) bool { return c[ag] == 5 || c[""] == 0 })
		l.check()
	}
	l.waitCounts("nothing waits", func(c map[string]int) bool { return c[""] == 0 && c["-"] == 0 })
	l.check()
	var page ticketing.TicketPage
	admin.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &page)
	if len(page.Tickets) != 40 {
		t.Fatalf("%d tickets", len(page.Tickets))
	}
	for _, tk := range page.Tickets {
		if tk.Status == ticketing.StatusOpen && tk.AssigneeID == "" {
			t.Fatalf("ticket %d waits", tk.Number)
		}
	}
}

func TestAssignedAndMentionedAgentIsNotifiedLive(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	team := createTeam(t, admin, "Support", true)
	if res := admin.do("PUT", "/api/v1/routing", map[string]any{"default_team_id": team.ID}); res.status != 200 {
		t.Fatalf("routing: %d", res.status)
	}
	anna := invite(t, admin, map[string]any{"email": "anna@shop.se", "name": "Anna Berg", "team_ids": []string{team.ID}})
	bo := invite(t, admin, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{team.ID}, "capacity": 0})
	ac := signIn(t, m, "anna@shop.se", anna.Password)
	bc := signIn(t, m, "bo@shop.se", bo.Password)
	annaLive, boLive := ac.live(""), bc.live("")
	eventually(t, "anna online", func() error {
		if !m.Hub.Online(anna.Agent.ID) {
			return fmt.Errorf("offline")
		}
		return nil
	})
	if err := m.Bus.PublishInbound(context.Background(), envelope("n@example.se", "<note1@x>", "Hjälp")); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, annaLive, func(ev *ticketing.Event) bool { return ev.Type == ticketing.EventNotification })
	if ev.Notification.Kind != ticketing.NotifyAssigned || ev.Notification.TicketID == "" {
		t.Fatalf("notification = %+v", ev.Notification)
	}
	// Bo is mentioned in a note and hears only that.
	if res := ac.do("POST", "/api/v1/tickets/"+ev.Notification.TicketID+"/messages", map[string]any{"text": "@bo can you check?", "note": true}); res.status != 201 {
		t.Fatalf("note: %d %s", res.status, res.body)
	}
	mev := waitEvent(t, boLive, func(ev *ticketing.Event) bool { return ev.Type == ticketing.EventNotification })
	if mev.Notification.Kind != ticketing.NotifyMention || mev.AgentID != bo.Agent.ID {
		t.Fatalf("bo's notification = %+v", mev)
	}
	var list struct {
		Notifications []ticketing.Notification
		Unread        int
	}
	eventually(t, "anna's list", func() error {
		ac.do("GET", "/api/v1/me/notifications", nil).decode(t, &list)
		if list.Unread != 1 || len(list.Notifications) != 1 {
			return fmt.Errorf("list %+v", list)
		}
		return nil
	})
	ac.do("POST", "/api/v1/me/notifications/read", map[string]any{}).decode(t, &list)
	if list.Unread != 0 || !list.Notifications[0].Read {
		t.Fatalf("after read: %+v", list)
	}

	// Given the ticket by hand, Bo hears of it; taking it back herself,
	// Anna does not (she did it).
	tid := ev.Notification.TicketID
	if res := admin.do("PATCH", "/api/v1/tickets/"+tid, map[string]any{"assignee_id": bo.Agent.ID}); res.status != 200 {
		t.Fatalf("assign to bo: %d %s", res.status, res.body)
	}
	bev := waitEvent(t, boLive, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventNotification && ev.Notification.Kind == ticketing.NotifyAssigned
	})
	if bev.Notification.TicketID != tid || bev.AgentID != bo.Agent.ID {
		t.Fatalf("bo's assignment notification = %+v", bev)
	}
	if res := ac.do("PATCH", "/api/v1/tickets/"+tid, map[string]any{"assignee_id": anna.Agent.ID}); res.status != 200 {
		t.Fatalf("anna takes it: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(context.Background(), envelope("sentinel@example.se", "<note2@x>", "Sentinel")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, annaLive, func(ev *ticketing.Event) bool {
		if ev.Type == ticketing.EventNotification && ev.Notification.TicketID == tid {
			t.Fatalf("anna was notified of taking the ticket herself: %+v", ev.Notification)
		}
		return ev.Type == ticketing.EventMessageCreated && ev.Message.Text == "Sentinel"
	})
}

// A returning customer's new ticket goes to the agent who held their
// previous one when that agent is online with room, even when round robin
// would choose another, and the reason says so.
func TestReturningCustomerGoesToTheirAgent(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	l := follow(t, admin.live(""), 10)
	_, agents, _ := supportTeam(t, admin, []*Main{m}, 2, 10)
	ctx := context.Background()
	publish := func(from, id string) {
		t.Helper()
		if err := m.Bus.PublishInbound(ctx, envelope(from, id, "Hej igen")); err != nil {
			t.Fatal(err)
		}
	}
	holder := func(from string) (ticketing.Ticket, string) {
		t.Helper()
		var tk ticketing.Ticket
		eventually(t, "the ticket of "+from+" assigned", func() error {
			var page ticketing.TicketPage
			admin.do("GET", "/api/v1/tickets?status=open&q="+url.QueryEscape(from), nil).decode(t, &page)
			for _, x := range page.Tickets {
				if x.AssigneeID != "" {
					tk = *x
					return nil
				}
			}
			return fmt.Errorf("%d open tickets, none assigned", len(page.Tickets))
		})
		return tk, tk.AssigneeID
	}
	publish("anna@example.se", "<r1@x>")
	first, x := holder("anna@example.se")
	publish("bo@example.se", "<r2@x>")
	l.waitCounts("one each", func(c map[string]int) bool { return c[agents[0]] == 1 && c[agents[1]] == 1 })
	publish("cilla@example.se", "<r3@x>")
	l.waitCounts("three placed", func(c map[string]int) bool { return c[agents[0]]+c[agents[1]] == 3 })
	// Close Anna's ticket: her next mail opens a new one. Without the
	// preference, the agent given a ticket longest ago would get it.
	if res := admin.do("PATCH", "/api/v1/tickets/"+first.ID, map[string]any{"status": "closed"}); res.status != 200 {
		t.Fatalf("close: %d %s", res.status, res.body)
	}
	// Round robin gave Cilla's ticket to Anna's agent too (the other was
	// given one more recently), so now the other agent is next in turn.
	if _, third := holder("cilla@example.se"); third != x {
		t.Fatalf("round robin gave Cilla's ticket to %s, want %s: the premise of this test", third, x)
	}
	publish("anna@example.se", "<r4@x>")
	var again ticketing.Ticket
	eventually(t, "Anna's new ticket assigned", func() error {
		var page ticketing.TicketPage
		admin.do("GET", "/api/v1/tickets?status=open&q=anna%40example.se", nil).decode(t, &page)
		for _, tk := range page.Tickets {
			if tk.ID != first.ID && tk.AssigneeID != "" {
				again = *tk
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})
	if again.PreviousTicketID != first.ID {
		t.Fatalf("the new ticket's previous ticket is %q, want %s", again.PreviousTicketID, first.ID)
	}
	if again.AssigneeID != x || !strings.Contains(again.AssignmentReason, "returning customer") {
		t.Fatalf("Anna's new ticket went to %s (%q), want %s as a returning customer", again.AssigneeID, again.AssignmentReason, x)
	}
}
