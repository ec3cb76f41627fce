package web

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// freezer is a TCP proxy that can stop passing bytes, as a hung server
// does: connections stay open and nothing answers.
type freezer struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, done: make(chan struct{})}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *freezer) addr() string { return f.ln.Addr().String() }

func (f *freezer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, up)
		f.mu.Unlock()
		f.wg.Go(func() { f.pipe(up, c) })
		f.wg.Go(func() { f.pipe(c, up) })
	}
}

// pipe copies src to dst, holding every chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for f.frozen.Load() {
			select {
			case <-f.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			dst.Close()
			return
		}
	}
}

func (f *freezer) close() {
	close(f.done)
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestHealthNamesOnlyWhatIsDown: with one part hung, /healthz answers within
// about one part's deadline and names only that part; the other, checked
// under its own deadline at the same time, is ok.
func TestHealthNamesOnlyWhatIsDown(t *testing.T) {
	emb := mongotest.NewEmbedded(t)
	u, err := url.Parse(emb.URI())
	if err != nil {
		t.Fatal(err)
	}
	mongoProxy := newFreezer(t, u.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store, err := mongostore.Open(ctx, mongostore.Options{URI: "mongodb://" + mongoProxy.addr() + "/", Logger: mongotest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })

	natsURL := natstest.NewServer(t)
	nu, err := url.Parse(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	natsProxy := newFreezer(t, nu.Host)
	bus := natstest.ConnectOptions(t, natsbus.Options{URL: "nats://" + natsProxy.addr()})

	s := New(Options{Store: store, Live: &fakeLive{}, HealthTimeout: 500 * time.Millisecond,
		Health: map[string]Pinger{"nats": bus, "mongodb": store}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	health := func() (int, map[string]string) {
		t.Helper()
		res, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]string
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out
	}
	if code, out := health(); code != http.StatusOK || out["status"] != "ok" || out["nats"] != "ok" || out["mongodb"] != "ok" {
		t.Fatalf("healthy: %d %v", code, out)
	}
	for _, tc := range []struct {
		hung, fine string
		proxy      *freezer
	}{
		{"mongodb", "nats", mongoProxy},
		{"nats", "mongodb", natsProxy},
	} {
		t.Run(tc.hung+" hung", func(t *testing.T) {
			tc.proxy.frozen.Store(true)
			defer tc.proxy.frozen.Store(false)
			// Several rounds: the parts are checked in no fixed order.
			for range 4 {
				code, out := health()
				if code != http.StatusServiceUnavailable || out["status"] != "degraded" {
					t.Fatalf("%s hung: %d %v, want 503 degraded", tc.hung, code, out)
				}
				if !strings.HasPrefix(out[tc.hung], "error:") {
					t.Fatalf("%s hung but reported %q", tc.hung, out[tc.hung])
				}
				if out[tc.fine] != "ok" {
					t.Fatalf("%s hung, and %s is blamed too: %v", tc.hung, tc.fine, out)
				}
			}
		})
	}
	// Thawed, everything recovers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out := health()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after thawing: %d %v", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
