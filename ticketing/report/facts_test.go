package report

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The facts path: a summary computed from the per-ticket and per-message
// facts alone, counts aggregated and percentiles ranked inside SQLite.
// It was how grouped summaries were answered before the grouped buckets;
// the tests keep it as the reference the buckets must equal, and the
// benchmarks as the baseline.

// grouping is how a summary's SQL buckets rows: a CTE of the range's
// local days (day) or a column (the others), so that SQLite aggregates and
// ranks inside the query and a summary reads one row per group and figure.
type grouping struct {
	with string // "WITH days(k,s,e) AS (VALUES ...)," or "WITH"
	args []any  // the CTE's parameters
	keys []string
}

// newGrouping computes the local days of [From, To) in Go (the next local
// midnight each time, so DST days are 23 or 25 hours long) and clips the
// first and last to the range.
func newGrouping(q Query) *grouping {
	g := &grouping{with: "WITH"}
	if q.GroupBy != "day" {
		return g
	}
	from, to := q.From.Unix(), q.To.Unix()
	y, m, d := q.From.In(q.Location).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, q.Location)
	var vals []string
	for day.Before(q.To) {
		y, m, d = day.Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, q.Location)
		s, e := max(day.Unix(), from), min(next.Unix(), to)
		g.keys = append(g.keys, day.Format("2006-01-02"))
		g.args = append(g.args, day.Format("2006-01-02"), s, e)
		vals = append(vals, "(?,?,?)")
		day = next
	}
	g.with = "WITH days(k,s,e) AS (VALUES " + strings.Join(vals, ",") + "),"
	return g
}

// source is the FROM and WHERE of rows of table (alias t) whose column at
// falls in [from, to), with k their group's key.
func (g *grouping) source(q Query, table, at string) (string, []any) {
	if q.GroupBy == "day" {
		return "SELECT d.k AS k, t.* FROM days d CROSS JOIN " + table + " t WHERE t." + at + " >= d.s AND t." + at + " < d.e",
			nil
	}
	col := map[string]string{"channel": "t.channel", "agent": "t.assignee", "team": "t.team", "type": "t.type"}[q.GroupBy]
	if col == "" {
		col = "'all'"
	}
	return "SELECT " + col + " AS k, t.* FROM " + table + " t WHERE t." + at + " >= ? AND t." + at + " < ?",
		[]any{q.From.Unix(), q.To.Unix()}
}

