package sla

import (
	"slices"
	"strconv"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// facts are what a ticket's clocks are computed from: grow-only sets in
// the state document "sla:clock:<ticket id>", merged atomically
// (AddToSets), so that nodes handling a ticket's events at the same time,
// in any order, or twice, end with the same facts. Times are Unix
// milliseconds.
type facts struct {
	Created []int64 `bson:"created"`
	// Replies are agents' replies (not notes, not automatic replies).
	Replies []int64 `bson:"replies"`
	// Inbound are the customer messages that start a next-response
	// clock: the first after each reply (others add nothing).
	Inbound []int64 `bson:"inbound"`
	// States are the ticket's attributes at each version where they
	// changed.
	States []stateEntry `bson:"states"`
	// Marks record what jobs did: "breach:<metric>" (the metric breached
	// once), "breach:<metric>@<due>" and "warn:<metric>@<due>".
	Marks []string `bson:"marks"`
}

type stateEntry struct {
	V     int64 `bson:"v"`
	At    int64 `bson:"at"`
	Attrs attrs `bson:"a"`
}

// attrs are what policies match on, and the status.
type attrs struct {
	Status   string `bson:"status"`
	Priority string `bson:"priority"`
	Type     string `bson:"type"`
	Channel  string `bson:"channel"`
	Team     string `bson:"team"`
	Tier     string `bson:"-"` // from the customer, when a policy asks
}

func factsKey(ticketID string) string { return "sla:clock:" + ticketID }

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func attrsOf(t *ticketing.Ticket) attrs {
	return attrs{Status: t.Status, Priority: t.Priority, Type: t.Type, Channel: string(t.Channel), Team: t.TeamID}
}

// sortedStates returns the states by version.
func (f *facts) sortedStates() []stateEntry {
	s := slices.Clone(f.States)
	slices.SortFunc(s, func(a, b stateEntry) int {
		if a.V != b.V {
			return int(a.V - b.V)
		}
		return int(a.At - b.At)
	})
	return s
}

// latest is the state of the highest version (zero if none).
func (f *facts) latest() (stateEntry, bool) {
	s := f.sortedStates()
	if len(s) == 0 {
		return stateEntry{}, false
	}
	return s[len(s)-1], true
}

// newState reports whether e adds information: no entry has its version,
// and the entry below it has other attributes.
func (f *facts) newState(e stateEntry) bool {
	var below *stateEntry
	for _, s := range f.sortedStates() {
		if s.V == e.V {
			return false
		}
		if s.V < e.V {
			below = &s
		}
	}
	return below == nil || below.Attrs != e.Attrs
}

func (f *facts) marked(m string) bool { return slices.Contains(f.Marks, m) }

func minOf(v []int64) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	return slices.Min(v), true
}

func maxOf(v []int64) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	return slices.Max(v), true
}

// paused statuses stop the clocks; open resumes them.
func pausedStatus(s string) bool {
	return s == ticketing.StatusPending || s == ticketing.StatusSolved || s == ticketing.StatusClosed
}

type span struct{ start, end time.Time } // end zero: still paused

// calc computes due times under one policy and calendar.
type calc struct {
	p      *Policy
	cal    *hours.Calendar
	pauses []span
}

func newCalc(f *facts, p *Policy, cal *hours.Calendar) *calc {
	c := &calc{p: p, cal: cal}
	var open *span
	for _, s := range f.sortedStates() {
		at := fromMS(s.At)
		switch {
		case pausedStatus(s.Attrs.Status) && open == nil:
			c.pauses = append(c.pauses, span{start: at})
			open = &c.pauses[len(c.pauses)-1]
		case !pausedStatus(s.Attrs.Status) && open != nil:
			open.end = at
			open = nil
		}
	}
	return c
}

func (c *calc) measure(a, b time.Time) time.Duration {
	if c.p.BusinessHours {
		return c.cal.BusinessDuration(a, b)
	}
	return max(b.Sub(a), 0)
}

func (c *calc) add(t time.Time, d time.Duration) time.Time {
	if c.p.BusinessHours {
		return c.cal.Add(t, d)
	}
	return t.Add(d)
}

// deadline is when target of running time has passed after start, time
// in pauses not counting. paused: the clock is in a pause that has not
// ended, so there is no due time yet. With ignoreOpen, a pause that has
// not ended is ignored (when did it fall due, had it not stopped?).
func (c *calc) deadline(start time.Time, target time.Duration, ignoreOpen bool) (due time.Time, paused bool) {
	cur, rem := start, target
	for _, p := range c.pauses {
		if p.end.IsZero() && ignoreOpen {
			break
		}
		if !p.end.IsZero() && !p.end.After(cur) {
			continue
		}
		if p.start.After(cur) {
			avail := c.measure(cur, p.start)
			if rem <= avail {
				return c.add(cur, rem), false
			}
			rem -= avail
		}
		if p.end.IsZero() {
			return time.Time{}, true
		}
		cur = p.end
	}
	return c.add(cur, rem), false
}

