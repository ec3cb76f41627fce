package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// twoTickets makes one customer with two tickets: the first (its mail
// "first", an agent's reply) closed, the second (mail "second") open.
func twoTickets(t *testing.T, m *Main, c *agentClient, email, first, second string) (a, b *ticketing.Ticket) {
	t.Helper()
	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope(email, "<a-"+email+">", first)); err != nil {
		t.Fatal(err)
	}
	cid := customerByEmail(t, c, m, email)
	a = orderCustomerTicket(t, c, cid, func(tk *ticketing.Ticket) bool { return tk.MessageCount == 1 })
	if res := c.do("POST", "/api/v1/tickets/"+a.ID+"/messages", map[string]any{"text": "Vi tittar på det.", "note": true}); res.status != http.StatusCreated {
		t.Fatalf("note: %d %s", res.status, res.body)
	}
	setStatus(t, c, a.ID, "closed")
	time.Sleep(5 * time.Millisecond) // the second mail is later than the first
	if err := m.Bus.PublishInbound(ctx, envelope(email, "<b-"+email+">", second)); err != nil {
		t.Fatal(err)
	}
	b = orderCustomerTicket(t, c, cid, func(tk *ticketing.Ticket) bool { return tk.ID != a.ID && tk.MessageCount == 1 })
	return getTicket(t, c, a.ID).Ticket, b
}

func searchTickets(t *testing.T, c *agentClient, q string) []string {
	t.Helper()
	res := c.do("GET", "/api/v1/search?q="+url.QueryEscape(q), nil)
	if res.status != http.StatusOK {
		t.Fatalf("search %q: %d %s", q, res.status, res.body)
	}
	var out struct {
		Results []struct{ Ticket ticketing.Ticket }
	}
	res.decode(t, &out)
	var ids []string
	for _, r := range out.Results {
		if !slices.Contains(ids, r.Ticket.ID) {
			ids = append(ids, r.Ticket.ID)
		}
	}
	return ids
}

func auditTargets(t *testing.T, c *agentClient, action string) []string {
	t.Helper()
	res := c.do("GET", "/api/v1/audit?action="+action, nil)
	if res.status != http.StatusOK {
		t.Fatalf("audit: %d %s", res.status, res.body)
	}
	var out struct {
		Entries []struct {
			Action, Target string
			Actor          struct{ Kind, ID string }
		}
	}
	res.decode(t, &out)
	var targets []string
	for _, e := range out.Entries {
		if e.Actor.Kind != "agent" || e.Actor.ID == "" {
			t.Errorf("%s entry by %+v", action, e.Actor)
		}
		targets = append(targets, e.Target)
	}
	return targets
}

func timelineTexts(v *ticketing.TicketView) []string {
	var out []string
	for _, m := range v.Messages {
		out = append(out, m.Text)
	}
	return out
}

