// Package report keeps the figures of the Reports page: per-ticket facts
// (created, solved, first response and resolution in business hours, SLA
// met, CSAT score, returning customer) and per-message facts, in a SQLite
// file of this node's own in the data directory. It is a read model: fed by
// SVAR_EVENTS as things happen, rebuildable from the store at any time (a
// change of definition, a lost stream), never scanning the store per
// request. A summary reads only the index's rows in the asked range.
package report

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver (pure Go)

	"github.com/svar-dev/svar/ticketing"
)

// Calendars gives the business hours of a team ("" the shop's);
// ticketing/hours.Service implements it.
type Calendars interface {
	BusinessDuration(ctx context.Context, teamID string, a, b time.Time) (time.Duration, error)
	Location(ctx context.Context) (*time.Location, error)
}

// Store is what a rebuild reads.
type Store interface {
	ScanTickets(ctx context.Context, fn func(*ticketing.Ticket) error) error
	GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error)
}

// Events is the events stream.
type Events interface {
	SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error
	LastEventSeq(ctx context.Context) (uint64, error)
}

// Options configure an Index.
type Options struct {
	// Path is the SQLite file (DataDir/report.db); ":memory:" for tests.
	Path      string
	Store     Store
	Events    Events
	Calendars Calendars
	Logger    *slog.Logger
}

// Index is the report read model of one node.
type Index struct {
	o   Options
	db  *sql.DB
	log *slog.Logger
	mu  sync.Mutex // serialises writes
	// pending are hours whose buckets lag their facts: recomputed at most
	// every flushEvery while events arrive, and before every summary.
	pending   *dirty
	lastFlush time.Time
}

// flushEvery is how often the buckets of a busy hour are recomputed while
// events arrive (a summary recomputes what is pending first, so it never
// sees them lag): recomputing the current hour from its facts for each
// batch of events cost a quarter of a busy node's CPU.
const flushEvery = time.Second

const schema = `
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL DEFAULT '', gen INTEGER NOT NULL DEFAULT 1,
  channel TEXT NOT NULL DEFAULT '', type TEXT NOT NULL DEFAULT '', team TEXT NOT NULL DEFAULT '',
  assignee TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '',
  created INTEGER, solved INTEGER, first_in INTEGER, first_reply INTEGER,
  frt INTEGER, res INTEGER, sla INTEGER, csat INTEGER, version INTEGER NOT NULL DEFAULT 0);
DROP INDEX IF EXISTS tickets_created;
DROP INDEX IF EXISTS tickets_solved;
CREATE INDEX IF NOT EXISTS tickets_created_cov ON tickets(created, frt, sla, csat, gen, customer_id, channel, assignee, team, type);
CREATE INDEX IF NOT EXISTS tickets_solved_cov ON tickets(solved, res, channel, assignee, team, type);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status, created, team, channel);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, ticket_id TEXT NOT NULL, at INTEGER NOT NULL, dir INTEGER NOT NULL, counts INTEGER NOT NULL);
DROP INDEX IF EXISTS messages_at;
CREATE INDEX IF NOT EXISTS messages_at_cov ON messages(at, dir, ticket_id);
CREATE INDEX IF NOT EXISTS messages_ticket ON messages(ticket_id, dir, at);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
`

// Message directions in the index; counts marks what first response uses
// (a customer's own message, an agent's reply: no auto-replies, no
// system messages).
const (
	dirIn  = 1
	dirOut = 2
)

