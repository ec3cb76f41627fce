package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the function that tells a request's client address,
// for per-address limits: the TCP peer, unless the peer is one of the
// trusted proxies (SVAR_TRUSTED_PROXIES); then X-Forwarded-For is walked
// from the right, skipping trusted hops, and the first address that is not
// a trusted proxy is the client. Entries left of it were written by the
// client and are never believed. With no trusted proxies the header is
// ignored. The channels get the same function from cmd/svar (e.g.
// chat.Options.ClientIP), so every limit counts the same address.
func ClientIP(trusted []netip.Prefix) func(r *http.Request) string {
	trusts := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer, ok := parseHop(r.RemoteAddr)
		if !ok {
			return r.RemoteAddr
		}
		if len(trusted) == 0 || !trusts(peer) {
			return peer.String()
		}
		client := peer
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, ok := parseHop(parts[j])
				if !ok {
					// A trusted proxy passed on junk: the last hop it
					// vouched for is all that is known.
					return client.String()
				}
				client = a
				if !trusts(a) {
					return a.String()
				}
			}
		}
		return client.String() // every hop is a trusted proxy
	}
}

// parseHop reads an address as proxies write it: "192.0.2.1",
// "192.0.2.1:5678", "2001:db8::1" or "[2001:db8::1]:5678".
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
