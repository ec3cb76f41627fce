package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/svar-dev/svar/ticketing"
)

// schemaVersion is the index's layout. An index file of another version
// is deleted and rebuilt from the store.
const schemaVersion = "4"

// Store is what the index reads from the store: scans for a rebuild, _id
// lookups for reconciliation. ticketing/mongostore implements it.
type Store interface {
	ScanTickets(ctx context.Context, fn func(*ticketing.Ticket) error) error
	ScanMessages(ctx context.Context, fn func(*ticketing.Message) error) error
	ScanCustomers(ctx context.Context, fn func(*ticketing.Customer) error) error
	GetTicket(ctx context.Context, id string) (*ticketing.Ticket, error)
	GetTicketByNumber(ctx context.Context, number int64) (*ticketing.Ticket, error)
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	// LastTicketNumber is the highest ticket number handed out so far.
	LastTicketNumber(ctx context.Context) (int64, error)
}

// Events is the events stream (ticketing/natsbus implements it).
type Events interface {
	SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error
	EventsAfter(ctx context.Context, seq uint64, max int) ([]*ticketing.Event, error)
	LastEventSeq(ctx context.Context) (uint64, error)
}

// Options configure an Index. Zero values are documented defaults.
type Options struct {
	// Path is the index file; its directory is created. Required.
	Path   string
	Store  Store
	Events Events
	Logger *slog.Logger
	// ReconcileEvery is how often the index checks itself against the
	// events stream and the store. Default 20s.
	ReconcileEvery time.Duration
	// CacheKB is SQLite's page cache per connection. Default 8192 (8 MB);
	// the index holds 1 writer and up to 4 reader connections.
	CacheKB int
	// OnChange is called, at most every 500 ms, after tickets changed (to
	// push counts to consoles). It runs on its own goroutine.
	OnChange func()
}

// Index is one node's query index: a SQLite file with a row per ticket and
// an FTS5 table over messages, tickets and customers. See doc.go.
type Index struct {
	o   Options
	log *slog.Logger
	w   *sql.DB // one connection: every write
	r   *sql.DB // readers (WAL lets them run beside the writer)

	queue  chan item
	enq    atomic.Uint64 // items enqueued
	done   atomic.Uint64 // items committed
	doneMu sync.Mutex
	doneCh chan struct{} // closed and replaced on every commit

	groupsMu sync.RWMutex
	groups   map[groupKey]int // tickets per (status, team, assignee)

	gen        atomic.Uint64 // grows when tickets change
	rebuilding atomic.Bool
	applied    atomic.Uint64 // last event sequence applied
	changed    chan struct{}

	viewCounts sync.Map // view count cache: key → viewCount

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once

	// writeMu serializes batches from the writer goroutine and rebuilds,
	// and guards stems.
	writeMu sync.Mutex
	stems   stemCache
}

type groupKey struct{ status, team, assignee string }

// item is one queued write: an event, or a ticket/message/customer read
// from the store.
type item struct {
	ev  *ticketing.Event
	n   uint64 // position in the queue
	src string // "event", "note", "store"
}

// Open opens the index at o.Path, creating it when missing. A file that
// is not a readable index of this schema version is deleted and created
// anew (Start then rebuilds it from the store). Open starts nothing; call
// Start.
func Open(o Options) (*Index, error) {
	if o.Path == "" {
		return nil, errors.New("query: open: Path is empty")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReconcileEvery <= 0 {
		o.ReconcileEvery = 20 * time.Second
	}
	if o.CacheKB <= 0 {
		o.CacheKB = 8192
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o750); err != nil {
		return nil, fmt.Errorf("query: open: %w", err)
	}
	ix := &Index{o: o, log: o.Logger, queue: make(chan item, 4096), doneCh: make(chan struct{}),
		groups: map[groupKey]int{}, changed: make(chan struct{}, 1)}
	if err := ix.openDB(); err != nil {
		ix.log.Warn("query: index unreadable or of an older schema; deleting it, it will be rebuilt", "path", o.Path, "err", err)
		ix.closeDB()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(o.Path + suffix); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("query: delete broken index: %w", err)
			}
		}
		if err := ix.openDB(); err != nil {
			ix.closeDB()
			return nil, fmt.Errorf("query: create index: %w", err)
		}
	}
	if err := ix.loadGroups(); err != nil {
		ix.closeDB()
		return nil, err
	}
	ix.ctx, ix.cancel = context.WithCancel(context.Background())
	return ix, nil
}

func (ix *Index) dsn(readOnly bool) string {
	d := "file:" + ix.o.Path + "?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)" +
		fmt.Sprintf("&_pragma=cache_size(-%d)", ix.o.CacheKB) + "&_pragma=temp_store(MEMORY)"
	if readOnly {
		d += "&_pragma=query_only(1)"
	} else {
		d += "&_pragma=journal_mode(WAL)&_txlock=immediate"
	}
	return d
}

