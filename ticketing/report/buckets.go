package report

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Hour buckets: the facts of each UTC hour pre-aggregated (counts, and
// the exact first response and resolution values and returning customers
// as lists), recomputed from the facts whenever a fact in that hour
// changes. Most time zones' midnights fall on a UTC hour, so a summary by
// day (or over the whole range) reads one bucket row per hour instead of
// one row per fact; the parts of the range that do not fill a bucket
// (unaligned from/to, the hour of a midnight at :30 or :45 in zones such
// as India or Nepal) are read from the facts, so figures stay exact.
//
// Grouped buckets (gbucket_*) are the same per hour and per key of each
// attribute a summary groups by (channel, agent, team, type): a grouped
// summary reads one row per hour and key. A message counts under its
// ticket's current attributes, so a ticket whose attributes change (or
// that arrives after its messages) dirties the hours of its messages too.
const bucketSecs = 3600

// bucketVersion is stored in meta "buckets"; a file from before the
// current layout has its buckets filled from its facts at Open.
const bucketVersion = "3600/g1"

const bucketSchema = `
CREATE TABLE IF NOT EXISTS dirty_hours (kind INTEGER NOT NULL, qh INTEGER NOT NULL, PRIMARY KEY (kind, qh));
CREATE TABLE IF NOT EXISTS bucket_created (qh INTEGER PRIMARY KEY, n INTEGER NOT NULL, sla_n INTEGER NOT NULL,
  sla_met INTEGER NOT NULL, csat_n INTEGER NOT NULL, csat_good INTEGER NOT NULL, frt TEXT, ret TEXT);
CREATE TABLE IF NOT EXISTS bucket_solved (qh INTEGER PRIMARY KEY, n INTEGER NOT NULL, res TEXT);
CREATE TABLE IF NOT EXISTS bucket_messages (qh INTEGER PRIMARY KEY, n_in INTEGER NOT NULL, n_out INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gbucket_created (dim INTEGER NOT NULL, qh INTEGER NOT NULL, k TEXT NOT NULL, n INTEGER NOT NULL,
  sla_n INTEGER NOT NULL, sla_met INTEGER NOT NULL, csat_n INTEGER NOT NULL, csat_good INTEGER NOT NULL, frt TEXT, ret TEXT,
  PRIMARY KEY (dim, qh, k)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gbucket_solved (dim INTEGER NOT NULL, qh INTEGER NOT NULL, k TEXT NOT NULL, n INTEGER NOT NULL, res TEXT,
  PRIMARY KEY (dim, qh, k)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gbucket_messages (dim INTEGER NOT NULL, qh INTEGER NOT NULL, k TEXT NOT NULL, n_in INTEGER NOT NULL,
  n_out INTEGER NOT NULL, PRIMARY KEY (dim, qh, k)) WITHOUT ROWID;
`

// dim is an attribute a summary groups by, kept in grouped buckets.
type dim struct {
	group string // the group_by value
	id    int    // its number in the gbucket tables
	col   string // the tickets column
}

var dims = []dim{{"channel", 1, "channel"}, {"agent", 2, "assignee"}, {"team", 3, "team"}, {"type", 4, "type"}}

// dimOf is the grouped buckets' attribute of a group_by (ok false for
// day and none).
func dimOf(group string) (dim, bool) {
	for _, d := range dims {
		if d.group == group {
			return d, true
		}
	}
	return dim{}, false
}

// hourSet is a set of hours (unix time / bucketSecs).
type hourSet map[int64]struct{}

func (h hourSet) add(unix sql.NullInt64) {
	if unix.Valid && unix.Int64 >= 0 {
		h[unix.Int64/bucketSecs] = struct{}{}
	}
}

// runs calls fn for each run of adjacent hours [lo, hi), in order.
func (h hourSet) runs(fn func(lo, hi int64) error) error {
	qs := make([]int64, 0, len(h))
	for q := range h {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i] < qs[j] })
	for i := 0; i < len(qs); {
		j := i + 1
		for j < len(qs) && qs[j] == qs[j-1]+1 {
			j++
		}
		if err := fn(qs[i], qs[j-1]+1); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// gcell is one grouped message bucket.
type gcell struct {
	dim int
	qh  int64
	key string
}

// dirty is what a transaction changed: the hours whose ticket facts by
// creation and by solve, and whose messages, moved (their buckets are
// recomputed from the facts), and the counts of messages to move between
// the grouped message buckets' keys (kept incrementally: recomputing them
// joins every message of an hour with its ticket, four times, for each
// batch of events).
type dirty struct {
	created, solved, messages hourSet
	moves                     map[gcell][2]int // in, out
}

func newDirty() *dirty {
	return &dirty{created: hourSet{}, solved: hourSet{}, messages: hourSet{}, moves: map[gcell][2]int{}}
}

// ticket marks both hours of a ticket's facts.
func (d *dirty) ticket(created, solved sql.NullInt64) {
	d.created.add(created)
	d.solved.add(solved)
}

// attrs are a ticket's attributes that grouped buckets key by, in dims
// order.
type attrs [4]string

func attrsOf(t *ticketing.Ticket) attrs {
	return attrs{string(t.Channel), t.AssigneeID, t.TeamID, t.Type}
}

// move counts messages (at, dir) under a: n is +1 or -1 per message.
func (d *dirty) move(a attrs, at int64, dir, n int) {
	for i, dm := range dims {
		c := gcell{dm.id, at / bucketSecs, a[i]}
		v := d.moves[c]
		if dir == dirIn {
			v[0] += n
		} else {
			v[1] += n
		}
		d.moves[c] = v
	}
}

// flush recomputes the dirty buckets from the facts, a run of adjacent
// hours at a time, and applies the grouped message moves.
func (d *dirty) flush(tx *txn) error {
	if err := d.recomputeHours(tx); err != nil {
		return err
	}
	if err := d.applyMoves(tx); err != nil {
		return err
	}
	*d = *newDirty()
	return nil
}

// recomputeHours recomputes the buckets of d's hours from the facts.
func (d *dirty) recomputeHours(tx *txn) error {
	if err := d.created.runs(func(lo, hi int64) error { return recompute(tx, lo, hi, createdStmts, true) }); err != nil {
		return err
	}
	if err := d.solved.runs(func(lo, hi int64) error { return recompute(tx, lo, hi, solvedStmts, true) }); err != nil {
		return err
	}
	return d.messages.runs(func(lo, hi int64) error { return recompute(tx, lo, hi, messageStmts, false) })
}

// applyMoves applies d's grouped message counts (deltas: once each).
func (d *dirty) applyMoves(tx *txn) error {
	for c, v := range d.moves {
		if v == [2]int{} {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO gbucket_messages(dim, qh, k, n_in, n_out) VALUES(?, ?, ?, ?, ?)
		  ON CONFLICT(dim, qh, k) DO UPDATE SET n_in = n_in + excluded.n_in, n_out = n_out + excluded.n_out`,
			c.dim, c.qh, c.key, v[0], v[1]); err != nil {
			return fmt.Errorf("report: grouped message buckets: %w", err)
		}
		if _, err := tx.Exec(`DELETE FROM gbucket_messages WHERE dim = ? AND qh = ? AND k = ? AND n_in = 0 AND n_out = 0`,
			c.dim, c.qh, c.key); err != nil {
			return fmt.Errorf("report: grouped message buckets: %w", err)
		}
	}
	clear(d.moves)
	return nil
}

// Kinds of hour in dirty_hours.
const (
	hourCreated = iota + 1
	hourSolved
	hourMessages
)

// keepHours merges d's hours into pending and records them in dirty_hours
// (in tx, with the facts that dirtied them), so that a node stopped before
// the next recomputation still makes it at its next start.
func (d *dirty) keepHours(tx *txn, pending *dirty) error {
	for kind, set := range map[int]hourSet{hourCreated: d.created, hourSolved: d.solved, hourMessages: d.messages} {
		into := map[int]hourSet{hourCreated: pending.created, hourSolved: pending.solved, hourMessages: pending.messages}[kind]
		for q := range set {
			if _, ok := into[q]; ok {
				continue
			}
			if _, err := tx.Exec(`INSERT OR IGNORE INTO dirty_hours(kind, qh) VALUES(?, ?)`, kind, q); err != nil {
				return fmt.Errorf("report: dirty hours: %w", err)
			}
			into[q] = struct{}{}
		}
	}
	return nil
}

// The statements that recompute one kind of bucket for hours [?3, ?4)
// (facts in [?1, ?2), ?5 the bucket width): ungrouped, then grouped by
// the attribute column COL (dimension ?6).
var (
	createdStmts = []string{
		`DELETE FROM bucket_created WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_created SELECT created/?5, COUNT(*), COUNT(sla), COALESCE(SUM(sla), 0), COUNT(csat),
		  COUNT(CASE WHEN csat >= 4 THEN 1 END), group_concat(frt, ','), group_concat(CASE WHEN gen > 1 THEN customer_id END, char(31))
		  FROM tickets WHERE created >= ?1 AND created < ?2 GROUP BY created/?5`,
		`DELETE FROM gbucket_created WHERE dim = ?6 AND qh >= ?3 AND qh < ?4`,
		`INSERT INTO gbucket_created SELECT ?6, created/?5, COL, COUNT(*), COUNT(sla), COALESCE(SUM(sla), 0), COUNT(csat),
		  COUNT(CASE WHEN csat >= 4 THEN 1 END), group_concat(frt, ','), group_concat(CASE WHEN gen > 1 THEN customer_id END, char(31))
		  FROM tickets WHERE created >= ?1 AND created < ?2 GROUP BY created/?5, COL`,
	}
	solvedStmts = []string{
		`DELETE FROM bucket_solved WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_solved SELECT solved/?5, COUNT(*), group_concat(res, ',') FROM tickets
		  WHERE solved >= ?1 AND solved < ?2 GROUP BY solved/?5`,
		`DELETE FROM gbucket_solved WHERE dim = ?6 AND qh >= ?3 AND qh < ?4`,
		`INSERT INTO gbucket_solved SELECT ?6, solved/?5, COL, COUNT(*), group_concat(res, ',') FROM tickets
		  WHERE solved >= ?1 AND solved < ?2 GROUP BY solved/?5, COL`,
	}
	messageStmts = []string{
		`DELETE FROM bucket_messages WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_messages SELECT at/?5, COUNT(CASE WHEN dir = 1 THEN 1 END), COUNT(CASE WHEN dir <> 1 THEN 1 END)
		  FROM messages WHERE at >= ?1 AND at < ?2 GROUP BY at/?5`,
		`DELETE FROM gbucket_messages WHERE dim = ?6 AND qh >= ?3 AND qh < ?4`,
		`INSERT INTO gbucket_messages SELECT ?6, m.at/?5, tk.COL, COUNT(CASE WHEN m.dir = 1 THEN 1 END),
		  COUNT(CASE WHEN m.dir <> 1 THEN 1 END) FROM messages m JOIN tickets tk ON tk.id = m.ticket_id
		  WHERE m.at >= ?1 AND m.at < ?2 GROUP BY m.at/?5, tk.COL`,
	}
)

// recompute runs one kind's statements for hours [lo, hi): the two
// ungrouped ones, and the grouped ones for every dimension when grouped
// (message buckets are grouped incrementally by flush, and from the
// facts only by recomputeBuckets).
func recompute(tx *txn, lo, hi int64, stmts []string, grouped bool) error {
	a, b := lo*bucketSecs, hi*bucketSecs
	for _, s := range stmts[:2] {
		if _, err := tx.Exec(s, a, b, lo, hi, int64(bucketSecs)); err != nil {
			return fmt.Errorf("report: buckets: %w", err)
		}
	}
	if !grouped {
		return nil
	}
	for _, d := range dims {
		for _, s := range stmts[2:] {
			// d.col is one of the fixed column names of dims, never input.
			if _, err := tx.Exec(strings.ReplaceAll(s, "COL", d.col), a, b, lo, hi, int64(bucketSecs), d.id); err != nil {
				return fmt.Errorf("report: %s buckets: %w", d.group, err)
			}
		}
	}
	return nil
}

// recomputeBuckets rebuilds every bucket of hours [lo, hi) from the
// facts, ungrouped and grouped by every attribute (a rebuild, a file
// from before these buckets).
func recomputeBuckets(tx *txn, lo, hi int64) error {
	for _, stmts := range [][]string{createdStmts, solvedStmts, messageStmts} {
		if err := recompute(tx, lo, hi, stmts, true); err != nil {
			return err
		}
	}
	return nil
}

// keyer buckets rows of a query.
type keyer struct {
	group  string
	loc    *time.Location
	starts []int64 // unix starts of local days, ascending (day grouping)
	keys   []string
}

func newKeyer(q Query) *keyer {
	k := &keyer{group: q.GroupBy, loc: q.Location}
	if k.group == "day" {
		y, m, d := q.From.In(k.loc).Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, k.loc)
		for day.Before(q.To) {
			k.starts = append(k.starts, day.Unix())
			k.keys = append(k.keys, day.Format("2006-01-02"))
			y, m, d = day.Date()
			day = time.Date(y, m, d+1, 0, 0, 0, 0, k.loc) // DST-correct: the next local midnight
		}
	}
	return k
}

func (k *keyer) dayKey(at int64) string {
	i := sort.Search(len(k.starts), func(i int) bool { return k.starts[i] > at }) - 1
	if i < 0 {
		return k.keys[0]
	}
	return k.keys[i]
}

func (k *keyer) key(at int64, channel, assignee, team, typ string) string {
	switch k.group {
	case "day":
		return k.dayKey(at)
	case "channel":
		return channel
	case "agent":
		return assignee
	case "team":
		return team
	case "type":
		return typ
	}
	return "all"
}

// acc is a summary being added up in Go: from buckets and from facts.
type acc struct {
	k    *keyer
	rows map[string]*Row
	frt  map[*Row][]int64
	res  map[*Row][]int64
	ret  map[*Row]map[string]bool
}

func (a *acc) row(key string) *Row {
	r := a.rows[key]
	if r == nil {
		r = &Row{Key: key}
		a.rows[key] = r
		a.ret[r] = map[string]bool{}
	}
	return r
}

func appendList(vs []int64, list sql.NullString) []int64 {
	if !list.Valid || list.String == "" {
		return vs
	}
	for _, s := range strings.Split(list.String, ",") {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			vs = append(vs, v)
		}
	}
	return vs
}

// summaryBuckets answers a summary from the buckets (by day or over the
// whole range from the hour buckets, by an attribute from the grouped
// ones), and from the facts for what does not fill a bucket.
func (x *Index) summaryBuckets(ctx context.Context, q Query) ([]*Row, error) {
	// The buckets of hours whose facts changed lately first.
	if err := x.FlushPending(ctx); err != nil {
		return nil, err
	}
	k := newKeyer(q)
	d, grouped := dimOf(q.GroupBy)
	// bucketSQL reads a bucket table's hours [lo, hi): ungrouped one row
	// per hour with '' as the key; grouped, SQLite adds the hours up per
	// key (no hour of [lo, hi) is read from the facts when grouped: only
	// the unaligned ends are, and they lie outside it), so Go sees one row
	// per key.
	bucketSQL := func(table, cols, sums string) (string, []any) {
		if grouped {
			return `SELECT -1, ` + sums + `, k FROM g` + table + ` WHERE dim = ? AND qh >= ? AND qh < ? GROUP BY k`, []any{d.id}
		}
		return `SELECT qh, ` + cols + `, '' FROM ` + table + ` WHERE qh >= ? AND qh < ?`, nil
	}
	keyOf := func(qh int64, key string) string {
		if qh < 0 {
			return key
		}
		return k.key(qh*bucketSecs, "", "", "", "")
	}
	a := &acc{k: k, rows: map[string]*Row{}, frt: map[*Row][]int64{}, res: map[*Row][]int64{}, ret: map[*Row]map[string]bool{}}
	for _, key := range k.keys { // every day, even a quiet one
		a.row(key)
	}
	if q.GroupBy == "none" {
		a.row("all")
	}
	from, to := q.From.Unix(), q.To.Unix()
	lo, hi := (from+bucketSecs-1)/bucketSecs, to/bucketSecs
	raw := map[int64]bool{} // hours read from the facts
	if lo > hi {
		lo = hi
	}
	if from%bucketSecs != 0 {
		raw[from/bucketSecs] = true
	}
	if to%bucketSecs != 0 {
		raw[to/bucketSecs] = true
	}
	for _, s := range k.starts {
		if s > from && s < to && s%bucketSecs != 0 {
			raw[s/bucketSecs] = true
		}
	}
	if lo == hi && from/bucketSecs == to/bucketSecs {
		raw = map[int64]bool{from / bucketSecs: true}
	}
	for qh := range raw {
		s, e := max(qh*bucketSecs, from), min(qh*bucketSecs+bucketSecs, to)
		if s < e {
			if err := x.addFacts(ctx, a, s, e, grouped); err != nil {
				return nil, err
			}
		}
	}
	query, args := bucketSQL("bucket_created", "n, sla_n, sla_met, csat_n, csat_good, frt, ret",
		"SUM(n), SUM(sla_n), SUM(sla_met), SUM(csat_n), SUM(csat_good), group_concat(frt, ','), group_concat(ret, char(31))")
	err := x.each(ctx, query, append(args, lo, hi), func(rs *sql.Rows) error {
		var qh int64
		var n, slaN, slaMet, csatN, csatGood int
		var frt, ret sql.NullString
		var key string
		if err := rs.Scan(&qh, &n, &slaN, &slaMet, &csatN, &csatGood, &frt, &ret, &key); err != nil {
			return err
		}
		if raw[qh] {
			return nil
		}
		r := a.row(keyOf(qh, key))
		r.TicketsCreated += n
		r.slaN += slaN
		r.slaMet += slaMet
		r.CSATResponses += csatN
		r.csatGood += csatGood
		a.frt[r] = appendList(a.frt[r], frt)
		if ret.Valid && ret.String != "" {
			for _, c := range strings.Split(ret.String, "\x1f") {
				a.ret[r][c] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: created buckets: %w", err)
	}
	query, args = bucketSQL("bucket_solved", "n, res", "SUM(n), group_concat(res, ',')")
	err = x.each(ctx, query, append(args, lo, hi), func(rs *sql.Rows) error {
		var qh int64
		var n int
		var res sql.NullString
		var key string
		if err := rs.Scan(&qh, &n, &res, &key); err != nil {
			return err
		}
		if raw[qh] {
			return nil
		}
		r := a.row(keyOf(qh, key))
		r.TicketsSolved += n
		a.res[r] = appendList(a.res[r], res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: solved buckets: %w", err)
	}
	query, args = bucketSQL("bucket_messages", "n_in, n_out", "SUM(n_in), SUM(n_out)")
	err = x.each(ctx, query, append(args, lo, hi), func(rs *sql.Rows) error {
		var qh int64
		var in, out int
		var key string
		if err := rs.Scan(&qh, &in, &out, &key); err != nil {
			return err
		}
		if raw[qh] {
			return nil
		}
		r := a.row(keyOf(qh, key))
		r.MessagesIn += in
		r.MessagesOut += out
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: message buckets: %w", err)
	}
	out := make([]*Row, 0, len(a.rows))
	for _, r := range a.rows {
		r.FirstResponseP50, r.FirstResponseP90 = percentile(a.frt[r], 0.5), percentile(a.frt[r], 0.9)
		r.ResolutionP50 = percentile(a.res[r], 0.5)
		r.SLAMetRatio = ratio(r.slaMet, r.slaN)
		r.CSATScore = ratio(r.csatGood, r.CSATResponses)
		r.ReturningCustomers = len(a.ret[r])
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// addFacts adds the facts of [s, e) (a part of an hour) row by row;
// grouped, messages count through their ticket (as in the grouped
// buckets).
func (x *Index) addFacts(ctx context.Context, a *acc, s, e int64, grouped bool) error {
	err := x.each(ctx, `SELECT created, customer_id, gen, frt, sla, csat, channel, assignee, team, type FROM tickets
	  WHERE created >= ? AND created < ?`, []any{s, e},
		func(rs *sql.Rows) error {
			var at int64
			var cust, ch, as, team, typ string
			var gen int
			var frt, sla, csat sql.NullInt64
			if err := rs.Scan(&at, &cust, &gen, &frt, &sla, &csat, &ch, &as, &team, &typ); err != nil {
				return err
			}
			r := a.row(a.k.key(at, ch, as, team, typ))
			r.TicketsCreated++
			if frt.Valid {
				a.frt[r] = append(a.frt[r], frt.Int64)
			}
			if sla.Valid {
				r.slaN++
				r.slaMet += int(sla.Int64)
			}
			if csat.Valid {
				r.CSATResponses++
				if csat.Int64 >= 4 {
					r.csatGood++
				}
			}
			if gen > 1 {
				a.ret[r][cust] = true
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("report: created: %w", err)
	}
	err = x.each(ctx, `SELECT solved, res, channel, assignee, team, type FROM tickets WHERE solved >= ? AND solved < ?`, []any{s, e},
		func(rs *sql.Rows) error {
			var at int64
			var res sql.NullInt64
			var ch, as, team, typ string
			if err := rs.Scan(&at, &res, &ch, &as, &team, &typ); err != nil {
				return err
			}
			r := a.row(a.k.key(at, ch, as, team, typ))
			r.TicketsSolved++
			if res.Valid {
				a.res[r] = append(a.res[r], res.Int64)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("report: solved: %w", err)
	}
	mq := `SELECT at, dir, '', '', '', '' FROM messages WHERE at >= ? AND at < ?`
	if grouped {
		mq = `SELECT m.at, m.dir, tk.channel, tk.assignee, tk.team, tk.type FROM messages m JOIN tickets tk ON tk.id = m.ticket_id
		  WHERE m.at >= ? AND m.at < ?`
	}
	err = x.each(ctx, mq, []any{s, e}, func(rs *sql.Rows) error {
		var at int64
		var dir int
		var ch, as, team, typ string
		if err := rs.Scan(&at, &dir, &ch, &as, &team, &typ); err != nil {
			return err
		}
		r := a.row(a.k.key(at, ch, as, team, typ))
		if dir == dirIn {
			r.MessagesIn++
		} else {
			r.MessagesOut++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report: messages: %w", err)
	}
	return nil
}

// percentile is the nearest-rank percentile of vs (sorted in place).
func percentile(vs []int64, p float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	rank := int(math.Ceil(p * float64(len(vs))))
	if rank < 1 {
		rank = 1
	}
	v := float64(vs[rank-1])
	return &v
}