func TestTicketMergeMovesTimelineSearchAndAudit(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ws := c.live("")
	// a: the older ticket, closed; b: the customer's open one.
	a, b := twoTickets(t, m, c, "anna@example.se", "Var är mitt paket?", "Kvittot saknas helt")
	if res := c.do("PATCH", "/api/v1/tickets/"+a.ID, map[string]any{"tags": []string{"faktura"}}); res.status != http.StatusOK {
		t.Fatalf("tag: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(context.Background(), envelope("cecilia@example.se", "<c1@x>", "Hej från Cecilia")); err != nil {
		t.Fatal(err)
	}
	other := orderCustomerTicket(t, c, customerByEmail(t, c, m, "cecilia@example.se"), func(*ticketing.Ticket) bool { return true })
	eventually(t, "the first mail searchable on its own ticket", func() error {
		if got := searchTickets(t, c, "paket"); !slices.Equal(got, []string{a.ID}) {
			return fmt.Errorf("search finds %v", got)
		}
		return nil
	})

	for _, tc := range []struct {
		name, into string
		body       any
		status     int
		field      string
	}{
		{"no from_id", b.ID, map[string]any{}, 422, "from_id"},
		{"into itself", b.ID, map[string]any{"from_id": b.ID}, 422, "from_id"},
		{"unknown from", b.ID, map[string]any{"from_id": "nope"}, 404, "from_id"},
		{"unknown into", "nope", map[string]any{"from_id": a.ID}, 404, ""},
		{"another customer's", b.ID, map[string]any{"from_id": other.ID}, 422, "from_id"},
		{"from_id not a string", b.ID, map[string]any{"from_id": 7}, 400, "from_id"},
	} {
		res := c.do("POST", "/api/v1/tickets/"+tc.into+"/merge", tc.body)
		var e errorJSON
		res.decode(t, &e)
		if res.status != tc.status || e.Error.Field != tc.field || !strings.Contains(e.Error.Message, tc.field) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.name, res.status, res.body, tc.status, tc.field)
		}
	}

	// Merge the older ticket into the open one: one timeline in time
	// order (the older messages first), with both tickets' tags.
	res := c.do("POST", "/api/v1/tickets/"+b.ID+"/merge", map[string]any{"from_id": a.ID})
	if res.status != http.StatusOK {
		t.Fatalf("merge: %d %s", res.status, res.body)
	}
	var out struct{ Ticket ticketing.Ticket }
	res.decode(t, &out)
	if out.Ticket.ID != b.ID || out.Ticket.Status != "open" || !slices.Equal(out.Ticket.MergedFrom, []string{a.ID}) ||
		!slices.Contains(out.Ticket.Tags, "faktura") || out.Ticket.MessageCount != 3 {
		t.Fatalf("merged ticket = %+v", out.Ticket)
	}
	vb := getTicket(t, c, b.ID)
	if got := timelineTexts(vb); !slices.Equal(got, []string{"Var är mitt paket?", "Vi tittar på det.", "Kvittot saknas helt"}) {
		t.Fatalf("merged timeline = %q", got)
	}
	for _, msg := range vb.Messages {
		if msg.TicketID != b.ID {
			t.Errorf("message %s says ticket %s", msg.ID, msg.TicketID)
		}
		if msg.Text == "Var är mitt paket?" && msg.ThreadReason != ticketing.ReasonMerged {
			t.Errorf("the moved mail says it is here because %q", msg.ThreadReason)
		}
	}
	va := getTicket(t, c, a.ID)
	if va.Ticket.Status != "closed" || va.Ticket.MergedInto != b.ID || len(va.Messages) != 0 {
		t.Fatalf("merged-away ticket = %+v with %d messages", va.Ticket, len(va.Messages))
	}
	waitEvent(t, ws, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventTicketUpdated && ev.Ticket.ID == a.ID && ev.Ticket.MergedInto == b.ID
	})
	// Search and lists follow: the moved words find the merged ticket only.
	eventually(t, "search finds the moved message on the merged ticket", func() error {
		if got := searchTickets(t, c, "paket"); !slices.Equal(got, []string{b.ID}) {
			return fmt.Errorf("search finds %v, want only %s", got, b.ID)
		}
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?q=paket", nil).decode(t, &page)
		if len(page.Tickets) != 1 || page.Tickets[0].ID != b.ID {
			return fmt.Errorf("the list finds %d tickets", len(page.Tickets))
		}
		return nil
	})

	// Done once: a repeat, a reply or a reopening of the merged-away
	// ticket is refused and names where the conversation is.
	if res := c.do("POST", "/api/v1/tickets/"+b.ID+"/merge", map[string]any{"from_id": a.ID}); res.status != http.StatusConflict {
		t.Errorf("merge again: %d %s", res.status, res.body)
	}
	for _, req := range []struct{ method, path string }{{"POST", "/messages"}, {"PATCH", ""}} {
		res := c.do(req.method, "/api/v1/tickets/"+a.ID+req.path, map[string]any{"text": "Hej", "status": "open"})
		if res.status != http.StatusConflict || !bytes.Contains(res.body, []byte(b.ID)) {
			t.Errorf("%s %s on the merged-away ticket: %d %s", req.method, req.path, res.status, res.body)
		}
	}
	if res := c.do("POST", "/api/v1/tickets/"+a.ID+"/merge", map[string]any{"from_id": b.ID}); res.status != http.StatusConflict {
		t.Errorf("merge into the merged-away ticket: %d %s", res.status, res.body)
	}
	// The customer's mail with the merged-away ticket's number lands on
	// the merged ticket.
	env := envelope("anna@example.se", "<a2@x>", "Paketet har fortfarande inte kommit")
	env.Subject = fmt.Sprintf("Re: Order 1234 [#%d]", a.Number)
	env.Thread.TicketNumber = a.Number
	if err := m.Bus.PublishInbound(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a reply to the merged-away ticket on the merged one", func() error {
		v := getTicket(t, c, b.ID)
		if len(v.Messages) != 4 || v.Messages[3].ThreadReason != ticketing.ReasonToken {
			return fmt.Errorf("%d messages", len(v.Messages))
		}
		return nil
	})

	if got := auditTargets(t, c, "ticket.merged"); len(got) != 1 || !strings.Contains(got[0], a.ID) || !strings.Contains(got[0], b.ID) {
		t.Errorf("audit ticket.merged = %q", got)
	}
	// The customers' merge is in the audit log too.
	cid, ccid := a.CustomerID, other.CustomerID
	if res := c.do("POST", "/api/v1/customers/"+cid+"/merge", map[string]any{"from_id": ccid}); res.status != http.StatusOK {
		t.Fatalf("customer merge: %d %s", res.status, res.body)
	}
	if got := auditTargets(t, c, "customer.merged"); len(got) != 1 || !strings.Contains(got[0], ccid) {
		t.Errorf("audit customer.merged = %q", got)
	}
}

