package email

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/svar-dev/svar/ticketing"
)

// testOutbound is a reply as the core queues it.
func testOutbound(id string) *ticketing.Outbound {
	return &ticketing.Outbound{
		MessageID: id, TicketID: "c1-1", TicketNumber: 1042, CustomerID: "c1", Channel: ticketing.ChannelEmail,
		To:      ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna.lindqvist@gmail.com"},
		Subject: "Where is my order?", Text: "Hi Anna,\n\nYour parcel is on its way <today>.\n\nBest regards\nSupport",
		AgentName: "Maja", InReplyTo: "<CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>",
		References: []string{"<CAJx1Q3M0a=first@mail.gmail.com>", "<CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>"},
		CreatedAt:  time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC),
	}
}

func queuedMessage(id string) *ticketing.Message {
	return &ticketing.Message{ID: id, TicketID: "c1-1", Direction: ticketing.DirectionOutbound, Channel: ticketing.ChannelEmail,
		Delivery: &ticketing.Delivery{Status: ticketing.DeliveryQueued}}
}

// parsedMail is a received mail's header and its text and HTML parts.
type parsedMail struct {
	h          mail.Header
	text, html string
}

func readSent(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := parsedMail{h: r.Header}
	if ct, _, _ := r.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		ct, params, _ := p.Header.(*mail.InlineHeader).ContentType()
		if params["charset"] != "utf-8" {
			t.Errorf("%s charset %q", ct, params["charset"])
		}
		switch ct {
		case "text/plain":
			out.text = string(b)
		case "text/html":
			out.html = string(b)
		}
	}
	return out
}

func TestSendReply(t *testing.T) {
	srv := startSMTP(t, "", nil)
	srv.auth = true
	st, bus := newMemStore(), newQueueOutbound()
	st.putMessage(queuedMessage("r1"))
	o := testOptions(t, startIMAP(t, true, nil).addr, srv.addr, st, &recPublisher{}, bus, st)
	o.SMTP.Username, o.SMTP.Password = testUser, testPassword
	c := newChannel(t, o)
	start(t, c)
	bus.q <- testOutbound("r1")
	checkFor(t, 10*time.Second, func() error {
		if d := st.delivery("r1"); d == nil || d.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", d)
		}
		return nil
	})
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("%d mails at the SMTP server, want 1", len(got))
	}
	m := got[0]
	if m.From != "support@shop.example" || len(m.To) != 1 || m.To[0] != "anna.lindqvist@gmail.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	pm := readSent(t, m.Data)
	h := pm.h
	want := map[string]string{
		"From":              `"Svar Support" <support@shop.example>`, // the shop, not the agent`
		"To":                "<anna.lindqvist@gmail.com>",
		"Subject":           "Re: Where is my order? [#1042]",
		"Message-Id":        "<svar.r1@shop.example>",
		"In-Reply-To":       "<CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>",
		"References":        "<CAJx1Q3M0a=first@mail.gmail.com> <CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>",
		"X-Svar-Message-Id": "r1",
		"Auto-Submitted":    "",
	}
	for k, v := range want {
		if got := strings.Join(strings.Fields(h.Get(k)), " "); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("Date %v %v", d, err)
	}
	if pm.text != "Hi Anna,\r\n\r\nYour parcel is on its way <today>.\r\n\r\nBest regards\r\nSupport" {
		t.Errorf("text part %q", pm.text)
	}
	if !strings.Contains(pm.html, "<p>Your parcel is on its way &lt;today&gt;.</p>") || !strings.Contains(pm.html, "Best regards<br>") {
		t.Errorf("html part %q", pm.html)
	}
	if d := st.delivery("r1"); d.Channel != ticketing.ChannelEmail || d.ProviderID != "<svar.r1@shop.example>" {
		t.Errorf("delivery %+v", d)
	}
	// The reply, fetched back from the mailbox, is recognised as Svar's own.
	p, err := c.parser.parse(m.Data)
	if err != nil || !p.Auto || p.AutoReason != AutoOwnMail {
		t.Errorf("own reply parsed as auto=%v %q (%v)", p.Auto, p.AutoReason, err)
	}
}

