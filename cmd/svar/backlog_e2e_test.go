package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

// TestReportsBacklogAndScopes: a new ticket on a running node is in the
// backlog's youngest bucket (fed by events), by channel too, as CSV and
// as an SVG chart in English and Swedish; bad parameters are named; a
// reports:read token reads every report (JSON and CSV) and no tickets,
// and cannot rebuild; a tickets:read token reads no reports.
func TestReportsBacklogAndScopes(t *testing.T) {
	m := startEmailNode(t, startMailbox(t), startSMTPServer(t))
	c := login(t, m)
	if err := m.Bus.PublishInbound(context.Background(), envelope("ebba@example.se", "<b1@x>", "Var är mitt paket?")); err != nil {
		t.Fatal(err)
	}
	customerTicket(t, c, "ebba@example.se", 1)
	type backlog struct {
		Ages []string `json:"ages"`
		Rows []struct {
			Key    string `json:"key"`
			Counts []int  `json:"counts"`
			Total  int    `json:"total"`
		} `json:"rows"`
	}
	eventually(t, "the ticket in the backlog", func() error {
		var b backlog
		c.do("GET", "/api/v1/reports/backlog", nil).decode(t, &b)
		if len(b.Ages) != 6 || b.Ages[0] != "under_1h" || len(b.Rows) != 1 || b.Rows[0].Key != "all" ||
			b.Rows[0].Total != 1 || b.Rows[0].Counts[0] != 1 {
			return fmt.Errorf("backlog = %+v", b)
		}
		return nil
	})
	var by backlog
	c.do("GET", "/api/v1/reports/backlog?group_by=channel", nil).decode(t, &by)
	if len(by.Rows) != 1 || by.Rows[0].Key != "email" || by.Rows[0].Counts[0] != 1 {
		t.Errorf("by channel = %+v", by)
	}
	csv := c.do("GET", "/api/v1/reports/backlog?format=csv", nil)
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		string(csv.body) != "key,under_1h,1h_4h,4h_24h,1d_3d,3d_7d,over_7d,total\nall,1,0,0,0,0,0,1\n" {
		t.Errorf("csv: %d %s %q", csv.status, csv.header.Get("Content-Type"), csv.body)
	}
	for _, tc := range []struct{ lang, title, age string }{{"en", "Backlog by age", "email"}, {"sv", "Kö efter ålder", "E-post"}} {
		svg := c.do("GET", "/api/v1/reports/backlog?format=svg&group_by=channel&lang="+tc.lang, nil)
		body := string(svg.body)
		if svg.status != 200 || svg.header.Get("Content-Type") != "image/svg+xml; charset=utf-8" || !strings.HasPrefix(body, "<svg ") ||
			!strings.Contains(body, "<title id=\"backlog-t\">"+tc.title+"</title>") || strings.Count(body, `class="backlog-bar"`) != 1 ||
			!strings.Contains(strings.ToLower(body), strings.ToLower(tc.age)+": 1</title>") {
			t.Errorf("svg %s: %d %s\n%s", tc.lang, svg.status, svg.header.Get("Content-Type"), body)
		}
	}
	for _, bad := range []struct{ query, field string }{
		{"group_by=agent", "group_by"}, {"format=pdf", "format"}, {"format=svg&lang=de", "lang"},
	} {
		res := c.do("GET", "/api/v1/reports/backlog?"+bad.query, nil)
		var e struct{ Error ticketing.Error }
		res.decode(t, &e)
		if res.status/100 != 4 || e.Error.Field != bad.field {
			t.Errorf("%s: %d %s, want 4xx naming %s", bad.query, res.status, res.body, bad.field)
		}
	}

	reports := createToken(t, c, map[string]any{"name": "bi", "scopes": []string{"reports:read"}})
	for _, path := range []string{"/api/v1/reports/summary?group_by=agent", "/api/v1/reports/summary?format=csv",
		"/api/v1/reports/backlog", "/api/v1/reports/backlog?format=csv", "/api/v1/reports/backlog?format=svg"} {
		if r := bearer(t, m.URL(), reports.Token, "GET", path, nil); r.status != http.StatusOK {
			t.Errorf("reports:read GET %s: %d %s", path, r.status, r.body)
		}
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/tickets"}, {"GET", "/api/v1/counts"}, {"GET", "/api/v1/customers"},
		{"POST", "/api/v1/reports/rebuild"}, {"GET", "/api/v1/settings/csat"},
	} {
		if r := bearer(t, m.URL(), reports.Token, tc.method, tc.path, nil); r.status != http.StatusForbidden {
			t.Errorf("reports:read %s %s: %d %s, want 403", tc.method, tc.path, r.status, r.body)
		}
	}
	tickets := createToken(t, c, map[string]any{"name": "desk", "scopes": []string{"tickets:read"}})
	if r := bearer(t, m.URL(), tickets.Token, "GET", "/api/v1/tickets", nil); r.status != http.StatusOK {
		t.Errorf("tickets:read lists tickets: %d", r.status)
	}
	for _, path := range []string{"/api/v1/reports/summary", "/api/v1/reports/backlog", "/api/v1/reports/summary?format=csv"} {
		if r := bearer(t, m.URL(), tickets.Token, "GET", path, nil); r.status != http.StatusForbidden {
			t.Errorf("tickets:read GET %s: %d %s, want 403", path, r.status, r.body)
		}
	}
}

