package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/svar-dev/svar/ticketing"
)

// TestEmailReplyWithFileAndIdentity: the admin sets the From name and a
// Swedish signature; an agent's reply with a PDF, sent as multipart, leaves
// over SMTP From the shop's name, ends with the signature in the customer's
// language, and carries the file as a MIME attachment with its name and the
// sniffed type (the browser's claim is ignored).
func TestEmailReplyWithFileAndIdentity(t *testing.T) {
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startEmailNode(t, mb, out)
	c := login(t, m)
	if res := c.do("PUT", "/api/v1/settings/email", map[string]any{"from_name": "Skoaffären", "signature": "Best regards, the Shoe Shop",
		"signatures": map[string]string{"sv": "Vänliga hälsningar, Skoaffären"}}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	mb.deliver(t, "From: Anna Lindqvist <anna@example.se>\r\nTo: support@shop.example\r\nSubject: Retur\r\n"+
		"Message-ID: <ret1@mail.example.se>\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHur returnerar jag skorna?\r\n")
	tk := customerTicket(t, c, "anna@example.se", 1).Ticket
	if res := c.do("PATCH", "/api/v1/customers/"+tk.CustomerID, map[string]any{"attributes": map[string]string{"language": "sv"}}); res.status != 200 {
		t.Fatalf("customer language: %d %s", res.status, res.body)
	}
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("returnlabel "), 300)...)
	res := c.postFiles("/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": "Här är returetiketten."},
		map[string][]byte{"returetikett.pdf": pdf})
	if res.status != 201 {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	eventually(t, "the mail at the SMTP server", func() error {
		if n := len(out.received()); n != 1 {
			return fmt.Errorf("%d mails", n)
		}
		return nil
	})
	r, err := mail.CreateReader(bytes.NewReader(out.received()[0]))
	if err != nil {
		t.Fatal(err)
	}
	if addrs, err := r.Header.AddressList("From"); err != nil || len(addrs) != 1 || addrs[0].Name != "Skoaffären" || addrs[0].Address != "support@shop.example" {
		t.Errorf("From %v (%v)", addrs, err)
	}
	var text, name, ctype string
	var body []byte
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				b, _ := io.ReadAll(p.Body)
				text = strings.ReplaceAll(string(b), "\r\n", "\n")
			}
		case *mail.AttachmentHeader:
			name, _ = h.Filename()
			ctype, _, _ = h.ContentType()
			body, _ = io.ReadAll(p.Body)
		}
	}
	if !strings.HasPrefix(text, "Här är returetiketten.") || !strings.HasSuffix(strings.TrimSpace(text), "-- \nVänliga hälsningar, Skoaffären") {
		t.Errorf("text %q", text)
	}
	if name != "returetikett.pdf" || ctype != "application/pdf" || !bytes.Equal(body, pdf) {
		t.Errorf("attachment %q %q, %d bytes", name, ctype, len(body))
	}
	var v ticketing.TicketView
	c.do("GET", "/api/v1/tickets/"+tk.ID, nil).decode(t, &v)
	if last := v.Messages[len(v.Messages)-1]; len(last.Attachments) != 1 || last.Attachments[0].ContentType != "application/pdf" {
		t.Errorf("stored attachments %+v", last.Attachments)
	}
}
