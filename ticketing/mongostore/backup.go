package mongostore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// embeddedSubdir is where the embedded store keeps its files under the
// data directory: one SQLite file per database, <database>.sqlite, with
// its -wal and -shm files while the server runs.
const embeddedSubdir = "ferretdb"

// BackupEmbedded copies every database of the embedded store under
// dataDir into toDir/ferretdb, consistently while a node runs: each file is
// written by SQLite's VACUUM INTO inside one read transaction, so it holds
// the database as of one moment (a write in progress is either in it or
// not) and needs no -wal file. It returns the files written.
func BackupEmbedded(ctx context.Context, dataDir, toDir string) ([]string, error) {
	src := filepath.Join(dataDir, embeddedSubdir)
	files, err := filepath.Glob(filepath.Join(src, "*.sqlite"))
	if err != nil {
		return nil, fmt.Errorf("mongostore: backup: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("mongostore: backup: no embedded store in %s", src)
	}
	dst := filepath.Join(toDir, embeddedSubdir)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, fmt.Errorf("mongostore: backup: %w", err)
	}
	var out []string
	for _, f := range files {
		to := filepath.Join(dst, filepath.Base(f))
		if err := vacuumInto(ctx, f, to); err != nil {
			return out, fmt.Errorf("mongostore: backup %s: %w", filepath.Base(f), err)
		}
		out = append(out, to)
	}
	return out, nil
}

func vacuumInto(ctx context.Context, from, to string) error {
	// VACUUM INTO only reads the live file. mode=rw (not ro): a read-only
	// connection to a WAL database cannot always open its -shm file.
	// busy_timeout waits for the server's checkpointer instead of failing.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(from)+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, to); err != nil {
		return err
	}
	// Check what was written opens and lists FerretDB's catalogue.
	chk, err := sql.Open("sqlite", "file:"+filepath.ToSlash(to)+"?mode=ro")
	if err != nil {
		return err
	}
	defer chk.Close()
	var n int
	if err := chk.QueryRowContext(ctx, `SELECT count(*) FROM _ferretdb_collections`).Scan(&n); err != nil {
		return fmt.Errorf("check the copy: %w", err)
	}
	return nil
}

// RestoreEmbedded copies the store files of a backup made by
// BackupEmbedded (fromDir/ferretdb) into dataDir/ferretdb, which must not
// hold a store yet. Start no node on dataDir meanwhile.
func RestoreEmbedded(fromDir, dataDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(fromDir, embeddedSubdir, "*.sqlite"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("mongostore: restore: no store files in %s", filepath.Join(fromDir, embeddedSubdir))
	}
	dst := filepath.Join(dataDir, embeddedSubdir)
	if existing, _ := filepath.Glob(filepath.Join(dst, "*.sqlite*")); len(existing) > 0 {
		return nil, fmt.Errorf("mongostore: restore: %s already holds a store", dst)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return nil, fmt.Errorf("mongostore: restore: %w", err)
	}
	var out []string
	for _, f := range files {
		name := filepath.Base(f)
		if !dbNameRE.MatchString(strings.TrimSuffix(name, ".sqlite")) {
			return out, fmt.Errorf("mongostore: restore: unexpected file %s", name)
		}
		to := filepath.Join(dst, name)
		if err := copyFile(f, to); err != nil {
			return out, fmt.Errorf("mongostore: restore %s: %w", name, err)
		}
		out = append(out, to)
	}
	return out, nil
}

func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}
