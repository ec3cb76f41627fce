package report

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// Groupings of a summary.
var GroupBys = []string{"none", "channel", "agent", "team", "type", "day"}

// Query asks for a summary of [From, To).
type Query struct {
	From, To time.Time
	GroupBy  string         // one of GroupBys; "" is none
	Location *time.Location // where days begin; nil: UTC
}

// Row is one group of a summary. Durations are business-hours seconds;
// a figure with nothing to measure is null.
//
// Tickets count in the group of the day they were created (their first
// response, SLA, CSAT and returning customer too); tickets_solved and
// resolution count on the day they were solved; messages on the day they
// were written. Percentiles are nearest-rank: p of n sorted values is the
// value at rank ceil(p·n).
type Row struct {
	Key                string   `json:"key"`
	TicketsCreated     int      `json:"tickets_created"`
	TicketsSolved      int      `json:"tickets_solved"`
	MessagesIn         int      `json:"messages_in"`
	MessagesOut        int      `json:"messages_out"`
	FirstResponseP50   *float64 `json:"first_response_p50_s"`
	FirstResponseP90   *float64 `json:"first_response_p90_s"`
	ResolutionP50      *float64 `json:"resolution_p50_s"`
	SLAMetRatio        *float64 `json:"sla_met_ratio"`
	CSATScore          *float64 `json:"csat_score"`
	CSATResponses      int      `json:"csat_responses"`
	ReturningCustomers int      `json:"returning_customers"`

	slaN, slaMet int
	csatGood     int
}

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

// Summary answers a report query from the index alone: by day or over
// the whole range from hour buckets (buckets.go); by an attribute
// with counts aggregated and percentiles ranked inside SQLite.
func (x *Index) Summary(ctx context.Context, q Query) ([]*Row, error) {
	if q.GroupBy == "" {
		q.GroupBy = "none"
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	if q.GroupBy == "day" || q.GroupBy == "none" {
		return x.summaryBuckets(ctx, q)
	}
	return x.summarySQL(ctx, q)
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

// each runs a query and calls fn for every row.
func (x *Index) each(ctx context.Context, query string, args []any, fn func(*sql.Rows) error) error {
	rs, err := x.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rs.Next() {
		if err := fn(rs); err != nil {
			rs.Close()
			return err
		}
	}
	return closeRows(rs)
}

func closeRows(rs *sql.Rows) error {
	err := rs.Err()
	if cerr := rs.Close(); err == nil {
		err = cerr
	}
	return err
}

func ratio(a, n int) *float64 {
	if n == 0 {
		return nil
	}
	v := float64(a) / float64(n)
	return &v
}

// ParseQuery reads a summary's parameters: from and to (RFC 3339 or a
// date, read in tz; to defaults to now, from to 30 days before to),
// group_by and tz (an IANA zone; default def). Errors name the parameter.
func ParseQuery(get func(string) string, def *time.Location, now time.Time) (Query, error) {
	q := Query{GroupBy: get("group_by"), Location: def}
	if q.GroupBy == "" {
		q.GroupBy = "none"
	}
	ok := false
	for _, g := range GroupBys {
		ok = ok || g == q.GroupBy
	}
	if !ok {
		return q, ticketing.FieldError("group_by", "must be one of none, channel, agent, team, type, day")
	}
	if tz := get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return q, ticketing.FieldError("tz", "is not a time zone (use an IANA name such as Europe/Stockholm)")
		}
		q.Location = loc
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	parse := func(name string) (time.Time, error) {
		v := get(name)
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation("2006-01-02", v, q.Location); err == nil {
			if name == "to" { // a date as "to" includes that day
				y, m, d := t.Date()
				t = time.Date(y, m, d+1, 0, 0, 0, 0, q.Location)
			}
			return t, nil
		}
		return time.Time{}, ticketing.FieldError(name, "must be an RFC 3339 time or a date YYYY-MM-DD")
	}
	var err error
	if q.To, err = parse("to"); err != nil {
		return q, err
	}
	if q.From, err = parse("from"); err != nil {
		return q, err
	}
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.AddDate(0, 0, -30)
	}
	if !q.From.Before(q.To) {
		return q, ticketing.FieldError("from", "must be before to")
	}
	if q.To.Sub(q.From) > 3*366*24*time.Hour {
		return q, ticketing.FieldError("to", "the range is at most three years")
	}
	return q, nil
}

// CSV header, in the JSON rows' order.
var csvHeader = []string{"key", "tickets_created", "tickets_solved", "messages_in", "messages_out", "first_response_p50_s",
	"first_response_p90_s", "resolution_p50_s", "sla_met_ratio", "csat_score", "csat_responses", "returning_customers"}

// WriteCSV writes rows as CSV with a header; a figure with nothing to
// measure is empty.
func WriteCSV(w io.Writer, rows []*Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	for _, r := range rows {
		_ = cw.Write([]string{r.Key, strconv.Itoa(r.TicketsCreated), strconv.Itoa(r.TicketsSolved), strconv.Itoa(r.MessagesIn),
			strconv.Itoa(r.MessagesOut), f(r.FirstResponseP50), f(r.FirstResponseP90), f(r.ResolutionP50), f(r.SLAMetRatio),
			f(r.CSATScore), strconv.Itoa(r.CSATResponses), strconv.Itoa(r.ReturningCustomers)})
	}
	cw.Flush()
	return cw.Error()
}

// Hours adapts ticketing/hours to Calendars.
type Hours struct{ S *hours.Service }

// BusinessDuration is the open time of the team's calendar between a and b.
func (h Hours) BusinessDuration(ctx context.Context, team string, a, b time.Time) (time.Duration, error) {
	c, err := h.S.Calendar(ctx, team)
	if err != nil {
		return 0, err
	}
	return c.BusinessDuration(a, b), nil
}

// Location is the shop's time zone.
func (h Hours) Location(ctx context.Context) (*time.Location, error) {
	c, err := h.S.Calendar(ctx, "")
	if err != nil {
		return nil, err
	}
	return c.Location(), nil
}

// DefaultLocation is the shop's time zone (its business hours'), where
// report days begin unless a query says otherwise.
func (x *Index) DefaultLocation(ctx context.Context) *time.Location {
	if loc, err := x.o.Calendars.Location(ctx); err == nil && loc != nil {
		return loc
	}
	return time.UTC
}

// CountCreated counts the tickets created in [from, to): a baseline for
// benchmarks (one indexed query, no grouping).
func (x *Index) CountCreated(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets WHERE created >= ? AND created < ?`, from.Unix(), to.Unix()).Scan(&n)
	return n, err
}
