package sla

import (
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

var sthlm, _ = time.LoadLocation("Europe/Stockholm")

func st(v int64, at time.Time, status string) stateEntry {
	return stateEntry{V: v, At: ms(at), Attrs: attrs{Status: status, Priority: "normal", Channel: "email"}}
}

func TestComputeCalendarTime(t *testing.T) {
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	p := &Policy{ID: "p", FirstResponse: Duration(time.Hour), NextResponse: Duration(30 * time.Minute), Resolution: Duration(8 * time.Hour)}
	cal := hours.MustCompile(hours.Default())
	cases := []struct {
		name     string
		f        facts
		first    time.Time
		next     time.Time
		res      time.Time
		paused   bool
		breaches []string
	}{
		{name: "new ticket", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open")}},
			first: t0.Add(time.Hour), res: t0.Add(8 * time.Hour)},
		{name: "pending pauses", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open"), st(2, t0.Add(10*time.Minute), "pending")}},
			paused: true},
		{name: "pending then open moves the due time by the pause", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{
			st(1, t0, "open"), st(2, t0.Add(10*time.Minute), "pending"), st(3, t0.Add(40*time.Minute), "open")}},
			first: t0.Add(90 * time.Minute), res: t0.Add(8*time.Hour + 30*time.Minute)},
		{name: "reply stops first response, next message starts next response", f: facts{Created: []int64{ms(t0)},
			States: []stateEntry{st(1, t0, "open")}, Replies: []int64{ms(t0.Add(20 * time.Minute))}, Inbound: []int64{ms(t0.Add(2 * time.Hour))}},
			next: t0.Add(150 * time.Minute), res: t0.Add(8 * time.Hour)},
		{name: "late reply is a breach", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open")},
			Replies: []int64{ms(t0.Add(2 * time.Hour))}},
			res: t0.Add(8 * time.Hour), breaches: []string{FirstResponse}},
		{name: "solved stops everything", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open"), st(2, t0.Add(time.Minute), "solved")}}},
		{name: "reopen resumes", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open"), st(2, t0.Add(time.Minute), "solved"), st(3, t0.Add(61*time.Minute), "open")}},
			first: t0.Add(2 * time.Hour), res: t0.Add(9 * time.Hour)},
		{name: "marked breach", f: facts{Created: []int64{ms(t0)}, States: []stateEntry{st(1, t0, "open")}, Marks: []string{"breach:resolution"}},
			first: t0.Add(time.Hour), res: t0.Add(8 * time.Hour), breaches: []string{Resolution}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := compute("t1", &tc.f, p, cal)
			want := &ticketing.SLAState{PolicyID: "p", FirstResponseDue: tc.first, NextResponseDue: tc.next, ResolutionDue: tc.res,
				Paused: tc.paused, Breaches: tc.breaches}
			if want.Breaches == nil {
				want.Breaches = []string{}
			}
			if !sameSLA(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestComputeBusinessTime(t *testing.T) {
	cal := hours.MustCompile(hours.Default()) // weekdays 08–17 Stockholm, SE holidays
	p := &Policy{ID: "p", FirstResponse: Duration(2 * time.Hour), BusinessHours: true}
	cases := []struct {
		name    string
		created time.Time
		want    time.Time
	}{
		{"night", time.Date(2026, 11, 3, 22, 0, 0, 0, sthlm), time.Date(2026, 11, 4, 10, 0, 0, 0, sthlm)},
		{"friday afternoon", time.Date(2026, 11, 13, 16, 0, 0, 0, sthlm), time.Date(2026, 11, 16, 9, 0, 0, 0, sthlm)},
		{"before a public holiday (Kristi himmelsfärd)", time.Date(2026, 5, 13, 16, 30, 0, 0, sthlm), time.Date(2026, 5, 15, 9, 30, 0, 0, sthlm)},
		{"julafton", time.Date(2026, 12, 23, 16, 0, 0, 0, sthlm), time.Date(2026, 12, 28, 9, 0, 0, 0, sthlm)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := facts{Created: []int64{ms(tc.created)}, States: []stateEntry{st(1, tc.created, "open")}}
			got, jobs := compute("t1", &f, p, cal)
			if !got.FirstResponseDue.Equal(tc.want) {
				t.Errorf("due %v, want %v", got.FirstResponseDue.In(sthlm), tc.want)
			}
			if len(jobs) != 2 || !jobs[0].at.Equal(tc.want) {
				t.Errorf("jobs %+v", jobs)
			}
		})
	}
}
