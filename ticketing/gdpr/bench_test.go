package gdpr_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/gdpr"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// seed stores a customer with one ticket of n messages (every tenth with
// a file) and publishes a message.created event for each, as threading
// does.
func seed(tb testing.TB, store *mongostore.Store, bus *natsbus.Bus, n int) string {
	tb.Helper()
	ctx := context.Background()
	cid := ticketing.NewID()
	email := cid + "@example.se"
	id := ticketing.Identity{Kind: ticketing.IdentityEmail, Value: email}
	if err := store.InsertIdentity(ctx, id, cid); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := store.EnsureCustomer(ctx, &ticketing.Customer{ID: cid, Name: "Bench", Identities: []ticketing.Identity{id}, CreatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	tid := cid + "-1"
	msgs := make([]*ticketing.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		m := &ticketing.Message{ID: fmt.Sprintf("%s-m%d", cid, i), TicketID: tid, CustomerID: cid, Direction: "inbound",
			Channel: ticketing.ChannelEmail, Text: fmt.Sprintf("message %d about an order", i), CreatedAt: now}
		if i%10 == 0 {
			key := fmt.Sprintf("bench/%s/%d", cid, i)
			if err := store.PutBlob(ctx, &ticketing.Blob{Key: key, Filename: "f.txt", ContentType: "text/plain", Data: []byte("file body")}); err != nil {
				tb.Fatal(err)
			}
			m.Attachments = []ticketing.Attachment{{Key: key, Filename: "f.txt", ContentType: "text/plain", Size: 9}}
		}
		msgs[i], ids[i] = m, m.ID
	}
	if _, err := store.InsertMessages(ctx, msgs); err != nil {
		tb.Fatal(err)
	}
	number, err := store.NextTicketNumber(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.InsertTicket(ctx, &ticketing.Ticket{ID: tid, Number: number, Status: ticketing.StatusOpen, CustomerID: cid,
		Channel: ticketing.ChannelEmail, Tags: []string{}, MessageIDs: ids, CreatedAt: now, UpdatedAt: now, Version: 1}); err != nil {
		tb.Fatal(err)
	}
	if _, err := store.LinkTicket(ctx, cid, tid, 1); err != nil {
		tb.Fatal(err)
	}
	for _, m := range msgs {
		if err := bus.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventMessageCreated, Message: m, At: now}); err != nil {
			tb.Fatal(err)
		}
	}
	return cid
}

// BenchmarkExportAndErase1000: export and erasure of a customer with
// 1,000 messages (100 files) whose 1,000 events are in SVAR_EVENTS. The
// baseline is reading the same messages by _id (what a ticket view does).
func BenchmarkExportAndErase1000(b *testing.B) {
	store, bus := mongotest.New(b), natstest.New(b)
	o := gdpr.Options{Store: store, Streams: bus, Events: bus}
	if os.Getenv("BENCH_NO_STREAMS") != "" {
		o.Streams = nil
	}
	svc := gdpr.New(o)
	ctx := context.Background()
	var base, export, erase time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cid := seed(b, store, bus, 1000)
		c, err := store.GetCustomer(ctx, cid)
		if err != nil {
			b.Fatal(err)
		}
		t, _ := store.GetTicket(ctx, c.TicketIDs[0])
		b.StartTimer()
		start := time.Now()
		if _, err := store.GetMessages(ctx, t.MessageIDs); err != nil {
			b.Fatal(err)
		}
		base += time.Since(start)
		start = time.Now()
		if err := svc.Export(ctx, cid, func() io.Writer { return io.Discard }); err != nil {
			b.Fatal(err)
		}
		export += time.Since(start)
		start = time.Now()
		if _, err := svc.Erase(ctx, cid); err != nil {
			b.Fatal(err)
		}
		erase += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(base.Seconds()/n, "baseline_read_s")
	b.ReportMetric(export.Seconds()/n, "export_s")
	b.ReportMetric(erase.Seconds()/n, "erase_s")
}

// TestEraseTwiceAndUnknown: clear errors for the bad inputs.
func TestEraseTwiceAndUnknown(t *testing.T) {
	store, bus := mongotest.New(t), natstest.New(t)
	svc := gdpr.New(gdpr.Options{Store: store, Streams: bus, Events: bus})
	ctx := context.Background()
	if _, err := svc.Erase(ctx, "nobody"); ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Fatalf("unknown: %v", err)
	}
	cid := seed(t, store, bus, 20)
	if _, err := svc.Erase(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Erase(ctx, cid); ticketing.ErrorCode(err) != ticketing.EConflict {
		t.Fatalf("twice: %v", err)
	}
	if err := svc.Export(ctx, cid, func() io.Writer { return io.Discard }); ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Fatalf("export after erasure: %v", err)
	}
}