func TestComposeAutoReply(t *testing.T) {
	st := newMemStore()
	c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
	o := testOutbound("r9")
	o.Auto, o.AgentName, o.InReplyTo, o.References = true, "", "", nil
	o.Subject = "Re: SV: Din beställning [#7]"
	raw, mid, err := c.compose(o, "anna@example.com", composeExtras{})
	if err != nil {
		t.Fatal(err)
	}
	h := readSent(t, raw).h
	if h.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("Auto-Submitted %q", h.Get("Auto-Submitted"))
	}
	if s, _ := h.Subject(); s != "Re: Din beställning [#1042]" {
		t.Errorf("subject %q", s)
	}
	if mid != "<svar.r9@shop.example>" || h.Has("In-Reply-To") || h.Has("References") {
		t.Errorf("message id %q, in-reply-to %q, references %q", mid, h.Get("In-Reply-To"), h.Get("References"))
	}
	if from := h.Get("From"); from != `"Svar Support" <support@shop.example>` {
		t.Errorf("From %q", from)
	}
	// The same message composed again keeps its Message-ID.
	if _, mid2, _ := c.compose(o, "anna@example.com", composeExtras{}); mid2 != mid {
		t.Errorf("Message-ID changed on a resend: %q then %q", mid, mid2)
	}
}

func TestReplySubject(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		want string
	}{
		{"Where is my order?", 12, "Re: Where is my order? [#12]"},
		{"Re: Where is my order?", 12, "Re: Where is my order? [#12]"},
		{"RE: Re: SV: Fwd: Where [#12]", 12, "Re: Where [#12]"},
		{"Where [#11] is it", 12, "Re: Where is it [#12]"},
		{"", 12, "Re: [#12]"},
		{"Hello", 0, "Re: Hello"},
	}
	for _, tc := range tests {
		if got := replySubject(tc.in, tc.n); got != tc.want {
			t.Errorf("replySubject(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestSendIdempotent(t *testing.T) {
	srv := startSMTP(t, "", nil)
	st := newMemStore()
	c := newChannel(t, testOptions(t, "127.0.0.1:1", srv.addr, st, &recPublisher{}, nil, st))
	ctx := context.Background()

	// Delivered already: nothing is sent.
	done := queuedMessage("r1")
	done.Delivery.Status = ticketing.DeliveryDelivered
	st.putMessage(done)
	if err := c.HandleOutbound(ctx, testOutbound("r1"), 2); err != nil {
		t.Fatal(err)
	}
	// Sent once, then redelivered before the report landed: reported, not sent again.
	st.putMessage(queuedMessage("r2"))
	if err := c.HandleOutbound(ctx, testOutbound("r2"), 1); err != nil {
		t.Fatal(err)
	}
	st.putMessage(queuedMessage("r2")) // as if the delivery report had been lost
	if err := c.HandleOutbound(ctx, testOutbound("r2"), 2); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
	if d := st.delivery("r2"); d == nil || d.Status != ticketing.DeliverySent {
		t.Errorf("delivery %+v, want sent", d)
	}
}

// TestSMTPDownThenBack: with no server listening the reply is retried;
// once the server is up it is sent exactly once.
func TestSMTPDownThenBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here for now

	st, bus := newMemStore(), newQueueOutbound()
	st.putMessage(queuedMessage("r1"))
	c := newChannel(t, testOptions(t, startIMAP(t, true, nil).addr, addr, st, &recPublisher{}, bus, st))
	start(t, c)
	bus.q <- testOutbound("r1")
	checkFor(t, 10*time.Second, func() error {
		if n := len(bus.outcomes()); n < 3 {
			return fmt.Errorf("%d attempts, want 3 while the server is down", n)
		}
		return nil
	})
	for _, err := range bus.outcomes() {
		if !ticketing.IsRetry(err) {
			t.Fatalf("attempt while down: %v, want a retry", err)
		}
	}
	if d := st.delivery("r1"); d.Status != ticketing.DeliveryQueued {
		t.Errorf("delivery while down: %+v", d)
	}
	srv := startSMTP(t, addr, nil)
	checkFor(t, 10*time.Second, func() error {
		if d := st.delivery("r1"); d.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", d)
		}
		return nil
	})
	if n := len(srv.received()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
	outs := bus.outcomes()
	if last := outs[len(outs)-1]; last != nil {
		t.Errorf("last attempt: %v", last)
	}
}

func TestSMTPTemporaryFailure(t *testing.T) {
	srv := startSMTP(t, "", nil)
	failures := 2
	srv.failWith(func(stage string) error {
		if stage == "mail" && failures > 0 {
			failures--
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Service not available, try later"}
		}
		return nil
	})
	st, bus := newMemStore(), newQueueOutbound()
	st.putMessage(queuedMessage("r1"))
	c := newChannel(t, testOptions(t, startIMAP(t, true, nil).addr, srv.addr, st, &recPublisher{}, bus, st))
	start(t, c)
	bus.q <- testOutbound("r1")
	checkFor(t, 10*time.Second, func() error {
		if d := st.delivery("r1"); d.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", d)
		}
		return nil
	})
	outs := bus.outcomes()
	if len(outs) != 3 || !ticketing.IsRetry(outs[0]) || !ticketing.IsRetry(outs[1]) || outs[2] != nil {
		t.Errorf("outcomes %v, want two retries then success", outs)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
}

func TestSMTPPermanentFailure(t *testing.T) {
	srv := startSMTP(t, "", nil)
	srv.failWith(func(stage string) error {
		if stage == "rcpt" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
		}
		return nil
	})
	st := newMemStore()
	st.putMessage(queuedMessage("r1"))
	c := newChannel(t, testOptions(t, "127.0.0.1:1", srv.addr, st, &recPublisher{}, nil, st))
	err := c.HandleOutbound(context.Background(), testOutbound("r1"), 1)
	if err == nil || ticketing.IsRetry(err) {
		t.Fatalf("err = %v, want a final error", err)
	}
	d := st.delivery("r1")
	if d.Status != ticketing.DeliveryFailed || d.Error != "550 Mailbox unavailable" {
		t.Errorf("delivery %+v, want failed with the server's text", d)
	}
	if n := len(srv.received()); n != 0 {
		t.Errorf("%d mails accepted", n)
	}
}

