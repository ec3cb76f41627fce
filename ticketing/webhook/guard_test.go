package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestBlocked(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
		"fd00:ec2::254", "0.0.0.0", "100.64.0.1", "::ffff:127.0.0.1", "fc00::1", "224.0.0.1"} {
		if !Blocked(netip.MustParseAddr(s)) {
			t.Errorf("%s is not blocked", s)
		}
	}
	for _, s := range []string{"93.184.216.34", "1.1.1.1", "2606:4700::1111"} {
		if Blocked(netip.MustParseAddr(s)) {
			t.Errorf("%s is blocked", s)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1:8080/x", "http://localhost/", "http://169.254.169.254/latest/meta-data",
		"http://[::1]/", "ftp://example.com/", "http://user:pw@example.com/", "not a url", "http://10.0.0.1/"} {
		if _, err := checkURL(ctx, u, false, net.DefaultResolver); err == nil {
			t.Errorf("checkURL(%q) accepted", u)
		}
	}
	if _, err := checkURL(ctx, "http://127.0.0.1:8080/x", true, net.DefaultResolver); err != nil {
		t.Errorf("allowed private: %v", err)
	}
}

// A name that passed the check but connects to a private address (DNS
// rebinding) is refused when dialling.
func TestDialRefusesPrivateAddresses(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	s := New(Options{})
	w := &Webhook{ID: "w", URL: srv.URL, Secret: "0123456789abcdef"}
	_, err := s.post(context.Background(), w, "evt_1", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "not public") || hit {
		t.Fatalf("post to %s: err %v, hit %v", srv.URL, err, hit)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := false
	dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { target = true }))
	defer dst.Close()
	src := httptest.NewServer(http.RedirectHandler(dst.URL, http.StatusTemporaryRedirect))
	defer src.Close()
	s := New(Options{AllowPrivate: true})
	status, err := s.post(context.Background(), &Webhook{URL: src.URL, Secret: "0123456789abcdef"}, "evt_1", []byte(`{}`))
	if err != nil || status != http.StatusTemporaryRedirect || target {
		t.Fatalf("status %d, err %v, redirect followed %v", status, err, target)
	}
}

func TestSign(t *testing.T) {
	// The documented example: secret "whsec_test_secret_123", t=1700000000, body {"id":"evt_1"}.
	got := Sign("whsec_test_secret_123", time.Unix(1700000000, 0), []byte(`{"id":"evt_1"}`))
	if got != "t=1700000000,v1=2913be30e714a8791de4f166b314c398b914044f71410603a5ed28bed784f4d4" {
		t.Fatalf("Sign = %q", got)
	}
}
