package chat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(3)
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.allow("v1", t0) {
			t.Fatalf("message %d refused within the burst", i+1)
		}
	}
	if l.allow("v1", t0.Add(time.Second)) {
		t.Fatal("fourth message within a minute allowed")
	}
	if !l.allow("v2", t0) {
		t.Fatal("another visitor is limited by the first")
	}
	if !l.allow("v1", t0.Add(21*time.Second)) { // 3/min: one token per 20 s
		t.Fatal("no token after 20 seconds")
	}
	if l.allow("v1", t0.Add(22*time.Second)) {
		t.Fatal("a second token after 22 seconds")
	}
}

func TestRateLimiterSweeps(t *testing.T) {
	l := newRateLimiter(1)
	t0 := time.Now()
	for i := range limiterSweepAt {
		l.allow(fmt.Sprint(i), t0)
	}
	l.allow("late", t0.Add(2*time.Minute))
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

func TestConnCounter(t *testing.T) {
	c := newConnCounter(2)
	if !c.acquire("1.2.3.4") || !c.acquire("1.2.3.4") || c.acquire("1.2.3.4") {
		t.Fatal("cap of 2 not kept")
	}
	if !c.acquire("5.6.7.8") {
		t.Fatal("another address is capped")
	}
	c.release("1.2.3.4")
	if !c.acquire("1.2.3.4") {
		t.Fatal("a released slot is not free")
	}
	c.release("1.2.3.4")
	c.release("1.2.3.4")
	c.release("5.6.7.8")
	if len(c.n) != 0 {
		t.Fatalf("counts left: %v", c.n)
	}
}

func TestFallbackText(t *testing.T) {
	one := []*ticketing.Message{{Text: " Your parcel ships today. ", Author: ticketing.Author{Name: "Alma"}}}
	if got := fallbackText(one); got != "Your parcel ships today." {
		t.Fatalf("one reply: %q", got)
	}
	two := append(one, &ticketing.Message{Text: "Tracking: 123", Author: ticketing.Author{Name: "Bo"}})
	got := fallbackText(two)
	if !strings.HasPrefix(got, "Alma:\nYour parcel") || !strings.Contains(got, "\n\n---\n\nBo:\nTracking: 123") {
		t.Fatalf("two replies: %q", got)
	}
}

func TestFallbackAddress(t *testing.T) {
	c := &Channel{o: Options{EmailFallback: true}}
	cust := &ticketing.Customer{Identities: []ticketing.Identity{
		{Kind: ticketing.IdentityChat, Value: "v"},
		{Kind: ticketing.IdentityEmail, Value: "typed@example.se"},
		{Kind: ticketing.IdentityEmail, Value: "verified@example.se", Verified: true},
	}}
	if id, ok := c.fallbackAddress(cust); !ok || id.Value != "verified@example.se" {
		t.Fatalf("address = %v %v, want the verified one", id, ok)
	}
	cust.Identities = cust.Identities[:2]
	if id, ok := c.fallbackAddress(cust); !ok || id.Value != "typed@example.se" {
		t.Fatalf("address = %v %v", id, ok)
	}
	cust.OptOuts = map[string]string{"email": "asked us to stop"}
	if _, ok := c.fallbackAddress(cust); ok {
		t.Fatal("mailed a customer who opted out of email")
	}
	cust.OptOuts = nil
	c.o.EmailFallback = false
	if _, ok := c.fallbackAddress(cust); ok {
		t.Fatal("mailed without the email channel")
	}
}
