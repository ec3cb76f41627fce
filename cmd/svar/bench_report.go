package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/report"
)

// phaseReport measures report_p99_ms: a 90-day summary grouped by day
// (in Stockholm time) over an index of ReportTickets tickets spread over
// those 90 days, each with a customer message and an agent reply, and most
// solved and rated. The index is the node's report read model (a SQLite
// file); it is seeded in one transaction, the way a rebuild loads it, so
// the phase takes seconds rather than the hours ingesting 100,000 tickets
// would. The baseline is the same SQLite file counting the range's
// tickets in one indexed query.
const phaseReport = "report"

type benchCalendars struct{ c *hours.Calendar }

func (b benchCalendars) BusinessDuration(_ context.Context, _ string, a, z time.Time) (time.Duration, error) {
	return b.c.BusinessDuration(a, z), nil
}
func (b benchCalendars) Location(context.Context) (*time.Location, error) { return b.c.Location(), nil }

type benchNoEvents struct{}

func (benchNoEvents) SubscribeEvents(context.Context, uint64, func(*ticketing.Event)) error {
	return nil
}
func (benchNoEvents) LastEventSeq(context.Context) (uint64, error) { return 0, nil }

func (b *bench) reportPhase(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "svar-bench-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cal := benchCalendars{hours.MustCompile(hours.Default())}
	x, err := report.Open(report.Options{Path: filepath.Join(dir, "report.db"), Events: benchNoEvents{}, Calendars: cal})
	if err != nil {
		return err
	}
	defer x.Close()

	n := b.cfg.ReportTickets
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -90)
	rng := rand.New(rand.NewPCG(1, 2))
	chans := []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS}
	b.progress.set("report: seeding %d tickets", n)
	t0 := time.Now()
	const batch = 50_000 // each Load recomputes the hours it touched: few big loads
	for i := 0; i < n; i += batch {
		var tks []*ticketing.Ticket
		var msgs [][]*ticketing.Message
		for j := i; j < min(n, i+batch); j++ {
			at := start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)))))
			id := fmt.Sprintf("c%d-%d", j%(n/3+1), 1+j/(n/3+1))
			t := &ticketing.Ticket{ID: id, CustomerID: fmt.Sprintf("c%d", j%(n/3+1)), Channel: chans[j%3], Status: ticketing.StatusOpen,
				CreatedAt: at, AssigneeID: fmt.Sprintf("agent%d", j%12), Type: "question", Version: 1}
			reply := at.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
			ms := []*ticketing.Message{
				{ID: id + "-in", TicketID: id, Direction: ticketing.DirectionInbound, CreatedAt: at, Author: ticketing.Author{Kind: ticketing.AuthorCustomer}},
				{ID: id + "-out", TicketID: id, Direction: ticketing.DirectionOutbound, CreatedAt: reply, Author: ticketing.Author{Kind: ticketing.AuthorAgent}},
			}
			if j%4 != 0 {
				t.Status, t.SolvedAt = ticketing.StatusSolved, reply.Add(time.Hour)
				if j%3 == 0 {
					t.CSAT = &ticketing.CSAT{Score: 1 + j%5}
				}
			}
			tks, msgs = append(tks, t), append(msgs, ms)
		}
		if err := x.Load(ctx, tks, msgs); err != nil {
			return err
		}
	}
	b.logf("report: seeded %d tickets in %s", n, time.Since(t0).Round(time.Millisecond))

	sto, _ := time.LoadLocation("Europe/Stockholm")
	q := report.Query{From: start, To: end, GroupBy: "day", Location: sto}
	rows, err := x.Summary(ctx, q)
	if err != nil {
		return err
	}
	total := 0
	for _, r := range rows {
		total += r.TicketsCreated
	}
	if total != n || len(rows) < 90 {
		return fmt.Errorf("report: the summary counts %d tickets in %d rows, want %d in ≥ 90", total, len(rows), n)
	}
	b.progress.set("report: %d summaries", b.cfg.ReportRequests)
	lat := make([]time.Duration, 0, b.cfg.ReportRequests)
	for range b.cfg.ReportRequests {
		s := time.Now()
		if _, err := x.Summary(ctx, q); err != nil {
			return err
		}
		lat = append(lat, time.Since(s))
	}
	slices.Sort(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	base := time.Now()
	if _, err := x.CountCreated(ctx, start, end); err != nil {
		return err
	}
	b.logf("report: p50 %s p99 %s over %d summaries; baseline (one indexed count of the range) %s",
		lat[len(lat)/2].Round(time.Microsecond), p99.Round(time.Microsecond), len(lat), time.Since(base).Round(time.Microsecond))
	b.res.set("report_p99_ms", float64(p99)/float64(time.Millisecond))
	return nil
}