type errorJSON struct {
	Error struct{ Code, Message, Field string }
}

func TestTicketSplitMakesANewTicketOfThoseMessages(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()
	for i, text := range []string{"Paketet kom inte", "Jag vill också byta storlek på tröjan", "Och returetiketten saknas"} {
		if err := m.Bus.PublishInbound(ctx, envelope("bo@example.se", fmt.Sprintf("<s%d@x>", i), text)); err != nil {
			t.Fatal(err)
		}
	}
	cid := customerByEmail(t, c, m, "bo@example.se")
	src := orderCustomerTicket(t, c, cid, func(tk *ticketing.Ticket) bool { return tk.MessageCount == 3 })
	v := getTicket(t, c, src.ID)
	ids := []string{v.Messages[0].ID, v.Messages[1].ID, v.Messages[2].ID}
	if !slices.Equal(timelineTexts(v), []string{"Paketet kom inte", "Jag vill också byta storlek på tröjan", "Och returetiketten saknas"}) {
		t.Fatalf("timeline %q", timelineTexts(v))
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"none", map[string]any{"message_ids": []string{}}, 422},
		{"missing", map[string]any{}, 422},
		{"unknown", map[string]any{"message_ids": []string{ids[0], "nope"}}, 422},
		{"all of them", map[string]any{"message_ids": ids}, 422},
		{"not a list", map[string]any{"message_ids": "x"}, 400},
	} {
		res := c.do("POST", "/api/v1/tickets/"+src.ID+"/split", tc.body)
		var e errorJSON
		res.decode(t, &e)
		if res.status != tc.status || e.Error.Field != "message_ids" {
			t.Errorf("%s: %d %s, want %d naming message_ids", tc.name, res.status, res.body, tc.status)
		}
	}
	if res := c.do("POST", "/api/v1/tickets/nope/split", map[string]any{"message_ids": ids[:1]}); res.status != http.StatusNotFound {
		t.Errorf("unknown ticket: %d", res.status)
	}

	res := c.do("POST", "/api/v1/tickets/"+src.ID+"/split", map[string]any{"message_ids": []string{ids[2], ids[1]}})
	if res.status != http.StatusCreated {
		t.Fatalf("split: %d %s", res.status, res.body)
	}
	var out struct{ Ticket ticketing.Ticket }
	res.decode(t, &out)
	nt := out.Ticket
	if nt.ID == src.ID || nt.CustomerID != cid || nt.SplitFrom != src.ID || nt.Status != "open" || nt.Number <= src.Number {
		t.Fatalf("split ticket = %+v", nt)
	}
	vn := getTicket(t, c, nt.ID)
	if got := timelineTexts(vn); !slices.Equal(got, []string{"Jag vill också byta storlek på tröjan", "Och returetiketten saknas"}) {
		t.Fatalf("split ticket's timeline = %q", got)
	}
	for _, msg := range vn.Messages {
		if msg.TicketID != nt.ID || msg.ThreadReason != ticketing.ReasonSplit {
			t.Errorf("split message %q on %s because %q", msg.Text, msg.TicketID, msg.ThreadReason)
		}
	}
	vs := getTicket(t, c, src.ID)
	if got := timelineTexts(vs); !slices.Equal(got, []string{"Paketet kom inte"}) || !slices.Equal(vs.Ticket.SplitInto, []string{nt.ID}) ||
		vs.Ticket.Preview != "Paketet kom inte" {
		t.Fatalf("source after split: %q %+v", got, vs.Ticket)
	}
	var cv customerJSON
	c.do("GET", "/api/v1/customers/"+cid, nil).decode(t, &cv)
	if len(cv.Tickets) != 2 || cv.Tickets[0].ID != nt.ID {
		t.Fatalf("customer's tickets = %+v", cv.Tickets)
	}
	eventually(t, "search finds the split messages on the new ticket", func() error {
		if got := searchTickets(t, c, "returetiketten"); !slices.Equal(got, []string{nt.ID}) {
			return fmt.Errorf("search finds %v, want %s", got, nt.ID)
		}
		if got := searchTickets(t, c, "paketet"); !slices.Equal(got, []string{src.ID}) {
			return fmt.Errorf("search for what stayed finds %v", got)
		}
		return nil
	})
	// Done once: the same split again names the messages that left.
	if res := c.do("POST", "/api/v1/tickets/"+src.ID+"/split", map[string]any{"message_ids": []string{ids[1]}}); res.status != 422 {
		t.Errorf("split again: %d %s", res.status, res.body)
	}
	// The customer's next mail goes to their current ticket, which the
	// split left alone.
	if err := m.Bus.PublishInbound(ctx, envelope("bo@example.se", "<s9@x>", "Något nytt?")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next mail on the old ticket", func() error {
		if v := getTicket(t, c, src.ID); len(v.Messages) != 2 {
			return fmt.Errorf("%d messages", len(v.Messages))
		}
		return nil
	})
	if got := auditTargets(t, c, "ticket.split"); len(got) != 1 || !strings.Contains(got[0], nt.ID) || !strings.Contains(got[0], src.ID) {
		t.Errorf("audit ticket.split = %q", got)
	}
	// Merged back into the solved old ticket, which reopens (the split
	// one was open), then split again: a new ticket, not the old one.
	setStatus(t, c, src.ID, "solved")
	res = c.do("POST", "/api/v1/tickets/"+src.ID+"/merge", map[string]any{"from_id": nt.ID})
	var back struct{ Ticket ticketing.Ticket }
	res.decode(t, &back)
	if res.status != http.StatusOK || back.Ticket.Status != "open" || back.Ticket.MessageCount != 4 {
		t.Fatalf("merge back: %d %s", res.status, res.body)
	}
	res = c.do("POST", "/api/v1/tickets/"+src.ID+"/split", map[string]any{"message_ids": []string{ids[1], ids[2]}})
	if res.status != http.StatusCreated {
		t.Fatalf("split again after merging back: %d %s", res.status, res.body)
	}
	var again struct{ Ticket ticketing.Ticket }
	res.decode(t, &again)
	if again.Ticket.ID == nt.ID || len(getTicket(t, c, again.Ticket.ID).Messages) != 2 {
		t.Fatalf("second split = %+v", again.Ticket)
	}
	b, _ := json.Marshal(getTicket(t, c, nt.ID).Ticket)
	if !bytes.Contains(b, []byte(`"merged_into":"`+src.ID+`"`)) {
		t.Fatalf("the first split ticket = %s", b)
	}
}

