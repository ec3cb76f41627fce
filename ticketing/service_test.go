package ticketing_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

type fixture struct {
	svc   *ticketing.Service
	store ticketing.Store
	bus   *natsbus.Bus
	now   time.Time
	mu    sync.Mutex
	agent *ticketing.Agent
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: mongotest.New(t), bus: natstest.New(t), now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	f.svc = ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus, Now: f.clock})
	f.agent = &ticketing.Agent{ID: "agent-1", Name: "Agnes", Email: "agnes@shop.example", Role: ticketing.RoleAgent, Active: true}
	if err := f.store.InsertAgent(context.Background(), f.agent); err != nil {
		t.Fatal(err)
	}
	return f
}

func emailEnv(from, extID, text string) *ticketing.Envelope {
	return &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: extID,
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: from}, Name: "Anna Svensson",
		Subject: "Var är mitt paket?", Text: text, ReceivedAt: time.Now().UTC()}
}

func chatEnv(visitor, clientID, text string, claims ...ticketing.Identity) *ticketing.Envelope {
	return &ticketing.Envelope{Channel: ticketing.ChannelChat, ExternalID: visitor + ":" + clientID,
		From: ticketing.Identity{Kind: ticketing.IdentityChat, Value: visitor}, Claims: claims,
		Text: text, ClientID: clientID, ReceivedAt: time.Now().UTC()}
}

// MustIngest ingests envelopes and fails on any error.
func (f *fixture) MustIngest(t *testing.T, envs ...*ticketing.Envelope) {
	t.Helper()
	for i, err := range f.svc.Ingest(context.Background(), envs) {
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
	}
}

