package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartCanBeInterrupted: a start that waits for an unreachable NATS or
// store returns when its context ends (Ctrl-C), instead of hanging.
func TestStartCanBeInterrupted(t *testing.T) {
	for name, mod := range map[string]func(*Main){
		"nats":  func(m *Main) { m.Config.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)) },
		"store": func(m *Main) { m.Config.MongoDBURI = fmt.Sprintf("mongodb://127.0.0.1:%d/", freePort(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			m := NewMain()
			m.Stdout = io.Discard
			m.Logger = slog.New(slog.DiscardHandler)
			m.Config.DataDir = t.TempDir()
			m.Config.HTTPAddr = "127.0.0.1:0"
			m.Config.AdminPassword = testPassword
			mod(m)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			// Let it reach its retry loop, then press Ctrl-C.
			eventually(t, "a retry", func() error {
				select {
				case err := <-done:
					t.Fatalf("Run returned before it was interrupted: %v", err)
				default:
				}
				return nil
			})
			cancel()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Run succeeded without its server")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			if err := m.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
				t.Logf("close: %v", err)
			}
		})
	}
}

// TestReadyz: a started node is ready and healthy; while it shuts down it
// is no longer ready.
func TestReadyz(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	if res := c.do("GET", "/readyz", nil); res.status != 200 || !strings.Contains(string(res.body), `"ready"`) {
		t.Fatalf("readyz: %d %s", res.status, res.body)
	}
	m.ready.stopping.Store(true) // what Close does first
	if res := c.do("GET", "/readyz", nil); res.status != 503 || !strings.Contains(string(res.body), "shutting down") {
		t.Fatalf("readyz while stopping: %d %s", res.status, res.body)
	}
	if res := c.do("GET", "/healthz", nil); res.status != 200 {
		t.Fatalf("healthz while stopping: %d %s", res.status, res.body)
	}
}

// syncBuffer is a log sink that goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecondProcessOnEmbeddedStoreIsWarnedAbout: a node that reaches
// another node's embedded store through its URI (as a second process
// would) says at start-up that the store's locks do not cover it; a node
// that shares the store's locks in one process does not.
func TestSecondProcessOnEmbeddedStoreIsWarnedAbout(t *testing.T) {
	srv := startSharedServers(t)
	var logA, logB syncBuffer
	startNode(t, "", func(m *Main) {
		srv.use(m)
		m.Logger = slog.New(slog.NewTextHandler(&logA, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if strings.Contains(logA.String(), "not made for several processes") {
		t.Fatalf("a node holding the store's locks was warned:\n%s", logA.String())
	}
	startNode(t, "", func(m *Main) {
		m.Config.NATSURL = srv.natsURL
		m.Config.MongoDBURI = srv.store.URI()
		m.Logger = slog.New(slog.NewTextHandler(&logB, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if out := logB.String(); !strings.Contains(out, "not made for several processes") || !strings.Contains(out, "this_process_holds_the_locks=false") {
		t.Fatalf("the second process was not warned:\n%s", out)
	}
}
