package report

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestBacklogByAge: open and pending tickets counted by age at a fixed
// now, by hand: a bound belongs to the older bucket (exactly 1 h old is
// "1h_4h"); solved and closed tickets are not backlog; by team and by
// channel; a ticket that is solved leaves the backlog at once.
func TestBacklogByAge(t *testing.T) {
	now := z("2026-06-10T12:00:00Z")
	type tk struct {
		age          time.Duration
		status, team string
		ch           ticketing.Channel
	}
	tks := []tk{
		{10 * time.Minute, ticketing.StatusOpen, "t1", ticketing.ChannelChat},            // under_1h
		{time.Hour - time.Second, ticketing.StatusPending, "t1", ticketing.ChannelEmail}, // under_1h
		{time.Hour, ticketing.StatusOpen, "t2", ticketing.ChannelEmail},                  // 1h_4h
		{5 * time.Hour, ticketing.StatusOpen, "", ticketing.ChannelSMS},                  // 4h_24h
		{24 * time.Hour, ticketing.StatusOpen, "t1", ticketing.ChannelEmail},             // 1d_3d
		{4 * 24 * time.Hour, ticketing.StatusPending, "t2", ticketing.ChannelEmail},      // 3d_7d
		{7 * 24 * time.Hour, ticketing.StatusOpen, "t1", ticketing.ChannelChat},          // over_7d
		{40 * 24 * time.Hour, ticketing.StatusOpen, "t1", ticketing.ChannelEmail},        // over_7d
		{2 * time.Hour, ticketing.StatusSolved, "t1", ticketing.ChannelEmail},            // not backlog
		{3 * time.Hour, ticketing.StatusClosed, "t2", ticketing.ChannelEmail},            // not backlog
	}
	s := &memStore{msgs: map[string]*ticketing.Message{}}
	for i, x := range tks {
		t := &ticketing.Ticket{ID: fmt.Sprintf("c%d-1", i), CustomerID: fmt.Sprintf("c%d", i), Status: x.status, TeamID: x.team,
			Channel: x.ch, CreatedAt: now.Add(-x.age), Version: 1}
		if x.status == ticketing.StatusSolved || x.status == ticketing.StatusClosed {
			t.SolvedAt = now
		}
		s.tickets = append(s.tickets, t)
	}
	x := open(t, s)
	feed(t, x, s)
	ctx := context.Background()
	get := func(group string) map[string][]int {
		t.Helper()
		rows, err := x.Backlog(ctx, group, now)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]int{}
		for _, r := range rows {
			sum := 0
			for _, n := range r.Counts {
				sum += n
			}
			if sum != r.Total {
				t.Errorf("%s %q: total %d, counts add up to %d", group, r.Key, r.Total, sum)
			}
			out[r.Key] = r.Counts
		}
		return out
	}
	for _, tc := range []struct {
		group string
		want  map[string][]int
	}{
		{"none", map[string][]int{"all": {2, 1, 1, 1, 1, 2}}},
		{"team", map[string][]int{"t1": {2, 0, 0, 1, 0, 2}, "t2": {0, 1, 0, 0, 1, 0}, "": {0, 0, 1, 0, 0, 0}}},
		{"channel", map[string][]int{"chat": {1, 0, 0, 0, 0, 1}, "email": {1, 1, 0, 1, 1, 1}, "sms": {0, 0, 1, 0, 0, 0}}},
	} {
		if got := get(tc.group); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("backlog by %s = %v, want %v", tc.group, got, tc.want)
		}
	}
	if _, err := x.Backlog(ctx, "agent", now); err == nil {
		t.Error("group_by=agent: no error")
	}
	solved := *s.tickets[0]
	solved.Version, solved.Status, solved.SolvedAt = 2, ticketing.StatusSolved, now
	if err := x.Apply(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &solved}); err != nil {
		t.Fatal(err)
	}
	if got := get("none")["all"]; !reflect.DeepEqual(got, []int{1, 1, 1, 1, 1, 2}) {
		t.Errorf("after a solve: %v", got)
	}
	rows, _ := x.Backlog(ctx, "none", now)
	var b bytes.Buffer
	if err := WriteBacklogCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	if want := "key,under_1h,1h_4h,4h_24h,1d_3d,3d_7d,over_7d,total\nall,1,1,1,1,1,2,7\n"; b.String() != want {
		t.Errorf("csv:\n%s\nwant\n%s", b.String(), want)
	}
}
