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
)

// Hour buckets: the facts of each UTC hour pre-aggregated (counts, and
// the exact first response and resolution values and returning customers
// as lists), recomputed from the facts whenever a fact in that hour
// changes. Most time zones' midnights fall on a UTC hour, so a summary by
// day (or over the whole range) reads one bucket row per hour instead of
// one row per fact; the parts of the range that do not fill a bucket
// (unaligned from/to, the hour of a midnight at :30 or :45 in zones such
// as India or Nepal) are read from the facts, so figures stay exact.
const bucketSecs = 3600

const bucketSchema = `
CREATE TABLE IF NOT EXISTS bucket_created (qh INTEGER PRIMARY KEY, n INTEGER NOT NULL, sla_n INTEGER NOT NULL,
  sla_met INTEGER NOT NULL, csat_n INTEGER NOT NULL, csat_good INTEGER NOT NULL, frt TEXT, ret TEXT);
CREATE TABLE IF NOT EXISTS bucket_solved (qh INTEGER PRIMARY KEY, n INTEGER NOT NULL, res TEXT);
CREATE TABLE IF NOT EXISTS bucket_messages (qh INTEGER PRIMARY KEY, n_in INTEGER NOT NULL, n_out INTEGER NOT NULL);
`

// dirty is the set of hours whose facts a transaction changed.
type dirty map[int64]struct{}

func (d dirty) add(unix sql.NullInt64) {
	if unix.Valid && unix.Int64 >= 0 {
		d[unix.Int64/bucketSecs] = struct{}{}
	}
}

// flush recomputes the dirty buckets from the facts, a run of adjacent
// hours at a time.
func (d dirty) flush(tx *txn) error {
	qs := make([]int64, 0, len(d))
	for q := range d {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i] < qs[j] })
	for i := 0; i < len(qs); {
		j := i + 1
		for j < len(qs) && qs[j] == qs[j-1]+1 {
			j++
		}
		if err := recomputeBuckets(tx, qs[i], qs[j-1]+1); err != nil {
			return err
		}
		i = j
	}
	clear(d)
	return nil
}

// recomputeBuckets rebuilds the buckets of hours [lo, hi).
func recomputeBuckets(tx *txn, lo, hi int64) error {
	a, b := lo*bucketSecs, hi*bucketSecs
	stmts := []string{
		`DELETE FROM bucket_created WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_created SELECT created/?5, COUNT(*), COUNT(sla), COALESCE(SUM(sla), 0), COUNT(csat),
		  COUNT(CASE WHEN csat >= 4 THEN 1 END), group_concat(frt, ','), group_concat(CASE WHEN gen > 1 THEN customer_id END, char(31))
		  FROM tickets WHERE created >= ?1 AND created < ?2 GROUP BY created/?5`,
		`DELETE FROM bucket_solved WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_solved SELECT solved/?5, COUNT(*), group_concat(res, ',') FROM tickets
		  WHERE solved >= ?1 AND solved < ?2 GROUP BY solved/?5`,
		`DELETE FROM bucket_messages WHERE qh >= ?3 AND qh < ?4`,
		`INSERT INTO bucket_messages SELECT at/?5, COUNT(CASE WHEN dir = 1 THEN 1 END), COUNT(CASE WHEN dir <> 1 THEN 1 END)
		  FROM messages WHERE at >= ?1 AND at < ?2 GROUP BY at/?5`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s, a, b, lo, hi, int64(bucketSecs)); err != nil {
			return fmt.Errorf("report: buckets: %w", err)
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

// summaryBuckets answers a summary by day or over the whole range from
// the buckets, and from the facts for what does not fill a bucket.
func (x *Index) summaryBuckets(ctx context.Context, q Query) ([]*Row, error) {
	k := newKeyer(q)
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
			if err := x.addFacts(ctx, a, s, e); err != nil {
				return nil, err
			}
		}
	}
	err := x.each(ctx, `SELECT qh, n, sla_n, sla_met, csat_n, csat_good, frt, ret FROM bucket_created WHERE qh >= ? AND qh < ?`,
		[]any{lo, hi}, func(rs *sql.Rows) error {
			var qh int64
			var n, slaN, slaMet, csatN, csatGood int
			var frt, ret sql.NullString
			if err := rs.Scan(&qh, &n, &slaN, &slaMet, &csatN, &csatGood, &frt, &ret); err != nil {
				return err
			}
			if raw[qh] {
				return nil
			}
			r := a.row(k.key(qh*bucketSecs, "", "", "", ""))
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
	err = x.each(ctx, `SELECT qh, n, res FROM bucket_solved WHERE qh >= ? AND qh < ?`, []any{lo, hi}, func(rs *sql.Rows) error {
		var qh int64
		var n int
		var res sql.NullString
		if err := rs.Scan(&qh, &n, &res); err != nil {
			return err
		}
		if raw[qh] {
			return nil
		}
		r := a.row(k.key(qh*bucketSecs, "", "", "", ""))
		r.TicketsSolved += n
		a.res[r] = appendList(a.res[r], res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: solved buckets: %w", err)
	}
	err = x.each(ctx, `SELECT qh, n_in, n_out FROM bucket_messages WHERE qh >= ? AND qh < ?`, []any{lo, hi}, func(rs *sql.Rows) error {
		var qh int64
		var in, out int
		if err := rs.Scan(&qh, &in, &out); err != nil {
			return err
		}
		if raw[qh] {
			return nil
		}
		r := a.row(k.key(qh*bucketSecs, "", "", "", ""))
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

// addFacts adds the facts of [s, e) (a part of an hour) row by row.
func (x *Index) addFacts(ctx context.Context, a *acc, s, e int64) error {
	err := x.each(ctx, `SELECT created, customer_id, gen, frt, sla, csat FROM tickets WHERE created >= ? AND created < ?`, []any{s, e},
		func(rs *sql.Rows) error {
			var at int64
			var cust string
			var gen int
			var frt, sla, csat sql.NullInt64
			if err := rs.Scan(&at, &cust, &gen, &frt, &sla, &csat); err != nil {
				return err
			}
			r := a.row(a.k.key(at, "", "", "", ""))
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
	err = x.each(ctx, `SELECT solved, res FROM tickets WHERE solved >= ? AND solved < ?`, []any{s, e}, func(rs *sql.Rows) error {
		var at int64
		var res sql.NullInt64
		if err := rs.Scan(&at, &res); err != nil {
			return err
		}
		r := a.row(a.k.key(at, "", "", "", ""))
		r.TicketsSolved++
		if res.Valid {
			a.res[r] = append(a.res[r], res.Int64)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report: solved: %w", err)
	}
	err = x.each(ctx, `SELECT at, dir FROM messages WHERE at >= ? AND at < ?`, []any{s, e}, func(rs *sql.Rows) error {
		var at int64
		var dir int
		if err := rs.Scan(&at, &dir); err != nil {
			return err
		}
		r := a.row(a.k.key(at, "", "", "", ""))
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
