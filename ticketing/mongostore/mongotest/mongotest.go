// Package mongotest gives tests a real store: the embedded server in a
// temporary directory, or the MongoDB that SVAR_TEST_MONGODB_URI names (each
// test then gets a database of its own, dropped when the test ends).
//
//	st := mongotest.New(t)                 // one store
//	nodes := mongotest.NewNodes(t, 2)      // two stores ("nodes") on one database
//	e := mongotest.NewEmbedded(t)          // an embedded server to open stores on
//	st := mongotest.Open(t, e, "svar")
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/mongostore"
)

// EnvURI names the environment variable that points tests at an external
// MongoDB instead of the embedded server.
const EnvURI = "SVAR_TEST_MONGODB_URI"

// openTimeout bounds start-up and clean-up in tests.
const openTimeout = 60 * time.Second

// New returns a store on a fresh database, closed (and on an external
// server dropped) when the test ends.
func New(t testing.TB) *mongostore.Store {
	t.Helper()
	return NewNodes(t, 1)[0]
}

// NewNodes returns n stores that share one fresh database, as n Svar nodes
// would.
func NewNodes(t testing.TB, n int) []*mongostore.Store {
	t.Helper()
	if uri := os.Getenv(EnvURI); uri != "" {
		db := "svartest_" + randomHex(6)
		out := make([]*mongostore.Store, n)
		for i := range out {
			out[i] = open(t, mongostore.Options{URI: uri, Database: db, Logger: Logger(t)})
		}
		drop := out[0]
		t.Cleanup(func() { // runs before the stores' own Close (LIFO)
			ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
			defer cancel()
			if err := drop.Drop(ctx); err != nil {
				t.Errorf("mongotest: %v", err)
			}
		})
		return out
	}
	e := NewEmbedded(t)
	out := make([]*mongostore.Store, n)
	for i := range out {
		out[i] = Open(t, e, mongostore.DefaultDatabase)
	}
	return out
}

// NewEmbedded starts an embedded server in t.TempDir(), stopped when the
// test ends (after the stores opened on it later, which close first).
func NewEmbedded(t testing.TB) *mongostore.Embedded {
	t.Helper()
	return StartEmbedded(t, t.TempDir())
}

// StartEmbedded starts an embedded server on dataDir, stopped when the test
// ends. Tests of persistence call it twice on one directory, closing the
// first server in between.
func StartEmbedded(t testing.TB, dataDir string) *mongostore.Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	e, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{DataDir: dataDir, Logger: Logger(t)})
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("mongotest: %v", err)
		}
	})
	return e
}

// Open opens a store on the embedded server e, closed when the test ends.
func Open(t testing.TB, e *mongostore.Embedded, database string) *mongostore.Store {
	t.Helper()
	return open(t, mongostore.Options{Embedded: e, Database: database, Logger: Logger(t)})
}

func open(t testing.TB, o mongostore.Options) *mongostore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := mongostore.Open(ctx, o)
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("mongotest: %v", err)
		}
	})
	return s
}

// Logger returns a logger that writes to the test's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
