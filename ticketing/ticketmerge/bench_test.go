package ticketmerge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/ticketmerge"
)

// pair makes a customer with two tickets: a closed one of n messages and
// an open one of one message.
func (s *stack) pair(b *testing.B, email string, n int) (from, into *ticketing.Ticket) {
	b.Helper()
	ctx := context.Background()
	envs := make([]*ticketing.Envelope, n)
	for i := range envs {
		envs[i] = &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: fmt.Sprintf("%s-%d", email, i),
			From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: email}, Name: "Kund", Subject: "Hjälp",
			Text: fmt.Sprintf("Meddelande %d om paketet", i), ReceivedAt: time.Now().UTC()}
	}
	for _, err := range s.core.Ingest(ctx, envs) {
		if err != nil {
			b.Fatal(err)
		}
	}
	m, err := s.store.GetMessage(ctx, envs[0].MessageID())
	if err != nil {
		b.Fatal(err)
	}
	closed := ticketing.StatusClosed
	if _, err := s.core.UpdateTicket(ctx, m.TicketID, &ticketing.Agent{ID: "ag"}, ticketing.TicketUpdate{Status: &closed}); err != nil {
		b.Fatal(err)
	}
	last := &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: email + "-last",
		From: envs[0].From, Name: "Kund", Text: "Och en sak till", ReceivedAt: time.Now().UTC()}
	if errs := s.core.Ingest(ctx, []*ticketing.Envelope{last}); errs[0] != nil {
		b.Fatal(errs[0])
	}
	lm, err := s.store.GetMessage(ctx, last.MessageID())
	if err != nil {
		b.Fatal(err)
	}
	return s.ticket(b, m.TicketID), s.ticket(b, lm.TicketID)
}

// BenchmarkMerge merges a ticket of 50 messages into another of the same
// customer on the embedded store and NATS, beside the baseline of the
// writes any move of those messages needs (each message's ticket set, the
// two tickets' lists changed), measured in the same run on tickets of the
// same shape. ms/… and cmds/… (store commands sent, which do not depend on
// how busy the machine is) are per 50-message ticket.
//
//	go test -run '^$' -bench Merge -benchtime 20x ./ticketing/ticketmerge/
func BenchmarkMerge(b *testing.B) {
	const n = 50
	s := newStack(b)
	ctx := context.Background()
	svc := ticketmerge.New(ticketmerge.Options{Store: s.store, Core: s.core})
	agent := &ticketing.Agent{ID: "ag"}
	var merge, base time.Duration
	var mergeCmds, baseCmds uint64
	total := func() (n uint64) {
		for _, c := range s.store.CommandCounts() {
			n += c
		}
		return n
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		from, into := s.pair(b, fmt.Sprintf("m%d@example.se", i), n)
		bFrom, bInto := s.pair(b, fmt.Sprintf("b%d@example.se", i), n)
		b.StartTimer()
		c0, t0 := total(), time.Now()
		got, err := svc.Merge(ctx, agent, into.ID, from.ID)
		if err != nil {
			b.Fatal(err)
		}
		merge += time.Since(t0)
		mergeCmds += total() - c0
		if got.MessageCount != n+1 {
			b.Fatalf("merged %d messages", got.MessageCount)
		}
		c0, t0 = total(), time.Now()
		if _, err := s.store.ApplyToTicket(ctx, bInto.ID, ticketing.TicketChange{AddMessageIDs: bFrom.MessageIDs}); err != nil {
			b.Fatal(err)
		}
		for _, id := range bFrom.MessageIDs {
			if err := s.store.SetMessageThread(ctx, id, bInto.ID, ticketing.ReasonMerged); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.store.ApplyToTicket(ctx, bFrom.ID, ticketing.TicketChange{RemoveMessageIDs: slices.Clone(bFrom.MessageIDs)}); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		baseCmds += total() - c0
	}
	b.ReportMetric(float64(merge.Microseconds())/1000/float64(b.N), "ms/merge")
	b.ReportMetric(float64(base.Microseconds())/1000/float64(b.N), "ms/baseline")
	b.ReportMetric(float64(mergeCmds)/float64(b.N), "cmds/merge")
	b.ReportMetric(float64(baseCmds)/float64(b.N), "cmds/baseline")
}
