package email

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// The tests in this file check that what Svar shows of a mail is honest:
// what was left out is named, and the original can always be had.

// manyFiles returns a mail with n small attachments f001.txt… and, when
// deep > 0, one more file nested deep levels down.
func manyFiles(from, mid string, n, deep int) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "From: %s\r\nTo: support@shop.example\r\nSubject: Many files\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=top\r\n\r\n--top\r\nContent-Type: text/plain\r\n\r\nHere are the files.\r\n", from, mid)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "--top\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"f%03d.txt\"\r\n\r\nfile %d\r\n", i, i)
	}
	if deep > 0 {
		sb.WriteString("--top\r\nContent-Type: multipart/mixed; boundary=d1\r\n\r\n")
		for i := 1; i < deep; i++ {
			fmt.Fprintf(&sb, "--d%d\r\nContent-Type: multipart/mixed; boundary=d%d\r\n\r\n", i, i+1)
		}
		fmt.Fprintf(&sb, "--d%d\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"deep.pdf\"\r\n\r\n%%PDF\r\n--d%d--\r\n", deep, deep)
	}
	sb.WriteString("--top--\r\n")
	return []byte(sb.String())
}

// TestTruncatedMailNamesEveryMissingFile: a mail with 105 attachments and
// one nested past the depth cap keeps 100 files, and its message names the
// five over the count cap and the one too deep, with why; nothing takes a
// file's place.
func TestTruncatedMailNamesEveryMissingFile(t *testing.T) {
	s := newStack(t)
	imapSrv := startIMAP(t, true, nil)
	c := newChannel(t, testOptions(t, imapSrv.addr, "127.0.0.1:1", s.store, s.bus, nil, s.svc))
	start(t, c)

	imapSrv.appendMail(t, "INBOX", manyFiles("Bo <bo@example.com>", "<files@example.com>", 105, 25))
	tv := s.customerTicket(t, "bo@example.com", 1)
	m := tv.Messages[0]
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
	}
	if len(names) != 100 || names[0] != "f001.txt" || names[99] != "f100.txt" {
		t.Fatalf("attachments = %q, want f001.txt … f100.txt", names)
	}
	if m.Truncated == nil {
		t.Fatal("the message does not say what is missing")
	}
	var dropped []string
	for _, d := range m.Truncated.Dropped {
		if d.Filename != "" {
			dropped = append(dropped, d.Filename+"="+d.Reason)
		}
	}
	want := "f101.txt=too_many_attachments f102.txt=too_many_attachments f103.txt=too_many_attachments " +
		"f104.txt=too_many_attachments f105.txt=too_many_attachments deep.pdf=too_deep"
	if got := strings.Join(dropped, " "); got != want {
		t.Errorf("dropped files = %s\nwant %s", got, want)
	}
	raw, err := s.store.GetBlob(context.Background(), m.Meta[MetaRawKey])
	if err != nil || !strings.Contains(string(raw.Data), "deep.pdf") {
		t.Errorf("the original is not kept (%v)", err)
	}
	if strings.Contains(m.Text, "not imported") {
		t.Errorf("text %q still carries the old note", m.Text)
	}
}

// TestMailFromTheSupportAddressMakesNoCustomer: a mail From the support
// address itself is left out (logged, counted) and makes no customer or
// ticket; the mails around it are imported, and a contact-form mail From the
// support address on behalf of its Reply-To is that customer's.
func TestMailFromTheSupportAddressMakesNoCustomer(t *testing.T) {
	s := newStack(t)
	imapSrv := startIMAP(t, true, nil)
	o := testOptions(t, imapSrv.addr, "127.0.0.1:1", s.store, s.bus, nil, s.svc)
	var mu sync.Mutex
	var dropped []string
	o.Dropped = func(reason string) {
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, reason)
	}
	c := newChannel(t, o)
	start(t, c)

	imapSrv.appendMail(t, "INBOX", rawMail("Svar Support <Support@Shop.Example>", "Re: your order [#7]", "<own@shop.example>", "A copy of our own reply."))
	form := "From: Shop <support@shop.example>\r\nReply-To: Cia Berg <cia@example.com>\r\nTo: support@shop.example\r\n" +
		"Subject: Contact form\r\nMessage-ID: <form@shop.example>\r\n\r\nMy parcel is late.\r\n"
	imapSrv.appendMail(t, "INBOX", []byte(form))
	imapSrv.appendMail(t, "INBOX", rawMail("Dan <dan@example.com>", "Hello", "<dan@example.com>", "After the own mail."))

	s.customerTicket(t, "dan@example.com", 1)
	tv := s.customerTicket(t, "cia@example.com", 1)
	if tv.Customer.Name != "Cia Berg" || tv.Messages[0].Auto {
		t.Errorf("contact-form mail: customer %q, auto %v", tv.Customer.Name, tv.Messages[0].Auto)
	}
	ctx := context.Background()
	if cust, err := s.svc.CustomerByIdentity(ctx, "email:support@shop.example"); !ticketing.IsNotFound(err) {
		t.Fatalf("the support address became customer %+v (err %v)", cust, err)
	}
	if _, err := s.store.GetMessage(ctx, ticketing.InboundMessageID(ticketing.ChannelEmail, "<own@shop.example>")); !ticketing.IsNotFound(err) {
		t.Errorf("the own mail was stored (err %v)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) != 1 || dropped[0] != DropOwnMail {
		t.Errorf("dropped = %q, want one %q", dropped, DropOwnMail)
	}
}

