package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// blockedPrefixes are ranges no webhook may reach besides loopback,
// private and link-local: shared address space, benchmarking, documentation,
// IPv4-translated and the metadata services' ULA.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("fd00:ec2::/32"),
}

// Blocked reports whether ip is loopback, private, link-local (the cloud
// metadata services at 169.254.169.254 among them), unspecified,
// multicast or another range that is not the public internet.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var errBlocked = errors.New("the address is loopback, private, link-local or otherwise not public")

// guardControl is the dialer's Control: it runs for the very address
// being connected to, after resolution, so a name that resolves to a
// public address at creation and to a private one later (DNS rebinding)
// is refused then.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("webhook: dial %s: %w", address, errBlocked)
	}
	return nil
}

// checkURL validates a webhook URL and, unless allowPrivate, refuses one
// whose host resolves to any blocked address.
func checkURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("must be an http(s) URL without credentials")
	}
	if len(raw) > 2000 {
		return "", fmt.Errorf("must be at most 2000 characters")
	}
	if allowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if ips, err = resolver.LookupNetIP(ctx, "ip", host); err != nil || len(ips) == 0 {
			return "", fmt.Errorf("does not resolve: %s", host)
		}
	}
	for _, ip := range ips {
		if Blocked(ip) {
			return "", fmt.Errorf("resolves to %s: %w (set SVAR_WEBHOOK_ALLOW_PRIVATE=true to allow)", ip, errBlocked)
		}
	}
	return u.String(), nil
}
