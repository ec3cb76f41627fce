package web

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: the peer, header ignored", nil, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"untrusted peer: header ignored", proxies, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer: the client it saw", proxies, "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged left part is skipped", proxies, "10.1.2.3:4000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted hops", proxies, "10.1.2.3:4000", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"several headers", proxies, "10.1.2.3:4000", []string{"1.1.1.1", "203.0.113.9", "10.9.9.9"}, "203.0.113.9"},
		{"a port on a hop", proxies, "10.1.2.3:4000", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"IPv6 client", proxies, "[2001:db8::1]:4000", []string{"[2a01:4f8::5]:77"}, "2a01:4f8::5"},
		{"mapped IPv4 peer", proxies, "[::ffff:10.1.2.3]:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"no header: the proxy", proxies, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"junk behind a trusted hop: the last trusted hop", proxies, "10.1.2.3:4000", []string{"evil, 10.9.9.9"}, "10.9.9.9"},
		{"only trusted hops", proxies, "10.1.2.3:4000", []string{"10.7.7.7"}, "10.7.7.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://svar.test/chat/ws", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(tt.trusted)(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