// TestMergedAwayTicketIsNeverSurveyed: a ticket solved, then merged into
// another before its survey was due, is not surveyed; a ticket solved at
// the same moment after it (the control) is. Reports count the merged-away
// ticket neither as created nor as solved.
func TestMergedAwayTicketIsNeverSurveyed(t *testing.T) {
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startEmailNode(t, mb, out)
	c := login(t, m)
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true, "delay": "2s", "channels": []string{"email"}}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	a, b := twoTickets(t, m, c, "anna@example.se", "Var är mitt paket?", "Kvittot saknas helt")
	if err := m.Bus.PublishInbound(context.Background(), envelope("dora@example.se", "<d1@x>", "Hej, tack för hjälpen")); err != nil {
		t.Fatal(err)
	}
	control := orderCustomerTicket(t, c, customerByEmail(t, c, m, "dora@example.se"), func(*ticketing.Ticket) bool { return true })
	setStatus(t, c, b.ID, "solved")
	setStatus(t, c, control.ID, "solved")
	if res := c.do("POST", "/api/v1/tickets/"+a.ID+"/merge", map[string]any{"from_id": b.ID}); res.status != http.StatusOK {
		t.Fatalf("merge: %d %s", res.status, res.body)
	}
	surveyed := func(addr string) bool {
		for _, raw := range out.received() {
			if bytes.Contains(raw, []byte("/csat/")) && bytes.Contains(raw, []byte(addr)) {
				return true
			}
		}
		return false
	}
	eventually(t, "the control ticket's survey", func() error {
		if !surveyed("dora@example.se") {
			return fmt.Errorf("%d mails, no survey to dora", len(out.received()))
		}
		return nil
	})
	if surveyed("anna@example.se") {
		t.Fatal("the merged-away ticket was surveyed")
	}
	if v := getTicket(t, c, b.ID); v.Ticket.CSAT != nil || v.Ticket.MergedInto != a.ID {
		t.Fatalf("merged-away ticket %+v", v.Ticket)
	}
	// Reports: the customer's two tickets are one conversation now.
	day := time.Now().UTC().Format("2006-01-02")
	eventually(t, "reports without the merged-away ticket", func() error {
		res := c.do("GET", "/api/v1/reports/summary?from="+day+"&to="+time.Now().UTC().Add(24*time.Hour).Format("2006-01-02"), nil)
		var rep struct {
			Rows []struct {
				TicketsCreated int `json:"tickets_created"`
				TicketsSolved  int `json:"tickets_solved"`
			}
		}
		res.decode(t, &rep)
		// a (closed by the agent) and the control; b neither created nor solved.
		if len(rep.Rows) != 1 || rep.Rows[0].TicketsCreated != 2 || rep.Rows[0].TicketsSolved != 2 {
			return fmt.Errorf("report %s", res.body)
		}
		return nil
	})
}

