package report

import (
	"context"
	"database/sql"
	"encoding/csv"
	"io"
	"strconv"
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

// Summary answers a report query from the index alone, from hour buckets
// (buckets.go): by day or over the whole range from the ungrouped ones,
// by an attribute from the grouped ones.
func (x *Index) Summary(ctx context.Context, q Query) ([]*Row, error) {
	if q.GroupBy == "" {
		q.GroupBy = "none"
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	return x.summaryBuckets(ctx, q)
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
