package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/channels/chat"
	"github.com/svar-dev/svar/ticketing"
)

// signIn is a client signed in as email.
func signIn(t testing.TB, m *Main, email, password string) *agentClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &agentClient{t: t, base: m.URL(), http: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	if res := c.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}); res.status != http.StatusOK {
		t.Fatalf("sign in %s: %d %s", email, res.status, res.body)
	}
	return c
}

func createTeam(t testing.TB, admin *agentClient, name string, autoAssign bool) ticketing.Team {
	t.Helper()
	res := admin.do("POST", "/api/v1/teams", map[string]any{"name": name, "auto_assign": autoAssign})
	if res.status != http.StatusCreated {
		t.Fatalf("create team %s: %d %s", name, res.status, res.body)
	}
	var out struct{ Team ticketing.Team }
	res.decode(t, &out)
	return out.Team
}

type invitedAgent struct {
	Agent    ticketing.Agent
	Password string
}

func invite(t testing.TB, admin *agentClient, body map[string]any) invitedAgent {
	t.Helper()
	res := admin.do("POST", "/api/v1/agents", body)
	if res.status != http.StatusCreated {
		t.Fatalf("invite %v: %d %s", body, res.status, res.body)
	}
	var out invitedAgent
	res.decode(t, &out)
	return out
}

// ticketOf waits for the ticket whose latest message is text.
func ticketOf(t testing.TB, admin *agentClient, text string) *ticketing.Ticket {
	t.Helper()
	var found *ticketing.Ticket
	eventually(t, "ticket of "+text, func() error {
		var page ticketing.TicketPage
		admin.do("GET", "/api/v1/tickets?limit=200&q="+url.QueryEscape(text), nil).decode(t, &page)
		if len(page.Tickets) == 0 {
			return fmt.Errorf("no ticket yet")
		}
		found = page.Tickets[0]
		return nil
	})
	return found
}

