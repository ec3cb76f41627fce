package report

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// stockholm: weekdays 08:00–17:00, no holidays, so the figures below can
// be worked out by hand.
func calendars(t *testing.T) Calendars {
	day := [][]string{{"08:00", "17:00"}}
	cal := hours.MustCompile(hours.Settings{Timezone: "Europe/Stockholm",
		Week: map[string][][]string{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}})
	return fixedCal{cal}
}

type fixedCal struct{ c *hours.Calendar }

func (f fixedCal) BusinessDuration(_ context.Context, _ string, a, b time.Time) (time.Duration, error) {
	return f.c.BusinessDuration(a, b), nil
}
func (f fixedCal) Location(context.Context) (*time.Location, error) { return f.c.Location(), nil }

type memStore struct {
	tickets []*ticketing.Ticket
	msgs    map[string]*ticketing.Message
}

func (s *memStore) ScanTickets(_ context.Context, fn func(*ticketing.Ticket) error) error {
	for _, t := range s.tickets {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) GetMessages(_ context.Context, ids []string) ([]*ticketing.Message, error) {
	var out []*ticketing.Message
	for _, id := range ids {
		if m, ok := s.msgs[id]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

type noEvents struct{}

func (noEvents) SubscribeEvents(context.Context, uint64, func(*ticketing.Event)) error { return nil }
func (noEvents) LastEventSeq(context.Context) (uint64, error)                          { return 7, nil }

func z(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// history is a scripted week around the spring DST change in Stockholm
// (Sunday 2026-03-29, 02:00 CET → 03:00 CEST). First response, in
// business hours (Mon–Fri 08–17):
//
//	t1 Fri 16:00 CET → Mon 09:00 CEST   1h Fri + 1h Mon     = 7200
//	t2 Mon 10:00 → 10:30 (an auto-reply at 10:00:05 does not count) = 1800
//	t3 Mon 16:30 → Tue 08:15            30 min + 15 min     = 2700
//	t4 Tue 08:00 → 08:01                                    = 60
//	t5 Tue 12:00 → 16:00                                    = 14400
//	t6 Sun 00:30 CET (28th 23:30Z) → Mon 08:10              = 600
//	t7 Sun 23:59 CEST (29th 21:59Z) → Mon 08:00             = 0
//
// sorted 0 60 600 1800 2700 7200 14400: p50 (rank 4) 1800, p90 (rank 7)
// 14400. CSAT 5, 4, 2, 5: three of four are 4–5 → 0.75. Resolution: t1
// solved Mon 09:30 (1h + 1.5h = 9000), t2 Mon 11:00 (3600): p50 3600.
// SLA: t1 breached, t2 met → 0.5. Returning: c1's second ticket (t5).
func history() *memStore {
	s := &memStore{msgs: map[string]*ticketing.Message{}}
	type tk struct {
		id, ch, in, reply, solved string
		csat                      int
		sla                       *ticketing.SLAState
	}
	tks := []tk{
		{"c1-1", "email", "2026-03-27T15:00:00Z", "2026-03-30T07:00:00Z", "2026-03-30T07:30:00Z", 5, &ticketing.SLAState{PolicyID: "p", Breaches: []string{"first_response"}}},
		{"c2-1", "chat", "2026-03-30T08:00:00Z", "2026-03-30T08:30:00Z", "2026-03-30T09:00:00Z", 4, &ticketing.SLAState{PolicyID: "p"}},
		{"c3-1", "sms", "2026-03-30T14:30:00Z", "2026-03-31T06:15:00Z", "", 2, nil},
		{"c4-1", "email", "2026-03-31T06:00:00Z", "2026-03-31T06:01:00Z", "", 0, nil},
		{"c1-2", "email", "2026-03-31T10:00:00Z", "2026-03-31T14:00:00Z", "", 5, nil},
		{"c6-1", "chat", "2026-03-28T23:30:00Z", "2026-03-30T06:10:00Z", "", 0, nil},
		{"c7-1", "chat", "2026-03-29T21:59:00Z", "2026-03-30T06:00:00Z", "", 0, nil},
	}
	for i, x := range tks {
		t := &ticketing.Ticket{ID: x.id, CustomerID: strings.Split(x.id, "-")[0], Channel: ticketing.Channel(x.ch),
			Status: ticketing.StatusOpen, CreatedAt: z(x.in), SLA: x.sla, Version: 3,
			AssigneeID: []string{"a1", "a2", ""}[i%3], TeamID: []string{"t1", ""}[i%2], Type: []string{"question", "order", ""}[i%3]}
		add := func(m *ticketing.Message) {
			m.TicketID = t.ID
			s.msgs[m.ID] = m
			t.MessageIDs = append(t.MessageIDs, m.ID)
		}
		add(&ticketing.Message{ID: x.id + "-in", Direction: ticketing.DirectionInbound, Channel: t.Channel, CreatedAt: z(x.in), Author: ticketing.Author{Kind: ticketing.AuthorCustomer}})
		if x.id == "c2-1" {
			add(&ticketing.Message{ID: x.id + "-auto", Direction: ticketing.DirectionOutbound, Channel: t.Channel, CreatedAt: z(x.in).Add(5 * time.Second), Auto: true, Author: ticketing.Author{Kind: ticketing.AuthorSystem}})
		}
		add(&ticketing.Message{ID: x.id + "-note", Direction: ticketing.DirectionNote, Channel: t.Channel, CreatedAt: z(x.in).Add(time.Second), Author: ticketing.Author{Kind: ticketing.AuthorAgent}})
		add(&ticketing.Message{ID: x.id + "-out", Direction: ticketing.DirectionOutbound, Channel: t.Channel, CreatedAt: z(x.reply), Author: ticketing.Author{Kind: ticketing.AuthorAgent}})
		if x.solved != "" {
			t.Status, t.SolvedAt = ticketing.StatusSolved, z(x.solved)
		}
		if x.csat > 0 {
			t.CSAT = &ticketing.CSAT{Score: x.csat}
		}
		s.tickets = append(s.tickets, t)
	}
	return s
}

func open(t *testing.T, s *memStore) *Index {
	x, err := Open(Options{Path: filepath.Join(t.TempDir(), "report.db"), Store: s, Events: noEvents{}, Calendars: calendars(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// feed applies the history as events: messages first, the ticket last,
// then the whole history again (a redelivery changes nothing).
func feed(t *testing.T, x *Index, s *memStore) {
	for range 2 {
		for _, tk := range s.tickets {
			for _, id := range tk.MessageIDs {
				if err := x.Apply(context.Background(), &ticketing.Event{Type: ticketing.EventMessageCreated, Message: s.msgs[id]}); err != nil {
					t.Fatal(err)
				}
			}
			if err := x.Apply(context.Background(), &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: tk}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func num(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func summary(t *testing.T, x *Index, q Query) map[string]*Row {
	rows, err := x.Summary(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*Row{}
	for _, r := range rows {
		m[r.Key] = r
	}
	return m
}

func TestSummaryHandComputed(t *testing.T) {
	s := history()
	sto, _ := time.LoadLocation("Europe/Stockholm")
	q := Query{From: z("2026-03-26T23:00:00Z"), To: z("2026-03-31T22:00:00Z"), Location: sto}
	check := func(t *testing.T, x *Index) {
		all := summary(t, x, q)["all"]
		if all == nil {
			t.Fatal("no row all")
		}
		if all.TicketsCreated != 7 || all.TicketsSolved != 2 || all.MessagesIn != 7 || all.MessagesOut != 8 {
			t.Errorf("counts = created %d solved %d in %d out %d, want 7 2 7 8", all.TicketsCreated, all.TicketsSolved, all.MessagesIn, all.MessagesOut)
		}
		if num(all.FirstResponseP50) != 1800 || num(all.FirstResponseP90) != 14400 {
			t.Errorf("first response p50 %v p90 %v, want 1800 14400", num(all.FirstResponseP50), num(all.FirstResponseP90))
		}
		if num(all.ResolutionP50) != 3600 || num(all.SLAMetRatio) != 0.5 {
			t.Errorf("resolution p50 %v, sla %v; want 3600, 0.5", num(all.ResolutionP50), num(all.SLAMetRatio))
		}
		if num(all.CSATScore) != 0.75 || all.CSATResponses != 4 || all.ReturningCustomers != 1 {
			t.Errorf("csat %v of %d, returning %d; want 0.75 of 4, 1", num(all.CSATScore), all.CSATResponses, all.ReturningCustomers)
		}

		// Days in Stockholm: the DST Sunday has t6 (00:30 CET) and t7
		// (23:59 CEST); in UTC t6 falls on Saturday.
		q := q
		q.GroupBy = "day"
		days := summary(t, x, q)
		want := map[string]int{"2026-03-27": 1, "2026-03-28": 0, "2026-03-29": 2, "2026-03-30": 2, "2026-03-31": 2}
		if len(days) != len(want) {
			t.Errorf("%d day rows, want %d", len(days), len(want))
		}
		for k, n := range want {
			if r := days[k]; r == nil || r.TicketsCreated != n {
				t.Errorf("day %s: %+v, want %d created", k, r, n)
			}
		}
		if d := days["2026-03-29"]; d != nil && (num(d.FirstResponseP50) != 0 || num(d.FirstResponseP90) != 600) {
			t.Errorf("DST Sunday p50 %v p90 %v, want 0 600", num(d.FirstResponseP50), num(d.FirstResponseP90))
		}
		if d := days["2026-03-30"]; d != nil && d.TicketsSolved != 2 {
			t.Errorf("solved on Monday = %d, want 2", d.TicketsSolved)
		}
		q.Location = time.UTC
		utc := summary(t, x, q)
		if utc["2026-03-28"].TicketsCreated != 1 || utc["2026-03-29"].TicketsCreated != 1 {
			t.Errorf("UTC days: 28th %d, 29th %d; want 1, 1", utc["2026-03-28"].TicketsCreated, utc["2026-03-29"].TicketsCreated)
		}

		q.GroupBy, q.Location = "channel", sto
		ch := summary(t, x, q)
		if ch["email"].TicketsCreated != 3 || ch["chat"].TicketsCreated != 3 || ch["sms"].TicketsCreated != 1 {
			t.Errorf("by channel: %d %d %d", ch["email"].TicketsCreated, ch["chat"].TicketsCreated, ch["sms"].TicketsCreated)
		}
		// email: 7200, 60, 14400 → p50 7200.
		if num(ch["email"].FirstResponseP50) != 7200 || ch["email"].MessagesIn != 3 {
			t.Errorf("email p50 %v in %d", num(ch["email"].FirstResponseP50), ch["email"].MessagesIn)
		}
	}
	t.Run("events", func(t *testing.T) {
		x := open(t, s)
		feed(t, x, s)
		check(t, x)
	})
	t.Run("rebuild", func(t *testing.T) {
		x := open(t, s)
		if _, err := x.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		check(t, x)
	})
}

func TestParseQueryErrors(t *testing.T) {
	now := z("2026-04-01T00:00:00Z")
	cases := []struct {
		name  string
		vals  map[string]string
		field string
	}{
		{"from after to", map[string]string{"from": "2026-03-02", "to": "2026-03-01"}, "from"},
		{"unknown group_by", map[string]string{"group_by": "weekday"}, "group_by"},
		{"bad tz", map[string]string{"tz": "Mars/Olympus"}, "tz"},
		{"bad from", map[string]string{"from": "yesterday"}, "from"},
		{"ok", map[string]string{"from": "2026-03-01", "to": "2026-03-31", "group_by": "day", "tz": "Europe/Stockholm"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseQuery(func(k string) string { return c.vals[k] }, nil, now)
			var de *ticketing.Error
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("err = %v", err)
			case c.field != "" && (err == nil || !asErr(err, &de) || de.Field != c.field):
				t.Fatalf("err = %v, want a field error on %s", err, c.field)
			}
		})
	}
}

func asErr(err error, de **ticketing.Error) bool {
	e, ok := err.(*ticketing.Error)
	*de = e
	return ok
}

func TestCSV(t *testing.T) {
	v := 1800.0
	var b bytes.Buffer
	if err := WriteCSV(&b, []*Row{{Key: "all", TicketsCreated: 2, FirstResponseP50: &v}}); err != nil {
		t.Fatal(err)
	}
	want := "key,tickets_created,tickets_solved,messages_in,messages_out,first_response_p50_s,first_response_p90_s,resolution_p50_s,sla_met_ratio,csat_score,csat_responses,returning_customers\nall,2,0,0,0,1800,,,,,0,0\n"
	if b.String() != want {
		t.Fatalf("csv = %q", b.String())
	}
}

// TestSummaryBucketsEqualFacts: a summary by day, over the range or by
// channel, agent, team or type read from hour buckets equals the same
// summary computed from the facts alone, for ranges that start and end
// inside an hour, India (midnight at :30 UTC) and a zone whose midnight
// is at :50; after a ticket changes its status and score; and after one
// moves to another agent, team, type and channel (its messages move with
// it).
func TestSummaryBucketsEqualFacts(t *testing.T) {
	s := history()
	x := open(t, s)
	feed(t, x, s)
	sto, _ := time.LoadLocation("Europe/Stockholm")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	odd := time.FixedZone("odd", 2*3600+10*60) // midnight 21:50Z: t7 (21:59Z) is on the next day
	ranges := [][2]string{
		{"2026-03-26T23:00:00Z", "2026-03-31T22:00:00Z"},
		{"2026-03-27T15:00:00Z", "2026-03-31T14:00:00Z"},
		{"2026-03-27T15:00:07Z", "2026-03-31T10:00:01Z"},
		{"2026-03-28T23:29:59Z", "2026-03-29T21:59:01Z"},
		{"2026-03-30T08:00:00Z", "2026-03-30T08:00:01Z"},
		{"2026-03-30T08:00:03Z", "2026-03-31T14:00:30Z"}, // an auto-reply at 08:00:05, a reply at 14:00:00
		{"2026-03-30T08:00:03Z", "2026-03-30T08:00:09Z"},
	}
	compare := func(t *testing.T) {
		for _, rg := range ranges {
			for _, loc := range []*time.Location{time.UTC, sto, odd, kolkata} {
				for _, g := range GroupBys {
					q := Query{From: z(rg[0]), To: z(rg[1]), GroupBy: g, Location: loc}
					got, err := x.summaryBuckets(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					want, err := x.summarySQL(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					if gs, ws := csvOf(t, got), csvOf(t, want); gs != ws {
						t.Errorf("%v %s %s: buckets\n%s\nfacts\n%s", rg, loc, g, gs, ws)
					}
				}
			}
		}
	}
	compare(t)
	// A change moves a ticket's facts: its old buckets are recomputed.
	tk := *s.tickets[1]
	tk.Version, tk.Status, tk.SolvedAt, tk.CSAT = 4, ticketing.StatusSolved, z("2026-03-31T12:07:00Z"), &ticketing.CSAT{Score: 1}
	if err := x.Apply(context.Background(), &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &tk}); err != nil {
		t.Fatal(err)
	}
	compare(t)
	if d := summary(t, x, Query{From: z(ranges[0][0]), To: z(ranges[0][1]), GroupBy: "day", Location: sto}); d["2026-03-30"].TicketsSolved != 1 || d["2026-03-31"].TicketsSolved != 1 {
		t.Errorf("after the change solved Mon %d Tue %d, want 1 1", d["2026-03-30"].TicketsSolved, d["2026-03-31"].TicketsSolved)
	}
	moved := *s.tickets[2] // its reply is in an hour where nothing else of it is
	moved.Version, moved.AssigneeID, moved.TeamID, moved.Type, moved.Channel = 5, "a9", "t9", "return", ticketing.ChannelSMS
	if err := x.Apply(context.Background(), &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &moved}); err != nil {
		t.Fatal(err)
	}
	compare(t)
	if a := summary(t, x, Query{From: z(ranges[0][0]), To: z(ranges[0][1]), GroupBy: "agent", Location: sto}); a["a9"] == nil ||
		a["a9"].MessagesIn != 1 || a["a9"].MessagesOut != 1 || a["a9"].TicketsCreated != 1 {
		t.Errorf("the moved ticket's messages under its new agent: %+v", a["a9"])
	}
	// A message to a known ticket counts under its attributes at once;
	// in one batch, another message and a move of that ticket.
	cust := ticketing.Author{Kind: ticketing.AuthorCustomer}
	late := &ticketing.Message{ID: "c3-1-late", TicketID: "c3-1", Direction: ticketing.DirectionInbound, CreatedAt: z("2026-03-31T09:10:00Z"), Author: cust}
	if err := x.Apply(context.Background(), &ticketing.Event{Type: ticketing.EventMessageCreated, Message: late}); err != nil {
		t.Fatal(err)
	}
	compare(t)
	again := moved
	again.Version, again.AssigneeID, again.Type = 6, "a1", "question"
	later := &ticketing.Message{ID: "c3-1-later", TicketID: "c3-1", Direction: ticketing.DirectionOutbound, CreatedAt: z("2026-03-31T11:00:00Z"),
		Author: ticketing.Author{Kind: ticketing.AuthorAgent}}
	if err := x.ApplyBatch(context.Background(), []*ticketing.Event{{Type: ticketing.EventMessageCreated, Message: later},
		{Type: ticketing.EventTicketUpdated, Ticket: &again}, {Type: ticketing.EventMessageCreated, Message: later}}); err != nil {
		t.Fatal(err)
	}
	compare(t)
	if a := summary(t, x, Query{From: z(ranges[0][0]), To: z(ranges[0][1]), GroupBy: "agent", Location: sto}); a["a9"] != nil {
		t.Errorf("nothing is left under the ticket's old agent: %+v", a["a9"])
	}
}

func csvOf(t *testing.T, rows []*Row) string {
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Buckets whose facts changed wait for the next recomputation, recorded
// with those facts: a node stopped before it recomputes them at its next
// start, and the figures come out the same.
func TestPendingHoursSurviveAStop(t *testing.T) {
	s := history()
	path := filepath.Join(t.TempDir(), "report.db")
	x, err := Open(Options{Path: path, Store: s, Events: noEvents{}, Calendars: calendars(t)})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, x, s)
	var pending int
	if err := x.db.QueryRow(`SELECT count(*) FROM dirty_hours`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending == 0 && time.Since(x.lastFlush) < flushEvery {
		t.Fatal("no hours recorded as pending after the events")
	}
	x.Close() // stopped before a recomputation
	y, err := Open(Options{Path: path, Store: s, Events: noEvents{}, Calendars: calendars(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	sto, _ := time.LoadLocation("Europe/Stockholm")
	all := summary(t, y, Query{From: z("2026-03-26T23:00:00Z"), To: z("2026-03-31T22:00:00Z"), Location: sto})["all"]
	if all == nil || all.TicketsCreated != 7 || all.TicketsSolved != 2 || all.MessagesIn != 7 || all.MessagesOut != 8 {
		t.Fatalf("after a stop with pending hours: %+v, want 7 created, 2 solved, 7 in, 8 out", all)
	}
	if err := y.db.QueryRow(`SELECT count(*) FROM dirty_hours`).Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("%d hours still pending after a summary (%v)", pending, err)
	}
}