// TestTicketMergeAndSplitOnTwoNodes: a merge on one node and a split on
// the other; each node's lists, search and live consoles follow the
// other's.
func TestTicketMergeAndSplitOnTwoNodes(t *testing.T) {
	srv := startSharedServers(t)
	n1 := startNode(t, "", srv.use)
	n2 := startNode(t, "", srv.use)
	c1, c2 := login(t, n1), login(t, n2)
	ws2 := c2.live("")
	a, b := twoTickets(t, n1, c1, "anna@example.se", "Var är mitt paket?", "Kvittot saknas helt")
	if res := c1.do("POST", "/api/v1/tickets/"+b.ID+"/merge", map[string]any{"from_id": a.ID}); res.status != http.StatusOK {
		t.Fatalf("merge on node 1: %d %s", res.status, res.body)
	}
	moved := waitEvent(t, ws2, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageUpdated && ev.Message.Text == "Var är mitt paket?"
	})
	if moved.Message.TicketID != b.ID || moved.Ticket == nil || moved.Ticket.ID != b.ID {
		t.Fatalf("node 2 heard %+v", moved)
	}
	eventually(t, "node 2 searches the moved words on the merged ticket", func() error {
		if got := searchTickets(t, c2, "paket"); !slices.Equal(got, []string{b.ID}) {
			return fmt.Errorf("node 2's search finds %v", got)
		}
		var page ticketing.TicketPage
		c2.do("GET", "/api/v1/tickets?status=closed", nil).decode(t, &page)
		if len(page.Tickets) != 1 || page.Tickets[0].ID != a.ID || page.Tickets[0].MergedInto != b.ID {
			return fmt.Errorf("node 2's closed list %+v", page.Tickets)
		}
		return nil
	})
	v := getTicket(t, c2, b.ID)
	var kvitto string
	for _, msg := range v.Messages {
		if msg.Text == "Kvittot saknas helt" {
			kvitto = msg.ID
		}
	}
	res := c2.do("POST", "/api/v1/tickets/"+b.ID+"/split", map[string]any{"message_ids": []string{kvitto}})
	if res.status != http.StatusCreated {
		t.Fatalf("split on node 2: %d %s", res.status, res.body)
	}
	var out struct{ Ticket ticketing.Ticket }
	res.decode(t, &out)
	eventually(t, "node 1 searches the split message on the new ticket", func() error {
		if got := searchTickets(t, c1, "kvittot"); !slices.Equal(got, []string{out.Ticket.ID}) {
			return fmt.Errorf("node 1's search finds %v", got)
		}
		return nil
	})
}

