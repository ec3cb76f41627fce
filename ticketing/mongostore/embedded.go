package mongostore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB uses; IndexIDs opens the same files
)

// EmbeddedOptions configure StartEmbedded. The zero value of every field but
// DataDir is a documented default.
type EmbeddedOptions struct {
	// DataDir is the data directory; the store keeps its SQLite files in
	// DataDir/ferretdb. Required.
	DataDir string
	// Addr is the TCP address to listen on, loopback only. Default
	// 127.0.0.1:0 (a port the OS picks).
	Addr string
	// Logger receives the server's errors; nil discards them.
	Logger *slog.Logger
}

// Embedded is a MongoDB-wire-compatible server (FerretDB v1 on SQLite)
// running inside this process. Stores opened with Options.Embedded set to it
// share its document locks; see the package documentation.
type Embedded struct {
	dir    string // DataDir/ferretdb
	uri    string
	locks  *docLocks
	domain string // names its locks among the store's processes (CheckSharing)
	ckpt   *checkpointer

	cancel    context.CancelFunc
	done      chan struct{} // closed when Run has returned
	closeOnce sync.Once
}

// embeddedStartTimeout bounds how long StartEmbedded waits for the server to
// answer its first ping.
const embeddedStartTimeout = 15 * time.Second

// StartEmbedded starts the embedded server and returns once it answers. The
// caller owns it and must Close it after closing every Store that uses it.
func StartEmbedded(ctx context.Context, o EmbeddedOptions) (*Embedded, error) {
	if o.DataDir == "" {
		return nil, errors.New("mongostore: start embedded: DataDir is empty")
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("mongostore: start embedded: %w", err)
	}
	dir, err := filepath.Abs(filepath.Join(o.DataDir, "ferretdb"))
	if err != nil {
		return nil, fmt.Errorf("mongostore: start embedded: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mongostore: start embedded: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = slog.New(&serverLogHandler{Handler: logger.Handler()})

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(dir) + "/" + sqlitePragmas,
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("mongostore: start embedded on %s: %w", addr, err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	e := &Embedded{
		dir:    dir,
		uri:    f.MongoDBURI(),
		locks:  newDocLocks(),
		domain: newDomain(),
		ckpt:   startCheckpointer(dir, logger),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(e.done)
		_ = f.Run(runCtx) // always nil; it stops when runCtx is cancelled
	}()

	if err := e.waitReady(ctx); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("mongostore: start embedded on %s: %w", addr, err)
	}
	return e, nil
}

// checkLoopback refuses addresses that would expose the unauthenticated
// embedded server beyond this machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not a loopback address: the embedded store has no authentication and listens on loopback only (use 127.0.0.1:<port>)", addr)
	}
	return nil
}

// waitReady pings the server until it answers, the context ends or the start
// timeout passes.
func (e *Embedded) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, embeddedStartTimeout)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(e.uri).SetServerSelectionTimeout(embeddedStartTimeout))
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	for {
		err := client.Ping(ctx, nil)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server does not answer: %w", err)
		case <-e.done:
			return errors.New("server stopped during start-up")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// URI is the mongodb:// URI of the server.
func (e *Embedded) URI() string { return e.uri }

// Close stops the server and waits until it has stopped and closed its
// files. Clients still connected delay it by a few seconds, so close the
// stores first. Close is safe to call more than once.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		e.ckpt.stop()
		e.cancel()
		<-e.done
	})
	return nil
}

// idIndexSuffix names the expression index IndexIDs adds to each table.
const idIndexSuffix = "_svar_id"

// dbNameRE is the database names FerretDB accepts; anything else could
// escape the data directory when it becomes a file name.
var dbNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)