func (f *fixture) customerTicket(t *testing.T, key string) *ticketing.TicketView {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.CustomerByIdentity(ctx, key)
	if err != nil {
		t.Fatalf("customer %s: %v", key, err)
	}
	if c.CurrentTicketID == "" {
		t.Fatalf("customer %s has no ticket", key)
	}
	v, err := f.svc.TicketView(ctx, c.CurrentTicketID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIngestOpensTicketAndThreadsAcrossChannels(t *testing.T) {
	f := newFixture(t)
	// A visitor chats and leaves their email; later they write by email.
	f.MustIngest(t, chatEnv("v1", "c1", "Hej! Jag undrar över min order", ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna@example.se"}))
	f.MustIngest(t, emailEnv("anna@example.se", "<m1@mail.example>", "Här är ordernumret: 1234"))

	v := f.customerTicket(t, "email:anna@example.se")
	if v.Ticket.Status != ticketing.StatusOpen || v.Ticket.Number < 1001 {
		t.Fatalf("ticket = %+v", v.Ticket)
	}
	if len(v.Messages) != 2 {
		t.Fatalf("want 2 messages on one ticket, got %d", len(v.Messages))
	}
	if v.Messages[0].Channel != ticketing.ChannelChat || v.Messages[1].Channel != ticketing.ChannelEmail {
		t.Fatalf("channels = %s, %s", v.Messages[0].Channel, v.Messages[1].Channel)
	}
	if v.Messages[0].ThreadReason != ticketing.ReasonNew || v.Messages[1].ThreadReason != ticketing.ReasonOpen {
		t.Fatalf("reasons = %q, %q", v.Messages[0].ThreadReason, v.Messages[1].ThreadReason)
	}
	if v.Ticket.LastInboundChannel != ticketing.ChannelEmail || v.Ticket.Preview != "Här är ordernumret: 1234" {
		t.Fatalf("ticket summary = %q %q", v.Ticket.LastInboundChannel, v.Ticket.Preview)
	}
	if got, ok := f.svc.Inbox().Get(v.Ticket.ID); !ok || got.MessageCount != 2 {
		t.Fatalf("inbox has %+v", got)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	f := newFixture(t)
	env := emailEnv("bo@example.se", "<same@mail.example>", "Hello")
	f.MustIngest(t, env)
	before := f.customerTicket(t, "email:bo@example.se")
	f.MustIngest(t, env)
	f.MustIngest(t, env, env)
	after := f.customerTicket(t, "email:bo@example.se")
	if len(after.Messages) != 1 || after.Ticket.Version != before.Ticket.Version {
		t.Fatalf("redelivery changed the ticket: %d messages, version %d → %d", len(after.Messages), before.Ticket.Version, after.Ticket.Version)
	}
}

func TestConcurrentEnvelopesFromOneNewCustomerMakeOneTicket(t *testing.T) {
	f := newFixture(t)
	// Two core instances ("nodes") on the same store, 50 envelopes split
	// between them and delivered at once.
	other := ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		svc := f.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := emailEnv("new@example.se", fmt.Sprintf("<c%d@mail.example>", i), fmt.Sprintf("message %d", i))
			for _, err := range svc.Ingest(context.Background(), []*ticketing.Envelope{env}) {
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c, err := f.svc.CustomerByIdentity(context.Background(), "email:new@example.se")
	if err != nil {
		t.Fatal(err)
	}
	if c.TicketCount != 1 || len(c.TicketIDs) != 1 {
		t.Fatalf("customer has %d tickets (%v)", c.TicketCount, c.TicketIDs)
	}
	v := f.customerTicket(t, "email:new@example.se")
	if len(v.Messages) != 50 {
		t.Fatalf("ticket has %d messages, want 50", len(v.Messages))
	}
}

func TestReopenWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("cia@example.se", "<a@x>", "First"))
	first := f.customerTicket(t, "email:cia@example.se").Ticket
	solved := ticketing.StatusSolved
	if _, err := f.svc.UpdateTicket(ctx, first.ID, f.agent, ticketing.TicketUpdate{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	f.advance(24 * time.Hour)
	f.MustIngest(t, emailEnv("cia@example.se", "<b@x>", "Thanks, one more thing"))
	v := f.customerTicket(t, "email:cia@example.se")
	if v.Ticket.ID != first.ID || v.Ticket.Status != ticketing.StatusOpen || v.Messages[1].ThreadReason != ticketing.ReasonReopened {
		t.Fatalf("within the window: ticket %s status %s reason %q", v.Ticket.ID, v.Ticket.Status, v.Messages[1].ThreadReason)
	}
	if _, err := f.svc.UpdateTicket(ctx, first.ID, f.agent, ticketing.TicketUpdate{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	f.advance(8 * 24 * time.Hour)
	f.MustIngest(t, emailEnv("cia@example.se", "<c@x>", "A new question"))
	v = f.customerTicket(t, "email:cia@example.se")
	if v.Ticket.ID == first.ID || v.Ticket.PreviousTicketID != first.ID || len(v.Messages) != 1 {
		t.Fatalf("after the window: ticket %s (previous %q) with %d messages", v.Ticket.ID, v.Ticket.PreviousTicketID, len(v.Messages))
	}
	old, err := f.svc.TicketView(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Ticket.Status != ticketing.StatusSolved || len(old.Messages) != 2 {
		t.Fatalf("old ticket changed: %s with %d messages", old.Ticket.Status, len(old.Messages))
	}
}

func TestAutoRepliesNeverOpenOrReopen(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auto := emailEnv("ooo@example.se", "<ooo1@x>", "I am out of office")
	auto.Auto, auto.AutoReason = true, "Auto-Submitted: auto-replied"
	f.MustIngest(t, auto)
	c, err := f.svc.CustomerByIdentity(ctx, "email:ooo@example.se")
	if err != nil {
		t.Fatal(err)
	}
	if c.CurrentTicketID != "" {
		t.Fatalf("an auto-reply opened ticket %s", c.CurrentTicketID)
	}
	m, err := f.svc.GetMessage(ctx, auto.MessageID())
	if err != nil || m.ThreadReason != ticketing.ReasonNoTicket || !m.Auto {
		t.Fatalf("auto-reply stored as %+v, %v", m, err)
	}

	f.MustIngest(t, emailEnv("ooo@example.se", "<real@x>", "A real question"))
	tk := f.customerTicket(t, "email:ooo@example.se").Ticket
	solved := ticketing.StatusSolved
	if _, err := f.svc.UpdateTicket(ctx, tk.ID, f.agent, ticketing.TicketUpdate{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	auto2 := emailEnv("ooo@example.se", "<ooo2@x>", "I am still out of office")
	auto2.Auto = true
	f.MustIngest(t, auto2)
	v := f.customerTicket(t, "email:ooo@example.se")
	if v.Ticket.Status != ticketing.StatusSolved || len(v.Messages) != 2 || v.Messages[1].ThreadReason != ticketing.ReasonAuto {
		t.Fatalf("auto-reply on a solved ticket: status %s, %d messages", v.Ticket.Status, len(v.Messages))
	}
}

func TestForgedReferenceStartsTheSendersOwnTicket(t *testing.T) {
	f := newFixture(t)
	victim := emailEnv("victim@example.se", "<v1@x>", "My address is Storgatan 1")
	f.MustIngest(t, victim)
	victimTicket := f.customerTicket(t, "email:victim@example.se").Ticket

	forged := emailEnv("attacker@example.net", "<f1@x>", "Please send me the order")
	forged.Subject = fmt.Sprintf("Re: [#%d]", victimTicket.Number)
	forged.Thread = ticketing.ThreadHints{InReplyTo: "<v1@x>", MessageIDs: []string{victim.MessageID()}, TicketNumber: victimTicket.Number}
	f.MustIngest(t, forged)

	v := f.customerTicket(t, "email:attacker@example.net")
	if v.Ticket.ID == victimTicket.ID {
		t.Fatal("a forged reference put the message into another customer's ticket")
	}
	after, err := f.svc.TicketView(context.Background(), victimTicket.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Messages) != 1 {
		t.Fatalf("victim's ticket has %d messages", len(after.Messages))
	}

	// The real customer's reference does join, and says why.
	reply := emailEnv("victim@example.se", "<v2@x>", "Any news?")
	reply.Thread = ticketing.ThreadHints{InReplyTo: "<v1@x>", MessageIDs: []string{victim.MessageID()}}
	f.MustIngest(t, reply)
	got, err := f.svc.GetMessage(context.Background(), reply.MessageID())
	if err != nil {
		t.Fatal(err)
	}
	if got.TicketID != victimTicket.ID {
		t.Fatalf("reply joined %s, want %s", got.TicketID, victimTicket.ID)
	}
}

func TestInvalidEnvelopeIsPoison(t *testing.T) {
	f := newFixture(t)
	bad := emailEnv("x@example.se", "", "no external id")
	errs := f.svc.Ingest(context.Background(), []*ticketing.Envelope{bad, emailEnv("ok@example.se", "<ok@x>", "fine")})
	var p *ticketing.PoisonError
	if !errors.As(errs[0], &p) {
		t.Fatalf("want a poison error, got %v", errs[0])
	}
	if errs[1] != nil {
		t.Fatalf("the good envelope failed: %v", errs[1])
	}
}

func TestReplyIsQueuedOnOutboundAndNoteIsNot(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := emailEnv("dan@example.se", "<d1@mail.example>", "Hello?")
	env.Meta = map[string]string{"message_id": "<d1@mail.example>"}
	f.MustIngest(t, env)
	tk := f.customerTicket(t, "email:dan@example.se").Ticket

	got := make(chan *ticketing.Outbound, 10)
	go f.bus.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(_ context.Context, o *ticketing.Outbound, _ int) error {
		got <- o
		return nil
	})
	note, err := f.svc.Reply(ctx, tk.ID, f.agent, ticketing.ReplyInput{Text: "Internal: check the warehouse", Note: true})
	if err != nil || note.Direction != ticketing.DirectionNote || note.Delivery != nil {
		t.Fatalf("note = %+v, %v", note, err)
	}
	reply, err := f.svc.Reply(ctx, tk.ID, f.agent, ticketing.ReplyInput{Text: "It ships today."})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Direction != ticketing.DirectionOutbound || reply.Channel != ticketing.ChannelEmail || reply.Delivery.Status != ticketing.DeliveryQueued {
		t.Fatalf("reply = %+v", reply)
	}
	select {
	case o := <-got:
		if o.MessageID != reply.ID || o.To.Value != "dan@example.se" || o.InReplyTo != "<d1@mail.example>" || o.TicketNumber != tk.Number {
			t.Fatalf("outbound = %+v", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reply never reached SVAR_OUTBOUND")
	}
	select {
	case o := <-got:
		t.Fatalf("a second outbound message appeared (the note?): %+v", o)
	case <-time.After(300 * time.Millisecond):
	}
	v, err := f.svc.TicketView(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) != 3 || v.Messages[1].Direction != ticketing.DirectionNote {
		t.Fatalf("timeline has %d messages", len(v.Messages))
	}
}

func TestReplyErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("eva@example.se", "<e1@x>", "Hi"))
	tk := f.customerTicket(t, "email:eva@example.se").Ticket
	cases := []struct {
		name  string
		in    ticketing.ReplyInput
		field string
	}{
		{"empty text", ticketing.ReplyInput{Text: "  "}, "text"},
		{"unknown channel", ticketing.ReplyInput{Text: "x", Channel: "fax"}, "channel"},
		{"unreachable channel", ticketing.ReplyInput{Text: "x", Channel: ticketing.ChannelSMS}, "channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Reply(ctx, tk.ID, f.agent, tc.in)
			var de *ticketing.Error
			if !errors.As(err, &de) || de.Code != ticketing.EInvalid || de.Field != tc.field {
				t.Fatalf("err = %#v, want EInvalid on %s", err, tc.field)
			}
		})
	}
	if _, err := f.svc.Reply(ctx, "nope", f.agent, ticketing.ReplyInput{Text: "x"}); ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Fatalf("unknown ticket: %v", err)
	}
	bogus := "someone"
	if _, err := f.svc.UpdateTicket(ctx, tk.ID, f.agent, ticketing.TicketUpdate{AssigneeID: &bogus}); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Fatalf("unknown assignee: %v", err)
	}
}

func TestDeliveryReportsDoNotGoBackwards(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("fia@example.se", "<f1@x>", "Hi"))
	tk := f.customerTicket(t, "email:fia@example.se").Ticket
	reply, err := f.svc.Reply(ctx, tk.ID, f.agent, ticketing.ReplyInput{Text: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReportDelivery(ctx, reply.ID, ticketing.Delivery{Status: ticketing.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.ReportDelivery(ctx, reply.ID, ticketing.Delivery{Status: ticketing.DeliverySent})
	if err != nil {
		t.Fatal(err)
	}
	if m.Delivery.Status != ticketing.DeliveryDelivered {
		t.Fatalf("a late 'sent' overwrote 'delivered': %s", m.Delivery.Status)
	}
	if _, err := f.svc.ReportDelivery(ctx, "missing", ticketing.Delivery{Status: ticketing.DeliverySent}); ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestBounceMarksTheReplyFailedAndStaysOnItsTicket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("gus@example.se", "<g1@x>", "Hi"))
	tk := f.customerTicket(t, "email:gus@example.se").Ticket
	solved := ticketing.StatusSolved
	reply, err := f.svc.Reply(ctx, tk.ID, f.agent, ticketing.ReplyInput{Text: "Here you go"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateTicket(ctx, tk.ID, f.agent, ticketing.TicketUpdate{Status: &solved}); err != nil {
		t.Fatal(err)
	}
	dsn := emailEnv("mailer-daemon@mx.example.se", "<dsn1@mx>", "Delivery to gus@example.se failed: mailbox full")
	dsn.Auto, dsn.Bounce = true, &ticketing.Bounce{MessageID: reply.ID, Reason: "552 mailbox full"}
	f.MustIngest(t, dsn)

	m, err := f.svc.GetMessage(ctx, reply.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Delivery.Status != ticketing.DeliveryFailed || m.Delivery.Error != "552 mailbox full" {
		t.Fatalf("reply delivery = %+v", m.Delivery)
	}
	v, err := f.svc.TicketView(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := v.Messages[len(v.Messages)-1]
	if v.Ticket.Status != ticketing.StatusSolved || last.ThreadReason != ticketing.ReasonBounce || last.Author.Kind != ticketing.AuthorSystem {
		t.Fatalf("bounce: ticket %s, last message %+v", v.Ticket.Status, last)
	}
	if _, err := f.svc.CustomerByIdentity(ctx, "email:mailer-daemon@mx.example.se"); ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Fatalf("the mailer daemon became a customer: %v", err)
	}
}

func TestPushCustomerLinksTheShopsIdentities(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Anna wrote by email before she had an account.
	f.MustIngest(t, emailEnv("anna@example.se", "<a1@x>", "Do you ship to Gotland?"))
	byMail, err := f.svc.CustomerByIdentity(ctx, "email:anna@example.se")
	if err != nil {
		t.Fatal(err)
	}
	name := "Anna Svensson"
	orders := []ticketing.Order{{ID: "1001", Total: "499 SEK", Status: "shipped"}}
	c, conflicts, err := f.svc.PushCustomer(ctx, ticketing.ShopCustomer{ExternalID: "shop-42", Name: &name, Email: "Anna@Example.se",
		Phone: "+46701234567", Attributes: ticketing.Attributes{"tier": "VIP"}, Orders: &orders})
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("push: %v, conflicts %v", err, conflicts)
	}
	if c.ID != byMail.ID || c.ExternalID != "shop-42" || c.Attributes["tier"] != "VIP" || len(c.Orders) != 1 {
		t.Fatalf("pushed customer = %+v, want the email customer %s", c, byMail.ID)
	}
	// A signed-in chat now threads into the same ticket.
	signed := &ticketing.Envelope{Channel: ticketing.ChannelChat, ExternalID: "v9:c1",
		From: ticketing.Identity{Kind: ticketing.IdentityExternal, Value: "shop-42", Verified: true},
		Text: "Hi again, from the chat", ReceivedAt: time.Now().UTC()}
	f.MustIngest(t, signed)
	v := f.customerTicket(t, "external:shop-42")
	if len(v.Messages) != 2 || v.Customer.ID != byMail.ID {
		t.Fatalf("signed chat joined customer %s with %d messages", v.Customer.ID, len(v.Messages))
	}
	// Someone else's email is reported, never merged.
	f.MustIngest(t, emailEnv("bo@example.se", "<b1@x>", "Hello"))
	other, conflicts, err := f.svc.PushCustomer(ctx, ticketing.ShopCustomer{ExternalID: "shop-43", Email: "bo@example.se"})
	if err != nil {
		t.Fatal(err)
	}
	bo, _ := f.svc.CustomerByIdentity(ctx, "email:bo@example.se")
	if len(conflicts) != 0 || other.ID != bo.ID {
		t.Fatalf("shop-43 with bo's email: customer %s (bo is %s), conflicts %v", other.ID, bo.ID, conflicts)
	}
	_, conflicts, err = f.svc.PushCustomer(ctx, ticketing.ShopCustomer{ExternalID: "shop-44", Email: "anna@example.se"})
	if err != nil || len(conflicts) != 1 || conflicts[0].Value != "anna@example.se" {
		t.Fatalf("a taken email: %v, conflicts %v", err, conflicts)
	}
	if _, _, err := f.svc.PushCustomer(ctx, ticketing.ShopCustomer{ExternalID: "x", Phone: "070-123"}); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Fatalf("bad phone: %v", err)
	}
}

// closingStore closes a ticket just before the core adds a message to it,
// as an agent closing it at that very moment would.
type closingStore struct {
	ticketing.Store
	once sync.Once
}

func (s *closingStore) ApplyToTicket(ctx context.Context, id string, c ticketing.TicketChange) (*ticketing.Ticket, error) {
	if c.AddMessageID != "" {
		s.once.Do(func() {
			closed := ticketing.StatusClosed
			now := time.Now().UTC()
			if _, err := s.Store.ApplyToTicket(ctx, id, ticketing.TicketChange{Status: &closed, SolvedAt: &now}); err != nil {
				panic(err)
			}
		})
	}
	return s.Store.ApplyToTicket(ctx, id, c)
}

func TestMessageRacingAClosedTicketGetsANewTicket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("hugo@example.se", "<h1@x>", "First"))
	first := f.customerTicket(t, "email:hugo@example.se").Ticket

	racing := ticketing.New(ticketing.Options{Store: &closingStore{Store: f.store}, Bus: f.bus})
	env := emailEnv("hugo@example.se", "<h2@x>", "Second, as the agent closes the first")
	for _, err := range racing.Ingest(ctx, []*ticketing.Envelope{env}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := f.svc.GetMessage(ctx, env.MessageID())
	if err != nil {
		t.Fatal(err)
	}
	if m.TicketID == first.ID {
		t.Fatal("the message stayed on the closed ticket")
	}
	v, err := f.svc.TicketView(ctx, m.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Ticket.Status != ticketing.StatusOpen || len(v.Messages) != 1 || v.Messages[0].ID != m.ID || v.Ticket.PreviousTicketID != first.ID {
		t.Fatalf("new ticket %+v with %d messages", v.Ticket, len(v.Messages))
	}
	old, err := f.svc.TicketView(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Messages) != 1 || old.Ticket.Status != ticketing.StatusClosed {
		t.Fatalf("closed ticket: %s with %d messages", old.Ticket.Status, len(old.Messages))
	}
}

func TestStaleCustomerCacheOnAnotherNodeStillThreadsRight(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	nodeB := ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus})
	f.MustIngest(t, emailEnv("ida@example.se", "<i1@x>", "One")) // node A caches Ida with ticket 1
	first := f.customerTicket(t, "email:ida@example.se").Ticket
	closed := ticketing.StatusClosed
	if _, err := nodeB.UpdateTicket(ctx, first.ID, f.agent, ticketing.TicketUpdate{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	for _, err := range nodeB.Ingest(ctx, []*ticketing.Envelope{emailEnv("ida@example.se", "<i2@x>", "Two")}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	second := f.customerTicket(t, "email:ida@example.se").Ticket
	if second.ID == first.ID {
		t.Fatal("node B did not open a new ticket")
	}
	env := emailEnv("ida@example.se", "<i3@x>", "Three")
	f.MustIngest(t, env) // node A still believes ticket 1 is current
	m, err := f.svc.GetMessage(ctx, env.MessageID())
	if err != nil {
		t.Fatal(err)
	}
	if m.TicketID != second.ID || m.ThreadReason != ticketing.ReasonOpen {
		t.Fatalf("message on %s (%s), want %s", m.TicketID, m.ThreadReason, second.ID)
	}
	old, _ := f.svc.TicketView(ctx, first.ID)
	cur, _ := f.svc.TicketView(ctx, second.ID)
	if len(old.Messages) != 1 || len(cur.Messages) != 2 {
		t.Fatalf("closed ticket has %d messages, current has %d", len(old.Messages), len(cur.Messages))
	}
}
