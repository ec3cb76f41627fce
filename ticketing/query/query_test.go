package query_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
	"github.com/svar-dev/svar/ticketing/query"
)

type fixture struct {
	t     *testing.T
	store *mongostore.Store
	bus   *natsbus.Bus
	path  string
	ix    *query.Index
	svc   *ticketing.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, store: mongotest.New(t), bus: natstest.New(t), path: filepath.Join(t.TempDir(), "query", "index.db")}
	f.open()
	return f
}

// open opens and starts the index and a service that uses it.
func (f *fixture) open() {
	f.t.Helper()
	ix, err := query.Open(query.Options{Path: f.path, Store: f.store, Events: f.bus, Logger: natstest.Logger(f.t),
		ReconcileEvery: 200 * time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := ix.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { ix.Close() })
	f.ix = ix
	f.svc = ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus, Query: ix})
}

func (f *fixture) ingest(envs ...*ticketing.Envelope) {
	f.t.Helper()
	for i, err := range f.svc.Ingest(context.Background(), envs) {
		if err != nil {
			f.t.Fatalf("envelope %d: %v", i, err)
		}
	}
}

func email(from, name, id, subject, text string) *ticketing.Envelope {
	return &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: id, Name: name,
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: from}, Subject: subject, Text: text,
		ReceivedAt: time.Now().UTC()}
}

func sms(from, id, text string) *ticketing.Envelope {
	return &ticketing.Envelope{Channel: ticketing.ChannelSMS, ExternalID: id,
		From: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: from}, Text: text, ReceivedAt: time.Now().UTC()}
}