func (ix *Index) openDB() error {
	w, err := sql.Open("sqlite", ix.dsn(false))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	ix.w = w
	var v string
	err = w.QueryRow(`SELECT v FROM meta WHERE k = 'schema'`).Scan(&v)
	switch {
	case err == nil && v == schemaVersion:
	case err == nil:
		return fmt.Errorf("schema version %s, want %s", v, schemaVersion)
	default:
		// A new file has no tables; anything else is broken.
		var n int
		if err2 := w.QueryRow(`SELECT count(*) FROM sqlite_master`).Scan(&n); err2 != nil {
			return err2
		}
		if n != 0 {
			return err
		}
		if err := ix.createSchema(); err != nil {
			return err
		}
	}
	// A cheap look at every table: a truncated or overwritten file fails here.
	for _, t := range []string{"tickets", "customers", "docs", "fts", "ticket_tags"} {
		var n int
		if err := w.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM ` + t + ` LIMIT 1)`).Scan(&n); err != nil {
			return fmt.Errorf("table %s: %w", t, err)
		}
	}
	r, err := sql.Open("sqlite", ix.dsn(true))
	if err != nil {
		return err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	ix.r = r
	return nil
}

func (ix *Index) closeDB() {
	if ix.r != nil {
		_ = ix.r.Close()
		ix.r = nil
	}
	if ix.w != nil {
		_ = ix.w.Close()
		ix.w = nil
	}
}

const schema = `
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE tickets (
	id TEXT NOT NULL UNIQUE,
	number INTEGER NOT NULL,
	status TEXT NOT NULL,
	priority TEXT NOT NULL,
	type TEXT NOT NULL,
	channel TEXT NOT NULL,
	team_id TEXT NOT NULL,
	assignee_id TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	tier TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_message_at INTEGER NOT NULL,
	waiting_since INTEGER NOT NULL,
	due_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version INTEGER NOT NULL,
	doc BLOB NOT NULL,
	tags TEXT NOT NULL,
	header TEXT NOT NULL
);
CREATE INDEX tickets_activity ON tickets (last_message_at, id);
CREATE INDEX tickets_status_activity ON tickets (status, last_message_at, id);
CREATE INDEX tickets_assignee_activity ON tickets (assignee_id, status, last_message_at, id);
CREATE INDEX tickets_team_activity ON tickets (team_id, status, last_message_at, id);
CREATE INDEX tickets_customer ON tickets (customer_id, last_message_at, id);
CREATE INDEX tickets_created ON tickets (created_at, id);
CREATE INDEX tickets_status_created ON tickets (status, created_at, id);
CREATE INDEX tickets_waiting ON tickets (status, waiting_since, id);
CREATE INDEX tickets_due ON tickets (status, due_at, id);
CREATE INDEX tickets_number ON tickets (number);
CREATE TABLE ticket_tags (tag TEXT NOT NULL, ticket_id TEXT NOT NULL, PRIMARY KEY (tag, ticket_id)) WITHOUT ROWID;
CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);
CREATE TABLE customers (
	id TEXT PRIMARY KEY,
	name_key TEXT NOT NULL,
	tier TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	doc BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX customers_name ON customers (name_key, id);
CREATE TABLE docs (
	rowid INTEGER PRIMARY KEY,
	key TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	ticket_id TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	text TEXT NOT NULL,
	msg BLOB
);
CREATE INDEX docs_ticket ON docs (ticket_id) WHERE ticket_id <> '';
CREATE INDEX docs_customer ON docs (customer_id) WHERE kind = 'c';
CREATE VIRTUAL TABLE fts USING fts5(raw, st, content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 2', prefix='2 4');
`

func (ix *Index) createSchema() error {
	tx, err := ix.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(schema); err != nil {
		return fmt.Errorf("query: create schema: %w", err)
	}
	if _, err := tx.Exec(`INSERT INTO meta (k, v) VALUES ('schema', ?), ('complete', '0'), ('seq', '0')`, schemaVersion); err != nil {
		return err
	}
	return tx.Commit()
}

func (ix *Index) meta(k string) (string, error) {
	var v string
	err := ix.w.QueryRow(`SELECT v FROM meta WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (ix *Index) setMeta(k, v string) error {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	_, err := ix.w.Exec(`INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v)
	return err
}

func (ix *Index) loadGroups() error {
	rows, err := ix.w.Query(`SELECT status, team_id, assignee_id, count(*) FROM tickets GROUP BY 1, 2, 3`)
	if err != nil {
		return fmt.Errorf("query: load counts: %w", err)
	}
	defer rows.Close()
	g := map[groupKey]int{}
	for rows.Next() {
		var k groupKey
		var n int
		if err := rows.Scan(&k.status, &k.team, &k.assignee, &n); err != nil {
			return err
		}
		g[k] = n
	}
	ix.groupsMu.Lock()
	ix.groups = g
	ix.groupsMu.Unlock()
	return rows.Err()
}

// Rebuilding reports whether a rebuild from the store is running.
func (ix *Index) Rebuilding() bool { return ix.rebuilding.Load() }

// Len is the number of tickets in the index.
func (ix *Index) Len() int {
	ix.groupsMu.RLock()
	defer ix.groupsMu.RUnlock()
	n := 0
	for _, c := range ix.groups {
		n += c
	}
	return n
}

// Close stops feeding and closes the file. Safe to call more than once.
func (ix *Index) Close() error {
	ix.closed.Do(func() {
		ix.cancel()
		ix.wg.Wait()
		ix.closeDB()
	})
	return nil
}

// goRun runs f on a goroutine that Close waits for.
func (ix *Index) goRun(name string, f func(ctx context.Context) error) {
	ix.wg.Add(1)
	go func() {
		defer ix.wg.Done()
		if err := f(ix.ctx); err != nil && ix.ctx.Err() == nil {
			ix.log.Error("query: stopped", "part", name, "err", err)
		}
	}()
}
