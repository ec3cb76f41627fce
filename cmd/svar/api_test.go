package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestBadInputGetsTheErrorShape sends malformed, mistyped, incomplete and
// unauthorised requests to every endpoint and expects a 4xx in the
// contract's error shape, never a 500.
func TestBadInputGetsTheErrorShape(t *testing.T) {
	m := startNode(t, "", nil)
	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope("bad@example.se", "<b1@x>", "Hello")); err != nil {
		t.Fatal(err)
	}
	var ticketID string
	eventually(t, "ticket", func() error {
		c, err := m.Service.CustomerByIdentity(ctx, "email:bad@example.se")
		if err != nil {
			return err
		}
		if ticketID = c.CurrentTicketID; ticketID == "" {
			return fmt.Errorf("no ticket yet")
		}
		if v, err := m.Service.TicketView(ctx, ticketID); err != nil || len(v.Messages) != 1 {
			return fmt.Errorf("the message is not on its ticket yet (%v)", err)
		}
		return nil
	})
	c := login(t, m)
	anon := &agentClient{t: t, base: m.URL(), http: &http.Client{Timeout: 10 * time.Second}}
	// Another agent's session cookie, altered by one character.
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(m.URL())
	ck := c.http.Jar.Cookies(u)[0]
	jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: flip(ck.Value)}})
	tampered := &agentClient{t: t, base: m.URL(), http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	tk := "/api/v1/tickets/" + ticketID

	cases := []struct {
		name   string
		client *agentClient
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"login malformed JSON", anon, "POST", "/api/v1/session", `{"email":`, 400, ""},
		{"login wrong type", anon, "POST", "/api/v1/session", `{"email":1,"password":"x"}`, 400, "email"},
		{"login missing password", anon, "POST", "/api/v1/session", `{"email":"admin@localhost"}`, 422, "password"},
		{"login wrong password", anon, "POST", "/api/v1/session", `{"email":"admin@localhost","password":"nope"}`, 401, ""},
		{"login empty body", anon, "POST", "/api/v1/session", nil, 400, ""},
		{"list without session", anon, "GET", "/api/v1/tickets", nil, 401, ""},
		{"list with a tampered cookie", tampered, "GET", "/api/v1/tickets", nil, 401, ""},
		{"list bad status", c, "GET", "/api/v1/tickets?status=lost", nil, 400, "status"},
		{"list bad limit", c, "GET", "/api/v1/tickets?limit=ten", nil, 400, "limit"},
		{"list bad cursor", c, "GET", "/api/v1/tickets?cursor=zzz", nil, 422, "cursor"},
		{"unknown ticket", c, "GET", "/api/v1/tickets/nope", nil, 404, ""},
		{"patch malformed", c, "PATCH", tk, `{"status":`, 400, ""},
		{"patch wrong type", c, "PATCH", tk, `{"status":7}`, 400, "status"},
		{"patch bad status", c, "PATCH", tk, `{"status":"lost"}`, 422, "status"},
		{"patch bad priority", c, "PATCH", tk, `{"priority":"meh"}`, 422, "priority"},
		{"patch tags not a list", c, "PATCH", tk, `{"tags":"a"}`, 400, "tags"},
		{"patch unknown assignee", c, "PATCH", tk, `{"assignee_id":"ghost"}`, 422, "assignee_id"},
		{"patch unknown ticket", c, "PATCH", "/api/v1/tickets/nope", `{"status":"open"}`, 404, ""},
		{"reply malformed", c, "POST", tk + "/messages", `{"text"`, 400, ""},
		{"reply missing text", c, "POST", tk + "/messages", `{}`, 422, "text"},
		{"reply text wrong type", c, "POST", tk + "/messages", `{"text":["a"]}`, 400, "text"},
		{"reply bad channel", c, "POST", tk + "/messages", `{"text":"x","channel":"fax"}`, 422, "channel"},
		{"reply unreachable channel", c, "POST", tk + "/messages", `{"text":"x","channel":"sms"}`, 422, "channel"},
		{"reply note wrong type", c, "POST", tk + "/messages", `{"text":"x","note":"yes"}`, 400, "note"},
		{"reply unknown ticket", c, "POST", "/api/v1/tickets/nope/messages", `{"text":"x"}`, 404, ""},
		{"reply without session", anon, "POST", tk + "/messages", `{"text":"x"}`, 401, ""},
		{"unknown customer", c, "GET", "/api/v1/customers/nope", nil, 404, ""},
		{"customer patch wrong type", c, "PATCH", "/api/v1/customers/nope", `{"name":5}`, 400, "name"},
		{"unknown attachment", c, "GET", "/api/v1/attachments/nope", nil, 404, ""},
		{"unknown endpoint", c, "GET", "/api/v1/nothing", nil, 404, ""},
		{"live without session", anon, "GET", "/api/v1/live", nil, 401, ""},
		{"token without name", c, "POST", "/api/v1/tokens", `{}`, 422, "name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.client.t = t
			res := tc.client.do(tc.method, tc.path, tc.body)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			var shape struct {
				Error struct{ Code, Message, Field string }
			}
			if err := json.Unmarshal(res.body, &shape); err != nil || shape.Error.Code == "" || shape.Error.Message == "" {
				t.Fatalf("not the error shape: %s", res.body)
			}
			if tc.field != "" && !strings.Contains(shape.Error.Message, tc.field) {
				t.Fatalf("message %q does not name %s", shape.Error.Message, tc.field)
			}
		})
	}
	// Nothing of the above changed the ticket.
	v, err := m.Service.TicketView(ctx, ticketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) != 1 || v.Ticket.Status != ticketing.StatusOpen {
		t.Fatalf("bad input changed the ticket: %d messages, %s", len(v.Messages), v.Ticket.Status)
	}
}

