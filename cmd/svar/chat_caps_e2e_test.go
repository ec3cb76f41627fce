package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialChatFrom opens a chat socket with extra request headers and returns
// the HTTP status when the upgrade is refused.
func dialChatFrom(t *testing.T, m *Main, h http.Header) (*websocket.Conn, int) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(m.URL(), "http") + "/chat/ws"
	if h == nil {
		h = http.Header{}
	}
	h.Set("Origin", m.URL())
	ws, res, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		if res == nil {
			t.Fatalf("chat socket: %v", err)
		}
		return nil, res.StatusCode
	}
	t.Cleanup(func() { ws.Close() })
	return ws, http.StatusSwitchingProtocols
}

// TestChatCapsFitRealShops: 60 customers behind one address (a NAT, an
// office, the shop's own reverse proxy) can all chat; one visitor token
// holds at most 5 sockets.
func TestChatCapsFitRealShops(t *testing.T) {
	m := startNode(t, "", nil)
	var token string
	for i := range 60 {
		ws, status := dialChatFrom(t, m, nil)
		if ws == nil {
			t.Fatalf("customer %d behind one address refused with %d", i+1, status)
		}
		if i == 0 {
			c := &chatCustomer{t: t, ws: ws}
			c.send(map[string]string{"type": "hello"})
			token = c.next("welcome").VisitorToken
		}
	}

	// The first visitor opens more tabs: four more are fine, the sixth
	// socket is closed with 1008 after an error frame.
	for i := range 4 {
		c := dialChat(t, m)
		c.send(map[string]string{"type": "hello", "visitor_token": token})
		if w := c.next("welcome"); w.VisitorToken != token {
			t.Fatalf("tab %d got token %q", i+2, w.VisitorToken)
		}
	}
	c := dialChat(t, m)
	c.send(map[string]string{"type": "hello", "visitor_token": token})
	c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var f e2eChatFrame
	if err := c.ws.ReadJSON(&f); err != nil || f.Type != "error" || f.Error.Code != "rate_limited" {
		t.Fatalf("sixth socket of one visitor: frame %+v (%v), want a rate_limited error", f, err)
	}
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("sixth socket of one visitor: %v, want close 1008", err)
	}
}

// TestChatPerAddressCapBehindTrustedProxy: behind a proxy named in
// SVAR_TRUSTED_PROXIES the cap counts each forwarded client, not the
// proxy; without it the header is not believed.
func TestChatPerAddressCapBehindTrustedProxy(t *testing.T) {
	m := startNode(t, "", func(m *Main) {
		m.Config.TrustedProxies = []string{"127.0.0.1/32"}
		m.Config.Chat.MaxPerAddress = 2
	})
	from := func(client string) http.Header {
		return http.Header{"X-Forwarded-For": {"198.51.100.1, " + client}} // the left part is the client's own claim
	}
	for i := range 2 {
		if ws, status := dialChatFrom(t, m, from("203.0.113.7")); ws == nil {
			t.Fatalf("socket %d of 203.0.113.7 refused with %d", i+1, status)
		}
	}
	if ws, status := dialChatFrom(t, m, from("203.0.113.7")); ws != nil || status != http.StatusTooManyRequests {
		t.Fatalf("third socket of 203.0.113.7: status %d, want 429", status)
	}
	if ws, status := dialChatFrom(t, m, from("203.0.113.8")); ws == nil {
		t.Fatalf("another customer behind the same proxy refused with %d", status)
	}

	// Not a trusted proxy: X-Forwarded-For is the client's word, ignored.
	n := startNode(t, "", func(m *Main) { m.Config.Chat.MaxPerAddress = 2 })
	for i := range 2 {
		if ws, status := dialChatFrom(t, n, from("203.0.113."+string(rune('1'+i)))); ws == nil {
			t.Fatalf("socket %d refused with %d", i+1, status)
		}
	}
	if ws, status := dialChatFrom(t, n, from("203.0.113.9")); ws != nil || status != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For got past the cap: status %d, want 429", status)
	}
}

// TestSignInThrottleCountsClientBehindProxy: behind a trusted proxy the
// sign-in throttle counts the forwarded client, so one address spraying
// passwords does not lock out the shop's agents signing in through the
// same proxy.
func TestSignInThrottleCountsClientBehindProxy(t *testing.T) {
	m := startNode(t, "", func(m *Main) { m.Config.TrustedProxies = []string{"127.0.0.1/32"} })
	signIn := func(client, email, password string) int {
		body := `{"email":"` + email + `","password":"` + password + `"}`
		req, _ := http.NewRequest("POST", m.URL()+"/api/v1/session", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	var status int
	for i := range 40 {
		if status = signIn("203.0.113.5", fmt.Sprintf("nobody%d@example.com", i), "wrong password"); status == http.StatusTooManyRequests {
			break
		}
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("spraying from one client was never throttled (last status %d)", status)
	}
	if got := signIn("203.0.113.6", m.Config.AdminEmail, testPassword); got != http.StatusOK {
		t.Fatalf("the admin signing in from another client behind the proxy got %d, want 200", got)
	}
}
