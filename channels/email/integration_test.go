package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// The tests in this file run the channel against the real store
// (mongotest), the real bus (natstest) and, where a ticket matters, the
// real ticketing core.

// stack is a store, a bus and the ticketing core consuming the bus.
type stack struct {
	store *mongostore.Store
	bus   *natsbus.Bus
	svc   *ticketing.Service
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{store: mongotest.New(t), bus: natstest.New(t)}
	s.svc = ticketing.New(ticketing.Options{Store: s.store, Bus: s.bus, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.bus.ConsumeInbound(ctx, s.svc.Ingest); err != nil && ctx.Err() == nil {
			t.Errorf("consume inbound: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return s
}

func blobLen(b *ticketing.Blob) int {
	if b == nil {
		return 0
	}
	return len(b.Data)
}

// inboundCount is how many envelopes the inbound stream holds.
func inboundCount(t *testing.T, b *natsbus.Bus) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.JetStream().Stream(ctx, b.StreamName("SVAR_INBOUND"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(b.InboundSubject(ticketing.ChannelEmail)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestStoreCheckpointsAndBlobs: raw mail and attachments land in the real
// blob store, the checkpoint in the real state store, and a restarted
// channel carries on where the last one stopped.
func TestStoreCheckpointsAndBlobs(t *testing.T) {
	srv := startIMAP(t, true, nil)
	gmail, apple := readCorpus(t, "gmail_reply.eml"), readCorpus(t, "apple_reply.eml")
	srv.appendMail(t, "INBOX", gmail)
	srv.appendMail(t, "INBOX", apple)
	st, pub := mongotest.New(t), &recPublisher{}
	c1 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, storeDeliveries{st}))
	stop := start(t, c1)
	envs := pub.waitCount(t, 2)
	waitCheckpoint(t, c1, st, 2)
	stop()

	ctx := context.Background()
	for i, raw := range [][]byte{gmail, apple} {
		b, err := st.GetBlob(ctx, envs[i].Meta[MetaRawKey])
		if err != nil || !bytes.Equal(b.Data, raw) {
			t.Errorf("raw mail %d: %v (%d bytes, want %d)", i, err, blobLen(b), len(raw))
		}
		for _, a := range envs[i].Attachments {
			b, err := st.GetBlob(ctx, a.Key)
			if err != nil || int64(len(b.Data)) != a.Size || b.Filename != a.Filename {
				t.Errorf("attachment %s: %v", a.Filename, err)
			}
		}
	}
	if len(envs[0].Attachments) != 1 || len(envs[1].Attachments) != 1 {
		t.Errorf("attachments: %+v / %+v", envs[0].Attachments, envs[1].Attachments)
	}

	srv.appendMail(t, "INBOX", readCorpus(t, "windows1252.eml"))
	c2 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, storeDeliveries{st}))
	start(t, c2)
	waitCheckpoint(t, c2, st, 3)
	if n := len(pub.all()); n != 3 {
		t.Errorf("%d envelopes after the restart, want 3 (nothing read twice)", n)
	}
}

// TestKillMidFetchWithRealBus: the channel stops after the bus stored a
// mail but before its checkpoint moved; after a restart every mail is on
// the bus exactly once.
func TestKillMidFetchWithRealBus(t *testing.T) {
	srv := startIMAP(t, true, nil)
	for i := 1; i <= 4; i++ {
		srv.appendMail(t, "INBOX", rawMail("anna@example.com", fmt.Sprintf("Mail %d", i), fmt.Sprintf("<k%d@example.com>", i), "Hello"))
	}
	st, bus := mongotest.New(t), natstest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	pub := &killingPublisher{bus: bus, killAfter: "<k3@example.com>", kill: cancel}
	c1 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, storeDeliveries{st}))
	done := make(chan error, 1)
	go func() { done <- c1.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
	var cp checkpoint
	if err := st.GetState(context.Background(), c1.checkpointKey(), &cp); err != nil || cp.LastUID != 2 {
		t.Fatalf("checkpoint after the kill: %+v %v, want UID 2", cp, err)
	}
	if n := inboundCount(t, bus); n != 3 {
		t.Fatalf("%d envelopes on the bus after the kill, want 3", n)
	}

	c2 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, bus, nil, storeDeliveries{st}))
	start(t, c2)
	waitCheckpoint(t, c2, st, 4)
	if n := inboundCount(t, bus); n != 4 {
		t.Errorf("%d envelopes on the bus, want 4: mail 3 was published twice and deduplicated", n)
	}
}

