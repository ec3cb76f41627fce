package natsbus

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://svar:hemligt@nats1:4222", "nats://***@nats1:4222"},
		{"nats://a:b@n1:4222,nats://c:d@n2:4222", "nats://***@n1:4222,nats://***@n2:4222"},
		{"token@host:4222", "***@host:4222"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		deliveries int
		limit      time.Duration
		want       time.Duration
	}{
		{1, 5 * time.Minute, time.Second},
		{2, 5 * time.Minute, 2 * time.Second},
		{3, 5 * time.Minute, 4 * time.Second},
		{9, 5 * time.Minute, 256 * time.Second},
		{10, 5 * time.Minute, 5 * time.Minute},
		{1000, 5 * time.Minute, 5 * time.Minute},
		{7, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		if got := retryDelay(time.Second, tt.limit, tt.deliveries); got != tt.want {
			t.Errorf("retryDelay(1s, %s, %d) = %s, want %s", tt.limit, tt.deliveries, got, tt.want)
		}
	}
}

func TestValidTopic(t *testing.T) {
	for _, ok := range []string{"chat", "chat.visitor.v-1_A", "ticket.created"} {
		if !validTopic(ok) {
			t.Errorf("validTopic(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "a.*", ">", "a b", "a\tb", "å"} {
		if validTopic(bad) {
			t.Errorf("validTopic(%q) = true", bad)
		}
	}
}

func TestParseLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr, host string
		port       int
		ok         bool
	}{
		{"127.0.0.1:-1", "127.0.0.1", -1, true},
		{"127.0.0.1:0", "127.0.0.1", -1, true},
		{"localhost:4222", "127.0.0.1", 4222, true},
		{"[::1]:4333", "::1", 4333, true},
		{"127.0.0.2:1", "127.0.0.2", 1, true},
		{"0.0.0.0:4222", "", 0, false},
		{":4222", "", 0, false},
		{"192.168.1.1:4222", "", 0, false},
		{"127.0.0.1:70000", "", 0, false},
	}
	for _, tt := range tests {
		host, port, err := parseLoopbackAddr(tt.addr)
		if (err == nil) != tt.ok || (tt.ok && (host != tt.host || port != tt.port)) {
			t.Errorf("parseLoopbackAddr(%q) = %q, %d, %v", tt.addr, host, port, err)
		}
	}
}

func TestHeaderSafe(t *testing.T) {
	got := headerSafe("line one\r\nline two")
	if got != "line one  line two" {
		t.Errorf("headerSafe kept line breaks: %q", got)
	}
	long := headerSafe(strings.Repeat("å", maxReasonLen))
	if len(long) > maxReasonLen || !utf8.ValidString(long) {
		t.Errorf("headerSafe(long) is %d bytes, valid UTF-8: %v", len(long), utf8.ValidString(long))
	}
}