// ticketOf returns the current ticket of the customer with identity key.
func (f *fixture) ticketOf(key string) *ticketing.Ticket {
	f.t.Helper()
	c, err := f.svc.CustomerByIdentity(context.Background(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	t, err := f.store.GetTicket(context.Background(), c.CurrentTicketID)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) list(q string) []string {
	f.t.Helper()
	p, err := f.ix.List(context.Background(), ticketing.System, ticketing.TicketFilter{Query: q, Limit: 200})
	if err != nil {
		f.t.Fatalf("list q=%q: %v", q, err)
	}
	ids := make([]string, len(p.Tickets))
	for i, t := range p.Tickets {
		ids[i] = t.ID
	}
	return ids
}

func (f *fixture) finds(q, ticketID string) bool {
	for _, id := range f.list(q) {
		if id == ticketID {
			return true
		}
	}
	return false
}

func TestSearchFindsTheRightTicket(t *testing.T) {
	f := newFixture(t)
	f.ingest(
		email("anna.svensson@example.se", "Anna Svensson", "a1", "Var är mitt paket?", "Hej! Jag vill returnera skorna, de var för små."),
		email("bertil@example.se", "Bertil", "b1", "Faktura", "My invoice is wrong, please refund the shipping."),
		sms("+46701234567", "s1", "Hej, när kommer leveransen?"),
	)
	anna := f.ticketOf("email:anna.svensson@example.se")
	bertil := f.ticketOf("email:bertil@example.se")
	phone := f.ticketOf("phone:+46701234567")

	// The shop links an order (another part of Svar sets order_numbers): a
	// newer version of the ticket arrives as an event.
	withOrder := *bertil
	withOrder.OrderNumbers = []string{"A-77123"}
	withOrder.Version++
	if err := f.bus.PublishEvent(context.Background(), &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: &withOrder}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		q    string
		want string
	}{
		{"returnera", anna.ID},
		{"retur", anna.ID},      // a prefix of the word
		{"RETURNERAR", anna.ID}, // the same Swedish stem, another case
		{"skor", anna.ID},
		{"paket", anna.ID},
		{"anna.svensson@example.se", anna.ID},
		{"Svensson", anna.ID},
		{"refunded", bertil.ID}, // the English stem
		{"invoice", bertil.ID},
		{"070-123 45 67", phone.ID},
		{"+46 70 123 45 67", phone.ID},
		{"0701234567", phone.ID},
		{fmt.Sprint(anna.Number), anna.ID},
		{fmt.Sprintf("#%d", phone.Number), phone.ID},
		{"A-77123", bertil.ID},
		{"77123", bertil.ID},
		{"anna retur", anna.ID}, // the customer's name and a message's word
	}
	for _, tc := range cases {
		eventually(t, fmt.Sprintf("q=%q finds %s", tc.q, tc.want), func() bool { return f.finds(tc.q, tc.want) })
		ids := f.list(tc.q)
		if len(ids) != 1 {
			t.Errorf("q=%q: got %d tickets, want only %s", tc.q, len(ids), tc.want)
		}
	}
	for _, q := range []string{`"`, `retur* OR "`, `NEAR(a b`, `{raw}:x`, `a AND`, `*`, `'); DROP TABLE tickets; --`, "\x01"} {
		if _, err := f.ix.List(context.Background(), ticketing.System, ticketing.TicketFilter{Query: q}); err != nil {
			t.Errorf("q=%q: %v", q, err)
		}
		if _, err := f.ix.Search(context.Background(), ticketing.System, q, 10); err != nil {
			t.Errorf("search q=%q: %v", q, err)
		}
	}
	if got := f.list("nosuchwordanywhere"); len(got) != 0 {
		t.Errorf("a word nobody wrote found %v", got)
	}

	// Search: the matching message, with a snippet that marks the word and
	// escapes the rest.
	f.ingest(email("anna.svensson@example.se", "Anna Svensson", "a2", "", "Skorna <b>klämmer</b> & jag vill byta storlek"))
	var res []*ticketing.SearchResult
	eventually(t, "search finds the second message", func() bool {
		var err error
		res, err = f.ix.Search(context.Background(), ticketing.System, "klämmer", 10)
		return err == nil && len(res) == 1 && res[0].Message != nil
	})
	if res[0].Ticket.ID != anna.ID || res[0].Message.ID != ticketing.InboundMessageID(ticketing.ChannelEmail, "a2") {
		t.Errorf("search result %+v", res[0])
	}
	if want := "Skorna &lt;b&gt;<mark>klämmer</mark>&lt;/b&gt; &amp; jag vill byta storlek"; res[0].Snippet != want {
		t.Errorf("snippet %q, want %q", res[0].Snippet, want)
	}
}

func TestNameLearnedLaterIsFound(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("c.nilsson@example.se", "", "c1", "Hej", "Var är paketet?"))
	tk := f.ticketOf("email:c.nilsson@example.se")
	eventually(t, "the ticket is indexed", func() bool { return f.finds("paketet", tk.ID) })
	if f.finds("Cecilia", tk.ID) {
		t.Fatal("found by a name nobody gave yet")
	}
	name := "Cecilia Nilsson"
	if _, err := f.svc.PatchCustomer(context.Background(), tk.CustomerID, ticketing.CustomerPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the learned name finds the ticket", func() bool { return f.finds("cecilia", tk.ID) })
	page, err := f.ix.Customers(context.Background(), ticketing.System, "Nilsson", 10, "")
	if err != nil || len(page.Customers) != 1 || page.Customers[0].Name != name {
		t.Fatalf("customers?q=Nilsson: %+v %v", page, err)
	}
}

func TestPagingUnderConcurrentInsertsReturnsEveryTicketOnce(t *testing.T) {
	f := newFixture(t)
	const n = 60
	for i := range n {
		f.ingest(email(fmt.Sprintf("p%d@example.se", i), "", fmt.Sprintf("p%d", i), "Paging", "Hej"))
	}
	eventually(t, "every ticket is indexed", func() bool { return f.ix.Len() == n })
	before, err := f.ix.List(context.Background(), ticketing.System, ticketing.TicketFilter{Limit: 200})
	if err != nil || len(before.Tickets) != n {
		t.Fatalf("list: %d %v", len(before.Tickets), err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			f.ingest(email(fmt.Sprintf("new%d@example.se", i), "", fmt.Sprintf("new%d", i), "New", "Hej"))
		}
	}()
	for _, sort := range []string{ticketing.SortActivity, ticketing.SortOldest, ticketing.SortWaiting, ticketing.SortDue} {
		seen := map[string]int{}
		cursor := ""
		for {
			p, err := f.ix.List(context.Background(), ticketing.System, ticketing.TicketFilter{Sort: sort, Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range p.Tickets {
				seen[tk.ID]++
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		for _, tk := range before.Tickets {
			if seen[tk.ID] != 1 {
				t.Errorf("sort=%s: ticket %s seen %d times", sort, tk.ID, seen[tk.ID])
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("sort=%s: ticket %s seen %d times", sort, id, c)
			}
		}
	}
	cancel()
	wg.Wait()
}

func TestFiltersSortsCountsAndBadInput(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("f1@example.se", "", "f1", "Ett", "ett"), sms("+46709999999", "f2", "två"))
	t1 := f.ticketOf("email:f1@example.se")
	t2 := f.ticketOf("phone:+46709999999")
	agent := &ticketing.Agent{ID: "ag1", Name: "Agnes", Email: "agnes@example.se", Role: ticketing.RoleAgent, Active: true}
	if err := f.store.InsertAgent(context.Background(), agent); err != nil {
		t.Fatal(err)
	}
	high, tags, me := "high", []string{"vip", "retur"}, "ag1"
	if _, err := f.svc.UpdateTicket(context.Background(), t1.ID, agent, ticketing.TicketUpdate{Priority: &high, Tags: &tags, AssigneeID: &me}); err != nil {
		t.Fatal(err)
	}
	v := ticketing.Viewer{AgentID: "ag1", Role: ticketing.RoleAgent}
	count := func(params string) int {
		t.Helper()
		q, _ := url.ParseQuery(params)
		flt, err := ticketing.ParseTicketFilter(q, "ag1")
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		p, err := f.ix.List(context.Background(), v, flt)
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		return len(p.Tickets)
	}
	eventually(t, "the change is indexed", func() bool { return count("priority=high") == 1 })
	for params, want := range map[string]int{
		"status=open": 2, "status=solved": 0, "assignee=me": 1, "assignee=none": 1, "channel=sms": 1, "channel=email": 1,
		"tag=vip": 1, "tag=nope": 0, "team=none": 2, "team=t9": 0, "priority=normal": 1, "created_after=2000-01-01": 2,
		"created_before=2000-01-01": 0, "sort=waiting&status=open": 2, "sort=due": 2, "sort=oldest&limit=1": 1,
	} {
		if got := count(params); got != want {
			t.Errorf("%s: %d tickets, want %d", params, got, want)
		}
	}
	c, err := f.ix.Counts(context.Background(), v)
	if err != nil || c["open"] != 2 || c["mine"] != 1 || c["unassigned"] != 1 || c["all"] != 2 {
		t.Errorf("counts %v %v", c, err)
	}
	_ = t2

	for params, field := range map[string]string{
		"limit=-1": "limit", "limit=201": "limit", "limit=x": "limit", "sort=nope": "sort", "status=nope": "status",
		"priority=nope": "priority", "channel=fax": "channel", "type=nope": "type", "created_after=yesterday": "created_after",
		"q=" + strings.Repeat("x", 10<<10): "q", "assignee=a%20b": "assignee",
	} {
		q, _ := url.ParseQuery(params)
		_, err := ticketing.ParseTicketFilter(q, "ag1")
		var e *ticketing.Error
		if !errors.As(err, &e) || e.Code != ticketing.EBadRequest || e.Field != field {
			t.Errorf("%s: %v, want a bad request naming %s", params, err, field)
		}
	}
	for _, cur := range []string{"garbage", "eyJzIjoib2xkZXN0IiwiayI6MSwiaSI6IngifQ"} {
		_, err := f.ix.List(context.Background(), v, ticketing.TicketFilter{Cursor: cur})
		if ticketing.ErrorCode(err) != ticketing.EBadRequest {
			t.Errorf("cursor %q: %v", cur, err)
		}
	}
}

func TestIndexDeletedWhileStoppedIsRebuilt(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("r1@example.se", "Rut", "r1", "Reklamation", "Kaffebryggaren läcker vatten"))
	tk := f.ticketOf("email:r1@example.se")
	eventually(t, "indexed", func() bool { return f.finds("kaffebryggaren", tk.ID) })
	f.ix.Close()
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(f.path + s)
	}
	f.open()
	eventually(t, "the rebuilt index finds the ticket", func() bool { return f.finds("kaffebryggaren", tk.ID) && !f.ix.Rebuilding() })
	if !f.finds("r1@example.se", tk.ID) {
		t.Error("the rebuilt index does not find the customer's email")
	}
}

func TestCorruptIndexIsRebuiltNotFatal(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("k1@example.se", "Karl", "k1", "Trasig", "Lampan är trasig"))
	tk := f.ticketOf("email:k1@example.se")
	eventually(t, "indexed", func() bool { return f.finds("lampan", tk.ID) })
	f.ix.Close()
	os.Remove(f.path + "-wal")
	os.Remove(f.path + "-shm")
	if err := os.WriteFile(f.path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	f.open()
	eventually(t, "the rebuilt index finds the ticket", func() bool { return f.finds("lampan", tk.ID) })
}

func TestRestartCatchesUpFromTheStream(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("u1@example.se", "", "u1", "Först", "första"))
	eventually(t, "indexed and complete", func() bool { return f.ix.Len() == 1 && !f.ix.Rebuilding() })
	f.ix.Close()
	// While this node's index is stopped, another node works.
	other := ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus})
	for i, err := range other.Ingest(context.Background(), []*ticketing.Envelope{email("u2@example.se", "", "u2", "Sen", "cyklar")}) {
		if err != nil {
			t.Fatal(i, err)
		}
	}
	f.open()
	if f.ix.Rebuilding() {
		t.Error("an index whose events are still in the stream is rebuilt")
	}
	tk := f.ticketOf("email:u2@example.se")
	eventually(t, "the missed event is applied", func() bool { return f.finds("cyklar", tk.ID) })
}

