package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

type summaryRows struct {
	Rows []struct {
		Key            string   `json:"key"`
		TicketsCreated int      `json:"tickets_created"`
		TicketsSolved  int      `json:"tickets_solved"`
		MessagesIn     int      `json:"messages_in"`
		MessagesOut    int      `json:"messages_out"`
		CSATScore      *float64 `json:"csat_score"`
	} `json:"rows"`
}

// TestReportsAPI: a ticket written, answered and solved on a running node
// shows in the summary (fed by events), by channel and as CSV; a rebuild
// from the store gives the same; bad parameters are named.
func TestReportsAPI(t *testing.T) {
	m := startEmailNode(t, startMailbox(t), startSMTPServer(t))
	c := login(t, m)
	if err := m.Bus.PublishInbound(context.Background(), envelope("rut@example.se", "<r1@x>", "Hej!")); err != nil {
		t.Fatal(err)
	}
	tk := customerTicket(t, c, "rut@example.se", 1).Ticket
	if res := c.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": "Hej Rut!"}); res.status != 201 {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	setStatus(t, c, tk.ID, "solved")
	want := func() error {
		var s summaryRows
		c.do("GET", "/api/v1/reports/summary?group_by=channel&tz=Europe/Stockholm", nil).decode(t, &s)
		if len(s.Rows) != 1 || s.Rows[0].Key != "email" || s.Rows[0].TicketsCreated != 1 || s.Rows[0].TicketsSolved != 1 ||
			s.Rows[0].MessagesIn != 1 || s.Rows[0].MessagesOut != 1 {
			return fmt.Errorf("rows = %+v", s.Rows)
		}
		return nil
	}
	eventually(t, "the ticket in the report", want)
	if res := c.do("POST", "/api/v1/reports/rebuild", nil); res.status != 200 {
		t.Fatalf("rebuild: %d %s", res.status, res.body)
	}
	if err := want(); err != nil {
		t.Fatalf("after rebuild: %v", err)
	}

	req, _ := http.NewRequest("GET", m.URL()+"/api/v1/reports/summary?group_by=day", nil)
	req.Header.Set("Accept", "text/csv")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		lines[0] != "key,tickets_created,tickets_solved,messages_in,messages_out,first_response_p50_s,first_response_p90_s,resolution_p50_s,sla_met_ratio,csat_score,csat_responses,returning_customers" ||
		len(lines) < 30 {
		t.Fatalf("csv: %d %s, %d lines:\n%s", res.StatusCode, res.Header.Get("Content-Type"), len(lines), body)
	}

	for _, bad := range []struct{ query, field string }{
		{"from=2026-03-10&to=2026-03-01", "from"},
		{"group_by=weekday", "group_by"},
		{"tz=Nowhere/Land", "tz"},
		{"from=last+week", "from"},
	} {
		res := c.do("GET", "/api/v1/reports/summary?"+bad.query, nil)
		var e struct{ Error ticketing.Error }
		res.decode(t, &e)
		if res.status != 422 || e.Error.Field != bad.field || !strings.Contains(e.Error.Message, bad.field) {
			t.Errorf("%s: %d %s, want 422 naming %s", bad.query, res.status, res.body, bad.field)
		}
	}
}
