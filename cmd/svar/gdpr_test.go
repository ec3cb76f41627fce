package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

type customerView struct {
	Customer ticketing.Customer  `json:"customer"`
	Tickets  []*ticketing.Ticket `json:"tickets"`
}

// streamMessages reads every message of Svar's streams with the NATS
// client, as an operator would.
func streamMessages(t *testing.T, m *Main) map[string][][]byte {
	t.Helper()
	ctx := t.Context()
	js := m.Bus.JetStream()
	out := map[string][][]byte{}
	for _, name := range []string{natsbus.StreamInbound, natsbus.StreamOutbound, natsbus.StreamEvents, natsbus.StreamDLQ, natsbus.StreamJobs} {
		st, err := js.Stream(ctx, m.Bus.StreamName(name))
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			msg, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s #%d: %v", name, seq, err)
			}
			out[name] = append(out[name], msg.Data)
		}
	}
	return out
}

func waitCustomerTickets(t *testing.T, c *agentClient, id string, n int) customerView {
	t.Helper()
	var v customerView
	eventually(t, fmt.Sprintf("customer has %d tickets", n), func() error {
		v = customerView{}
		r := c.do("GET", "/api/v1/customers/"+id, nil)
		if r.status != 200 {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		r.decode(t, &v)
		if len(v.Tickets) != n {
			return fmt.Errorf("%d tickets", len(v.Tickets))
		}
		for _, tk := range v.Tickets {
			if tk.MessageCount == 0 {
				return fmt.Errorf("ticket %s has no message yet", tk.ID)
			}
		}
		return nil
	})
	return v
}

// TestExportAndErasureOnTheRealStack: a customer with an email ticket
// (with a file) and a chat ticket, an order and a reply; the export holds
// every message, order and attachment; after erasure the customer, their
// tickets and files are 404, search finds none of their words, email or
// phone, the NATS streams hold nothing of theirs, the audit log has the
// erasure without personal data, erasing twice is a clear error, and a
// new mail from the same address makes a new customer.
func TestExportAndErasureOnTheRealStack(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()

	const email, phone, ext = "erik.kund@example.se", "+46701234567", "shop-77"
	var pushed struct{ Customer ticketing.Customer }
	r := c.do("POST", "/api/v1/customers", map[string]any{"external_id": ext, "email": email, "phone": phone,
		"name": "Erik Kundsson", "orders": []map[string]string{{"id": "ORD-1001", "total": "499 SEK"}}})
	if r.status != 200 {
		t.Fatalf("push customer: %d %s", r.status, r.body)
	}
	r.decode(t, &pushed)
	cid := pushed.Customer.ID

	if err := m.Store.PutBlob(ctx, &ticketing.Blob{Key: "email/erik-receipt", Filename: "receipt.pdf",
		ContentType: "application/pdf", Data: []byte("%PDF receipt of zebrafinch")}); err != nil {
		t.Fatal(err)
	}
	mail := envelope(email, "<erik-1@example.se>", "My zebrafinch parcel never arrived")
	mail.Attachments = []ticketing.Attachment{{Key: "email/erik-receipt", Filename: "receipt.pdf", ContentType: "application/pdf", Size: 26}}
	if err := m.Bus.PublishInbound(ctx, mail); err != nil {
		t.Fatal(err)
	}
	v := waitCustomerTickets(t, c, cid, 1)
	first := v.Tickets[0]
	if r := c.do("PATCH", "/api/v1/tickets/"+first.ID, map[string]string{"status": "closed"}); r.status != 200 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	chat := &ticketing.Envelope{Channel: ticketing.ChannelChat, ExternalID: "chat-erik-1",
		From: ticketing.Identity{Kind: ticketing.IdentityExternal, Value: ext, Verified: true}, Name: "Erik Kundsson",
		Text: "Hello again about the quokka order", ReceivedAt: time.Now().UTC()}
	if err := m.Bus.PublishInbound(ctx, chat); err != nil {
		t.Fatal(err)
	}
	v = waitCustomerTickets(t, c, cid, 2)
	second := v.Tickets[0]
	if second.ID == first.ID || second.Channel != ticketing.ChannelChat {
		t.Fatalf("second ticket %+v", second)
	}
	if r := c.do("POST", "/api/v1/tickets/"+second.ID+"/messages", map[string]string{"text": "Reply about the quokka", "channel": "chat"}); r.status != 201 {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}

	// The export.
	if r := c.do("GET", "/api/v1/customers/nobody/export", nil); r.status != 404 {
		t.Fatalf("export of an unknown id: %d", r.status)
	}
	r = c.do("GET", "/api/v1/customers/"+cid+"/export", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", r.status, r.header.Get("Content-Type"))
	}
	files := unzip(t, r.body)
	want := map[string][]string{
		"customer.json": {email, phone, ext},
		"orders.json":   {"ORD-1001", "499 SEK"},
		fmt.Sprintf("tickets/%d.json", first.Number):  {"My zebrafinch parcel never arrived", `"channel": "email"`},
		fmt.Sprintf("tickets/%d.json", second.Number): {"Hello again about the quokka order", "Reply about the quokka", `"channel": "chat"`},
	}
	for name, parts := range want {
		for _, p := range parts {
			if !strings.Contains(files[name], p) {
				t.Errorf("%s lacks %q:\n%s", name, p, files[name])
			}
		}
	}
	att := false
	for name, body := range files {
		if strings.HasPrefix(name, "attachments/") && strings.HasSuffix(name, "receipt.pdf") && body == "%PDF receipt of zebrafinch" {
			att = true
		}
	}
	if !att {
		t.Errorf("no attachment in the export: %v", keys(files))
	}
	// Before: the streams do hold the customer's words (the test can fail).
	if !streamsMention(streamMessages(t, m), "zebrafinch") {
		t.Fatal("the events stream should hold the message before the erasure")
	}

	// The erasure.
	r = c.do("DELETE", "/api/v1/customers/"+cid, nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/api/v1/customers/" + cid, "/api/v1/tickets/" + first.ID, "/api/v1/tickets/" + second.ID,
		fmt.Sprintf("/api/v1/tickets/%d", first.Number), "/api/v1/attachments/email/erik-receipt", "/api/v1/customers/" + cid + "/export"} {
		if r := c.do("GET", p, nil); r.status != 404 {
			t.Errorf("GET %s after erasure: %d %s", p, r.status, r.body)
		}
	}
	for _, q := range []string{"zebrafinch", "quokka", email, phone, "Erik"} {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?q="+url.QueryEscape(q), nil).decode(t, &page)
		if len(page.Tickets) != 0 {
			t.Errorf("search %q after erasure: %+v", q, page.Tickets)
		}
	}
	var all ticketing.TicketPage
	c.do("GET", "/api/v1/tickets", nil).decode(t, &all)
	if len(all.Tickets) != 0 {
		t.Errorf("tickets listed after erasure: %+v", all.Tickets)
	}
	streams := streamMessages(t, m)
	for _, needle := range []string{email, phone, ext, "zebrafinch", "quokka", "Kundsson"} {
		if streamsMention(streams, needle) {
			t.Errorf("a NATS stream still holds %q", needle)
		}
	}
	for name, msgs := range streams {
		for _, d := range msgs {
			if bytes.Contains(d, []byte(cid)) && !bytes.Contains(d, []byte(`"erased":true`)) && !bytes.Contains(d, []byte(`"type":"customer.erased"`)) {
				t.Errorf("%s holds %s", name, d)
			}
		}
	}

	var audit struct {
		Entries []struct{ Action, Target string }
	}
	r = c.do("GET", "/api/v1/audit?action=customer.erased", nil)
	r.decode(t, &audit)
	if len(audit.Entries) != 1 || !strings.Contains(audit.Entries[0].Target, cid) {
		t.Errorf("audit of the erasure: %s", r.body)
	}
	full := c.do("GET", "/api/v1/audit?limit=200", nil)
	for _, p := range []string{email, phone, "zebrafinch", "Kundsson"} {
		if strings.Contains(string(full.body), p) {
			t.Errorf("the audit log holds %q", p)
		}
	}

	r = c.do("DELETE", "/api/v1/customers/"+cid, nil)
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "erased already") {
		t.Errorf("erase twice: %d %s", r.status, r.body)
	}

	// A new mail from the same address: a new customer.
	if err := m.Bus.PublishInbound(ctx, envelope(email, "<erik-2@example.se>", "Me again")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new customer's ticket", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		if len(page.Tickets) != 1 {
			return fmt.Errorf("%d tickets", len(page.Tickets))
		}
		if page.Tickets[0].CustomerID == cid {
			t.Fatalf("the erased customer came back: %+v", page.Tickets[0])
		}
		return nil
	})
}