// failingBus loses every event: a node whose publishes fail.
type failingBus struct{ *natsbus.Bus }

func (failingBus) PublishEvent(context.Context, *ticketing.Event) error {
	return errors.New("publish failed")
}

func TestNodeWhoseEventsWereDroppedConverges(t *testing.T) {
	f := newFixture(t)
	lossy := ticketing.New(ticketing.Options{Store: f.store, Bus: failingBus{f.bus}})
	ingest := func(e *ticketing.Envelope) {
		for _, err := range lossy.Ingest(context.Background(), []*ticketing.Envelope{e}) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// A new ticket whose events never reached anyone.
	ingest(email("d1@example.se", "", "d1", "Borttappad", "ingen händelse"))
	tk := f.ticketOf("email:d1@example.se")
	eventually(t, "the index finds the ticket no event told it of", func() bool { return f.finds("händelse", tk.ID) })
	// A change to it that no event carries either.
	ingest(email("d1@example.se", "", "d2", "", "paraplyet glömdes"))
	eventually(t, "the index learns the change no event told it of", func() bool { return f.finds("paraplyet", tk.ID) })
	// Events the subscription delivered but this index failed to apply.
	f.ingest(email("d3@example.se", "", "d3", "", "vanlig"))
	eventually(t, "indexed", func() bool { return f.ix.Len() == 2 })
}

// TestTeamMine: team=mine and the my_teams view select the open tickets
// of the viewer's own teams, not of teams merely visible to them nor
// those without a team, in lists and counts; with no team of their own
// they select nothing.
func TestTeamMine(t *testing.T) {
	f := newFixture(t)
	f.ingest(email("m1@example.se", "", "m1", "A", "a"), email("m2@example.se", "", "m2", "B", "b"),
		email("m3@example.se", "", "m3", "C", "c"))
	ctx := context.Background()
	for key, team := range map[string]string{"email:m1@example.se": "tA", "email:m2@example.se": "tB"} {
		team := team
		if _, err := f.svc.UpdateTicket(ctx, f.ticketOf(key).ID, nil, ticketing.TicketUpdate{TeamID: &team}); err != nil {
			t.Fatal(err)
		}
	}
	mine := f.ticketOf("email:m1@example.se").ID
	v := ticketing.Viewer{AgentID: "ag1", Role: ticketing.RoleAgent, TeamIDs: []string{"tA", "tB"}, OwnTeamIDs: []string{"tA"}}
	list := func(v ticketing.Viewer, params string) []string {
		t.Helper()
		q, _ := url.ParseQuery(params)
		flt, err := ticketing.ParseTicketFilter(q, v.AgentID)
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		p, err := f.ix.List(ctx, v, flt)
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		var ids []string
		for _, tk := range p.Tickets {
			ids = append(ids, tk.ID)
		}
		return ids
	}
	eventually(t, "the teams are indexed", func() bool { return len(list(ticketing.System, "team=tB")) == 1 })
	if got := list(v, "team=mine"); len(got) != 1 || got[0] != mine {
		t.Errorf("team=mine = %v, want [%s]", got, mine)
	}
	vf, ok := ticketing.ViewFilter(ticketing.ViewMyTeams, "ag1")
	if p, err := f.ix.List(ctx, v, vf); !ok || err != nil || len(p.Tickets) != 1 || p.Tickets[0].ID != mine {
		t.Errorf("view my_teams: %v %v", p, err)
	}
	if got := list(v, "team=mine&status=solved"); len(got) != 0 {
		t.Errorf("team=mine&status=solved = %v", got)
	}
	if c, err := f.ix.Counts(ctx, v); err != nil || c[ticketing.ViewMyTeams] != 1 || c[ticketing.ViewOpen] != 3 {
		t.Errorf("counts %v %v", c, err)
	}
	loner := ticketing.Viewer{AgentID: "ag2", Role: ticketing.RoleAgent, TeamIDs: []string{"tB"}}
	if got := list(loner, "team=mine"); len(got) != 0 {
		t.Errorf("no team of their own: team=mine = %v", got)
	}
	if c, _ := f.ix.Counts(ctx, loner); c[ticketing.ViewMyTeams] != 0 {
		t.Errorf("no team of their own: my_teams %d", c[ticketing.ViewMyTeams])
	}
	if got := (ticketing.TicketFilter{TeamID: ticketing.TeamMine}).Values("ag1").Get("team"); got != "mine" {
		t.Errorf("Values: team=%q", got)
	}
}
