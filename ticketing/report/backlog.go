package report

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Ages are the backlog's age buckets, youngest first: a ticket's age is
// the time since it was created; a bucket holds ages from the previous
// bound (inclusive) to its own (exclusive).
var Ages = []string{"under_1h", "1h_4h", "4h_24h", "1d_3d", "3d_7d", "over_7d"}

var ageBounds = []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour, 72 * time.Hour, 168 * time.Hour}

// BacklogGroupBys are the groupings of a backlog.
var BacklogGroupBys = []string{"none", "team", "channel"}

// BacklogRow is one group of the backlog: how many open and pending
// tickets of each age (Counts[i] is Ages[i]).
type BacklogRow struct {
	Key    string `json:"key"`
	Counts []int  `json:"counts"`
	Total  int    `json:"total"`
}

// Backlog counts the open and pending tickets by age at now, grouped by
// none ("all"), team or channel ("" is no team), from the index's own
// rows (an index on status and creation: no store, no scan of solved
// tickets).
func (x *Index) Backlog(ctx context.Context, groupBy string, now time.Time) ([]*BacklogRow, error) {
	col := map[string]string{"none": "'all'", "": "'all'", "team": "team", "channel": "channel"}[groupBy]
	if col == "" {
		return nil, ticketing.ParamError("group_by", "must be one of none, team, channel")
	}
	age := "CASE"
	args := []any{}
	for i, b := range ageBounds {
		age += " WHEN created > ? THEN " + strconv.Itoa(i)
		args = append(args, now.Add(-b).Unix())
	}
	age += " ELSE " + strconv.Itoa(len(ageBounds)) + " END"
	rows := map[string]*BacklogRow{}
	err := x.each(ctx, `SELECT `+col+` AS k, `+age+` AS a, COUNT(*) FROM tickets
	  WHERE status IN ('`+ticketing.StatusOpen+`', '`+ticketing.StatusPending+`') GROUP BY k, a`, args,
		func(rs *sql.Rows) error {
			var k string
			var a, n int
			if err := rs.Scan(&k, &a, &n); err != nil {
				return err
			}
			r := rows[k]
			if r == nil {
				r = &BacklogRow{Key: k, Counts: make([]int, len(Ages))}
				rows[k] = r
			}
			r.Counts[a] += n
			r.Total += n
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("report: backlog: %w", err)
	}
	if col == "'all'" && rows["all"] == nil {
		rows["all"] = &BacklogRow{Key: "all", Counts: make([]int, len(Ages))}
	}
	out := make([]*BacklogRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// WriteBacklogCSV writes a backlog as CSV: key, one column per age, total.
func WriteBacklogCSV(w io.Writer, rows []*BacklogRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append(append([]string{"key"}, Ages...), "total"))
	for _, r := range rows {
		rec := []string{r.Key}
		for _, n := range r.Counts {
			rec = append(rec, strconv.Itoa(n))
		}
		_ = cw.Write(append(rec, strconv.Itoa(r.Total)))
	}
	cw.Flush()
	return cw.Error()
}