// job is a warning or breach to schedule.
type job struct {
	Ticket string `json:"ticket_id"`
	Metric string `json:"metric"`
	Kind   string `json:"kind"` // "warn" or "breach"
	Due    int64  `json:"due"`  // the due time it belongs to (ms)
	at     time.Time
}

func (j job) key() string {
	return j.Ticket + ":" + j.Metric + ":" + j.Kind + ":" + strconv.FormatInt(j.Due, 10)
}

// compute derives a ticket's SLAState and the jobs its running clocks
// need from the facts alone: the same facts give the same result on
// every node, whenever it runs.
func compute(ticketID string, f *facts, p *Policy, cal *hours.Calendar) (*ticketing.SLAState, []job) {
	st := &ticketing.SLAState{PolicyID: p.ID, Breaches: []string{}}
	cur, _ := f.latest()
	created, ok := minOf(f.Created)
	if !ok {
		return st, nil
	}
	c := newCalc(f, p, cal)
	stopped := cur.Attrs.Status == ticketing.StatusSolved || cur.Attrs.Status == ticketing.StatusClosed
	st.Paused = cur.Attrs.Status == ticketing.StatusPending
	breached := map[string]bool{}
	var jobs []job
	clock := func(metric string, start time.Time, stopAt time.Time, dst *time.Time) {
		target := c.p.Target(metric)
		if target <= 0 {
			return
		}
		if !stopAt.IsZero() || stopped {
			// Stopped: breached if it stopped after its due time.
			end := stopAt
			if end.IsZero() {
				end = fromMS(cur.At)
			}
			if due, _ := c.deadline(start, target, true); !due.IsZero() && end.After(due) {
				breached[metric] = true
			}
			return
		}
		due, paused := c.deadline(start, target, false)
		if paused || due.IsZero() {
			return
		}
		*dst = due.UTC()
		warn, _ := c.deadline(start, target*8/10, false)
		jobs = append(jobs,
			job{Ticket: ticketID, Metric: metric, Kind: "breach", Due: ms(due), at: due},
			job{Ticket: ticketID, Metric: metric, Kind: "warn", Due: ms(due), at: warn})
	}

	replies := slices.Sorted(slices.Values(f.Replies))
	var firstReply time.Time
	if len(replies) > 0 {
		firstReply = fromMS(replies[0])
	}
	clock(FirstResponse, fromMS(created), firstReply, &st.FirstResponseDue)

	// Next response: each reply ends the cycle that the first customer
	// message after the previous reply started.
	inbound := slices.Sorted(slices.Values(f.Inbound))
	for i, r := range replies {
		if i == 0 {
			continue
		}
		if start, ok := firstIn(inbound, replies[i-1], r); ok {
			clock(NextResponse, fromMS(start), fromMS(r), new(time.Time))
		}
	}
	if len(replies) > 0 {
		if start, ok := firstIn(inbound, replies[len(replies)-1], 1<<62); ok {
			clock(NextResponse, fromMS(start), time.Time{}, &st.NextResponseDue)
		}
	}
	clock(Resolution, fromMS(created), time.Time{}, &st.ResolutionDue)

	for _, m := range []string{FirstResponse, NextResponse, Resolution} {
		if breached[m] || f.marked("breach:"+m) {
			st.Breaches = append(st.Breaches, m)
		}
	}
	return st, jobs
}

// firstIn is the first inbound time in (after, before).
func firstIn(sorted []int64, after, before int64) (int64, bool) {
	for _, v := range sorted {
		if v > after && v < before {
			return v, true
		}
	}
	return 0, false
}

// sameSLA compares two states by value.
func sameSLA(a, b *ticketing.SLAState) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.PolicyID == b.PolicyID && a.Paused == b.Paused && a.FirstResponseDue.Equal(b.FirstResponseDue) &&
		a.NextResponseDue.Equal(b.NextResponseDue) && a.ResolutionDue.Equal(b.ResolutionDue) &&
		slices.Equal(a.Breaches, b.Breaches)
}

// dueOf is a state's due time for metric.
func dueOf(st *ticketing.SLAState, metric string) time.Time {
	switch metric {
	case FirstResponse:
		return st.FirstResponseDue
	case NextResponse:
		return st.NextResponseDue
	case Resolution:
		return st.ResolutionDue
	}
	return time.Time{}
}
