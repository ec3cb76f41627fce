package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/svar-dev/svar/ticketing"
)

type invited struct {
	Agent    ticketing.Agent `json:"agent"`
	Password string          `json:"password"`
}

func (e *testEnv) invite(email, name, role string) invited {
	e.t.Helper()
	r := e.admin.do("POST", "/api/v1/agents", map[string]string{"email": email, "name": name, "role": role})
	if r.status != http.StatusCreated {
		e.t.Fatalf("invite %s: %d %s", email, r.status, r.body)
	}
	var out invited
	r.decode(e.t, &out)
	return out
}

func TestInviteListDeactivate(t *testing.T) {
	e := newEnv(t)
	bo := e.invite("Bo@Example.se", "Bo Berg", "")
	if bo.Password == "" || bo.Agent.Email != "bo@example.se" || bo.Agent.Role != ticketing.RoleAgent || !bo.Agent.Active {
		t.Fatalf("invited = %+v", bo)
	}
	if strings.Contains(string(e.admin.do("GET", "/api/v1/agents", nil).body), "password_hash") {
		t.Fatal("the agent list shows password hashes")
	}
	boc := e.login("bo@example.se", bo.Password, "")

	// Every agent sees the list (the assignee picker); only admins change it.
	var list struct{ Agents []ticketing.Agent }
	boc.do("GET", "/api/v1/agents", nil).decode(t, &list)
	if len(list.Agents) != 2 {
		t.Fatalf("agents = %+v", list.Agents)
	}
	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"agent cannot invite", boc, "POST", "/api/v1/agents", map[string]string{"email": "x@example.se", "name": "X"}, http.StatusForbidden, ""},
		{"agent cannot deactivate", boc, "PATCH", "/api/v1/agents/" + list.Agents[0].ID, map[string]bool{"active": false}, http.StatusForbidden, ""},
		{"email taken", e.admin, "POST", "/api/v1/agents", map[string]string{"email": "BO@example.se", "name": "Bo 2"}, http.StatusUnprocessableEntity, "email"},
		{"not an email", e.admin, "POST", "/api/v1/agents", map[string]string{"email": "bo", "name": "Bo"}, http.StatusUnprocessableEntity, "email"},
		{"no name", e.admin, "POST", "/api/v1/agents", map[string]string{"email": "c@example.se", "name": "  "}, http.StatusUnprocessableEntity, "name"},
		{"bad role", e.admin, "POST", "/api/v1/agents", map[string]string{"email": "c@example.se", "name": "C", "role": "owner"}, http.StatusUnprocessableEntity, "role"},
		{"no such agent", e.admin, "PATCH", "/api/v1/agents/nobody", map[string]bool{"active": false}, http.StatusNotFound, ""},
		{"not JSON", e.admin, "PATCH", "/api/v1/agents/" + bo.Agent.ID, "active", http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.do(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			var body errorBody
			r.decode(t, &body)
			if body.Error.Field != tc.field {
				t.Errorf("field = %q, want %q (%s)", body.Error.Field, tc.field, r.body)
			}
		})
	}

	// An admin cannot lock themselves out.
	var me struct{ Agent ticketing.Agent }
	e.admin.do("GET", "/api/v1/session", nil).decode(t, &me)
	if r := e.admin.do("PATCH", "/api/v1/agents/"+me.Agent.ID, map[string]bool{"active": false}); r.status != http.StatusForbidden {
		t.Fatalf("self-deactivation: %d %s", r.status, r.body)
	}

	// Bo has a session and an API token; deactivating him voids both and
	// closes his live sockets.
	var tok struct{ Token string }
	boc.do("POST", "/api/v1/tokens", map[string]any{"name": "script", "scopes": []string{"tickets:read"}}).decode(t, &tok)
	bearer := func() int {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/session", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if bearer() != 200 {
		t.Fatal("the token does not work before deactivation")
	}
	r := e.admin.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]bool{"active": false})
	if r.status != 200 {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	if !slices.Contains(e.live.disconnected(), bo.Agent.ID) {
		t.Error("Bo's live sockets were not closed")
	}
	if r := boc.do("GET", "/api/v1/session", nil); r.status != http.StatusUnauthorized {
		t.Errorf("Bo's session after deactivation: %d", r.status)
	}
	if bearer() != http.StatusUnauthorized {
		t.Error("Bo's token works after deactivation")
	}
	if r := boc.do("GET", "/", nil); r.status != http.StatusSeeOther {
		t.Errorf("Bo's console after deactivation: %d", r.status)
	}
	if r := e.client().do("POST", "/api/v1/session", map[string]string{"email": "bo@example.se", "password": bo.Password}); r.status != http.StatusUnauthorized {
		t.Errorf("a deactivated agent signs in: %d", r.status)
	}
	// Reactivated, Bo signs in afresh; the old session stays dead.
	if r := e.admin.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]any{"active": true, "role": "admin"}); r.status != 200 {
		t.Fatalf("reactivate: %d %s", r.status, r.body)
	}
	if r := boc.do("GET", "/api/v1/session", nil); r.status != http.StatusUnauthorized {
		t.Errorf("the old session after reactivation: %d", r.status)
	}
	again := e.login("bo@example.se", bo.Password, "")
	if r := again.do("GET", "/agents", nil); r.status != 200 {
		t.Errorf("Bo, now an admin, on /agents: %d", r.status)
	}
}

