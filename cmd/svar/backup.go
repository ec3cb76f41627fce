package main

import (
	"context"
	"encoding/json"
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
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// backupManifest is manifest.json at the top of a backup directory.
type backupManifest struct {
	Format     int                    `json:"format"` // 1
	CreatedAt  time.Time              `json:"created_at"`
	Database   string                 `json:"database"`
	StoreFiles []string               `json:"store_files,omitempty"` // under ferretdb/
	Streams    []natsbus.StreamBackup `json:"streams"`               // under jetstream/
	External   map[string]string      `json:"external,omitempty"`    // parts not copied, and why
}

const (
	manifestFile   = "manifest.json"
	natsURLFile    = "client.url" // under DATA_DIR/nats: the embedded server's URL, for svar backup
	backupJSSubdir = "jetstream"
)

// loadCommandConfig parses a subcommand's flags (its own plus every
// setting) and returns the configuration.
func loadCommandConfig(name string, args []string, own func(*flag.FlagSet)) (configs.Config, error) {
	fs := flag.NewFlagSet("svar "+name, flag.ContinueOnError)
	own(fs)
	return configs.Load(fs, args, os.LookupEnv)
}

// emptyDir fails unless dir is absent or empty.
func emptyDir(dir, what string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s %s is not empty", what, dir)
	}
	return nil
}

// backupBus connects to the node's NATS: SVAR_NATS_URL, or the running
// embedded server named in DATA_DIR/nats/client.url, or, when no node runs
// on the data dir, an embedded server started on it for the backup.
func backupBus(ctx context.Context, c *configs.Config, log *slog.Logger) (*natsbus.Bus, func(), error) {
	opts := natsbus.Options{URL: c.NATSURL, Name: "svar-backup", Replicas: c.NATSReplicas, Logger: log}
	if opts.URL == "" {
		if b, err := os.ReadFile(filepath.Join(c.DataDir, "nats", natsURLFile)); err == nil {
			opts.URL = strings.TrimSpace(string(b))
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			bus, err := natsbus.Connect(cctx, opts)
			cancel()
			if err == nil {
				return bus, bus.Close, nil
			}
			opts.URL = "" // no node runs there any more
		}
		if _, err := os.Stat(filepath.Join(c.DataDir, "nats")); err != nil {
			return nil, nil, fmt.Errorf("no embedded NATS data in %s (SVAR_DATA_DIR)", c.DataDir)
		}
		e, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: c.DataDir, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		bus, err := natsbus.Connect(ctx, natsbus.Options{URL: e.ClientURL(), Name: "svar-backup", Logger: log})
		if err != nil {
			e.Close()
			return nil, nil, err
		}
		return bus, func() { bus.Close(); e.Close() }, nil
	}
	bus, err := natsbus.Connect(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return bus, bus.Close, nil
}

// runBackup is `svar backup --to DIR`.
func runBackup(ctx context.Context, args []string, out io.Writer) error {
	var to string
	c, err := loadCommandConfig("backup", args, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "the directory to write the backup to (absent or empty)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return errors.New("backup: --to DIR is required")
	}
	if err := emptyDir(to, "backup: --to"); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	man := backupManifest{Format: 1, CreatedAt: time.Now().UTC(), Database: c.MongoDBDatabase, External: map[string]string{}}

	// Streams first, then the store: what a node finishes in between is in
	// the store's copy; a message copied from a work queue and finished
	// meanwhile is delivered again after a restore, which changes nothing.
	bus, closeBus, err := backupBus(ctx, &c, log)
	if err != nil {
		return fmt.Errorf("backup: NATS: %w", err)
	}
	man.Streams, err = bus.Backup(ctx, filepath.Join(to, backupJSSubdir))
	closeBus()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if c.NATSURL != "" {
		man.External["nats"] = "streams copied from " + redact(c.NATSURL) + "; the server's own state (accounts, other streams) is not"
	}
	if c.MongoDBURI == "" {
		files, err := mongostore.BackupEmbedded(ctx, c.DataDir, to)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		for _, f := range files {
			man.StoreFiles = append(man.StoreFiles, filepath.Base(f))
		}
	} else {
		man.External["mongodb"] = "an external MongoDB: back it up with mongodump or your provider's snapshots"
	}
	b, _ := json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(to, manifestFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(out, "svar: backup written to %s\n", to)
	for _, s := range man.Streams {
		fmt.Fprintf(out, "  stream %-24s %d messages\n", s.Name, s.Messages)
	}
	for _, f := range man.StoreFiles {
		fmt.Fprintf(out, "  store  %s\n", f)
	}
	for part, why := range man.External {
		fmt.Fprintf(out, "  %s: %s\n", part, why)
	}
	return nil
}

// runRestore is `svar restore --from DIR`.
func runRestore(ctx context.Context, args []string, out io.Writer) error {
	var from string
	c, err := loadCommandConfig("restore", args, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the backup directory (written by svar backup)")
	})
	if err != nil {
		return err
	}
	if from == "" {
		return errors.New("restore: --from DIR is required")
	}
	var man backupManifest
	b, err := os.ReadFile(filepath.Join(from, manifestFile))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := json.Unmarshal(b, &man); err != nil || man.Format != 1 {
		return fmt.Errorf("restore: %s is not a Svar backup manifest (format 1): %v", filepath.Join(from, manifestFile), err)
	}
	if c.MongoDBURI != "" {
		return errors.New("restore: SVAR_MONGODB_URI is set: svar restore fills the embedded store; restore an external MongoDB with mongorestore")
	}
	if len(man.StoreFiles) == 0 {
		return errors.New("restore: the backup holds no embedded store (it was taken from an external MongoDB)")
	}
	if man.Database != c.MongoDBDatabase {
		return fmt.Errorf("restore: the backup is of database %q, SVAR_MONGODB_DATABASE is %q", man.Database, c.MongoDBDatabase)
	}
	if err := emptyDir(c.DataDir, "restore: the data dir (SVAR_DATA_DIR)"); err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := mongostore.RestoreEmbedded(from, c.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	url := c.NATSURL
	var emb *natsbus.Embedded
	if url == "" {
		if emb, err = natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: c.DataDir, Logger: log}); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer emb.Close()
		url = emb.ClientURL()
	}
	bus, err := natsbus.Connect(ctx, natsbus.Options{URL: url, Name: "svar-restore", Replicas: c.NATSReplicas, Logger: log})
	if err != nil {
		return fmt.Errorf("restore: NATS: %w", err)
	}
	defer bus.Close()
	if err := bus.Restore(ctx, filepath.Join(from, backupJSSubdir), man.Streams); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(out, "svar: restored the backup of %s into %s\n", man.CreatedAt.Format(time.RFC3339), c.DataDir)
	for _, s := range man.Streams {
		fmt.Fprintf(out, "  stream %-24s %d messages\n", s.Name, s.Messages)
	}
	for _, f := range man.StoreFiles {
		fmt.Fprintf(out, "  store  %s\n", f)
	}
	return nil
}
