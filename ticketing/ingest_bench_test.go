package ticketing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// discardBus takes the core's events and outbound messages and drops
// them, so that the benchmark measures threading and the store alone.
type discardBus struct{}

func (discardBus) PublishEvent(context.Context, *ticketing.Event) error       { return nil }
func (discardBus) PublishOutbound(context.Context, *ticketing.Outbound) error { return nil }

// benchBatch is how many envelopes the bus hands the core at once.
const benchBatch = 200

var benchText = strings.Repeat("Hej! Var är mitt paket? Jag beställde för en vecka sedan. ", 7)

func benchEnv(run string, customer, n int) *ticketing.Envelope {
	return &ticketing.Envelope{
		Channel: ticketing.ChannelEmail, ExternalID: fmt.Sprintf("<%s-%d-%d@bench>", run, customer, n),
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: fmt.Sprintf("kund%d@%s.bench", customer, run)},
		Name: "Kund", Subject: "Order 1234", Text: benchText, HTML: "<p>" + benchText + "</p>",
		ReceivedAt: time.Now().UTC(),
	}
}

// ingestBatches runs envs through Ingest in batches, as the bus does, and
// fails on any error.
func ingestBatches(b *testing.B, svc *ticketing.Service, envs []*ticketing.Envelope) {
	b.Helper()
	ctx := context.Background()
	for lo := 0; lo < len(envs); lo += benchBatch {
		for i, err := range svc.Ingest(ctx, envs[lo:min(lo+benchBatch, len(envs))]) {
			if err != nil {
				b.Fatalf("envelope %d: %v", lo+i, err)
			}
		}
	}
}

// BenchmarkIngest measures the threading core on the embedded store
// (mongotest) against a baseline of single-message inserts into the same
// store, in the same run: how many store inserts' worth one threaded
// message costs.
//
//	go test -run '^$' -bench Ingest -benchtime 2000x ./ticketing/
func BenchmarkIngest(b *testing.B) {
	store := mongotest.New(b)
	svc := ticketing.New(ticketing.Options{Store: store, Bus: discardBus{}})
	ctx := context.Background()

	b.Run("baseline=store-insert-1", func(b *testing.B) {
		run := fmt.Sprintf("raw%d", b.N)
		msgs := make([]*ticketing.Message, b.N)
		for i := range msgs {
			e := benchEnv(run, i, 0)
			msgs[i] = &ticketing.Message{ID: e.MessageID(), TicketID: "c-1", CustomerID: "c", Direction: ticketing.DirectionInbound,
				Channel: e.Channel, Subject: e.Subject, Text: e.Text, HTML: e.HTML, CreatedAt: e.ReceivedAt, ExternalID: e.ExternalID,
				Author: ticketing.Author{Kind: ticketing.AuthorCustomer, ID: "c", Name: e.Name}}
		}
		b.ResetTimer()
		for _, m := range msgs {
			if _, err := store.InsertMessages(ctx, []*ticketing.Message{m}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})

	// A returning customer's message joins their open ticket: the common
	// case. Each batch holds one message from each of benchBatch customers.
	b.Run("returning-customer", func(b *testing.B) {
		run := fmt.Sprintf("ret%d", b.N)
		first := make([]*ticketing.Envelope, benchBatch)
		for c := range first {
			first[c] = benchEnv(run, c, 0)
		}
		ingestBatches(b, svc, first)
		envs := make([]*ticketing.Envelope, b.N)
		for i := range envs {
			envs[i] = benchEnv(run, i%benchBatch, 1+i/benchBatch)
		}
		b.ResetTimer()
		ingestBatches(b, svc, envs)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	// A new customer's first message creates the identity, the customer
	// and a numbered ticket.
	b.Run("new-customer", func(b *testing.B) {
		run := fmt.Sprintf("new%d", b.N)
		envs := make([]*ticketing.Envelope, b.N)
		for i := range envs {
			envs[i] = benchEnv(run, i, 0)
		}
		b.ResetTimer()
		ingestBatches(b, svc, envs)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	// A redelivered envelope is recognised and changes nothing.
	b.Run("redelivery", func(b *testing.B) {
		run := fmt.Sprintf("dup%d", b.N)
		envs := make([]*ticketing.Envelope, b.N)
		for i := range envs {
			envs[i] = benchEnv(run, i%benchBatch, i/benchBatch)
		}
		ingestBatches(b, svc, envs)
		b.ResetTimer()
		ingestBatches(b, svc, envs)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