func TestPatchMe(t *testing.T) {
	e := newEnv(t)
	bo := e.invite("bo@example.se", "Bo", "agent")
	boc := e.login("bo@example.se", bo.Password, "")
	if r := boc.do("GET", "/agents", nil); r.status != http.StatusForbidden {
		t.Errorf("an agent on /agents: %d", r.status)
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"unknown language", map[string]any{"language": "de"}, 422, "language"},
		{"empty name", map[string]any{"name": " "}, 422, "name"},
		{"wrong current password", map[string]any{"password": "a new password!", "current_password": "nope"}, 422, "current_password"},
		{"short password", map[string]any{"password": "short", "current_password": bo.Password}, 422, "password"},
		{"language", map[string]any{"language": "sv"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := boc.do("PATCH", "/api/v1/me", tc.body)
			if r.status != tc.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.field != "" && !strings.Contains(string(r.body), `"field":"`+tc.field+`"`) {
				t.Errorf("body %s does not name %s", r.body, tc.field)
			}
		})
	}
	other := e.login("bo@example.se", bo.Password, "")
	r := boc.do("PATCH", "/api/v1/me", map[string]any{"password": "a much better password", "current_password": bo.Password})
	if r.status != 200 {
		t.Fatalf("change password: %d %s", r.status, r.body)
	}
	var me struct{ Agent ticketing.Agent }
	boc.do("GET", "/api/v1/session", nil).decode(t, &me)
	if me.Agent.Language != "sv" {
		t.Errorf("the console that changed the password is signed out, or lost the language: %+v", me.Agent)
	}
	if r := other.do("GET", "/api/v1/session", nil); r.status != http.StatusUnauthorized {
		t.Errorf("another session survived the new password: %d", r.status)
	}
	if !slices.Contains(e.live.disconnected(), bo.Agent.ID) {
		t.Error("live sockets of the old sessions were not closed")
	}
	e.login("bo@example.se", "a much better password", "")
}

func TestTOTPSetupAndSignIn(t *testing.T) {
	e := newEnv(t)
	bo := e.invite("bo@example.se", "Bo", "agent")
	boc := e.login("bo@example.se", bo.Password, "")

	if r := boc.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": "123456"}); r.status != http.StatusConflict {
		t.Fatalf("confirm before setup: %d %s", r.status, r.body)
	}
	var setup struct{ Secret, URL, QR string }
	r := boc.do("POST", "/api/v1/me/totp", nil)
	if r.status != 200 {
		t.Fatalf("setup: %d %s", r.status, r.body)
	}
	r.decode(t, &setup)
	if setup.Secret == "" || !strings.HasPrefix(setup.URL, "otpauth://totp/Svar:bo@example.se?") {
		t.Fatalf("setup = %+v", setup)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(setup.QR, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 240 {
		t.Fatalf("QR code: %v", err)
	}
	if r := boc.do("GET", "/api/v1/me/totp/qr.png", nil); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("qr.png: %d %s", r.status, r.header.Get("Content-Type"))
	}
	// Not enforced before it is confirmed.
	e.login("bo@example.se", bo.Password, "")

	if r := boc.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": "000000"}); r.status != 422 {
		t.Fatalf("a wrong code: %d %s", r.status, r.body)
	}
	code, _ := totp.GenerateCode(setup.Secret, time.Now())
	r = boc.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": code})
	if r.status != 200 || !strings.Contains(string(r.body), `"totp_enabled":true`) {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.decode(t, &confirmed)
	if r := boc.do("POST", "/api/v1/me/totp", nil); r.status != http.StatusConflict {
		t.Fatalf("a new secret while on: %d", r.status)
	}

	// Signing in now needs the code.
	anon := e.client()
	r = anon.do("POST", "/api/v1/session", map[string]string{"email": "bo@example.se", "password": bo.Password})
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), `"field":"code"`) {
		t.Fatalf("no code: %d %s", r.status, r.body)
	}
	r = anon.do("POST", "/api/v1/session", map[string]string{"email": "bo@example.se", "password": bo.Password, "code": "000000"})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	code, _ = totp.GenerateCode(setup.Secret, time.Now())
	withCode := e.login("bo@example.se", bo.Password, code)
	// A code works once: replayed, even at once, it is refused.
	r = anon.do("POST", "/api/v1/session", map[string]string{"email": "bo@example.se", "password": bo.Password, "code": code})
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "used already") {
		t.Fatalf("replayed code: %d %s", r.status, r.body)
	}
	// A recovery code, shown when two-factor sign-in was turned on, works
	// once too.
	if len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes %v", confirmed.RecoveryCodes)
	}
	e.login("bo@example.se", bo.Password, confirmed.RecoveryCodes[3])
	r = anon.do("POST", "/api/v1/session", map[string]string{"email": "bo@example.se", "password": bo.Password, "code": confirmed.RecoveryCodes[3]})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("a recovery code twice: %d %s", r.status, r.body)
	}

	// An admin can turn it off for an agent who lost their phone.
	if r := e.admin.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]bool{"reset_totp": true}); r.status != 200 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	e.login("bo@example.se", bo.Password, "")

	// And the agent can turn it on and off again with a code.
	withCode.do("POST", "/api/v1/me/totp", nil).decode(t, &setup)
	code, _ = totp.GenerateCode(setup.Secret, time.Now())
	if r := withCode.do("POST", "/api/v1/me/totp/confirm", map[string]string{"code": code}); r.status != 200 {
		t.Fatalf("confirm again: %d %s", r.status, r.body)
	}
	if r := withCode.do("DELETE", "/api/v1/me/totp", map[string]string{"code": "000000"}); r.status != 422 {
		t.Fatalf("turn off with a wrong code: %d", r.status)
	}
	code, _ = totp.GenerateCode(setup.Secret, time.Now())
	if r := withCode.do("DELETE", "/api/v1/me/totp", map[string]string{"code": code}); r.status != 200 || !strings.Contains(string(r.body), `"totp_enabled":false`) {
		t.Fatalf("turn off: %d %s", r.status, r.body)
	}
}

