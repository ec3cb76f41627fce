package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// benchIndex seeds an index with n tickets over the 90 days before end,
// as the svar bench report phase does: each with a customer message and
// an agent reply, three in four solved, one in three of those rated, on
// three channels, 12 agents, 4 teams and 5 types.
func benchIndex(b *testing.B, n int, end time.Time) *Index {
	b.Helper()
	cal := fixedCal{hours.MustCompile(hours.Default())}
	x, err := Open(Options{Path: filepath.Join(b.TempDir(), "report.db"), Events: noEvents{}, Calendars: cal})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Close() })
	start := end.AddDate(0, 0, -90)
	rng := rand.New(rand.NewPCG(1, 2))
	chans := []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS}
	types := []string{"question", "order", "delivery", "return", "complaint"}
	const batch = 50_000 // each Load recomputes the hours it touched: few big loads
	for i := 0; i < n; i += batch {
		var tks []*ticketing.Ticket
		var msgs [][]*ticketing.Message
		for j := i; j < min(n, i+batch); j++ {
			at := start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)))))
			id := fmt.Sprintf("c%d-%d", j%(n/3+1), 1+j/(n/3+1))
			t := &ticketing.Ticket{ID: id, CustomerID: fmt.Sprintf("c%d", j%(n/3+1)), Channel: chans[j%3], Status: ticketing.StatusOpen,
				CreatedAt: at, AssigneeID: "agent" + strconv.Itoa(j%12), TeamID: "team" + strconv.Itoa(j%4), Type: types[j%5], Version: 1}
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
		if err := x.Load(context.Background(), tks, msgs); err != nil {
			b.Fatal(err)
		}
	}
	return x
}

// BenchmarkSummaryGrouped: a 90-day summary of 100,000 tickets (set
// SVAR_BENCH_REPORT_TICKETS for another size) by each grouping, from the
// buckets (what Summary does) and, as the baseline in the same run, from
// the facts alone (how grouped summaries were answered before the grouped
// buckets). Both must give the same rows.
//
//	go test -run '^$' -bench SummaryGrouped -benchtime 10x ./ticketing/report/
func BenchmarkSummaryGrouped(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SVAR_BENCH_REPORT_TICKETS")); err == nil && v > 0 {
		n = v
	}
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	x := benchIndex(b, n, end)
	b.Logf("seeded %d tickets in %s", n, time.Since(t0).Round(time.Millisecond))
	sto, _ := time.LoadLocation("Europe/Stockholm")
	ctx := context.Background()
	for _, g := range []string{"channel", "agent", "team", "type", "day"} {
		q := Query{From: end.AddDate(0, 0, -90), To: end, GroupBy: g, Location: sto}
		got, err := x.Summary(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		want, err := x.summarySQL(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			b.Fatalf("%s: %d rows from buckets, %d from facts", g, len(got), len(want))
		}
		for i := range got {
			if got[i].Key != want[i].Key || got[i].TicketsCreated != want[i].TicketsCreated || got[i].MessagesOut != want[i].MessagesOut ||
				num(got[i].FirstResponseP90) != num(want[i].FirstResponseP90) {
				b.Fatalf("%s row %d: buckets %+v, facts %+v", g, i, got[i], want[i])
			}
		}
		b.Run(g+"/buckets", func(b *testing.B) {
			for b.Loop() {
				if _, err := x.Summary(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(g+"/facts", func(b *testing.B) {
			for b.Loop() {
				if _, err := x.summarySQL(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
