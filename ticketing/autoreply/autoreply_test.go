package autoreply_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/autoreply"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

type node struct {
	bus   *natsbus.Bus
	store *mongostore.Store
	core  *ticketing.Service
	auto  *autoreply.Service
	hours *hours.Service
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nodes starts n nodes' cores and auto-replies on one NATS and store.
func nodes(t *testing.T, n int) []*node {
	url, ns := natstest.NewServer(t), natstest.Namespace(t)
	stores := mongotest.NewNodes(t, n)
	var out []*node
	for i := range n {
		bus := natstest.Connect(t, url, ns)
		core := ticketing.New(ticketing.Options{Store: stores[i], Bus: bus, Logger: mongotest.Logger(t)})
		h := hours.NewService(stores[i], nil)
		a := autoreply.New(autoreply.Options{Store: stores[i], Core: core, Events: bus, Hours: h, Logger: mongotest.Logger(t)})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = a.Run(ctx) })
		t.Cleanup(func() { cancel(); wg.Wait() })
		out = append(out, &node{bus: bus, store: stores[i], core: core, auto: a, hours: h})
	}
	return out
}

// closedNow sets hours that are closed now: open only on the weekday
// three days ahead (UTC), around the clock.
func closedNow(t *testing.T, n *node) time.Time {
	day := time.Now().UTC().AddDate(0, 0, 3)
	wd := hours.Weekdays[(int(day.Weekday())+6)%7]
	if _, err := n.hours.Put(ctxT(t), "", hours.Settings{Timezone: "UTC", Week: map[string][][]string{wd: {{"00:00", "24:00"}}}}); err != nil {
		t.Fatal(err)
	}
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var seq atomic.Int64

func ingest(t *testing.T, n *node, env *ticketing.Envelope) *ticketing.Ticket {
	t.Helper()
	env.ExternalID = fmt.Sprintf("x%d-%d", time.Now().UnixNano(), seq.Add(1))
	env.ReceivedAt = time.Now().UTC()
	if errs := n.core.Ingest(ctxT(t), []*ticketing.Envelope{env}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	m, err := n.store.GetMessage(ctxT(t), env.MessageID())
	if err != nil {
		t.Fatal(err)
	}
	if m.TicketID == "" { // an automatic mail from a stranger opens no ticket
		return &ticketing.Ticket{ID: "none:" + m.ID}
	}
	tk, err := n.store.GetTicket(ctxT(t), m.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// outbound records what reaches SVAR_OUTBOUND per channel.
type outbound struct {
	mu  sync.Mutex
	got []*ticketing.Outbound
}

func (o *outbound) consume(t *testing.T, bus *natsbus.Bus) {
	for _, ch := range []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS} {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = bus.ConsumeOutbound(ctx, ch, func(_ context.Context, m *ticketing.Outbound, _ int) error {
				o.mu.Lock()
				o.got = append(o.got, m)
				o.mu.Unlock()
				return nil
			})
		})
		t.Cleanup(func() { cancel(); wg.Wait() })
	}
}

func (o *outbound) forTicket(id string) []*ticketing.Outbound {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*ticketing.Outbound
	for _, m := range o.got {
		if m.TicketID == id {
			out = append(out, m)
		}
	}
	return out
}

func messages(t *testing.T, n *node, id string) []*ticketing.Message {
	tk, err := n.store.GetTicket(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := n.store.GetMessages(ctxT(t), tk.MessageIDs)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestOutOfHoursReplyOncePerTicketOnEveryChannel(t *testing.T) {
	ns := nodes(t, 2)
	a, b := ns[0], ns[1]
	var out outbound
	out.consume(t, a.bus)
	opens := closedNow(t, a)
	if _, err := a.auto.PutSettings(ctxT(t), autoreply.Settings{Enabled: true, Text: map[string]string{
		"sv": "Vi har stängt. Vi öppnar {{next_open}}.", "en": "We are closed. We open {{next_open}}."}}); err != nil {
		t.Fatal(err)
	}
	// An SMS customer who opted out.
	stop := &ticketing.Customer{ID: "c-stop", Name: "Stopp", CreatedAt: time.Now().UTC(),
		Identities: []ticketing.Identity{{Kind: ticketing.IdentityPhone, Value: "+46709999999"}}}
	if _, err := a.store.EnsureCustomer(ctxT(t), stop); err != nil {
		t.Fatal(err)
	}
	if err := a.store.InsertIdentity(ctxT(t), stop.Identities[0], stop.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.PatchCustomer(ctxT(t), stop.ID, ticketing.CustomerPatch{OptOut: map[string]string{"sms": "STOP"}}); err != nil {
		t.Fatal(err)
	}

	email := ingest(t, a, &ticketing.Envelope{Channel: ticketing.ChannelEmail, Subject: "Paket",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna@example.se"}, Text: "Hej, var är mitt paket?",
		Meta: map[string]string{"message_id": "<a1@example.se>"}})
	chat := ingest(t, b, &ticketing.Envelope{Channel: ticketing.ChannelChat,
		From: ticketing.Identity{Kind: ticketing.IdentityChat, Value: "visitor-1"}, Text: "Hello, where is my order?"})
	sms := ingest(t, a, &ticketing.Envelope{Channel: ticketing.ChannelSMS,
		From: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}, Text: "Hej! Min order?"})
	ooo := ingest(t, b, &ticketing.Envelope{Channel: ticketing.ChannelEmail, Subject: "Out of office", Auto: true, AutoReason: "auto-submitted",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "ooo@example.com"}, Text: "I am away until Monday.",
		Meta: map[string]string{"message_id": "<o1@example.com>"}})
	optedOut := ingest(t, a, &ticketing.Envelope{Channel: ticketing.ChannelSMS,
		From: stop.Identities[0], Text: "Hej igen"})

	want := map[string]string{email.ID: "sv", chat.ID: "en", sms.ID: "sv"}
	for id, lang := range want {
		eventually(t, "the automatic reply on "+id, func() bool { return len(out.forTicket(id)) > 0 })
		var auto []*ticketing.Message
		for _, m := range messages(t, a, id) {
			if m.Author.Kind == ticketing.AuthorSystem {
				auto = append(auto, m)
			}
		}
		if len(auto) != 1 || auto[0].Direction != ticketing.DirectionOutbound || !auto[0].Auto {
			t.Fatalf("ticket %s: automatic messages %+v", id, auto)
		}
		next := autoreply.FormatNextOpen(hours.MustCompile(hours.Settings{Timezone: "UTC"}), opens, lang)
		if !strings.Contains(auto[0].Text, next) || (lang == "sv") != strings.HasPrefix(auto[0].Text, "Vi har stängt") {
			t.Errorf("ticket %s: text %q, want %s with %q", id, auto[0].Text, lang, next)
		}
		o := out.forTicket(id)[0]
		if !o.Auto || o.Channel != auto[0].Channel {
			t.Errorf("outbound %+v", o)
		}
	}
	// A second message on the email ticket gets nothing more.
	again := ingest(t, b, &ticketing.Envelope{Channel: ticketing.ChannelEmail, Subject: "Re: Paket",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna@example.se"}, Text: "Hallå?",
		Meta: map[string]string{"message_id": "<a2@example.se>"}})
	if again.ID != email.ID {
		t.Fatalf("second mail on another ticket")
	}
	// A marker ticket written after everything else: once its reply is
	// out, the consumer has handled the events before it.
	marker := ingest(t, a, &ticketing.Envelope{Channel: ticketing.ChannelEmail, Subject: "x",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "marker@example.se"}, Text: "hello",
		Meta: map[string]string{"message_id": "<m1@example.se>"}})
	eventually(t, "the marker's reply", func() bool { return len(out.forTicket(marker.ID)) > 0 })
	for id, n := range map[string]int{email.ID: 1, chat.ID: 1, sms.ID: 1, ooo.ID: 0, optedOut.ID: 0} {
		if got := len(out.forTicket(id)); got != n {
			t.Errorf("ticket %s: %d automatic replies sent, want %d", id, got, n)
		}
	}
}

func TestNoReplyWhileOpenAndSettingsValidation(t *testing.T) {
	a := nodes(t, 1)[0]
	var out outbound
	out.consume(t, a.bus)
	all := [][]string{{"00:00", "24:00"}}
	week := map[string][][]string{}
	for _, d := range hours.Weekdays {
		week[d] = all
	}
	if _, err := a.hours.Put(ctxT(t), "", hours.Settings{Timezone: "UTC", Week: week}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.auto.PutSettings(ctxT(t), autoreply.Settings{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	before, err := a.bus.LastEventSeq(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	tk := ingest(t, a, &ticketing.Envelope{Channel: ticketing.ChannelEmail, Subject: "Hi",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "open@example.se"}, Text: "Hello",
		Meta: map[string]string{"message_id": "<p1@example.se>"}})
	// Wait until the ticket's events are stored and the shared consumer
	// has handled every event.
	eventually(t, "the ticket's events", func() bool {
		n, err := a.bus.LastEventSeq(ctxT(t))
		return err == nil && n >= before+2
	})
	eventually(t, "the auto-reply consumer to catch up", func() bool {
		c, err := a.bus.JetStream().Consumer(ctxT(t), a.bus.StreamName(natsbus.StreamEvents), autoreply.ConsumerName)
		if err != nil {
			return false
		}
		i := c.CachedInfo()
		return i.NumPending == 0 && i.NumAckPending == 0 && i.Delivered.Stream > 0
	})
	if n := len(out.forTicket(tk.ID)); n != 0 {
		t.Errorf("%d replies while open", n)
	}
	_, err = a.auto.PutSettings(ctxT(t), autoreply.Settings{Text: map[string]string{"de": "Hallo"}})
	if ticketing.ErrorCode(err) != ticketing.EInvalid || !strings.HasPrefix(err.Error(), "text.de:") {
		t.Errorf("unknown language: %v", err)
	}
}
