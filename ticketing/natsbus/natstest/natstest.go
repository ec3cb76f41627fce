// Package natstest gives tests a real NATS server with JetStream: an
// embedded one in t.TempDir(), or the external server named by
// SVAR_TEST_NATS_URL, in which case every Bus gets a unique namespace so
// that tests sharing the server never see each other's streams.
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/natsbus"
)

// EnvURL names the variable that points tests at an external server.
const EnvURL = "SVAR_TEST_NATS_URL"

// NewServer returns the URL of a NATS server for this test: SVAR_TEST_NATS_URL
// when set, otherwise a fresh embedded server that is shut down on
// t.Cleanup.
func NewServer(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: t.TempDir(), Logger: Logger(t)})
	if err != nil {
		t.Fatalf("natstest: start embedded NATS: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.ClientURL()
}

// New connects a Bus to a fresh server (or, with SVAR_TEST_NATS_URL, to a
// fresh namespace on the external one). It is closed on t.Cleanup.
func New(t testing.TB) *natsbus.Bus {
	t.Helper()
	url := NewServer(t)
	return Connect(t, url, Namespace(t))
}

// Namespace returns "" for an embedded server of the test's own, and a
// unique namespace when the tests share SVAR_TEST_NATS_URL. Pass the same
// value to every Connect that should see the same streams.
func Namespace(t testing.TB) string {
	if os.Getenv(EnvURL) == "" {
		return ""
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("natstest: namespace: %v", err)
	}
	return "T" + hex.EncodeToString(b[:])
}

// Connect connects another Bus ("node") to url in namespace, with test
// friendly options: short retry delays, so redelivery tests run fast.
// It is closed on t.Cleanup; a namespaced Bus deletes its streams then.
func Connect(t testing.TB, url, namespace string) *natsbus.Bus {
	t.Helper()
	return ConnectOptions(t, natsbus.Options{URL: url, Namespace: namespace})
}

// ConnectOptions is Connect with explicit options. Zero RetryDelay and
// Name get test defaults, and Logger the test's log.
func ConnectOptions(t testing.TB, o natsbus.Options) *natsbus.Bus {
	t.Helper()
	if o.Name == "" {
		o.Name = "svar-test"
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 50 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = Logger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, o)
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(func() {
		if o.Namespace != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.DeleteStreams(ctx); err != nil {
				t.Logf("natstest: %v", err)
			}
		}
		b.Close()
	})
	return b
}

// Logger writes warnings and errors to the test's log until the test's
// cleanup has run; later lines (from goroutines still winding down) are
// dropped rather than failing the test run.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