// memRelay is an in-process ticketing.Relay shared by "nodes" of a test.
type memRelay struct {
	mu   sync.Mutex
	next int
	subs map[string]map[int]func([]byte) bool
}

func (m *memRelay) Publish(_ context.Context, topic string, payload []byte) error {
	m.mu.Lock()
	fns := []func([]byte) bool{}
	for _, fn := range m.subs[topic] {
		fns = append(fns, fn)
	}
	m.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
	return nil
}

func (m *memRelay) Request(ctx context.Context, topic string, payload []byte) (bool, error) {
	return false, m.Publish(ctx, topic, payload)
}

func (m *memRelay) Subscribe(topic string, fn func([]byte) bool) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		m.subs = map[string]map[int]func([]byte) bool{}
	}
	if m.subs[topic] == nil {
		m.subs[topic] = map[int]func([]byte) bool{}
	}
	m.next++
	id := m.next
	m.subs[topic][id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.subs[topic], id)
	}, nil
}

func TestDeactivationClosesSocketsOnEveryNode(t *testing.T) {
	e := newEnv(t)
	relay := &memRelay{}
	liveA, liveB := &fakeLive{}, &fakeLive{}
	a := New(Options{Store: e.store, Live: liveA, Relay: relay})
	b := New(Options{Store: e.store, Live: liveB, Relay: relay})
	srvA := httptest.NewServer(a)
	defer srvA.Close()
	bo := e.invite("bo@example.se", "Bo", "agent")

	jar, _ := cookiejar.New(nil)
	adminA := &client{t: t, base: srvA.URL, http: &http.Client{Jar: jar}}
	if r := adminA.do("POST", "/api/v1/session", map[string]string{"email": "admin@example.se", "password": adminPassword}); r.status != 200 {
		t.Fatalf("login on A: %d %s", r.status, r.body)
	}
	if r := adminA.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]bool{"active": false}); r.status != 200 {
		t.Fatalf("deactivate on A: %d %s", r.status, r.body)
	}
	if !slices.Contains(liveA.disconnected(), bo.Agent.ID) || !slices.Contains(liveB.disconnected(), bo.Agent.ID) {
		t.Fatalf("sockets closed on A: %v, on B: %v; want Bo's on both", liveA.disconnected(), liveB.disconnected())
	}
	// A node that closed stops listening.
	b.Close()
	if r := adminA.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]bool{"active": true}); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := adminA.do("PATCH", "/api/v1/agents/"+bo.Agent.ID, map[string]bool{"active": false}); r.status != 200 {
		t.Fatal(r.status)
	}
	if n := len(liveB.disconnected()); n != 1 {
		t.Errorf("a closed node still heard %d sign-outs, want 1", n)
	}
	a.Close()
}