func TestSMTPAuthFailureIsRetried(t *testing.T) {
	srv := startSMTP(t, "", nil)
	srv.auth = true
	st := newMemStore()
	st.putMessage(queuedMessage("r1"))
	o := testOptions(t, "127.0.0.1:1", srv.addr, st, &recPublisher{}, nil, st)
	o.SMTP.Username, o.SMTP.Password = testUser, "wrong"
	c := newChannel(t, o)
	err := c.HandleOutbound(context.Background(), testOutbound("r1"), 1)
	if !ticketing.IsRetry(err) || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("err = %v, want a retry naming AUTH (a configuration problem, not the reply's)", err)
	}
	if d := st.delivery("r1"); d.Status != ticketing.DeliveryQueued {
		t.Errorf("delivery %+v, want still queued", d)
	}
}

func TestSMTPNoAddress(t *testing.T) {
	st := newMemStore()
	st.putMessage(queuedMessage("r1"))
	c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
	o := testOutbound("r1")
	o.To = ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}
	if err := c.HandleOutbound(context.Background(), o, 1); err == nil || ticketing.IsRetry(err) {
		t.Fatalf("err = %v, want final", err)
	}
	if d := st.delivery("r1"); d.Status != ticketing.DeliveryFailed {
		t.Errorf("delivery %+v", d)
	}
}