// TestTicketMergeObeysTeams: an agent merges and splits only tickets they
// see; a ticket of another team is "not found" to them, a viewer may not
// merge at all, and a token needs tickets:write.
func TestTicketMergeObeysTeams(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	a, b := twoTickets(t, m, admin, "anna@example.se", "Var är mitt paket?", "Kvittot saknas helt")
	returns, sales := createTeam(t, admin, "Returns", false), createTeam(t, admin, "Sales", false)
	if res := admin.do("PATCH", "/api/v1/tickets/"+a.ID, map[string]any{"team_id": sales.ID}); res.status != 200 {
		t.Fatalf("team: %d %s", res.status, res.body)
	}
	if res := admin.do("PATCH", "/api/v1/tickets/"+b.ID, map[string]any{"team_id": returns.ID}); res.status != 200 {
		t.Fatalf("team: %d %s", res.status, res.body)
	}
	bo := invite(t, admin, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{returns.ID}})
	vera := invite(t, admin, map[string]any{"email": "vera@shop.se", "name": "Vera", "role": "viewer", "team_ids": []string{returns.ID, sales.ID}})
	bc, vc := signIn(t, m, "bo@shop.se", bo.Password), signIn(t, m, "vera@shop.se", vera.Password)

	res := bc.do("POST", "/api/v1/tickets/"+b.ID+"/merge", map[string]any{"from_id": a.ID})
	var e errorJSON
	res.decode(t, &e)
	if res.status != http.StatusNotFound || e.Error.Field != "from_id" {
		t.Errorf("merging a ticket Bo cannot see: %d %s", res.status, res.body)
	}
	if res := bc.do("POST", "/api/v1/tickets/"+a.ID+"/merge", map[string]any{"from_id": b.ID}); res.status != http.StatusNotFound {
		t.Errorf("merging into a ticket Bo cannot see: %d %s", res.status, res.body)
	}
	if res := bc.do("POST", "/api/v1/tickets/"+a.ID+"/split", map[string]any{"message_ids": []string{"x"}}); res.status != http.StatusNotFound {
		t.Errorf("splitting a ticket Bo cannot see: %d %s", res.status, res.body)
	}
	if res := vc.do("POST", "/api/v1/tickets/"+b.ID+"/merge", map[string]any{"from_id": a.ID}); res.status != http.StatusForbidden {
		t.Errorf("a viewer merging: %d %s", res.status, res.body)
	}
	var tok struct{ Token string }
	admin.do("POST", "/api/v1/tokens", map[string]any{"name": "read", "scopes": []string{"tickets:read"}}).decode(t, &tok)
	req, _ := http.NewRequest("POST", m.URL()+"/api/v1/tickets/"+b.ID+"/split", strings.NewReader(`{"message_ids":["x"]}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("a tickets:read token splitting: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	if v := getTicket(t, admin, a.ID); v.Ticket.MergedInto != "" || len(v.Messages) != 2 {
		t.Fatalf("a refused merge changed the ticket: %+v", v.Ticket)
	}
}