// summarySQL aggregates counts and ranks percentiles inside SQLite, on
// covering indexes of the facts' times; Go sees one row per group and
// figure.
func (x *Index) summarySQL(ctx context.Context, q Query) ([]*Row, error) {
	g := newGrouping(q)
	rows := map[string]*Row{}
	row := func(key string) *Row {
		r := rows[key]
		if r == nil {
			r = &Row{Key: key}
			rows[key] = r
		}
		return r
	}
	for _, key := range g.keys { // every day, even a quiet one
		row(key)
	}
	if q.GroupBy == "none" {
		row("all")
	}

	// Created: counts, SLA, CSAT and returning customers per group.
	src, sargs := g.source(q, "tickets", "created")
	err := x.each(ctx, g.with+` c AS (`+src+`)
	  SELECT k, COUNT(*), COUNT(sla), COALESCE(SUM(sla), 0), COUNT(csat), COUNT(CASE WHEN csat >= 4 THEN 1 END),
	    COUNT(DISTINCT CASE WHEN gen > 1 THEN customer_id END) FROM c GROUP BY k`, append(slices.Clone(g.args), sargs...),
		func(rs *sql.Rows) error {
			var k string
			var n, slaN, slaMet, csatN, csatGood, ret int
			if err := rs.Scan(&k, &n, &slaN, &slaMet, &csatN, &csatGood, &ret); err != nil {
				return err
			}
			r := row(k)
			r.TicketsCreated, r.slaN, r.slaMet, r.CSATResponses, r.csatGood, r.ReturningCustomers = n, slaN, slaMet, csatN, csatGood, ret
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("report: created: %w", err)
	}
	if err := x.ranks(ctx, g, q, "created", "frt", func(r *Row, p50, p90 *float64) {
		r.FirstResponseP50, r.FirstResponseP90 = p50, p90
	}, row); err != nil {
		return nil, fmt.Errorf("report: first response: %w", err)
	}

	// Solved: counts and resolution per group of the solve.
	src, sargs = g.source(q, "tickets", "solved")
	err = x.each(ctx, g.with+` c AS (`+src+`) SELECT k, COUNT(*) FROM c GROUP BY k`, append(slices.Clone(g.args), sargs...),
		func(rs *sql.Rows) error {
			var k string
			var n int
			if err := rs.Scan(&k, &n); err != nil {
				return err
			}
			row(k).TicketsSolved = n
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("report: solved: %w", err)
	}
	if err := x.ranks(ctx, g, q, "solved", "res", func(r *Row, p50, _ *float64) { r.ResolutionP50 = p50 }, row); err != nil {
		return nil, fmt.Errorf("report: resolution: %w", err)
	}

	// Messages per group of when they were written; by a ticket's
	// attribute through its ticket.
	src, sargs = g.source(q, "messages", "at")
	mq := g.with + ` c AS (` + src + `) SELECT k, COUNT(CASE WHEN dir = 1 THEN 1 END), COUNT(CASE WHEN dir <> 1 THEN 1 END) FROM c GROUP BY k`
	if q.GroupBy != "day" && q.GroupBy != "none" {
		col := map[string]string{"channel": "channel", "agent": "assignee", "team": "team", "type": "type"}[q.GroupBy]
		mq = `SELECT tk.` + col + `, COUNT(CASE WHEN m.dir = 1 THEN 1 END), COUNT(CASE WHEN m.dir <> 1 THEN 1 END)
		  FROM messages m JOIN tickets tk ON tk.id = m.ticket_id WHERE m.at >= ? AND m.at < ? GROUP BY tk.` + col
	}
	err = x.each(ctx, mq, append(slices.Clone(g.args), sargs...), func(rs *sql.Rows) error {
		var k string
		var in, out int
		if err := rs.Scan(&k, &in, &out); err != nil {
			return err
		}
		r := row(k)
		r.MessagesIn, r.MessagesOut = in, out
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report: messages: %w", err)
	}

	out := make([]*Row, 0, len(rows))
	for _, r := range rows {
		r.SLAMetRatio = ratio(r.slaMet, r.slaN)
		r.CSATScore = ratio(r.csatGood, r.CSATResponses)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// ranks sets the nearest-rank p50 and p90 of col per group of the tickets
// whose at falls in the range: SQLite numbers each group's values in order
// and returns only the rows at rank ceil(0.5·n) = (n+1)/2 and
// ceil(0.9·n) = (9n+9)/10 (integer division).
func (x *Index) ranks(ctx context.Context, g *grouping, q Query, at, col string, set func(r *Row, p50, p90 *float64), row func(string) *Row) error {
	src, sargs := g.source(q, "tickets", at)
	type pp struct{ p50, p90 *float64 }
	got := map[string]*pp{}
	err := x.each(ctx, g.with+` c AS (SELECT k, `+col+` AS v FROM (`+src+`) WHERE `+col+` IS NOT NULL),
	  r AS (SELECT k, v, ROW_NUMBER() OVER w AS rn, COUNT(*) OVER (PARTITION BY k) AS n FROM c WINDOW w AS (PARTITION BY k ORDER BY v))
	  SELECT k, v, rn = (n+1)/2, rn = (9*n+9)/10 FROM r WHERE rn = (n+1)/2 OR rn = (9*n+9)/10`, append(slices.Clone(g.args), sargs...),
		func(rs *sql.Rows) error {
			var k string
			var v int64
			var is50, is90 bool
			if err := rs.Scan(&k, &v, &is50, &is90); err != nil {
				return err
			}
			p := got[k]
			if p == nil {
				p = &pp{}
				got[k] = p
			}
			f := float64(v)
			if is50 {
				p.p50 = &f
			}
			if is90 {
				p.p90 = &f
			}
			return nil
		})
	for k, p := range got {
		set(row(k), p.p50, p.p90)
	}
	return err
}