func TestSMTPTLSModes(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := &smtpServer{auth: true}
			srv.listen(t, "", serverTLS, mode == TLSImplicit)
			st := newMemStore()
			st.putMessage(queuedMessage("r1"))
			o := testOptions(t, "127.0.0.1:1", srv.addr, st, &recPublisher{}, nil, st)
			o.SMTP.TLS, o.SMTP.TLSConfig = mode, clientTLS
			o.SMTP.Username, o.SMTP.Password = testUser, testPassword
			c := newChannel(t, o)
			if err := c.HandleOutbound(context.Background(), testOutbound("r1"), 1); err != nil {
				t.Fatal(err)
			}
			if n := len(srv.received()); n != 1 {
				t.Errorf("%d mails", n)
			}
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := &smtpServer{}
		srv.listen(t, "", serverTLS, false)
		st := newMemStore()
		st.putMessage(queuedMessage("r1"))
		o := testOptions(t, "127.0.0.1:1", srv.addr, st, &recPublisher{}, nil, st)
		o.SMTP.TLS = TLSStartTLS // with the system roots, which do not know the test CA
		c := newChannel(t, o)
		if err := c.HandleOutbound(context.Background(), testOutbound("r1"), 1); !ticketing.IsRetry(err) {
			t.Fatalf("err = %v, want a retry", err)
		}
		if n := len(srv.received()); n != 0 {
			t.Errorf("%d mails sent over an unverified connection", n)
		}
	})
}

func TestNewValidation(t *testing.T) {
	base := func() Options {
		st := newMemStore()
		return Options{
			Address:   "support@shop.example",
			IMAP:      IMAPOptions{Addr: "imap.example.com:993", Username: "u", Password: "p"},
			SMTP:      SMTPOptions{Addr: "smtp.example.com:587"},
			Publisher: &recPublisher{}, Outbound: noOutbound{}, Store: st, Deliveries: st,
		}
	}
	tests := []struct {
		name string
		mod  func(*Options)
		want string // the error names this; "" means valid
	}{
		{"valid", func(*Options) {}, ""},
		{"no address", func(o *Options) { o.Address = "" }, "SVAR_EMAIL_ADDRESS"},
		{"bad address", func(o *Options) { o.Address = "not an address" }, "SVAR_EMAIL_ADDRESS"},
		{"no imap addr", func(o *Options) { o.IMAP.Addr = "" }, "SVAR_IMAP_ADDR"},
		{"imap addr without port", func(o *Options) { o.IMAP.Addr = "imap.example.com" }, "SVAR_IMAP_ADDR"},
		{"no imap user", func(o *Options) { o.IMAP.Username = "" }, "SVAR_IMAP_USERNAME"},
		{"no imap password", func(o *Options) { o.IMAP.Password = "" }, "SVAR_IMAP_PASSWORD"},
		{"bad imap tls", func(o *Options) { o.IMAP.TLS = "ssl" }, "SVAR_IMAP_TLS"},
		{"imap tls none remote", func(o *Options) { o.IMAP.TLS = TLSNone }, "SVAR_IMAP_TLS"},
		{"imap tls none loopback", func(o *Options) { o.IMAP.TLS, o.IMAP.Addr = TLSNone, "127.0.0.1:143" }, ""},
		{"no smtp addr", func(o *Options) { o.SMTP.Addr = "" }, "SVAR_SMTP_ADDR"},
		{"smtp tls none remote", func(o *Options) { o.SMTP.TLS = TLSNone }, "SVAR_SMTP_TLS"},
		{"smtp tls none localhost", func(o *Options) { o.SMTP.TLS, o.SMTP.Addr = TLSNone, "localhost:25" }, ""},
		{"smtp user without password", func(o *Options) { o.SMTP.Username = "u" }, "SVAR_SMTP_PASSWORD"},
		{"no publisher", func(o *Options) { o.Publisher = nil }, "Publisher"},
		{"no store", func(o *Options) { o.Store = nil }, "Store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.mod(&o)
			c, err := New(o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want == "" && tc.name != "valid":
			case tc.name == "valid":
				if c.o.IMAP.Mailbox != "INBOX" || c.o.IMAP.TLS != TLSImplicit || c.o.SMTP.TLS != TLSStartTLS || c.poll != DefaultPollInterval {
					t.Errorf("defaults: %+v %+v %v", c.o.IMAP, c.o.SMTP, c.poll)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