// IndexIDs gives every collection of database dbName an SQLite index on the
// exact expression FerretDB uses to push down an {_id: X} filter
// (_ferretdb_sjson->'$._id'). FerretDB's own _id index is on a different
// expression (_ferretdb_sjson->"_id"), so without this every _id lookup,
// update and delete scans the whole table. Idempotent; call it after the
// collections exist (Open does).
func (e *Embedded) IndexIDs(ctx context.Context, dbName string) error {
	db, tables, err := e.openSQLite(ctx, dbName)
	if err != nil {
		return fmt.Errorf("mongostore: index ids of %s: %w", dbName, err)
	}
	if db == nil {
		return nil // no collections yet
	}
	defer db.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`,
			quoteIdent(t.table+idIndexSuffix), quoteIdent(t.table))
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mongostore: index ids of %s.%s: %w", dbName, t.collection, err)
		}
	}
	return nil
}

// sqliteTable is one row of FerretDB's collection catalogue.
type sqliteTable struct{ collection, table string }

// openSQLite opens database dbName's SQLite file beside the running server
// and reads its collection catalogue. It returns a nil *sql.DB when the
// database does not exist yet; it never creates the file.
func (e *Embedded) openSQLite(ctx context.Context, dbName string) (*sql.DB, []sqliteTable, error) {
	if !dbNameRE.MatchString(dbName) {
		return nil, nil, fmt.Errorf("invalid database name %q", dbName)
	}
	file := filepath.Join(e.dir, dbName+".sqlite")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	defer rows.Close()
	var tables []sqliteTable
	for rows.Next() {
		var t sqliteTable
		if err := rows.Scan(&t.collection, &t.table); err != nil {
			db.Close()
			return nil, nil, err
		}
		tables = append(tables, t)
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, tables, nil
}

// explainIDLookup returns SQLite's query plan for the statement FerretDB
// runs for FindOne({_id: X}) on collection, for tests that prove IndexIDs
// works.
func (e *Embedded) explainIDLookup(ctx context.Context, dbName, collection string) (string, error) {
	db, tables, err := e.openSQLite(ctx, dbName)
	if err != nil {
		return "", err
	}
	if db == nil {
		return "", fmt.Errorf("database %s does not exist", dbName)
	}
	defer db.Close()
	for _, t := range tables {
		if t.collection != collection {
			continue
		}
		rows, err := db.QueryContext(ctx, fmt.Sprintf(
			`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %s WHERE _ferretdb_sjson->'$._id' = ?`, quoteIdent(t.table)), `"x"`)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return "", err
			}
			plan = append(plan, detail)
		}
		return strings.Join(plan, "; "), rows.Err()
	}
	return "", fmt.Errorf("collection %s.%s does not exist", dbName, collection)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// docLocks serialises read-modify-write operations on one document.
//
// FerretDB v1 runs findAndModify and update as a read followed by a
// separate write, so two concurrent $inc or $addToSet on one document lose
// one of the changes. Every Store opened on the same Embedded takes the
// document's lock around such an operation. The locks are striped by
// collection and _id; an operation holds at most one at a time, so there is
// no lock order to get wrong.
type docLocks struct {
	stripes [64]chan struct{}
}

func newDocLocks() *docLocks {
	l := new(docLocks)
	for i := range l.stripes {
		l.stripes[i] = make(chan struct{}, 1)
	}
	return l
}

// lock takes the lock of document id in collection coll and returns its
// release function. A nil *docLocks (an external server, which updates
// atomically) locks nothing.
func (l *docLocks) lock(ctx context.Context, coll, id string) (func(), error) {
	if l == nil {
		return func() {}, nil
	}
	h := fnv.New32a()
	h.Write([]byte(coll))
	h.Write([]byte{0})
	h.Write([]byte(id))
	c := l.stripes[h.Sum32()%uint32(len(l.stripes))]
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// serverLogHandler passes on the embedded server's errors only, and drops
// the one it logs whenever a driver disconnects (it does not know the
// endSessions command).
//
// FerretDB derives a logger with attributes for every connection and
// command. A handler formats attributes when they are added, which cost
// about 5% of the server's CPU under load for records that are almost never
// written; so the attributes wait in ops until a record is handled.
type serverLogHandler struct {
	slog.Handler         // without ops
	ops          []logOp // WithAttrs and WithGroup calls not applied yet
}

// logOp is one WithAttrs (attrs set) or WithGroup call.
type logOp struct {
	group string
	attrs []slog.Attr
}

func (h *serverLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h *serverLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "endSessions") {
		return nil
	}
	drop := false
	r.Attrs(func(a slog.Attr) bool {
		if strings.Contains(a.Value.String(), "endSessions") {
			drop = true
			return false
		}
		return true
	})
	if drop {
		return nil
	}
	hh := h.Handler
	for _, op := range h.ops {
		if op.attrs != nil {
			hh = hh.WithAttrs(op.attrs)
		} else {
			hh = hh.WithGroup(op.group)
		}
	}
	return hh.Handle(ctx, r)
}

func (h *serverLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return &serverLogHandler{Handler: h.Handler, ops: append(slices.Clip(h.ops), logOp{attrs: slices.Clone(as)})}
}

func (h *serverLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &serverLogHandler{Handler: h.Handler, ops: append(slices.Clip(h.ops), logOp{group: name})}
}