// TestAgentCSATInAgentsList: a customer's score on a ticket assigned to
// the admin shows as the admin's satisfaction in GET /api/v1/agents?
// include=csat (and not without include); a bad include is named.
func TestAgentCSATInAgentsList(t *testing.T) {
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startEmailNode(t, mb, out)
	c := login(t, m)
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(context.Background(), envelope("gun@example.se", "<g1@x>", "Hej, paketet?")); err != nil {
		t.Fatal(err)
	}
	tk := customerTicket(t, c, "gun@example.se", 1).Ticket
	var me struct{ Agent ticketing.Agent }
	c.do("GET", "/api/v1/session", nil).decode(t, &me)
	if res := c.do("PATCH", "/api/v1/tickets/"+tk.ID, map[string]any{"assignee_id": me.Agent.ID}); res.status != 200 {
		t.Fatalf("assign: %d %s", res.status, res.body)
	}
	if res := c.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": "Det kommer i morgon."}); res.status != 201 {
		t.Fatalf("reply: %d", res.status)
	}
	setStatus(t, c, tk.ID, "solved")
	link := surveyLink(t, out)
	page := strings.Replace(link[strings.Index(link, "/csat/"):], "?score=", "?x=", 1) + "&score=5"
	if res := (&agentClient{t: t, base: m.URL(), http: http.DefaultClient}).do("GET", page, nil); res.status != 200 {
		t.Fatalf("answer: %d %s", res.status, res.body)
	}
	waitCSAT(t, c, tk.ID, 5, ticketing.ChannelEmail)
	type listed struct {
		Agents []struct {
			ID   string `json:"id"`
			CSAT *struct {
				Score     *float64 `json:"score"`
				Responses int      `json:"responses"`
				Days      int      `json:"days"`
			} `json:"csat"`
		} `json:"agents"`
	}
	eventually(t, "the admin's satisfaction", func() error {
		var l listed
		c.do("GET", "/api/v1/agents?include=csat", nil).decode(t, &l)
		for _, a := range l.Agents {
			if a.ID == me.Agent.ID {
				if a.CSAT == nil || a.CSAT.Responses != 1 || a.CSAT.Score == nil || *a.CSAT.Score != 1 || a.CSAT.Days != 90 {
					return fmt.Errorf("csat = %+v", a.CSAT)
				}
				return nil
			}
		}
		return fmt.Errorf("the admin is not listed: %+v", l)
	})
	var plain listed
	c.do("GET", "/api/v1/agents", nil).decode(t, &plain)
	if len(plain.Agents) == 0 || plain.Agents[0].CSAT != nil {
		t.Errorf("without include: %+v", plain)
	}
	if res := c.do("GET", "/api/v1/agents?include=everything", nil); res.status != 400 || !strings.Contains(string(res.body), "include") {
		t.Errorf("bad include: %d %s", res.status, res.body)
	}
}