func TestTeamsScopeEveryReadPathAndViewersChangeNothing(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	ctx := context.Background()
	returns := createTeam(t, admin, "Returns", false)
	sales := createTeam(t, admin, "Sales", false)
	anna := invite(t, admin, map[string]any{"email": "anna@shop.se", "name": "Anna", "team_ids": []string{returns.ID}})
	bo := invite(t, admin, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{sales.ID}, "capacity": 3})
	vera := invite(t, admin, map[string]any{"email": "vera@shop.se", "name": "Vera", "role": "viewer", "team_ids": []string{sales.ID}})
	if bo.Agent.Capacity == nil || *bo.Agent.Capacity != 3 || anna.Agent.Capacity == nil || *anna.Agent.Capacity != ticketing.DefaultCapacity {
		t.Fatalf("capacities: bo %v anna %v", bo.Agent.Capacity, anna.Agent.Capacity)
	}
	var team struct{ Team ticketing.Team }
	admin.do("GET", "/api/v1/teams/"+sales.ID, nil).decode(t, &team)
	if len(team.Team.AgentIDs) != 2 {
		t.Fatalf("sales members = %v", team.Team.AgentIDs)
	}

	// A sales ticket with an attachment.
	key := "email/att/teams-test"
	if err := m.Store.PutBlob(ctx, &ticketing.Blob{Key: key, Filename: "kvitto.pdf", Data: []byte("pdf")}); err != nil {
		t.Fatal(err)
	}
	env := envelope("kund@example.se", "<s1@x>", "Where is my order?")
	env.Attachments = []ticketing.Attachment{{Key: key, Filename: "kvitto.pdf", ContentType: "application/pdf", Size: 3}}
	if err := m.Bus.PublishInbound(ctx, env); err != nil {
		t.Fatal(err)
	}
	tk := ticketOf(t, admin, "Where is my order?")
	if res := admin.do("PATCH", "/api/v1/tickets/"+tk.ID, map[string]any{"team_id": sales.ID}); res.status != 200 {
		t.Fatalf("move to sales: %d %s", res.status, res.body)
	}

	ac := signIn(t, m, "anna@shop.se", anna.Password)
	bc := signIn(t, m, "bo@shop.se", bo.Password)
	vc := signIn(t, m, "vera@shop.se", vera.Password)
	annaLive := ac.live("")
	boLive := bc.live("")

	// Anna (returns) may not see the sales ticket anywhere.
	for _, path := range []string{"/api/v1/tickets/" + tk.ID, "/api/v1/customers/" + tk.CustomerID,
		"/api/v1/attachments/" + key + "?ticket=" + tk.ID, "/api/v1/attachments/" + key} {
		if res := ac.do("GET", path, nil); res.status != http.StatusNotFound {
			t.Fatalf("anna GET %s: %d %s", path, res.status, res.body)
		}
	}
	if res := ac.do("PATCH", "/api/v1/tickets/"+tk.ID, map[string]any{"status": "solved"}); res.status != http.StatusNotFound {
		t.Fatalf("anna PATCH: %d", res.status)
	}
	var page ticketing.TicketPage
	ac.do("GET", "/api/v1/tickets", nil).decode(t, &page)
	if len(page.Tickets) != 0 {
		t.Fatalf("anna lists %d tickets", len(page.Tickets))
	}
	var counts struct{ Counts map[string]int }
	ac.do("GET", "/api/v1/counts", nil).decode(t, &counts)
	if counts.Counts["all"] != 0 {
		t.Fatalf("anna counts %v", counts.Counts)
	}
	// Bo (sales) sees it all.
	for _, path := range []string{"/api/v1/tickets/" + tk.ID, "/api/v1/customers/" + tk.CustomerID,
		"/api/v1/attachments/" + key + "?ticket=" + tk.ID} {
		if res := bc.do("GET", path, nil); res.status != http.StatusOK {
			t.Fatalf("bo GET %s: %d %s", path, res.status, res.body)
		}
	}
	bc.do("GET", "/api/v1/tickets", nil).decode(t, &page)
	if len(page.Tickets) != 1 {
		t.Fatalf("bo lists %d tickets", len(page.Tickets))
	}

	// Live: a new message on the sales ticket reaches Bo, never Anna; a
	// ticket without a team reaches both.
	if err := m.Bus.PublishInbound(ctx, envelope("kund@example.se", "<s2@x>", "Hello again")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, boLive, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.Text == "Hello again"
	})
	if err := m.Bus.PublishInbound(ctx, envelope("other@example.se", "<o1@x>", "Sentinel")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, annaLive, func(ev *ticketing.Event) bool {
		if (ev.Ticket != nil && ev.Ticket.ID == tk.ID) || (ev.Message != nil && ev.Message.TicketID == tk.ID) {
			t.Fatalf("anna received %s of the sales ticket", ev.Type)
		}
		return ev.Type == ticketing.EventMessageCreated && ev.Message.Text == "Sentinel"
	})

	// Presence and a customer's typing are about a ticket too: who views
	// the sales ticket and that its customer types reach Bo, never Anna,
	// and Anna cannot ask who views it.
	sentinel := ticketOf(t, admin, "Sentinel")
	frame := func(ws *websocket.Conn, v any) {
		t.Helper()
		if err := ws.WriteJSON(v); err != nil {
			t.Fatal(err)
		}
	}
	frame(annaLive, map[string]any{"type": "presence", "ticket_id": tk.ID, "state": "viewing"})
	waitFrame(t, annaLive, func(f map[string]any) bool {
		if f["type"] == "presence" {
			t.Fatalf("anna got presence for a ticket she may not see: %v", f)
		}
		e, _ := f["error"].(map[string]any)
		return f["type"] == "error" && e["code"] == "not_found"
	})
	frame(boLive, map[string]any{"type": "presence", "ticket_id": tk.ID, "state": "viewing"})
	frame(boLive, map[string]any{"type": "presence", "ticket_id": sentinel.ID, "state": "viewing"})
	for _, c := range []string{tk.CustomerID, sentinel.CustomerID} {
		payload, _ := json.Marshal(map[string]any{"customer_id": c, "typing": true})
		if err := m.Bus.Publish(ctx, chat.TopicTyping, payload); err != nil {
			t.Fatal(err)
		}
	}
	sawPresence, sawTyping := false, false
	waitFrame(t, annaLive, func(f map[string]any) bool {
		switch {
		case f["type"] == "presence" && f["ticket_id"] == tk.ID, f["type"] == "customer.typing" && f["customer_id"] == tk.CustomerID:
			t.Fatalf("anna got %v about the sales ticket", f)
		case f["type"] == "presence" && f["ticket_id"] == sentinel.ID:
			sawPresence = true
		case f["type"] == "customer.typing" && f["customer_id"] == sentinel.CustomerID:
			sawTyping = true
		}
		return sawPresence && sawTyping
	})
	waitFrame(t, boLive, func(f map[string]any) bool {
		return f["type"] == "customer.typing" && f["customer_id"] == tk.CustomerID
	})

	// Vera (viewer, sales) reads but changes nothing.
	if res := vc.do("GET", "/api/v1/tickets/"+tk.ID, nil); res.status != http.StatusOK {
		t.Fatalf("viewer GET: %d", res.status)
	}
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/api/v1/tickets/" + tk.ID, map[string]any{"status": "solved"}},
		{"POST", "/api/v1/tickets/" + tk.ID + "/messages", map[string]any{"text": "hi", "note": true}},
		{"PATCH", "/api/v1/customers/" + tk.CustomerID, map[string]any{"name": "X"}},
		{"POST", "/api/v1/customers", map[string]any{"external_id": "1"}},
		{"POST", "/api/v1/teams", map[string]any{"name": "Mine"}},
		{"POST", "/api/v1/tokens", map[string]any{"name": "t"}},
	} {
		if res := vc.do(tc.method, tc.path, tc.body); res.status != http.StatusForbidden {
			t.Fatalf("viewer %s %s: %d %s", tc.method, tc.path, res.status, res.body)
		}
	}
	// An agent is no admin either.
	if res := bc.do("POST", "/api/v1/teams", map[string]any{"name": "Mine"}); res.status != http.StatusForbidden {
		t.Fatalf("agent creates team: %d", res.status)
	}

	// Bad input names the field.
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/api/v1/agents", map[string]any{"email": "x@shop.se", "name": "X", "capacity": -1}, "capacity"},
		{"POST", "/api/v1/agents", map[string]any{"email": "x@shop.se", "name": "X", "capacity": 100000}, "capacity"},
		{"POST", "/api/v1/agents", map[string]any{"email": "x@shop.se", "name": "X", "role": "boss"}, "role"},
		{"POST", "/api/v1/agents", map[string]any{"email": "x@shop.se", "name": "X", "team_ids": []string{"nope"}}, "team_ids"},
		{"PATCH", "/api/v1/agents/" + bo.Agent.ID, map[string]any{"team_ids": []string{sales.ID, "nope"}}, "team_ids"},
		{"PATCH", "/api/v1/tickets/" + tk.ID, map[string]any{"team_id": "nope"}, "team_id"},
		{"PATCH", "/api/v1/tickets/" + tk.ID, map[string]any{"assignee_id": "nope"}, "assignee_id"},
		{"POST", "/api/v1/teams", map[string]any{"name": ""}, "name"},
		{"POST", "/api/v1/teams", map[string]any{"name": "sales"}, "name"},
	} {
		res := admin.do(tc.method, tc.path, tc.body)
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		res.decode(t, &e)
		if res.status != http.StatusUnprocessableEntity || e.Error.Field != tc.field {
			t.Fatalf("%s %s %v: %d %s", tc.method, tc.path, tc.body, res.status, res.body)
		}
	}
	if res := admin.do("PATCH", "/api/v1/teams/nope", map[string]any{"name": "X"}); res.status != http.StatusNotFound {
		t.Fatalf("unknown team: %d", res.status)
	}
	// The last admin cannot be demoted or deactivated.
	var me struct{ Agent ticketing.Agent }
	admin.do("GET", "/api/v1/session", nil).decode(t, &me)
	for _, body := range []map[string]any{{"role": "agent"}, {"active": false}} {
		if res := admin.do("PATCH", "/api/v1/agents/"+me.Agent.ID, body); res.status < 400 || res.status >= 500 {
			t.Fatalf("demote the last admin %v: %d", body, res.status)
		}
	}

	// Moving Anna into sales lets her see the ticket, live sessions too.
	if res := admin.do("PATCH", "/api/v1/agents/"+anna.Agent.ID, map[string]any{"team_ids": []string{returns.ID, sales.ID}}); res.status != 200 {
		t.Fatalf("move anna: %d %s", res.status, res.body)
	}
	if res := ac.do("GET", "/api/v1/tickets/"+tk.ID, nil); res.status != http.StatusOK {
		t.Fatalf("anna after joining sales: %d", res.status)
	}
	eventually(t, "anna's live session hears sales", func() error {
		if err := m.Bus.PublishInbound(ctx, envelope("kund@example.se", fmt.Sprintf("<s3-%d@x>", time.Now().UnixNano()), "Joined")); err != nil {
			return err
		}
		annaLive.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			var ev ticketing.Event
			if err := annaLive.ReadJSON(&ev); err != nil {
				return err
			}
			if ev.Message != nil && ev.Message.TicketID == tk.ID {
				return nil
			}
		}
	})
}
