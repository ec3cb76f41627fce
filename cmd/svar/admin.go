package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/svar-dev/svar/configs"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/staff"
)

// storeURIFile names the file in the data dir where a node with an
// embedded store writes its address, so `svar admin` can reach the store
// while the node runs (the embedded store listens on a port the OS picks).
const storeURIFile = "store.uri"

func writeStoreURI(dataDir, uri string, log *slog.Logger) {
	if err := os.WriteFile(filepath.Join(dataDir, storeURIFile), []byte(uri+"\n"), 0o600); err != nil {
		log.Warn("write the embedded store's address; svar admin works only while no node runs", "err", err)
	}
}

// removeStoreURI removes the file if it still names uri (another node on
// the same data dir may have written its own).
func removeStoreURI(dataDir, uri string) {
	p := filepath.Join(dataDir, storeURIFile)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == uri {
		_ = os.Remove(p)
	}
}

// runAdmin is `svar admin <task>`: account recovery that works with or
// without a running node.
func runAdmin(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		return errors.New("usage: svar admin reset-password --email E [settings flags]: prints a new one-time password for the agent and ends their sessions")
	}
	fs := flag.NewFlagSet("svar admin reset-password", flag.ContinueOnError)
	email := fs.String("email", "", "the agent's email")
	c, err := configs.Load(fs, args[1:], os.LookupEnv)
	if err != nil {
		return err
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	return resetPassword(ctx, c, *email, stdout)
}

// resetPassword connects to the configured store (SVAR_MONGODB_URI, the
// running node's embedded store, or an embedded store started on the data
// dir when no node runs) and resets the agent's password.
func resetPassword(ctx context.Context, c configs.Config, email string, stdout io.Writer) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	store, closeStore, err := adminStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer closeStore()
	a, password, err := staff.ResetPassword(ctx, store, email)
	if err != nil {
		return err
	}
	audit.New(store, log, nil).Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "cli", Name: "svar admin"},
		Action: "agent.password_reset", Target: "agent:" + a.ID})
	fmt.Fprintf(stdout, "New one-time password for %s: %s\nEvery session and token of theirs has ended; they change the password in their settings after signing in.\n", a.Email, password)
	return nil
}

func adminStore(ctx context.Context, c configs.Config, log *slog.Logger) (*mongostore.Store, func(), error) {
	open := func(uri string, emb *mongostore.Embedded, timeout time.Duration) (*mongostore.Store, error) {
		octx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return mongostore.Open(octx, mongostore.Options{URI: uri, Database: c.MongoDBDatabase, Embedded: emb, Logger: log})
	}
	closer := func(s *mongostore.Store, emb *mongostore.Embedded) func() {
		return func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Close(cctx)
			if emb != nil {
				_ = emb.Close()
			}
		}
	}
	if c.MongoDBURI != "" {
		s, err := open(c.MongoDBURI, nil, 20*time.Second)
		if err != nil {
			return nil, nil, fmt.Errorf("connect MongoDB %s: %w", redact(c.MongoDBURI), err)
		}
		return s, closer(s, nil), nil
	}
	if b, err := os.ReadFile(filepath.Join(c.DataDir, storeURIFile)); err == nil {
		if s, err := open(strings.TrimSpace(string(b)), nil, 3*time.Second); err == nil {
			return s, closer(s, nil), nil
		}
	}
	emb, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{DataDir: c.DataDir, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("embedded store in %s: %w", c.DataDir, err)
	}
	s, err := open(emb.URI(), emb, 20*time.Second)
	if err != nil {
		_ = emb.Close()
		return nil, nil, err
	}
	return s, closer(s, emb), nil
}
