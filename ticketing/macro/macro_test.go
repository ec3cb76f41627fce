package macro_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/macro"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

type fixture struct {
	core   *ticketing.Service
	store  *mongostore.Store
	macros *macro.Service
	agent  *ticketing.Agent
	admin  *ticketing.Agent
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := mongotest.New(t)
	bus := natstest.New(t)
	core := ticketing.New(ticketing.Options{Store: st, Bus: bus})
	f := &fixture{core: core, store: st,
		macros: macro.New(macro.Options{Store: st, State: st, Tickets: st, Customers: st, Core: core}),
		agent:  &ticketing.Agent{ID: "agent-1", Name: "Agnes Berg", Email: "agnes@shop.example", Role: ticketing.RoleAgent, Active: true},
		admin:  &ticketing.Agent{ID: "admin-1", Name: "Ada Admin", Email: "ada@shop.example", Role: ticketing.RoleAdmin, Active: true},
	}
	for _, a := range []*ticketing.Agent{f.agent, f.admin} {
		if err := st.InsertAgent(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// ticketFor ingests one mail from addr and returns its ticket.
func (f *fixture) ticketFor(t testing.TB, addr, name string) *ticketing.Ticket {
	t.Helper()
	ctx := context.Background()
	env := &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: "<" + addr + "@mail>",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: addr}, Name: name,
		Subject: "Var är mitt paket?", Text: "Hej!", ReceivedAt: time.Now().UTC()}
	for _, err := range f.core.Ingest(ctx, []*ticketing.Envelope{env}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.core.CustomerByIdentity(ctx, "email:"+addr)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := f.store.GetTicket(ctx, c.CurrentTicketID)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (f *fixture) mustCreate(t testing.TB, in macro.Input) *macro.Macro {
	t.Helper()
	m, err := f.macros.Create(context.Background(), f.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

const everyPlaceholder = "Hi {{customer.first_name}} ({{customer.name}}), ticket {{ticket.number}}. " +
	"Order {{order.number | default: \"(none)\"}} is {{ order.status | default: \"unknown\" }}: " +
	"{{order.tracking_url | default: \"no tracking yet\"}}. /{{agent.first_name}}"

func TestRenderEveryPlaceholder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.mustCreate(t, macro.Input{Name: ptr("Where is my order"), Text: ptr(everyPlaceholder), Shared: ptr(true)})

	with := f.ticketFor(t, "anna@example.se", "Anna Svensson")
	_, err := f.core.PatchCustomer(ctx, with.CustomerID, ticketing.CustomerPatch{Orders: &[]ticketing.Order{
		{ID: "1041", Status: "delivered", CreatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "1042", Status: "shipped", TrackingURL: "https://track.example/1042", CreatedAt: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{ID: "1040", Status: "delivered", CreatedAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	without := f.ticketFor(t, "bo@example.se", "Bo Ek")

	cases := []struct {
		name   string
		ticket *ticketing.Ticket
		want   string
	}{
		{"with orders", with, "Hi Anna (Anna Svensson), ticket %d. Order 1042 is shipped: https://track.example/1042. /Agnes"},
		{"without orders", without, "Hi Bo (Bo Ek), ticket %d. Order (none) is unknown: no tracking yet. /Agnes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.macros.Preview(ctx, f.agent, tc.ticket.ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(tc.want, "%d", itoa(tc.ticket.Number), 1)
			if got != want {
				t.Fatalf("preview:\n got %q\nwant %q", got, want)
			}
			msg, err := f.macros.Send(ctx, tc.ticket.ID, f.agent, ticketing.ReplyInput{ClientID: "c-" + tc.name}, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Text != want || strings.Contains(msg.Text, "{{") {
				t.Fatalf("sent %q, want %q", msg.Text, want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestUnfillablePlaceholderRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.mustCreate(t, macro.Input{Name: ptr("Tracking"), Text: ptr("Track it here: {{order.tracking_url}}"), Shared: ptr(true)})
	tk := f.ticketFor(t, "bo@example.se", "Bo Ek")
	_, err := f.macros.Send(ctx, tk.ID, f.agent, ticketing.ReplyInput{ClientID: "x"}, m.ID)
	if ticketing.ErrorCode(err) != ticketing.EInvalid || !strings.Contains(err.Error(), "{{order.tracking_url}}") {
		t.Fatalf("send: err = %v, want invalid naming {{order.tracking_url}}", err)
	}
	after, err := f.store.GetTicket(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.MessageCount != tk.MessageCount {
		t.Fatalf("a refused macro stored a message: %d messages, want %d", after.MessageCount, tk.MessageCount)
	}
}

func TestUnknownPlaceholderIs422(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, in := range map[string]macro.Input{
		"text":      {Name: ptr("x"), Text: ptr("Hello {{customer.shoe_size}}")},
		"texts.sv":  {Name: ptr("x"), Text: ptr("Hello"), Texts: map[string]string{"sv": "Hej {{kund.namn}}"}},
		"malformed": {Name: ptr("x"), Text: ptr("Hello {{customer.name | default: oops}}")},
	} {
		_, err := f.macros.Create(ctx, f.agent, in)
		var de *ticketing.Error
		if !asErr(err, &de) || de.Code != ticketing.EInvalid || de.Field == "" {
			t.Errorf("%s: err = %v, want an invalid-input error naming the field", name, err)
		}
	}
	m := f.mustCreate(t, macro.Input{Name: ptr("ok"), Text: ptr("Hello")})
	if _, err := f.macros.Update(ctx, f.admin, m.ID, macro.Input{Text: ptr("{{agent.last_name}}")}); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Errorf("update with unknown placeholder: err = %v", err)
	}
}

func TestActionsAppliedOnceOnRetry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.mustCreate(t, macro.Input{Name: ptr("Return label"), Text: ptr("Here is your return label."), Shared: ptr(true),
		Actions: &macro.Actions{Status: "pending", Priority: "high", TagsAdd: []string{"Return"}, TagsRemove: []string{"new"},
			Type: "return", AssigneeID: "me", TeamID: "returns"}})
	tk := f.ticketFor(t, "anna@example.se", "Anna Svensson")
	if _, err := f.core.UpdateTicket(ctx, tk.ID, f.agent, ticketing.TicketUpdate{Tags: &[]string{"new", "vip"}}); err != nil {
		t.Fatal(err)
	}
	in := ticketing.ReplyInput{ClientID: "retry-1"}
	first, err := f.macros.Send(ctx, tk.ID, f.agent, in, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.store.GetTicket(ctx, tk.ID)
	if got.Status != "pending" || got.Priority != "high" || got.Type != "return" || got.AssigneeID != f.agent.ID ||
		got.TeamID != "returns" || strings.Join(got.Tags, ",") != "vip,return" {
		t.Fatalf("after the macro: %+v", got)
	}
	// Someone changes the ticket; the retried POST must not apply the
	// actions again (nor store a second message).
	if _, err := f.core.UpdateTicket(ctx, tk.ID, f.agent, ticketing.TicketUpdate{Status: ptr("open"), Tags: &[]string{"vip"}}); err != nil {
		t.Fatal(err)
	}
	again, err := f.macros.Send(ctx, tk.ID, f.agent, in, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Fatalf("retry stored a new message %s, first was %s", again.ID, first.ID)
	}
	got, _ = f.store.GetTicket(ctx, tk.ID)
	if got.Status != "open" || strings.Join(got.Tags, ",") != "vip" {
		t.Fatalf("retry applied the actions again: status %s tags %v", got.Status, got.Tags)
	}
	if got.MessageCount != 2 {
		t.Fatalf("messages = %d, want 2", got.MessageCount)
	}
}

func TestLanguageAndListing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := f.mustCreate(t, macro.Input{Name: ptr("Leveranstid"), Text: ptr("Delivery takes 2-4 days, {{customer.first_name}}."),
		Texts: map[string]string{"sv": "Leveransen tar 2–4 dagar, {{customer.first_name}}."}, Shared: ptr(true)})
	f.mustCreate(t, macro.Input{Name: ptr("Returns"), Text: ptr("Send it back within 30 days.")})
	personal, err := f.macros.Create(ctx, f.agent, macro.Input{Name: ptr("My greeting"), Text: ptr("Hej hej")})
	if err != nil {
		t.Fatal(err)
	}
	tk := f.ticketFor(t, "anna@example.se", "Anna Svensson")
	en, _ := f.macros.Preview(ctx, f.agent, tk.ID, m.ID)
	if _, err := f.core.PatchCustomer(ctx, tk.CustomerID, ticketing.CustomerPatch{Attributes: ticketing.Attributes{"language": "sv-SE"}}); err != nil {
		t.Fatal(err)
	}
	sv, _ := f.macros.Preview(ctx, f.agent, tk.ID, m.ID)
	if en != "Delivery takes 2-4 days, Anna." || sv != "Leveransen tar 2–4 dagar, Anna." {
		t.Fatalf("en %q sv %q", en, sv)
	}

	names := func(a *ticketing.Agent, q string) string {
		l, err := f.macros.List(ctx, a, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range l {
			out = append(out, m.Name)
		}
		return strings.Join(out, ",")
	}
	// "Returns" is the admin's personal macro: the agent does not see it.
	if got := names(f.agent, ""); got != "Leveranstid,My greeting" {
		t.Errorf("agent's list = %q", got)
	}
	if got := names(f.admin, "ret"); !strings.HasPrefix(got, "Returns,") { // then fuzzy "My gReeTing"
		t.Errorf("q=ret: %q", got)
	}
	if got := names(f.agent, "lvrn"); got != "Leveranstid" { // fuzzy: a subsequence of the name
		t.Errorf("q=lvrn: %q", got)
	}
	if got := names(f.agent, "dagar"); got != "Leveranstid" { // the text
		t.Errorf("q=dagar: %q", got)
	}
	if err := f.macros.Delete(ctx, f.agent, personal.ID); err != nil {
		t.Fatal(err)
	}
	if got := names(f.agent, ""); got != "Leveranstid" {
		t.Errorf("after delete: %q", got)
	}
	if err := f.macros.Delete(ctx, f.agent, m.ID); ticketing.ErrorCode(err) != ticketing.EForbidden {
		t.Errorf("agent deleting a shared macro: %v", err)
	}
}

// TestCacheFollowsEvents: a node sends a cached macro until any node
// changes one; the change is an event on SVAR_EVENTS, and applying it
// makes the node read the new text.
func TestCacheFollowsEvents(t *testing.T) {
	st := mongotest.New(t)
	bus := natstest.New(t)
	core := ticketing.New(ticketing.Options{Store: st, Bus: bus})
	nodeA := macro.New(macro.Options{Store: st, State: st, Tickets: st, Customers: st, Core: core, Events: bus})
	nodeB := macro.New(macro.Options{Store: st, State: st, Tickets: st, Customers: st, Core: core, Events: bus})
	admin := &ticketing.Agent{ID: "admin-1", Name: "Ada", Role: ticketing.RoleAdmin, Active: true}
	if err := st.InsertAgent(context.Background(), admin); err != nil {
		t.Fatal(err)
	}
	f := &fixture{core: core, store: st, macros: nodeA, admin: admin}
	tk := f.ticketFor(t, "anna@example.se", "Anna Svensson")
	ctx := t.Context()
	events := make(chan *ticketing.Event, 10)
	go bus.SubscribeEvents(ctx, 0, func(ev *ticketing.Event) {
		if ev.Type == macro.EventChanged {
			events <- ev
		}
	})
	m := f.mustCreate(t, macro.Input{Name: ptr("Hi"), Text: ptr("Version one"), Shared: ptr(true)})
	if got, _ := nodeB.Preview(ctx, admin, tk.ID, m.ID); got != "Version one" {
		t.Fatalf("node B: %q", got)
	}
	// Drain the create's event, if the subscription saw it.
	select {
	case <-events:
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := nodeA.Update(ctx, admin, m.ID, macro.Input{Text: ptr("Version two")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := nodeB.Preview(ctx, admin, tk.ID, m.ID); got != "Version one" {
		t.Fatalf("node B before the event: %q (the cache is what makes sending cheap)", got)
	}
	var ev *ticketing.Event
	select {
	case ev = <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no macro.changed event on SVAR_EVENTS")
	}
	nodeB.ApplyEvent(ev)
	if got, _ := nodeB.Preview(ctx, admin, tk.ID, m.ID); got != "Version two" {
		t.Fatalf("node B after the event: %q", got)
	}
}