// storeDeliveries records delivery reports straight in the store.
type storeDeliveries struct{ st *mongostore.Store }

func (d storeDeliveries) ReportDelivery(ctx context.Context, id string, dl ticketing.Delivery) (*ticketing.Message, error) {
	return d.st.SetDelivery(ctx, id, dl)
}

// killingPublisher publishes to the bus and then, after killAfter, ends
// the channel's context, as if the process died right there.
type killingPublisher struct {
	bus       *natsbus.Bus
	killAfter string
	kill      func()
}

func (p *killingPublisher) PublishInbound(ctx context.Context, e *ticketing.Envelope) error {
	if err := p.bus.PublishInbound(ctx, e); err != nil {
		return err
	}
	if e.ExternalID == p.killAfter {
		p.kill()
	}
	return nil
}

// customerTicket waits for the customer with the email address to have a
// current ticket with n messages and returns its view.
func (s *stack) customerTicket(t *testing.T, addr string, n int) *ticketing.TicketView {
	t.Helper()
	var tv *ticketing.TicketView
	checkFor(t, 20*time.Second, func() error {
		c, err := s.svc.CustomerByIdentity(context.Background(), "email:"+addr)
		if err != nil {
			return err
		}
		if c.CurrentTicketID == "" {
			return errors.New("no ticket yet")
		}
		tv, err = s.svc.TicketView(context.Background(), c.CurrentTicketID)
		if err != nil {
			return err
		}
		if len(tv.Messages) != n {
			return fmt.Errorf("ticket %s has %d messages, want %d", tv.Ticket.ID, len(tv.Messages), n)
		}
		return nil
	})
	return tv
}