// Open opens (creating) the index file.
func Open(o Options) (*Index, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dsn := o.Path
	if dsn != ":memory:" {
		dsn = "file:" + filepath.ToSlash(o.Path) + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("report: open %s: %w", o.Path, err)
	}
	db.SetMaxOpenConns(1) // one file, one writer; queries are short
	if _, err := db.Exec(schema + bucketSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("report: schema: %w", err)
	}
	x := &Index{o: o, db: db, log: o.Logger, pending: newDirty(), lastFlush: time.Now()}
	if err := x.loadPending(); err != nil {
		db.Close()
		return nil, err
	}
	if x.meta("buckets") != bucketVersion { // a file from before these buckets: fill them from its facts
		if err := x.fillBuckets(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return x, nil
}

func (x *Index) fillBuckets() error {
	tx, err := x.begin(context.Background())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := recomputeBuckets(tx, 0, math.MaxInt64/bucketSecs); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO meta(k,v) VALUES('buckets',?)`, bucketVersion); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the file.
func (x *Index) Close() error { return x.db.Close() }

// loadPending reads the hours a stopped node left to recompute.
func (x *Index) loadPending() error {
	rows, err := x.db.Query(`SELECT kind, qh FROM dirty_hours`)
	if err != nil {
		return fmt.Errorf("report: dirty hours: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind int
		var q int64
		if err := rows.Scan(&kind, &q); err != nil {
			return err
		}
		switch kind {
		case hourCreated:
			x.pending.created[q] = struct{}{}
		case hourSolved:
			x.pending.solved[q] = struct{}{}
		case hourMessages:
			x.pending.messages[q] = struct{}{}
		}
	}
	return rows.Err()
}

// flushPending recomputes the pending hours' buckets (x.mu held).
func (x *Index) flushPending(ctx context.Context) error {
	x.lastFlush = time.Now()
	if len(x.pending.created)+len(x.pending.solved)+len(x.pending.messages) == 0 {
		return nil
	}
	tx, err := x.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := x.pending.recomputeHours(tx); err != nil {
		return err
	}
	if _, err := tx.Exec(`DELETE FROM dirty_hours`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	x.pending = newDirty()
	return nil
}

func (x *Index) meta(key string) string {
	var v string
	_ = x.db.QueryRow(`SELECT v FROM meta WHERE k=?`, key).Scan(&v)
	return v
}

// Run keeps the index current until ctx ends: a new (or never built)
// index is rebuilt from the store first; then it follows the events
// stream from the last event it applied.
func (x *Index) Run(ctx context.Context) error {
	from, _ := strconv.ParseUint(x.meta("seq"), 10, 64)
	if x.meta("built") == "" {
		seq, err := x.Rebuild(ctx)
		if err != nil {
			return err
		}
		from = seq
	}
	return x.follow(ctx, from)
}

// Rebuild recomputes every fact from the store (after a change of
// definition, or of business hours) and returns the events sequence it is
// current to.
func (x *Index) Rebuild(ctx context.Context) (uint64, error) {
	seq, err := x.o.Events.LastEventSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("report: rebuild: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	tx, err := x.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM tickets; DELETE FROM messages`); err != nil {
		return 0, err
	}
	d := newDirty()
	err = x.o.Store.ScanTickets(ctx, func(t *ticketing.Ticket) error {
		msgs, err := x.o.Store.GetMessages(ctx, t.MessageIDs)
		if err != nil {
			return err
		}
		return x.load(ctx, tx, t, msgs, d)
	})
	if err != nil {
		return 0, fmt.Errorf("report: rebuild: %w", err)
	}
	if err := recomputeBuckets(tx, 0, math.MaxInt64/bucketSecs); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO meta(k,v) VALUES('built',?),('seq',?)`, time.Now().UTC().Format(time.RFC3339), strconv.FormatUint(seq, 10)); err != nil {
		return 0, err
	}
	return seq, tx.Commit()
}

func (x *Index) load(ctx context.Context, tx *txn, t *ticketing.Ticket, msgs []*ticketing.Message, d *dirty) error {
	for _, m := range msgs {
		if _, err := insertMessage(tx, m, false, d); err != nil {
			return err
		}
	}
	return x.putTicket(ctx, tx, t, true, d)
}

// Load adds tickets with their messages (msgs[i] are tickets[i]'s) in one
// transaction, as a rebuild does: for seeding benchmarks and imports.
func (x *Index) Load(ctx context.Context, tickets []*ticketing.Ticket, msgs [][]*ticketing.Message) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	tx, err := x.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	d := newDirty()
	for i, t := range tickets {
		if err := x.load(ctx, tx, t, msgs[i], d); err != nil {
			return err
		}
	}
	if err := d.flush(tx); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO meta(k,v) VALUES('built',?)`, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	return tx.Commit()
}

// Apply takes one event into the index; applying it twice changes nothing.
func (x *Index) Apply(ctx context.Context, ev *ticketing.Event) error {
	return x.ApplyBatch(ctx, []*ticketing.Event{ev})
}

// insertMessage records a message's facts. A message that moved to another
// ticket (a merge or split) is moved, and the ticket it left is returned.
// Only an updated message (mayMove) can have moved.
func insertMessage(tx *txn, m *ticketing.Message, mayMove bool, d *dirty) (left string, err error) {
	dir, counts := 0, 0
	switch m.Direction {
	case ticketing.DirectionInbound:
		dir = dirIn
		if !m.Auto && m.Author.Kind != ticketing.AuthorSystem {
			counts = 1
		}
	case ticketing.DirectionOutbound:
		dir = dirOut
		if !m.Auto && m.Author.Kind == ticketing.AuthorAgent {
			counts = 1
		}
	default:
		return "", nil // notes are neither in nor out
	}
	at := m.CreatedAt.Unix()
	var was sql.NullString
	if mayMove {
		if err := tx.QueryRow(`SELECT ticket_id FROM messages WHERE id=?`, m.ID).Scan(&was); err != nil && err != sql.ErrNoRows {
			return "", err
		}
	}
	if was.Valid && was.String != m.TicketID {
		// Its grouped counts leave the old ticket's attributes for the
		// new one's (a ticket not indexed yet counts it when it comes).
		if err := moveUnder(tx, was.String, at, dir, -1, d); err != nil {
			return "", err
		}
		if _, err := tx.Exec(`UPDATE messages SET ticket_id=? WHERE id=?`, m.TicketID, m.ID); err != nil {
			return "", err
		}
		return was.String, moveUnder(tx, m.TicketID, at, dir, 1, d)
	}
	res, err := tx.Exec(`INSERT OR IGNORE INTO messages(id,ticket_id,at,dir,counts) VALUES(?,?,?,?,?)`,
		m.ID, m.TicketID, at, dir, counts)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", nil // known already
	}
	d.messages.add(sql.NullInt64{Int64: at, Valid: true})
	return "", moveUnder(tx, m.TicketID, at, dir, 1, d)
}