// TestUnverifiedSenderIsMarkedAndHidesOrders: a mail whose receiving
// server (the configured authserv-id) failed DMARC for the From domain is
// marked unverified, and the ticket view leaves the customer's orders out
// while it is the latest word; the same verdict from another host (which
// the sender may have written itself) counts for nothing.
func TestUnverifiedSenderIsMarkedAndHidesOrders(t *testing.T) {
	s := newStack(t)
	imapSrv := startIMAP(t, true, nil)
	o := testOptions(t, imapSrv.addr, "127.0.0.1:1", s.store, s.bus, nil, s.svc)
	o.AuthServIDs = []string{"MX.Shop.Example"}
	c := newChannel(t, o)
	start(t, c)
	ctx := context.Background()

	withAR := func(ar, mid, body string) []byte {
		return append([]byte("Authentication-Results: "+ar+"\r\n"), rawMail("Anna <anna@example.se>", "Order", mid, body)...)
	}
	imapSrv.appendMail(t, "INBOX", withAR("mx.shop.example; spf=pass smtp.mailfrom=example.se; dmarc=pass header.from=example.se", "<a1@example.se>", "Where is order 1001?"))
	tv := s.customerTicket(t, "anna@example.se", 1)
	if v := tv.Messages[0].SenderVerified; v == nil || !*v {
		t.Fatalf("a passing mail: sender_verified = %v, want true", v)
	}
	orders := []ticketing.Order{{ID: "1001", Total: "499 SEK", Status: "shipped"}}
	if _, err := s.svc.PatchCustomer(ctx, tv.Customer.ID, ticketing.CustomerPatch{Orders: &orders}); err != nil {
		t.Fatal(err)
	}
	if tv, _ = s.svc.TicketView(ctx, tv.Ticket.ID); len(tv.Customer.Orders) != 1 || tv.OrdersHidden != "" {
		t.Fatalf("orders %v hidden %q, want shown", tv.Customer.Orders, tv.OrdersHidden)
	}

	// Another host's verdict: written by anyone, trusted by nobody.
	imapSrv.appendMail(t, "INBOX", withAR("mx.evil.example; dmarc=fail header.from=example.se", "<a2@example.se>", "Second."))
	tv = s.customerTicket(t, "anna@example.se", 2)
	if v := tv.Messages[1].SenderVerified; v != nil {
		t.Errorf("another host's verdict counted: sender_verified = %v", *v)
	}

	imapSrv.appendMail(t, "INBOX", withAR("mx.shop.example; spf=fail smtp.mailfrom=example.se; dkim=none; dmarc=fail (p=none) header.from=example.se",
		"<forged@evil.example>", "Please send order 1001 to Storgatan 1 instead."))
	tv = s.customerTicket(t, "anna@example.se", 3)
	m := tv.Messages[2]
	if m.SenderVerified == nil || *m.SenderVerified {
		t.Fatalf("the failed mail: sender_verified = %v, want false", m.SenderVerified)
	}
	if m.Meta[MetaSenderAuth] != "spf=fail dkim=none dmarc=fail" {
		t.Errorf("meta sender_auth = %q", m.Meta[MetaSenderAuth])
	}
	if len(tv.Customer.Orders) != 0 || tv.OrdersHidden != ticketing.OrdersHiddenUnverified {
		t.Errorf("orders %v hidden %q, want them hidden for an unverified sender", tv.Customer.Orders, tv.OrdersHidden)
	}
}

