package web

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"
)

// clientFrom is a client whose connections come from a given loopback
// address (Linux routes all of 127.0.0.0/8 to lo), so that the server sees
// distinct client addresses.
func (e *testEnv) clientFrom(ip string) *client {
	c := e.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	jar, _ := cookiejar.New(nil)
	c.http = &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	return c
}

func signIn(c *client, email, password string) int {
	c.t.Helper()
	return c.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}).status
}

// Many accounts tried from one address are throttled per address, while
// the same agents still sign in from elsewhere.
func TestSprayingFromOneAddressIsThrottled(t *testing.T) {
	e := newEnv(t)
	bo := e.invite("bo@example.se", "Bo", "")
	sprayer := e.clientFrom("127.0.0.7")
	throttled := false
	for i := range 30 {
		st := signIn(sprayer, fmt.Sprintf("agent%d@example.se", i), "Password123")
		if st == http.StatusTooManyRequests {
			throttled = i >= 5 // each email was tried once: only the address can be the limit
			break
		}
		if st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	if !throttled {
		t.Fatal("30 accounts sprayed from one address were never throttled")
	}
	// Even the right password is refused from the sprayer's address...
	if st := signIn(sprayer, "bo@example.se", bo.Password); st != http.StatusTooManyRequests {
		t.Fatalf("right password from the throttled address: %d", st)
	}
	// ...but Bo signs in from his own.
	if st := signIn(e.clientFrom("127.0.0.8"), "bo@example.se", bo.Password); st != http.StatusOK {
		t.Fatalf("Bo from another address: %d", st)
	}
}

// An attacker's failures lock out the attacker's (email, address) pair,
// not the named agent everywhere.
func TestFailuresElsewhereDoNotLockAgentOut(t *testing.T) {
	e := newEnv(t)
	bo := e.invite("bo@example.se", "Bo", "")
	attacker := e.clientFrom("127.0.0.9")
	locked := false
	for i := range 10 {
		st := signIn(attacker, "bo@example.se", fmt.Sprintf("guess %d", i))
		if st == http.StatusTooManyRequests {
			locked = true
			break
		}
		if st != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	if !locked {
		t.Fatal("10 wrong passwords for one agent from one address were never throttled")
	}
	if st := signIn(attacker, "bo@example.se", bo.Password); st != http.StatusTooManyRequests {
		t.Fatalf("the attacker's address with the right password: %d", st)
	}
	if st := signIn(e.clientFrom("127.0.0.10"), "bo@example.se", bo.Password); st != http.StatusOK {
		t.Fatalf("Bo from his own address after the attack: %d", st)
	}
}