func streamsMention(s map[string][][]byte, needle string) bool {
	for _, msgs := range s {
		for _, d := range msgs {
			if bytes.Contains(d, []byte(needle)) {
				return true
			}
		}
	}
	return false
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(data)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRetentionErasesOldSolvedTicketsAndNothingElse: with retention's
// clock 40 days ahead, a 30-day setting erases the solved tickets: a
// customer with only solved tickets goes whole; one with an open ticket
// keeps it and loses the solved one; open tickets stay.
func TestRetentionErasesOldSolvedTicketsAndNothingElse(t *testing.T) {
	m := startNode(t, "", func(m *Main) {
		m.gdprNow = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
	})
	c := login(t, m)
	ctx := context.Background()
	ticketOf := func(from, ext, text string) *ticketing.Ticket {
		t.Helper()
		if err := m.Bus.PublishInbound(ctx, envelope(from, ext, text)); err != nil {
			t.Fatal(err)
		}
		return onlyTicketOf(t, c, text)
	}
	setStatus := func(tk *ticketing.Ticket, status string) {
		t.Helper()
		if r := c.do("PATCH", "/api/v1/tickets/"+tk.ID, map[string]string{"status": status}); r.status != 200 {
			t.Fatalf("%s: %d %s", status, r.status, r.body)
		}
	}
	a := ticketOf("anna@example.se", "<a1@x>", "Anna solvedonly")
	setStatus(a, "solved")
	b1 := ticketOf("bo@example.se", "<b1@x>", "Bo closedone")
	setStatus(b1, "closed")
	b2 := ticketOf("bo@example.se", "<b2@x>", "Bo stillopen")
	cc := ticketOf("cilla@example.se", "<c1@x>", "Cilla openone")

	if r := c.do("PUT", "/api/v1/settings/retention", map[string]int{"solved_ticket_days": -1}); r.status != 422 || !strings.Contains(string(r.body), "solved_ticket_days") {
		t.Fatalf("retention -1: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/api/v1/settings/retention/preview?solved_ticket_days=-1", nil); r.status != 422 {
		t.Fatalf("preview -1: %d", r.status)
	}
	var pv struct{ Tickets, Customers int }
	eventually(t, "preview", func() error {
		c.do("GET", "/api/v1/settings/retention/preview?solved_ticket_days=30", nil).decode(t, &pv)
		if pv.Tickets != 2 || pv.Customers != 1 {
			return fmt.Errorf("preview %+v", pv)
		}
		return nil
	})
	c.do("GET", "/api/v1/settings/retention/preview?solved_ticket_days=50", nil).decode(t, &pv)
	if pv.Tickets != 0 || pv.Customers != 0 {
		t.Fatalf("preview of 50 days %+v", pv)
	}
	// The preview erased nothing.
	if r := c.do("GET", "/api/v1/tickets/"+a.ID, nil); r.status != 200 {
		t.Fatalf("after a preview: %d", r.status)
	}
	if r := c.do("PUT", "/api/v1/settings/retention", map[string]int{"solved_ticket_days": 30}); r.status != 200 {
		t.Fatalf("retention: %d %s", r.status, r.body)
	}
	// The daily job's handler (the Scheduler hands it to one node a day).
	if err := m.GDPR.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b1.ID, "/api/v1/customers/" + a.CustomerID} {
		p := id
		if !strings.HasPrefix(p, "/") {
			p = "/api/v1/tickets/" + id
		}
		if r := c.do("GET", p, nil); r.status != 404 {
			t.Errorf("GET %s after retention: %d", p, r.status)
		}
	}
	for _, tk := range []*ticketing.Ticket{b2, cc} {
		if r := c.do("GET", "/api/v1/tickets/"+tk.ID, nil); r.status != 200 {
			t.Errorf("open ticket %s after retention: %d", tk.ID, r.status)
		}
	}
	var bo customerView
	c.do("GET", "/api/v1/customers/"+b2.CustomerID, nil).decode(t, &bo)
	if len(bo.Tickets) != 1 || bo.Tickets[0].ID != b2.ID {
		t.Errorf("Bo after retention: %+v", bo.Tickets)
	}
	var page ticketing.TicketPage
	c.do("GET", "/api/v1/tickets", nil).decode(t, &page)
	if len(page.Tickets) != 2 {
		t.Errorf("tickets after retention: %d", len(page.Tickets))
	}
	c.do("GET", "/api/v1/settings/retention/preview?solved_ticket_days=30", nil).decode(t, &pv)
	if pv.Tickets != 0 {
		t.Errorf("preview after the sweep %+v", pv)
	}
}

// TestRetentionRemovesOldAttachmentsAndKeepsTheTickets: with retention's
// clock 40 days ahead, attachments_days 30 removes the file of a message
// from now (40 days old to the clock) and keeps the ticket and its text,
// the file's entry becoming a placeholder; a file on a message 1 day old
// to the clock stays. Bad values are refused naming the field.
func TestRetentionRemovesOldAttachmentsAndKeepsTheTickets(t *testing.T) {
	shift := 40 * 24 * time.Hour
	m := startNode(t, "", func(m *Main) {
		m.gdprNow = func() time.Time { return time.Now().Add(shift) }
	})
	c := login(t, m)
	ctx := context.Background()
	withFile := func(from, ext, text, key string, at time.Time) *ticketing.Ticket {
		t.Helper()
		if err := m.Store.PutBlob(ctx, &ticketing.Blob{Key: key, Filename: "kvitto.pdf", ContentType: "application/pdf",
			Data: []byte("%PDF " + text)}); err != nil {
			t.Fatal(err)
		}
		e := envelope(from, ext, text)
		e.ReceivedAt = at
		e.Attachments = []ticketing.Attachment{{Key: key, Filename: "kvitto.pdf", ContentType: "application/pdf", Size: int64(5 + len(text))}}
		if err := m.Bus.PublishInbound(ctx, e); err != nil {
			t.Fatal(err)
		}
		return onlyTicketOf(t, c, text)
	}
	old := withFile("olle@example.se", "<o1@x>", "Olle oldfile", "email/olle-kvitto", time.Now().UTC())
	recent := withFile("rut@example.se", "<r1@x>", "Rut recentfile", "email/rut-kvitto", time.Now().UTC().Add(shift-24*time.Hour))

	for _, body := range []map[string]int{{"attachments_days": -1}, {"solved_ticket_days": 0, "attachments_days": -1}} {
		if r := c.do("PUT", "/api/v1/settings/retention", body); r.status != 422 || !strings.Contains(string(r.body), "attachments_days") {
			t.Fatalf("attachments_days -1: %d %s", r.status, r.body)
		}
	}
	if r := c.do("GET", "/api/v1/settings/retention/preview?attachments_days=-1", nil); r.status != 422 || !strings.Contains(string(r.body), "attachments_days") {
		t.Fatalf("preview of attachments_days -1: %d %s", r.status, r.body)
	}
	var pv struct{ Tickets, Customers, Attachments int }
	c.do("GET", "/api/v1/settings/retention/preview?solved_ticket_days=0&attachments_days=30", nil).decode(t, &pv)
	if pv != (struct{ Tickets, Customers, Attachments int }{0, 0, 1}) {
		t.Fatalf("preview of 30 days: %+v, want the one old file", pv)
	}
	c.do("GET", "/api/v1/settings/retention/preview?attachments_days=50", nil).decode(t, &pv)
	if pv.Attachments != 0 {
		t.Fatalf("preview of 50 days: %+v", pv)
	}
	if _, err := m.Store.GetBlob(ctx, "email/olle-kvitto"); err != nil {
		t.Fatalf("the preview removed a file: %v", err)
	}
	var set struct {
		Solved      int `json:"solved_ticket_days"`
		Attachments int `json:"attachments_days"`
	}
	r := c.do("PUT", "/api/v1/settings/retention", map[string]int{"attachments_days": 30})
	if r.status != 200 {
		t.Fatalf("retention: %d %s", r.status, r.body)
	}
	c.do("GET", "/api/v1/settings/retention", nil).decode(t, &set)
	if set.Solved != 0 || set.Attachments != 30 {
		t.Fatalf("setting after PUT: %+v", set)
	}
	if err := m.GDPR.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}

	var view struct {
		Ticket   ticketing.Ticket
		Messages []ticketing.Message
	}
	r = c.do("GET", "/api/v1/tickets/"+old.ID, nil)
	if r.status != 200 {
		t.Fatalf("the old ticket after retention: %d", r.status)
	}
	r.decode(t, &view)
	if len(view.Messages) != 1 || view.Messages[0].Text != "Olle oldfile" || len(view.Messages[0].Attachments) != 1 {
		t.Fatalf("the old ticket's messages after retention: %+v", view.Messages)
	}
	if a := view.Messages[0].Attachments[0]; a.Removed != "retention" || a.Key != "" || a.Filename != "kvitto.pdf" || a.RemovedAt.IsZero() {
		t.Fatalf("the old file's entry: %+v, want a placeholder saying retention removed it", a)
	}
	if _, err := m.Store.GetBlob(ctx, "email/olle-kvitto"); !ticketing.IsNotFound(err) {
		t.Fatalf("the old file after retention: %v", err)
	}
	if r := c.do("GET", "/api/v1/attachments/email/olle-kvitto?ticket="+old.ID, nil); r.status != 404 {
		t.Fatalf("GET the old file: %d", r.status)
	}
	c.do("GET", "/api/v1/tickets/"+recent.ID, nil).decode(t, &view)
	if len(view.Messages) != 1 || len(view.Messages[0].Attachments) != 1 || view.Messages[0].Attachments[0].Key != "email/rut-kvitto" {
		t.Fatalf("the recent file's message: %+v", view.Messages)
	}
	if _, err := m.Store.GetBlob(ctx, "email/rut-kvitto"); err != nil {
		t.Fatalf("the recent file after retention: %v", err)
	}
	c.do("GET", "/api/v1/settings/retention/preview?attachments_days=30", nil).decode(t, &pv)
	if pv.Attachments != 0 {
		t.Fatalf("preview after the sweep: %+v", pv)
	}
}

// onlyTicketOf waits until a search for text finds exactly one ticket and
// returns it.
func onlyTicketOf(t *testing.T, c *agentClient, text string) *ticketing.Ticket {
	t.Helper()
	var found *ticketing.Ticket
	eventually(t, "ticket of "+text, func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?q="+url.QueryEscape(text), nil).decode(t, &page)
		if len(page.Tickets) != 1 {
			return fmt.Errorf("%d tickets", len(page.Tickets))
		}
		found = page.Tickets[0]
		return nil
	})
	return found
}