// TestSMTPBreakAfterDataIsNotSentTwice: the SMTP server takes the reply's
// data and the connection breaks before its answer. The reply may have
// gone out, so it is not sent again: it is marked failed as unconfirmed,
// for the agent to decide. A redelivery after a node stopped at that
// point does the same.
func TestSMTPBreakAfterDataIsNotSentTwice(t *testing.T) {
	s := newStack(t)
	smtpSrv := startSMTP(t, "", nil)
	smtpSrv.mu.Lock()
	smtpSrv.dropAfterData = 1
	smtpSrv.mu.Unlock()
	c := newChannel(t, testOptions(t, startIMAP(t, true, nil).addr, smtpSrv.addr, s.store, s.bus, s.bus, s.svc))
	start(t, c)
	ctx := context.Background()

	if err := s.bus.PublishInbound(ctx, &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: "<q@example.com>",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "eva@example.com"}, Text: "Hello?", ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tv := s.customerTicket(t, "eva@example.com", 1)
	reply, err := s.svc.Reply(ctx, tv.Ticket.ID, &ticketing.Agent{ID: "a1", Name: "Maja"}, ticketing.ReplyInput{Text: "Hi Eva."})
	if err != nil {
		t.Fatal(err)
	}
	var d *ticketing.Delivery
	checkFor(t, 20*time.Second, func() error {
		m, err := s.store.GetMessage(ctx, reply.ID)
		if err != nil {
			return err
		}
		if d = m.Delivery; d == nil || d.Status != ticketing.DeliveryFailed {
			return fmt.Errorf("delivery %+v, want failed (unconfirmed)", d)
		}
		return nil
	})
	if !strings.HasPrefix(d.Error, "unconfirmed:") {
		t.Errorf("delivery error %q, want it to say unconfirmed", d.Error)
	}
	if n := len(smtpSrv.received()); n != 1 {
		t.Fatalf("the SMTP server got the reply %d times, want once", n)
	}

	// A node that stopped between the final "." and the answer left the
	// record at "sending": the redelivered reply is not sent either.
	st := newMemStore()
	st.putMessage(queuedMessage("r9"))
	if err := st.PutState(ctx, sendKey("r9"), sendRecord{At: time.Now(), MessageID: "<svar.r9@shop.example>", State: sendSending}); err != nil {
		t.Fatal(err)
	}
	c2 := newChannel(t, testOptions(t, "127.0.0.1:1", smtpSrv.addr, st, &recPublisher{}, nil, st))
	if err := c2.HandleOutbound(ctx, testOutbound("r9"), 2); err == nil || ticketing.IsRetry(err) {
		t.Errorf("redelivery: %v, want a final error", err)
	}
	if d := st.delivery("r9"); d == nil || d.Status != ticketing.DeliveryFailed {
		t.Errorf("redelivered: delivery %+v, want failed", d)
	}
	if n := len(smtpSrv.received()); n != 1 {
		t.Errorf("the SMTP server got %d mails in all, want 1", n)
	}
}

// TestNameLearnedLaterReachesTheTicket: a customer whose first mail had no
// display name gets one from their second; their open ticket's
// customer_name follows (with ticket.updated), so the list and its search
// find them by it.
func TestNameLearnedLaterReachesTheTicket(t *testing.T) {
	s := newStack(t)
	imapSrv := startIMAP(t, true, nil)
	c := newChannel(t, testOptions(t, imapSrv.addr, "127.0.0.1:1", s.store, s.bus, nil, s.svc))
	start(t, c)
	ctx := context.Background()

	imapSrv.appendMail(t, "INBOX", rawMail("frida@example.com", "Return", "<r1@example.com>", "I want to return my shoes."))
	tv := s.customerTicket(t, "frida@example.com", 1)
	if tv.Ticket.CustomerName != "" {
		t.Fatalf("customer_name %q before any name was known", tv.Ticket.CustomerName)
	}
	imapSrv.appendMail(t, "INBOX", rawMail("Frida Nyström <frida@example.com>", "Re: Return", "<r2@example.com>", "Any news?"))
	tv = s.customerTicket(t, "frida@example.com", 2)
	if tv.Ticket.CustomerName != "Frida Nyström" {
		t.Fatalf("customer_name %q, want the name learned from the second mail", tv.Ticket.CustomerName)
	}
	checkFor(t, 10*time.Second, func() error {
		page, err := s.svc.ListTickets(ctx, ticketing.TicketFilter{Query: "nyström"})
		if err != nil {
			return err
		}
		if len(page.Tickets) != 1 || page.Tickets[0].ID != tv.Ticket.ID {
			return fmt.Errorf("a search for the name finds %d tickets", len(page.Tickets))
		}
		return nil
	})
	checkFor(t, 10*time.Second, func() error {
		evs, err := s.bus.EventsAfter(ctx, 0, 1000)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Type == ticketing.EventTicketUpdated && ev.Ticket != nil && ev.Ticket.ID == tv.Ticket.ID && ev.Ticket.CustomerName == "Frida Nyström" {
				return nil
			}
		}
		return fmt.Errorf("no ticket.updated with the name among %d events", len(evs))
	})
}
