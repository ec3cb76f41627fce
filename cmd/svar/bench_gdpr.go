package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// phaseGDPR measures export_s and erase_s: GET
// /api/v1/customers/{id}/export and DELETE /api/v1/customers/{id} over HTTP
// for a customer with GDPRMsgs messages on one ticket, every tenth with a
// file, seeded through the node's store (by _id, as threading writes them)
// with a message.created event each on the node's SVAR_EVENTS, so the
// erasure has as many stream copies to find among everything the earlier
// phases left there. When the phase runs without them, it first fills the
// streams to what a busy shop's hold (gdprStreams: a day of events and the
// SLA clocks of a large backlog waiting in the jobs stream), so the figure
// is the same either way. The baseline is reading the same messages by _id
// (what a ticket view does), in the same run.
const phaseGDPR = "gdpr"

var gdprFigures = []string{"export_s", "erase_s", "gdpr_baseline_read_s"}

func (b *bench) gdprPhase(ctx context.Context) error {
	n := b.cfg.GDPRMsgs
	store, err := mongostore.Open(ctx, mongostore.Options{URI: b.node.mongoURI})
	if err != nil {
		return fmt.Errorf("gdpr: open the store: %w", err)
	}
	defer store.Close(context.Background())
	bus, err := b.connectBus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()

	if err := b.gdprStreams(ctx, bus); err != nil {
		return err
	}
	b.progress.set("gdpr: seeding a customer with %d messages", n)
	cid := ticketing.NewID()
	email := "gdpr-" + cid + "@example.se"
	idn := ticketing.Identity{Kind: ticketing.IdentityEmail, Value: email}
	now := time.Now().UTC()
	if err := store.InsertIdentity(ctx, idn, cid); err != nil {
		return err
	}
	if _, err := store.EnsureCustomer(ctx, &ticketing.Customer{ID: cid, Name: "Bench Kund", Identities: []ticketing.Identity{idn},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return err
	}
	tid := cid + "-1"
	msgs := make([]*ticketing.Message, n)
	ids := make([]string, n)
	files := 0
	for i := range msgs {
		m := &ticketing.Message{ID: fmt.Sprintf("%s-m%d", cid, i), TicketID: tid, CustomerID: cid, Direction: ticketing.DirectionInbound,
			Channel: ticketing.ChannelEmail, Text: fmt.Sprintf("Message %d about order %d and the parcel", i, 1000+i),
			Author: ticketing.Author{Kind: ticketing.AuthorCustomer, ID: cid, Name: "Bench Kund"}, CreatedAt: now}
		if i%10 == 0 {
			key := fmt.Sprintf("bench/%s/%d", cid, i)
			if err := store.PutBlob(ctx, &ticketing.Blob{Key: key, Filename: "receipt.pdf", ContentType: "application/pdf",
				Data: bytes.Repeat([]byte("%PDF receipt "), 300)}); err != nil {
				return err
			}
			m.Attachments = []ticketing.Attachment{{Key: key, Filename: "receipt.pdf", ContentType: "application/pdf", Size: 13 * 300}}
			files++
		}
		msgs[i], ids[i] = m, m.ID
	}
	for lo := 0; lo < n; lo += 500 {
		if _, err := store.InsertMessages(ctx, msgs[lo:min(lo+500, n)]); err != nil {
			return err
		}
	}
	number, err := store.NextTicketNumber(ctx)
	if err != nil {
		return err
	}
	tk := &ticketing.Ticket{ID: tid, Number: number, Status: ticketing.StatusOpen, Priority: ticketing.PriorityNormal,
		Subject: "Bench erasure", CustomerID: cid, Channel: ticketing.ChannelEmail, Tags: []string{}, MessageIDs: ids,
		MessageCount: n, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.InsertTicket(ctx, tk); err != nil {
		return err
	}
	if _, err := store.LinkTicket(ctx, cid, tid, 1); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := bus.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventMessageCreated, Ticket: tk, Message: m, At: now}); err != nil {
			return err
		}
	}
	select {
	case <-bus.JetStream().PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return fmt.Errorf("gdpr: the seeded events were not acknowledged within a minute")
	}
	b.logf("gdpr: seeded a customer with %d messages (%d files) and their events", n, files)
	b.quiesce(ctx, phaseGDPR) // the node indexes the events first

	start := time.Now()
	got, err := store.GetMessages(ctx, ids)
	base := time.Since(start)
	if err != nil {
		return err
	}
	if len(got) != n {
		return fmt.Errorf("gdpr: read %d of %d messages back", len(got), n)
	}

	b.progress.set("gdpr: export")
	start = time.Now()
	zipped, err := b.agent.fetch(ctx, http.MethodGet, "/api/v1/customers/"+cid+"/export")
	export := time.Since(start)
	if err != nil {
		return err
	}
	if err := checkBenchExport(zipped, number, n, files); err != nil {
		return err
	}

	b.quiesce(ctx, phaseGDPR)
	b.progress.set("gdpr: erase")
	start = time.Now()
	answer, err := b.agent.fetch(ctx, http.MethodDelete, "/api/v1/customers/"+cid)
	erase := time.Since(start)
	if err != nil {
		return err
	}
	var res struct {
		Erased struct {
			Streams int `json:"stream_messages"`
		} `json:"erased"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return fmt.Errorf("gdpr: erase answered %s", benchOneLine(string(answer)))
	}
	if left, err := store.GetMessages(ctx, ids); err != nil || len(left) != 0 {
		return fmt.Errorf("gdpr: %d messages left after the erasure (%v)", len(left), err)
	}
	if res.Erased.Streams < n {
		return fmt.Errorf("gdpr: the erasure deleted %d stream copies, want at least the %d events", res.Erased.Streams, n)
	}
	b.res.set("gdpr_baseline_read_s", base.Seconds())
	b.res.set("export_s", export.Seconds())
	b.res.set("erase_s", erase.Seconds())
	b.logf("gdpr: %d messages: baseline (read by _id) %s, export %s (%d KiB zip), erase %s (%d stream copies); load average %s",
		n, base.Round(time.Millisecond), export.Round(time.Millisecond), len(zipped)>>10, erase.Round(time.Millisecond),
		res.Erased.Streams, loadAverage())
	return nil
}

// gdprEvents and gdprJobs are what the streams hold at least when the
// erasure is measured: about a day of a shop taking 50,000 messages a day
// (every message makes three or four events, most carrying their ticket)
// and the clocks of 20,000 open tickets (two jobs each), waiting as
// scheduled messages.
const gdprEvents, gdprJobs = 200_000, 40_000

// gdprStreams tops the events and jobs streams up to gdprEvents and
// gdprJobs messages of other customers (a tenth of that for -smoke).
func (b *bench) gdprStreams(ctx context.Context, bus *natsbus.Bus) error {
	wantEv, wantJobs := uint64(gdprEvents), uint64(gdprJobs)
	if b.cfg.Smoke {
		wantEv, wantJobs = wantEv/100, wantJobs/100
	}
	js := bus.JetStream()
	count := func(name string) (uint64, error) {
		st, err := js.Stream(ctx, bus.StreamName(name))
		if err != nil {
			return 0, fmt.Errorf("gdpr: stream %s: %w", name, err)
		}
		return st.CachedInfo().State.Msgs, nil
	}
	ev, err := count(natsbus.StreamEvents)
	if err != nil {
		return err
	}
	jobs, err := count(natsbus.StreamJobs)
	if err != nil {
		return err
	}
	b.progress.set("gdpr: filling the streams (%d events, %d jobs there)", ev, jobs)
	now := time.Now().UTC()
	for i := ev; i < wantEv; i++ {
		// An event type nothing reacts to, as large as a message.created
		// with its ticket (ten messages on it) as threading publishes it.
		other := fmt.Sprintf("noise-%d", i)
		ids := make([]string, 10)
		for k := range ids {
			ids[k] = fmt.Sprintf("%s-m%d-%s", other, k, ticketing.NewID())
		}
		text := "Hej! Jag undrar var mitt paket är, ordernummer " + other + ". " + benchText
		t := &ticketing.Ticket{ID: other, Number: int64(100000 + i), Status: ticketing.StatusOpen, Priority: ticketing.PriorityNormal,
			Subject: "Var är min order?", CustomerID: other, CustomerName: "En Annan Kund", Channel: ticketing.ChannelEmail,
			Tags: []string{"leverans", "order"}, MessageIDs: ids, MessageCount: len(ids), Preview: ticketing.FirstLine(text, 140),
			CreatedAt: now, UpdatedAt: now, LastMessageAt: now, LastInboundAt: now, Version: int64(len(ids))}
		m := &ticketing.Message{ID: ids[len(ids)-1], TicketID: other, CustomerID: other, Channel: ticketing.ChannelEmail,
			Direction: ticketing.DirectionInbound, Subject: t.Subject, CreatedAt: now, Text: text,
			Author: ticketing.Author{Kind: ticketing.AuthorCustomer, ID: other, Name: t.CustomerName}}
		if err := bus.PublishEvent(ctx, &ticketing.Event{Type: "bench.noise", At: now, Ticket: t, Message: m}); err != nil {
			return err
		}
	}
	// Due in a day: they wait as scheduled messages, as real clocks do.
	var g errgroup.Group
	g.SetLimit(16)
	for i := jobs; i < wantJobs; i++ {
		g.Go(func() error {
			return bus.Schedule(ctx, "bench", fmt.Sprintf("noise-%d", i), now.Add(24*time.Hour), []byte(`{"ticket_id":"noise"}`))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("gdpr: the streams' filling was not acknowledged within two minutes")
	}
	ev2, err := count(natsbus.StreamEvents)
	if err != nil {
		return err
	}
	jobs2, err := count(natsbus.StreamJobs)
	if err != nil {
		return err
	}
	b.logf("gdpr: the streams hold %d events (%d added) and %d jobs (%d added)", ev2, ev2-ev, jobs2, jobs2-jobs)
	return nil
}

// checkBenchExport checks that the export holds every message and file.
func checkBenchExport(b []byte, number int64, msgs, files int) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("gdpr: the export is not a zip: %w", err)
	}
	atts := 0
	var ticket struct {
		Messages []json.RawMessage `json:"messages"`
	}
	for _, f := range zr.File {
		switch {
		case f.Name == fmt.Sprintf("tickets/%d.json", number):
			rc, err := f.Open()
			if err != nil {
				return err
			}
			err = json.NewDecoder(rc).Decode(&ticket)
			rc.Close()
			if err != nil {
				return fmt.Errorf("gdpr: export: %s: %w", f.Name, err)
			}
		case len(f.Name) > 12 && f.Name[:12] == "attachments/":
			atts++
		}
	}
	if len(ticket.Messages) != msgs || atts != files {
		return fmt.Errorf("gdpr: the export holds %d messages and %d files, want %d and %d", len(ticket.Messages), atts, msgs, files)
	}
	return nil
}

// fetch sends a bodiless request and returns the answer's body; anything
// but 200 is an error.
func (c *benchAgent) fetch(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, benchOneLine(string(b)))
	}
	return b, nil
}
