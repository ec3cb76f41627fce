package chat

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// rateLimiter is a token bucket per key (visitor id): capacity tokens,
// refilled at capacity per minute. Buckets of visitors who have been
// quiet for a minute are full again, so they are dropped when the map
// grows; nothing else needs to expire them.
type rateLimiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const limiterSweepAt = 4096

func newRateLimiter(perMinute int) *rateLimiter {
	return &rateLimiter{perMinute: perMinute, buckets: make(map[string]*bucket)}
}

// allow takes a token for key at now and reports whether there was one.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := float64(l.perMinute)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= limiterSweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: limit, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(limit, b.tokens+el.Minutes()*limit)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.at) >= time.Minute {
			delete(l.buckets, k)
		}
	}
}

// connCounter caps the open sockets per key: a client address, or a
// visitor id.
type connCounter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newConnCounter(max int) *connCounter { return &connCounter{max: max, n: make(map[string]int)} }

// acquire counts a connection for ip (or any key), or reports false at
// the cap.
func (c *connCounter) acquire(ip string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[ip] >= c.max {
		return false
	}
	c.n[ip]++
	return true
}

func (c *connCounter) release(ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[ip] <= 1 {
		delete(c.n, ip)
		return
	}
	c.n[ip]--
}

// remoteIP is the default client address: the TCP peer. Behind a reverse
// proxy, Options.ClientIP should read the proxy's header instead.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