func TestLoginThrottleAndLogout(t *testing.T) {
	m := startNode(t, "", nil)
	anon := &agentClient{t: t, base: m.URL(), http: &http.Client{Timeout: 10 * time.Second}}
	for i := 0; i < 5; i++ {
		if res := anon.do("POST", "/api/v1/session", map[string]string{"email": "admin@localhost", "password": "wrong"}); res.status != 401 {
			t.Fatalf("attempt %d: %d", i, res.status)
		}
	}
	res := anon.do("POST", "/api/v1/session", map[string]string{"email": "admin@localhost", "password": testPassword})
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures the right password got %d, want 429", res.status)
	}

	m2 := startNode(t, "", nil)
	c := login(t, m2)
	if res := c.do("GET", "/api/v1/session", nil); res.status != 200 {
		t.Fatalf("whoami: %d", res.status)
	}
	if res := c.do("DELETE", "/api/v1/session", nil); res.status != http.StatusNoContent {
		t.Fatalf("logout: %d", res.status)
	}
	if res := c.do("GET", "/api/v1/tickets", nil); res.status != 401 {
		t.Fatalf("after logout: %d", res.status)
	}
	// A cross-origin browser request is refused.
	req, _ := http.NewRequest("POST", m2.URL()+"/api/v1/session", strings.NewReader(`{"email":"admin@localhost","password":"x"}`))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST got %d, want 403", r.StatusCode)
	}
}

func TestBearerToken(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	var tok struct{ Token string }
	c.do("POST", "/api/v1/tokens", map[string]any{"name": "shop backend", "scopes": []string{"tickets:read"}}).decode(t, &tok)
	req, _ := http.NewRequest("GET", m.URL()+"/api/v1/tickets", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("bearer token: %d", r.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+flip(tok.Token))
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 401 {
		t.Fatalf("altered token: %d", r.StatusCode)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func TestAttachmentsAreServedOnlyAsDownloads(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	key := "email/att/3f9a1c"
	if err := m.Store.PutBlob(context.Background(), &ticketing.Blob{Key: key, Filename: "kvitto.html", ContentType: "text/html",
		Data: []byte("<script>alert(1)</script>")}); err != nil {
		t.Fatal(err)
	}
	res := c.do("GET", "/api/v1/attachments/"+key, nil)
	if res.status != 200 || string(res.body) != "<script>alert(1)</script>" {
		t.Fatalf("download: %d %q", res.status, res.body)
	}
	h := res.header
	if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("headers = %v", h)
	}
	anon := &agentClient{t: t, base: m.URL(), http: &http.Client{Timeout: 10 * time.Second}}
	if res := anon.do("GET", "/api/v1/attachments/"+key, nil); res.status != 401 {
		t.Fatalf("without a session: %d", res.status)
	}
}