// TestRoundTrip: a customer's mail makes a ticket; the agent's reply
// reaches the SMTP server with threading headers; the customer's answer
// joins the same ticket by its In-Reply-To; a forged In-Reply-To from
// someone else does not; a bounce of the reply marks it failed.
func TestRoundTrip(t *testing.T) {
	s := newStack(t)
	imapSrv := startIMAP(t, true, nil)
	smtpSrv := startSMTP(t, "", nil)
	c := newChannel(t, testOptions(t, imapSrv.addr, smtpSrv.addr, s.store, s.bus, s.bus, s.svc))
	start(t, c)
	ctx := context.Background()

	// 1. The customer writes.
	imapSrv.appendMail(t, "INBOX", rawMail("Anna Lindqvist <anna@example.com>", "Where is my order?", "<q1@mail.example.com>",
		"Hi, my order 1001 has not arrived."))
	tv := s.customerTicket(t, "anna@example.com", 1)
	first := tv.Messages[0]
	if first.Text != "Hi, my order 1001 has not arrived." || first.Meta[MetaMessageID] != "<q1@mail.example.com>" || tv.Customer.Name != "Anna Lindqvist" {
		t.Fatalf("first message: %q %v, customer %q", first.Text, first.Meta, tv.Customer.Name)
	}
	if first.Meta[MetaRawKey] == "" {
		t.Error("no raw mail key on the stored message")
	}
	ticket := tv.Ticket

	// 2. The agent replies; the mail reaches the SMTP server.
	reply, err := s.svc.Reply(ctx, ticket.ID, &ticketing.Agent{ID: "a1", Name: "Maja"}, ticketing.ReplyInput{Text: "It ships today."})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, func() error {
		m, err := s.store.GetMessage(ctx, reply.ID)
		if err != nil {
			return err
		}
		if m.Delivery == nil || m.Delivery.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", m.Delivery)
		}
		return nil
	})
	sent := smtpSrv.received()
	if len(sent) != 1 {
		t.Fatalf("%d mails at the SMTP server, want 1", len(sent))
	}
	r, err := mail.CreateReader(bytes.NewReader(sent[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	ownID := fmt.Sprintf("<svar.%s@shop.example>", reply.ID)
	for k, want := range map[string]string{
		"Message-Id": ownID, "In-Reply-To": "<q1@mail.example.com>", "References": "<q1@mail.example.com>",
		"Subject": fmt.Sprintf("Re: Where is my order? [#%d]", ticket.Number), "To": "<anna@example.com>",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("reply %s = %q, want %q", k, got, want)
		}
	}

	// 3. The customer answers the reply.
	answer := fmt.Sprintf("From: Anna Lindqvist <anna@example.com>\r\nTo: support@shop.example\r\nSubject: Re: Where is my order? [#%d]\r\n"+
		"Message-ID: <q2@mail.example.com>\r\nIn-Reply-To: %s\r\nReferences: <q1@mail.example.com> %s\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nGreat, thanks!\r\n\r\nOn Mon, Maja <support@shop.example> wrote:\r\n> It ships today.\r\n",
		ticket.Number, ownID, ownID)
	imapSrv.appendMail(t, "INBOX", []byte(answer))
	tv = s.customerTicket(t, "anna@example.com", 3)
	if tv.Ticket.ID != ticket.ID {
		t.Fatalf("the answer went to ticket %s, want %s", tv.Ticket.ID, ticket.ID)
	}
	got := tv.Messages[2]
	if got.Text != "Great, thanks!" || got.ThreadReason != ticketing.ReasonInReplyTo {
		t.Errorf("answer: text %q, thread reason %q", got.Text, got.ThreadReason)
	}

	// 4. Someone else forges a reply to the same mail and ticket.
	forged := fmt.Sprintf("From: Mallory <mallory@evil.example>\r\nTo: support@shop.example\r\nSubject: Re: Where is my order? [#%d]\r\n"+
		"Message-ID: <forged@evil.example>\r\nIn-Reply-To: %s\r\nReferences: <q1@mail.example.com> %s\r\n\r\nSend the parcel to me instead.\r\n",
		ticket.Number, ownID, ownID)
	imapSrv.appendMail(t, "INBOX", []byte(forged))
	mallory := s.customerTicket(t, "mallory@evil.example", 1)
	if mallory.Ticket.ID == ticket.ID || mallory.Ticket.CustomerID == ticket.CustomerID {
		t.Fatalf("the forged reply joined Anna's ticket %s", ticket.ID)
	}
	if tv := s.customerTicket(t, "anna@example.com", 3); tv.Ticket.ID != ticket.ID {
		t.Errorf("Anna's ticket changed to %s", tv.Ticket.ID)
	}

	// 5. The reply bounces: it is marked failed with the server's reason.
	dsn := strings.ReplaceAll(string(readCorpus(t, "dsn_bounce.eml")), "r9d0e1f2a3b4c5d6e7f8091a2", reply.ID)
	imapSrv.appendMail(t, "INBOX", []byte(dsn))
	checkFor(t, 20*time.Second, func() error {
		m, err := s.store.GetMessage(ctx, reply.ID)
		if err != nil {
			return err
		}
		if m.Delivery == nil || m.Delivery.Status != ticketing.DeliveryFailed || !strings.Contains(m.Delivery.Error, "550 5.1.1") {
			return fmt.Errorf("delivery %+v, want failed with the diagnostic", m.Delivery)
		}
		return nil
	})
	if n := len(smtpSrv.received()); n != 1 {
		t.Errorf("%d mails sent in all, want 1 (nothing answers a bounce or an auto-reply)", n)
	}
}

// TestSMTPDownThenBackWithRealBus: the reply waits on the real bus while
// the SMTP server is down and goes out exactly once when it is back.
func TestSMTPDownThenBackWithRealBus(t *testing.T) {
	s := newStack(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := ln.Addr().String()
	ln.Close()
	logs := &syncBuffer{}
	o := testOptions(t, startIMAP(t, true, nil).addr, smtpAddr, s.store, s.bus, s.bus, s.svc)
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newChannel(t, o)
	start(t, c)

	ctx := context.Background()
	if err := s.bus.PublishInbound(ctx, &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: "<x1@example.com>",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "erik@example.com"}, Subject: "Refund",
		Text: "Please refund order 1061.", ReceivedAt: time.Now(), Meta: map[string]string{MetaMessageID: "<x1@example.com>"}}); err != nil {
		t.Fatal(err)
	}
	tv := s.customerTicket(t, "erik@example.com", 1)
	reply, err := s.svc.Reply(ctx, tv.Ticket.ID, &ticketing.Agent{ID: "a1", Name: "Maja"}, ticketing.ReplyInput{Text: "Refunded."})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, func() error {
		if n := strings.Count(logs.String(), "sending failed; will retry"); n < 2 {
			return fmt.Errorf("%d failed attempts logged, want 2", n)
		}
		return nil
	})
	if m, _ := s.store.GetMessage(ctx, reply.ID); m.Delivery.Status != ticketing.DeliveryQueued {
		t.Errorf("delivery while down: %+v", m.Delivery)
	}
	smtpSrv := startSMTP(t, smtpAddr, nil)
	checkFor(t, 30*time.Second, func() error {
		m, err := s.store.GetMessage(ctx, reply.ID)
		if err != nil {
			return err
		}
		if m.Delivery.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", m.Delivery)
		}
		return nil
	})
	if n := len(smtpSrv.received()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
}