// moveUnder counts n messages (at, dir) in the grouped buckets under the
// attributes of ticketID; a ticket not indexed yet counts its messages
// when it comes (putTicket).
func moveUnder(tx *txn, ticketID string, at int64, dir, n int, d *dirty) error {
	var a attrs
	err := tx.QueryRow(`SELECT channel, assignee, team, type FROM tickets WHERE id=?`, ticketID).Scan(&a[0], &a[1], &a[2], &a[3])
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	d.move(a, at, dir, n)
	return nil
}

// moveMessages moves a ticket's messages in the grouped message buckets
// from attributes old (unless isNew) to now.
func moveMessages(tx *txn, ticketID string, old, now attrs, isNew bool, d *dirty) error {
	rs, err := tx.tx.QueryContext(tx.ctx, `SELECT at, dir FROM messages WHERE ticket_id = ?`, ticketID)
	if err != nil {
		return err
	}
	for rs.Next() {
		var at int64
		var dir int
		if err := rs.Scan(&at, &dir); err != nil {
			rs.Close()
			return err
		}
		if !isNew {
			d.move(old, at, dir, -1)
		}
		d.move(now, at, dir, 1)
	}
	return closeRows(rs)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

// generation is n of a ticket id "<customer>-<n>": the customer's nth
// ticket; above 1 the customer is returning.
func generation(id string) int {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return 1
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// putTicket stores a ticket's own facts (a newer version only, unless
// force) and recomputes its times.
func (x *Index) putTicket(ctx context.Context, tx *txn, t *ticketing.Ticket, force bool, d *dirty) error {
	// Its bucket facts before the change: a change of version that moves
	// none of them (a new message, a tag) leaves the buckets alone; one of
	// the attributes grouped buckets key by (an assignment, a new team)
	// moves its facts between keys.
	var oldCreated, oldSolved, oldSLA, oldCSAT sql.NullInt64
	var oldCustomer sql.NullString
	var old attrs
	err := tx.QueryRow(`SELECT created, solved, sla, csat, customer_id, channel, assignee, team, type FROM tickets WHERE id=?`, t.ID).
		Scan(&oldCreated, &oldSolved, &oldSLA, &oldCSAT, &oldCustomer, &old[0], &old[1], &old[2], &old[3])
	isNew := err == sql.ErrNoRows
	if err != nil && !isNew {
		return err
	}
	var sla, csat sql.NullInt64
	if t.SLA != nil && t.SLA.PolicyID != "" {
		sla = sql.NullInt64{Int64: 1, Valid: true}
		if len(t.SLA.Breaches) > 0 {
			sla.Int64 = 0
		}
	}
	if t.CSAT != nil {
		csat = sql.NullInt64{Int64: int64(t.CSAT.Score), Valid: true}
	}
	var solved sql.NullInt64
	if (t.Status == ticketing.StatusSolved || t.Status == ticketing.StatusClosed) && !t.SolvedAt.IsZero() {
		solved = sql.NullInt64{Int64: t.SolvedAt.Unix(), Valid: true}
	}
	created := sql.NullInt64{Int64: t.CreatedAt.Unix(), Valid: true}
	if t.MergedInto != "" {
		// A ticket merged into another is that one's conversation: it
		// counts neither as created nor as solved.
		created, solved = sql.NullInt64{}, sql.NullInt64{}
	}
	q := `INSERT INTO tickets(id,customer_id,gen,channel,type,team,assignee,status,created,solved,sla,csat,version)
	  VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)
	  ON CONFLICT(id) DO UPDATE SET customer_id=excluded.customer_id, gen=excluded.gen, channel=excluded.channel,
	  type=excluded.type, team=excluded.team, assignee=excluded.assignee, status=excluded.status, created=excluded.created,
	  solved=excluded.solved, sla=excluded.sla, csat=excluded.csat, version=excluded.version`
	if !force {
		q += ` WHERE excluded.version >= tickets.version`
	}
	r, err := tx.Exec(q, t.ID, t.CustomerID, generation(t.ID), string(t.Channel), t.Type, t.TeamID, t.AssigneeID, t.Status,
		nullInt(created), nullInt(solved), nullInt(sla), nullInt(csat), t.Version)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil // an older version than the index has
	}
	now := attrsOf(t)
	if oldCreated != created || oldSolved != solved || oldSLA != sla || oldCSAT != csat ||
		oldCustomer != (sql.NullString{String: t.CustomerID, Valid: true}) || now != old {
		d.ticket(oldCreated, oldSolved)
		d.ticket(created, solved)
	}
	if isNew || now != old {
		// Its messages count under its attributes in the grouped buckets:
		// move them from the old ones (none when new).
		if err := moveMessages(tx, t.ID, old, now, isNew, d); err != nil {
			return err
		}
	}
	return x.refreshTimes(ctx, tx, t.ID, d)
}

// refreshTimes recomputes a ticket's first response (business time from
// the first customer message to the first agent reply after it) and
// resolution (business time from creation to solve).
func (x *Index) refreshTimes(ctx context.Context, tx *txn, id string, d *dirty) error {
	var team string
	var created, solved, oldIn, oldReply, oldFrt, oldRes, firstIn, firstReply sql.NullInt64
	err := tx.QueryRow(`SELECT team, created, solved, first_in, first_reply, frt, res FROM tickets WHERE id=?`, id).
		Scan(&team, &created, &solved, &oldIn, &oldReply, &oldFrt, &oldRes)
	if err == sql.ErrNoRows {
		return nil // its ticket event comes, and recomputes
	}
	if err != nil {
		return err
	}
	if err := tx.QueryRow(`SELECT MIN(at) FROM messages WHERE ticket_id=? AND dir=? AND counts=1`, id, dirIn).Scan(&firstIn); err != nil {
		return err
	}
	if firstIn.Valid {
		if err := tx.QueryRow(`SELECT MIN(at) FROM messages WHERE ticket_id=? AND dir=? AND counts=1 AND at>=?`, id, dirOut, firstIn.Int64).Scan(&firstReply); err != nil {
			return err
		}
	}
	var frt, res sql.NullInt64
	if firstIn.Valid && firstReply.Valid {
		d, err := x.o.Calendars.BusinessDuration(ctx, team, time.Unix(firstIn.Int64, 0), time.Unix(firstReply.Int64, 0))
		if err != nil {
			return err
		}
		frt = sql.NullInt64{Int64: int64(d / time.Second), Valid: true}
	}
	if created.Valid && solved.Valid {
		d, err := x.o.Calendars.BusinessDuration(ctx, team, time.Unix(created.Int64, 0), time.Unix(solved.Int64, 0))
		if err != nil {
			return err
		}
		res = sql.NullInt64{Int64: int64(d / time.Second), Valid: true}
	}
	if firstIn == oldIn && firstReply == oldReply && frt == oldFrt && res == oldRes {
		return nil // a message that changes no time (most of them) leaves the buckets alone
	}
	d.ticket(created, solved)
	_, err = tx.Exec(`UPDATE tickets SET first_in=?, first_reply=?, frt=?, res=? WHERE id=?`,
		nullInt(firstIn), nullInt(firstReply), nullInt(frt), nullInt(res), id)
	return err
}

func nullInt(n sql.NullInt64) any {
	if !n.Valid {
		return nil
	}
	return n.Int64
}
