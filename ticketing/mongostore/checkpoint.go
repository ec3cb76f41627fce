package mongostore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SQLite settings of the embedded server, added to FerretDB's SQLite URL.
//
// synchronous(NORMAL): in WAL mode a commit is written to the WAL but not
// fsynced; the WAL is fsynced when it is checkpointed. A commit survives a
// crash of the process (the OS has it), not a power loss or an OS crash,
// which can lose the last moments of commits but never corrupts the
// database. That is the durability the embedded JetStream has by default
// too (it syncs its files every two minutes), so FULL bought no end-to-end
// guarantee while it cost an fsync per write.
//
// wal_autocheckpoint: FerretDB keeps a read statement open while it writes
// (findAndModify and update read the document, then write it), so the WAL
// is rarely free of readers and SQLite's automatic checkpoint, which runs
// inside the commit that crosses the threshold, ran in nearly every write
// once the WAL had passed 1,000 pages, each with an fsync of the database
// file. The embedded server checkpoints in the background instead (see
// checkpointer); the automatic one stays as a safety net at 16,000 pages
// (64 MB), which the background checkpoints keep the WAL far below.
const sqlitePragmas = "?_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(16000)"

// checkpointInterval is how often the background checkpointer runs.
const checkpointInterval = 500 * time.Millisecond

// checkpointer copies the WAL of every database of the embedded server
// back into its database file every checkpointInterval (PASSIVE: it never
// blocks readers or writers), so that commits do not pay for it.
type checkpointer struct {
	dir  string
	log  *slog.Logger
	dbs  map[string]*sql.DB // by file name
	quit chan struct{}
	wg   sync.WaitGroup
}

func startCheckpointer(dir string, log *slog.Logger) *checkpointer {
	c := &checkpointer{dir: dir, log: log, dbs: map[string]*sql.DB{}, quit: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(checkpointInterval)
		defer t.Stop()
		for {
			select {
			case <-c.quit:
				return
			case <-t.C:
				c.checkpointAll()
			}
		}
	}()
	return c
}

// checkpointAll checkpoints every database file in the directory.
func (c *checkpointer) checkpointAll() {
	files, err := filepath.Glob(filepath.Join(c.dir, "*.sqlite"))
	if err != nil {
		return
	}
	for _, f := range files {
		if _, err := os.Stat(f + "-wal"); errors.Is(err, os.ErrNotExist) {
			continue
		}
		db := c.dbs[f]
		if db == nil {
			db, err = sql.Open("sqlite", "file:"+filepath.ToSlash(f)+"?mode=rw&_pragma=busy_timeout(1000)")
			if err != nil {
				continue
			}
			db.SetMaxOpenConns(1)
			c.dbs[f] = db
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			c.log.Debug("mongostore: embedded: checkpoint", "file", filepath.Base(f), "err", err)
		}
		cancel()
	}
}

// stop ends the checkpointer and closes its connections. (SQLite
// checkpoints a database when its last connection closes.)
func (c *checkpointer) stop() {
	close(c.quit)
	c.wg.Wait()
	for _, db := range c.dbs {
		_ = db.Close()
	}
}
