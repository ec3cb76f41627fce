package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bearer does a request with a bearer token.
func bearer(t *testing.T, base, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, header: res.Header}
}

type tokenOut struct {
	Token  string   `json:"token"`
	ID     string   `json:"id"`
	Scopes []string `json:"scopes"`
}

func createToken(t *testing.T, c *agentClient, body any) tokenOut {
	t.Helper()
	r := c.do("POST", "/api/v1/tokens", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	var tok tokenOut
	r.decode(t, &tok)
	if tok.Token == "" || tok.ID == "" {
		t.Fatalf("token answer %s", r.body)
	}
	return tok
}

// TestScopedTokensAndRevocationOnEveryNode: a tickets:read token reads
// tickets but cannot PATCH one, read the audit log or create tokens; bad
// scopes and expiries are 422s naming the field; a token revoked on one
// node fails on the other at once; the audit log has the sign-ins and the
// token's life.
func TestScopedTokensAndRevocationOnEveryNode(t *testing.T) {
	srv := startSharedServers(t)
	a := startNode(t, "", srv.use)
	b := startNode(t, "", srv.use)
	ca := login(t, a)

	for _, tc := range []struct{ body, field string }{
		{`{"name":"x","scopes":["tickets:delete"]}`, "scopes"},
		{`{"name":"x","scopes":[]}`, "scopes"},
		{`{"name":"x","scopes":["tickets:read"],"expires_in":"soon"}`, "expires_in"},
		{`{"name":"x","scopes":["tickets:read"],"expires_in":"-1h"}`, "expires_in"},
		{`{"scopes":["tickets:read"]}`, "name"},
	} {
		r := ca.do("POST", "/api/v1/tokens", tc.body)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.body, r.status, r.body, tc.field)
		}
	}

	ro := createToken(t, ca, map[string]any{"name": "reader", "scopes": []string{"tickets:read"}, "expires_in": "1h"})
	if r := bearer(t, b.URL(), ro.Token, "GET", "/api/v1/tickets", nil); r.status != http.StatusOK {
		t.Fatalf("tickets:read lists tickets: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ method, path string }{
		{"PATCH", "/api/v1/tickets/anything"},
		{"GET", "/api/v1/audit"},
		{"POST", "/api/v1/tokens"},
		{"GET", "/api/v1/agents/../tokens"},
		{"POST", "/api/v1/customers"},
	} {
		body := map[string]any{"status": "solved", "name": "n", "scopes": []string{"admin"}}
		if r := bearer(t, b.URL(), ro.Token, tc.method, tc.path, body); r.status != http.StatusForbidden {
			t.Errorf("tickets:read %s %s: %d %s, want 403", tc.method, tc.path, r.status, r.body)
		}
	}
	// The shop backend's token writes customers and nothing else.
	shop := createToken(t, ca, map[string]any{"name": "shop", "scopes": []string{"customers:write", "orders:write"}})
	if r := bearer(t, a.URL(), shop.Token, "GET", "/api/v1/tickets", nil); r.status != http.StatusForbidden {
		t.Errorf("customers:write lists tickets: %d", r.status)
	}
	if r := bearer(t, a.URL(), shop.Token, "POST", "/api/v1/customers",
		map[string]any{"external_id": "c-1", "email": "kund@example.se", "name": "Kund"}); r.status >= 300 {
		t.Errorf("customers:write pushes a customer: %d %s", r.status, r.body)
	}

	var list struct {
		Tokens []tokenOut `json:"tokens"`
	}
	ca.do("GET", "/api/v1/tokens", nil).decode(t, &list)
	if len(list.Tokens) != 2 || list.Tokens[0].Token != "" {
		t.Fatalf("token list %+v", list.Tokens)
	}

	// Revoked on node A, refused on node B at once.
	if r := ca.do("DELETE", "/api/v1/tokens/"+ro.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := bearer(t, b.URL(), ro.Token, "GET", "/api/v1/tickets", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked token on the other node: %d", r.status)
	}
	if r := ca.do("DELETE", "/api/v1/tokens/"+ro.ID, nil); r.status != http.StatusNotFound {
		t.Fatalf("revoke twice: %d", r.status)
	}

	// A failed sign-in, then the audit log as an admin sees it.
	if r := (&agentClient{t: t, base: b.URL(), http: http.DefaultClient}).do("POST", "/api/v1/session",
		map[string]string{"email": a.Config.AdminEmail, "password": "wrong"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	var page struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
			IP     string `json:"ip"`
			Actor  struct{ Kind, ID, Name string }
		} `json:"entries"`
	}
	r := login(t, b).do("GET", "/api/v1/audit?limit=200", nil)
	if r.status != http.StatusOK {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	r.decode(t, &page)
	seen := map[string]int{}
	for _, e := range page.Entries {
		seen[e.Action]++
		if e.IP == "" || e.Actor.Kind == "" {
			t.Errorf("entry without actor or address: %+v", e)
		}
	}
	for _, want := range []string{"session.created", "session.failed", "token.created", "token.revoked"} {
		if seen[want] == 0 {
			t.Errorf("audit log lacks %s: %s", want, r.body)
		}
	}
	if page.Entries[0].Action != "session.created" {
		t.Errorf("newest first: %+v", page.Entries[0])
	}
	var only struct{ Entries []struct{ Action string } }
	login(t, a).do("GET", "/api/v1/audit?action=token.revoked", nil).decode(t, &only)
	if len(only.Entries) != 1 {
		t.Errorf("filter by action: %+v", only.Entries)
	}
	// Settings changes are audited (every settings route, in one place).
	if r := ca.do("PUT", "/api/v1/settings/retention", map[string]int{"solved_ticket_days": 400}); r.status != 200 {
		t.Fatalf("retention: %d %s", r.status, r.body)
	}
	login(t, a).do("GET", "/api/v1/audit?action=settings.changed", nil).decode(t, &only)
	if len(only.Entries) != 1 {
		t.Errorf("settings change in the audit log: %+v", only.Entries)
	}
	if r := ca.do("GET", "/api/v1/audit?limit=x", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bad limit: %d", r.status)
	}
}

// TestAdminResetPasswordWhileNodeRuns: `svar admin reset-password` reaches
// the running node's embedded store, prints a new password that signs in,
// and ends the agent's sessions.
func TestAdminResetPasswordWhileNodeRuns(t *testing.T) {
	m := startNode(t, "", nil)
	old := login(t, m)
	if b, err := os.ReadFile(filepath.Join(m.Config.DataDir, storeURIFile)); err != nil || strings.TrimSpace(string(b)) != m.embStore.URI() {
		t.Fatalf("the node did not write its store's address: %q %v", b, err)
	}
	var out bytes.Buffer
	if err := dispatchAdmin(t, m, &out); err != nil {
		t.Fatal(err)
	}
	_, password, ok := strings.Cut(strings.Split(out.String(), "\n")[0], ": ")
	if !ok || len(password) < 12 {
		t.Fatalf("output %q", out.String())
	}
	if r := old.do("GET", "/api/v1/session", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("old session after the reset: %d", r.status)
	}
	c := &agentClient{t: t, base: m.URL(), http: &http.Client{}}
	if r := c.do("POST", "/api/v1/session", map[string]string{"email": m.Config.AdminEmail, "password": testPassword}); r.status != http.StatusUnauthorized {
		t.Fatalf("old password: %d", r.status)
	}
	if r := c.do("POST", "/api/v1/session", map[string]string{"email": m.Config.AdminEmail, "password": password}); r.status != http.StatusOK {
		t.Fatalf("new password: %d %s", r.status, r.body)
	}
	if err := resetPassword(t.Context(), m.Config, "nobody@example.se", &out); err == nil || !strings.Contains(err.Error(), "no agent") {
		t.Fatalf("unknown email: %v", err)
	}
}

func dispatchAdmin(t *testing.T, m *Main, out *bytes.Buffer) error {
	t.Helper()
	t.Setenv("SVAR_DATA_DIR", m.Config.DataDir)
	return dispatch(t.Context(), []string{"admin", "reset-password", "--email", m.Config.AdminEmail}, out)
}

// TestMetricsOnAnotherAddressBehindAToken: SVAR_METRICS_ADDR moves
// /metrics off the public address, SVAR_METRICS_TOKEN guards it.
func TestMetricsOnAnotherAddressBehindAToken(t *testing.T) {
	m := startNode(t, "", func(m *Main) {
		m.Config.MetricsAddr = "127.0.0.1:0"
		m.Config.MetricsToken = "s3cret-metrics"
	})
	get := func(u, auth string) int {
		req, _ := http.NewRequest("GET", u, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := get(m.URL()+"/metrics", "Bearer s3cret-metrics"); s != http.StatusNotFound {
		t.Errorf("/metrics on the public address: %d", s)
	}
	u := "http://" + m.metricsAddr + "/metrics"
	if s := get(u, ""); s != http.StatusUnauthorized {
		t.Errorf("no token: %d", s)
	}
	if s := get(u, "Bearer wrong"); s != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", s)
	}
	if s := get(u, "Bearer s3cret-metrics"); s != http.StatusOK {
		t.Errorf("the token: %d", s)
	}
}
