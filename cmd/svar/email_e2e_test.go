package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/svar-dev/svar/ticketing"
)

const (
	e2eMailUser     = "support@shop.example"
	e2eMailPassword = "mailbox-password"
)

// e2eMailbox is go-imap's in-memory IMAP server on 127.0.0.1 with the
// support mailbox.
type e2eMailbox struct {
	addr string
}

func startMailbox(t *testing.T) *e2eMailbox {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(e2eMailUser, e2eMailPassword)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return &e2eMailbox{addr: ln.Addr().String()}
}

// deliver appends a mail to the INBOX, as a mail arriving.
func (b *e2eMailbox) deliver(t *testing.T, raw string) {
	t.Helper()
	c, err := imapclient.DialInsecure(b.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(e2eMailUser, e2eMailPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	_, _ = cmd.Write([]byte(raw))
	_ = cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// e2eSMTP is a go-smtp server on 127.0.0.1 that keeps what it receives.
type e2eSMTP struct {
	addr string
	mu   sync.Mutex
	msgs [][]byte
}

func startSMTPServer(t *testing.T) *e2eSMTP {
	t.Helper()
	s := &e2eSMTP{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &e2eSMTPSession{s: s}, nil }))
	srv.Domain = "mx.test.example"
	srv.ErrorLog = discardLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	s.addr = ln.Addr().String()
	return s
}

func (s *e2eSMTP) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

type e2eSMTPSession struct{ s *e2eSMTP }

func (e *e2eSMTPSession) Mail(string, *smtp.MailOptions) error { return nil }
func (e *e2eSMTPSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (e *e2eSMTPSession) Reset()                               {}
func (e *e2eSMTPSession) Logout() error                        { return nil }
func (e *e2eSMTPSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e.s.mu.Lock()
	e.s.msgs = append(e.s.msgs, b)
	e.s.mu.Unlock()
	return nil
}

// startEmailNode starts a node whose email channel reads mb and sends
// through out.
func startEmailNode(t *testing.T, mb *e2eMailbox, out *e2eSMTP) *Main {
	return startNode(t, "", func(m *Main) {
		e := &m.Config.Email
		e.Address = "Shop Support <support@shop.example>"
		e.Mailbox = "INBOX"
		e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
		e.SMTP.Addr, e.SMTP.Username, e.SMTP.Password, e.SMTP.TLS = out.addr, "", "", "none"
	})
}

// customerTicket waits until the customer with the address has a ticket
// with n messages, and returns its view as the API shows it.
func customerTicket(t *testing.T, c *agentClient, addr string, n int) *ticketing.TicketView {
	t.Helper()
	var view ticketing.TicketView
	eventually(t, fmt.Sprintf("%s's ticket with %d messages", addr, n), func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		for _, tk := range page.Tickets {
			var v ticketing.TicketView
			c.do("GET", "/api/v1/tickets/"+tk.ID, nil).decode(t, &v)
			if v.Customer == nil || len(v.Customer.Identities) == 0 || v.Customer.Identities[0].Value != addr {
				continue
			}
			if len(v.Messages) != n {
				return fmt.Errorf("ticket %s has %d messages", tk.ID, len(v.Messages))
			}
			view = v
			return nil
		}
		return fmt.Errorf("no ticket for %s among %d", addr, len(page.Tickets))
	})
	return &view
}

// TestEmailRoundTrip: a customer's mail becomes a ticket; the agent's
// reply leaves over SMTP with Svar's Message-ID, the customer's mail in
// In-Reply-To and References and the ticket number in the subject; the
// customer's answer to it joins the same ticket; a forged answer from
// someone else starts a ticket of their own.
func TestEmailRoundTrip(t *testing.T) {
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startEmailNode(t, mb, out)
	c := login(t, m)

	mb.deliver(t, "From: Anna Lindqvist <Anna@Example.se>\r\nTo: support@shop.example\r\nSubject: Var är mitt paket?\r\n"+
		"Message-ID: <first@mail.example.se>\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHej! Order 1001 har inte kommit.\r\n")
	view := customerTicket(t, c, "anna@example.se", 1)
	tk := view.Ticket
	if got := view.Messages[0]; got.Text != "Hej! Order 1001 har inte kommit." || got.Channel != ticketing.ChannelEmail || view.Customer.Name != "Anna Lindqvist" {
		t.Fatalf("first message %q on %s from %q", got.Text, got.Channel, view.Customer.Name)
	}

	res := c.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": "Hej Anna!\n\nDet skickas i dag."})
	if res.status != 201 {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	var reply struct{ Message ticketing.Message }
	res.decode(t, &reply)
	eventually(t, "the reply is sent", func() error {
		var v ticketing.TicketView
		c.do("GET", "/api/v1/tickets/"+tk.ID, nil).decode(t, &v)
		for _, msg := range v.Messages {
			if msg.ID == reply.Message.ID && msg.Delivery != nil && msg.Delivery.Status == ticketing.DeliverySent {
				return nil
			}
		}
		return fmt.Errorf("reply %s not sent yet", reply.Message.ID)
	})
	sent := out.received()
	if len(sent) != 1 {
		t.Fatalf("%d mails at the SMTP server, want 1", len(sent))
	}
	r, err := mail.CreateReader(bytes.NewReader(sent[0]))
	if err != nil {
		t.Fatal(err)
	}
	ownID := fmt.Sprintf("<svar.%s@shop.example>", reply.Message.ID)
	subject, _ := r.Header.Subject()
	for k, want := range map[string]string{
		"Message-Id": ownID, "In-Reply-To": "<first@mail.example.se>", "References": "<first@mail.example.se>",
		"To": "<anna@example.se>", "X-Svar-Message-Id": reply.Message.ID,
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("reply header %s = %q, want %q", k, got, want)
		}
	}
	if want := fmt.Sprintf("Re: Var är mitt paket? [#%d]", tk.Number); subject != want {
		t.Errorf("reply subject %q, want %q", subject, want)
	}
	if from := r.Header.Get("From"); !strings.Contains(from, "<support@shop.example>") {
		t.Errorf("reply From %q", from)
	}

	mb.deliver(t, fmt.Sprintf("From: Anna Lindqvist <anna@example.se>\r\nTo: Shop Support <support@shop.example>\r\n"+
		"Subject: Re: %s\r\nMessage-ID: <second@mail.example.se>\r\nIn-Reply-To: %s\r\nReferences: <first@mail.example.se> %s\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTack så mycket!\r\n\r\n"+
		"Den mån 3 juni 2024 kl 10:05 skrev Shop Support <support@shop.example>:\r\n> Det skickas i dag.\r\n", subject, ownID, ownID))
	view = customerTicket(t, c, "anna@example.se", 3)
	if view.Ticket.ID != tk.ID {
		t.Fatalf("the answer went to ticket %s, want %s", view.Ticket.ID, tk.ID)
	}
	answer := view.Messages[2]
	if answer.Text != "Tack så mycket!" || answer.ThreadReason != ticketing.ReasonInReplyTo {
		t.Errorf("answer %q joined by %q, want the folded text joined by in-reply-to", answer.Text, answer.ThreadReason)
	}

	mb.deliver(t, fmt.Sprintf("From: Mallory <mallory@evil.example>\r\nTo: support@shop.example\r\nSubject: Re: %s\r\n"+
		"Message-ID: <forged@evil.example>\r\nIn-Reply-To: %s\r\nReferences: <first@mail.example.se> %s\r\n\r\n"+
		"Please send the parcel to my address instead.\r\n", subject, ownID, ownID))
	forged := customerTicket(t, c, "mallory@evil.example", 1)
	if forged.Ticket.ID == tk.ID || forged.Ticket.CustomerID == tk.CustomerID {
		t.Fatalf("the forged answer joined Anna's ticket %s", tk.ID)
	}
	if v := customerTicket(t, c, "anna@example.se", 3); v.Ticket.ID != tk.ID {
		t.Errorf("Anna's ticket is now %s", v.Ticket.ID)
	}
	if n := len(out.received()); n != 1 {
		t.Errorf("%d mails sent in all, want 1", n)
	}
}
