package csat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// core stands in for the ticketing service: tickets in memory, and every
// survey it is asked to send, checked by the tests.
type core struct {
	mu      sync.Mutex
	tickets map[string]*ticketing.Ticket
	sent    []ticketing.SystemMessage
}

func (c *core) Ticket(_ context.Context, id string) (*ticketing.Ticket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tickets[id]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	cp := *t
	return &cp, nil
}

func (c *core) SetCSAT(_ context.Context, id string, v ticketing.CSAT) (*ticketing.Ticket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tickets[id]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	t.CSAT = &v
	cp := *t
	return &cp, nil
}

func (c *core) SendSystem(_ context.Context, id string, m ticketing.SystemMessage) (*ticketing.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tickets[id]; !ok {
		return nil, ticketing.ErrNotFound
	}
	c.sent = append(c.sent, m)
	return &ticketing.Message{ID: m.ID, TicketID: id, Channel: m.Channel, Text: m.Text}, nil
}

func (c *core) surveys() []ticketing.SystemMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ticketing.SystemMessage(nil), c.sent...)
}

func (c *core) set(id string, f func(t *ticketing.Ticket)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c.tickets[id])
}

// jobs records what is scheduled, keyed as the bus dedupes them.
type jobs struct {
	mu    sync.Mutex
	byKey map[string]*ticketing.Job
	keys  []string
}

func (j *jobs) Schedule(_ context.Context, kind, key string, at time.Time, payload []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.byKey == nil {
		j.byKey = map[string]*ticketing.Job{}
	}
	if _, ok := j.byKey[key]; ok {
		return nil
	}
	j.byKey[key] = &ticketing.Job{Kind: kind, Key: key, At: at, Payload: payload}
	j.keys = append(j.keys, key)
	return nil
}

func (j *jobs) ConsumeJobs(context.Context, string, ticketing.JobHandler) error { return nil }

func (j *jobs) all() []*ticketing.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*ticketing.Job
	for _, k := range j.keys {
		out = append(out, j.byKey[k])
	}
	return out
}

type fixture struct {
	t     *testing.T
	store *mongostore.Store
	core  *core
	jobs  *jobs
	now   time.Time
	svc   *Service
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, store: mongotest.New(t), core: &core{tickets: map[string]*ticketing.Ticket{}}, jobs: &jobs{},
		now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	f.svc = New(Options{Core: f.core, Store: f.store, Scheduler: f.jobs, PublicURL: "https://support.shop/",
		Now: func() time.Time { return f.now }})
	return f
}

// ticket adds a customer with one identity and a solved ticket whose
// last inbound message came on ch.
func (f *fixture) ticket(id string, ch ticketing.Channel, ident ticketing.Identity, auto bool) *ticketing.Ticket {
	f.t.Helper()
	ctx := context.Background()
	cust := &ticketing.Customer{ID: "cust-" + id, Name: "Kund", Identities: []ticketing.Identity{ident}, CreatedAt: f.now}
	if err := f.store.InsertCustomersBulk(ctx, []*ticketing.Customer{cust}); err != nil {
		f.t.Fatal(err)
	}
	m := &ticketing.Message{ID: "msg-" + id, TicketID: id, Direction: ticketing.DirectionInbound, Channel: ch, Text: "Hej",
		Auto: auto, Author: ticketing.Author{Kind: ticketing.AuthorCustomer}, CreatedAt: f.now.Add(-time.Hour)}
	if _, err := f.store.InsertMessages(ctx, []*ticketing.Message{m}); err != nil {
		f.t.Fatal(err)
	}
	tk := &ticketing.Ticket{ID: id, CustomerID: cust.ID, Status: ticketing.StatusSolved, Channel: ch, SolvedAt: f.now,
		MessageIDs: []string{m.ID}, Version: 2}
	f.core.mu.Lock()
	f.core.tickets[id] = tk
	f.core.mu.Unlock()
	cp := *tk
	return &cp
}

func (f *fixture) settings(in Settings) {
	f.t.Helper()
	if _, err := f.svc.PutSettings(context.Background(), in); err != nil {
		f.t.Fatal(err)
	}
}

// solved tells the service a ticket was solved, as the events stream does.
func (f *fixture) solved(id string) {
	t, _ := f.core.Ticket(context.Background(), id)
	f.svc.onEvent(context.Background(), &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: t})
}

// fireAll runs every scheduled job (due or not: the handler decides).
func (f *fixture) fireAll() {
	f.t.Helper()
	for _, j := range f.jobs.all() {
		if err := f.svc.fire(context.Background(), j); err != nil {
			f.t.Fatalf("fire %s: %v", j.Key, err)
		}
	}
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if ticketing.ErrorCode(err) != ticketing.ENotFound {
		t.Errorf("%s: %v, want ENotFound", what, err)
	}
}

// TestTokenSignExpireTamper: a token verifies on every node of one store
// until it expires; a changed claim, a changed or missing signature, a
// truncated or absurd token and one signed by another shop's secret are
// all "not found"; a language other than Swedish reads as English.
func TestTokenSignExpireTamper(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	exp := f.now.Add(TokenLifetime)
	tok, err := f.svc.Token(ctx, "tk-1", "sv", exp)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.Verify(ctx, tok)
	if err != nil || c.TicketID != "tk-1" || c.Lang != "sv" || c.Expires != exp.Unix() {
		t.Fatalf("verify = %+v, %v", c, err)
	}
	other := New(Options{Core: f.core, Store: f.store, Now: func() time.Time { return f.now }}) // another node
	if c, err := other.Verify(ctx, tok); err != nil || c.TicketID != "tk-1" {
		t.Fatalf("another node: %+v, %v", c, err)
	}
	de, _ := f.svc.Token(ctx, "tk-1", "de", exp)
	if c, err := f.svc.Verify(ctx, de); err != nil || c.Lang != "en" {
		t.Errorf("lang de: %+v, %v", c, err)
	}

	body, mac, _ := strings.Cut(tok, ".")
	forged, _ := json.Marshal(Claim{TicketID: "tk-2", Lang: "sv", Expires: exp.Unix()})
	flip := []byte(mac)
	flip[0] ^= 1
	for name, bad := range map[string]string{
		"another ticket, same signature": base64.RawURLEncoding.EncodeToString(forged) + "." + mac,
		"a changed signature":            body + "." + string(flip),
		"no signature":                   body + ".",
		"no dot":                         body,
		"truncated":                      tok[:len(tok)-3],
		"empty":                          "",
		"absurdly long":                  body + strings.Repeat("A", 600) + "." + mac,
	} {
		_, err := f.svc.Verify(ctx, bad)
		notFound(t, name, err)
	}
	elsewhere := New(Options{Core: f.core, Store: mongotest.New(t), Now: func() time.Time { return f.now }})
	_, err = elsewhere.Verify(ctx, tok)
	notFound(t, "another shop's secret", err)

	f.now = exp.Add(-time.Second)
	if _, err := f.svc.Verify(ctx, tok); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	f.now = exp
	_, err = f.svc.Verify(ctx, tok)
	notFound(t, "at expiry", err)
	err = f.svc.Answer(ctx, tok, 5, "", ticketing.ChannelEmail)
	notFound(t, "an answer with an expired token", err)
}

// optOut marks a customer opted out of a channel.
func optOut(t *testing.T, f *fixture, customerID, ch string) {
	t.Helper()
	ctx := context.Background()
	c, err := f.store.GetCustomer(ctx, customerID)
	if err != nil {
		t.Fatal(err)
	}
	c.OptOuts = map[string]string{ch: "STOP"}
	if err := f.store.PutCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// TestLoneDigitSMS: after an SMS survey, a lone digit 1–5 from that
// number (spaces around it allowed) is the answer; "5 thanks", 0, 6, two
// digits, a word, another number, an email identity and a digit after
// the 7-day window are not, and go on as messages.
func TestLoneDigitSMS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.settings(Settings{Enabled: true})
	phone := ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}
	f.ticket("tk-sms", ticketing.ChannelSMS, phone, false)
	f.solved("tk-sms")
	f.fireAll()
	s := f.core.surveys()
	if len(s) != 1 || s[0].Channel != ticketing.ChannelSMS || !strings.Contains(s[0].Text, "1") || s[0].ID != "csat-tk-sms" {
		t.Fatalf("surveys = %+v", s)
	}
	for _, tc := range []struct {
		from ticketing.Identity
		text string
	}{
		{phone, "5 thanks"}, {phone, "0"}, {phone, "6"}, {phone, "55"}, {phone, "five"}, {phone, ""},
		{ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46709999999"}, "4"},
		{ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "+46701234567"}, "4"},
	} {
		ok, err := f.svc.InterceptSMS(ctx, tc.from, tc.text)
		if err != nil || ok {
			t.Errorf("%s %q: taken %v, %v; want a message", tc.from.Value, tc.text, ok, err)
		}
	}
	if tk, _ := f.core.Ticket(ctx, "tk-sms"); tk.CSAT != nil {
		t.Fatalf("a non-answer was recorded: %+v", tk.CSAT)
	}
	if ok, err := f.svc.InterceptSMS(ctx, phone, " 4\n"); err != nil || !ok {
		t.Fatalf("a lone 4: %v %v", ok, err)
	}
	if tk, _ := f.core.Ticket(ctx, "tk-sms"); tk.CSAT == nil || tk.CSAT.Score != 4 || tk.CSAT.Channel != ticketing.ChannelSMS {
		t.Fatalf("csat = %+v", tk.CSAT)
	}
	if ok, _ := f.svc.InterceptSMS(ctx, phone, "2"); !ok { // a second answer replaces the first
		t.Fatal("a second digit within the window")
	}
	if tk, _ := f.core.Ticket(ctx, "tk-sms"); tk.CSAT.Score != 2 {
		t.Errorf("second answer: %+v", tk.CSAT)
	}
	f.now = f.now.Add(SMSWindow)
	if ok, err := f.svc.InterceptSMS(ctx, phone, "5"); err != nil || ok {
		t.Errorf("after the window: %v %v", ok, err)
	}
}

// TestOneSurveyPerTicket: the same solve heard twice is one job; the job
// run twice sends once; solved again later (a new job), the ticket is
// still not asked again; an answered ticket is not asked; nor are
// auto-replies, opted-out customers, merged-away tickets, channels left
// out of the settings, or anything while surveys are off.
func TestOneSurveyPerTicket(t *testing.T) {
	f := newFixture(t)
	mail := func(addr string) ticketing.Identity {
		return ticketing.Identity{Kind: ticketing.IdentityEmail, Value: addr}
	}
	f.ticket("tk-off", ticketing.ChannelEmail, mail("off@example.se"), false)
	f.solved("tk-off")
	if n := len(f.jobs.all()); n != 0 {
		t.Fatalf("surveys off: %d jobs", n)
	}
	f.settings(Settings{Enabled: true, Channels: []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelSMS}})
	f.ticket("tk-1", ticketing.ChannelEmail, mail("a@example.se"), false)
	f.solved("tk-1")
	f.solved("tk-1")
	if n := len(f.jobs.all()); n != 1 {
		t.Fatalf("one solve heard twice: %d jobs", n)
	}
	f.fireAll()
	f.fireAll()
	if s := f.core.surveys(); len(s) != 1 || s[0].Channel != ticketing.ChannelEmail || !strings.Contains(s[0].Text, "https://support.shop/csat/") {
		t.Fatalf("surveys = %+v", s)
	}
	f.core.set("tk-1", func(t *ticketing.Ticket) { t.Status = ticketing.StatusOpen })
	f.now = f.now.Add(time.Hour)
	f.core.set("tk-1", func(t *ticketing.Ticket) { t.Status, t.SolvedAt = ticketing.StatusSolved, f.now })
	f.solved("tk-1")
	f.fireAll()
	if s := f.core.surveys(); len(s) != 1 {
		t.Fatalf("solved again: %d surveys, want still 1", len(s))
	}

	f.ticket("tk-auto", ticketing.ChannelEmail, mail("auto@example.se"), true)
	f.ticket("tk-chat", ticketing.ChannelChat, ticketing.Identity{Kind: ticketing.IdentityChat, Value: "v-1"}, false)
	f.ticket("tk-merged", ticketing.ChannelEmail, mail("m@example.se"), false)
	f.core.set("tk-merged", func(t *ticketing.Ticket) { t.Tags = []string{"merged"} })
	f.ticket("tk-rated", ticketing.ChannelEmail, mail("r@example.se"), false)
	f.ticket("tk-out", ticketing.ChannelSMS, ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46705550000"}, false)
	optOut(t, f, "cust-tk-out", "sms")
	for _, id := range []string{"tk-auto", "tk-chat", "tk-merged", "tk-rated", "tk-out"} {
		f.solved(id)
	}
	f.core.set("tk-rated", func(t *ticketing.Ticket) { t.CSAT = &ticketing.CSAT{Score: 5} })
	f.fireAll()
	if s := f.core.surveys(); len(s) != 1 {
		t.Fatalf("auto-reply, chat left out, merged, rated, opted out: %d surveys, want still 1: %+v", len(s), s[1:])
	}
}

// TestReopenCancelsDelay: with a delay, the job is due that long after
// the solve; reopened before it fires, nothing is sent; solved again, the
// old job still fires and finds another solve time (nothing), and the new
// one asks once.
func TestReopenCancelsDelay(t *testing.T) {
	f := newFixture(t)
	f.settings(Settings{Enabled: true, Delay: "2h"})
	f.ticket("tk-1", ticketing.ChannelEmail, ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "d@example.se"}, false)
	solvedAt := f.now
	f.solved("tk-1")
	js := f.jobs.all()
	if len(js) != 1 || !js[0].At.Equal(solvedAt.Add(2*time.Hour)) {
		t.Fatalf("jobs = %+v, want one due at %s", js, solvedAt.Add(2*time.Hour))
	}
	f.core.set("tk-1", func(t *ticketing.Ticket) { t.Status = ticketing.StatusOpen })
	f.now = f.now.Add(2 * time.Hour)
	f.fireAll()
	if s := f.core.surveys(); len(s) != 0 {
		t.Fatalf("reopened before the delay: %d surveys", len(s))
	}
	f.core.set("tk-1", func(t *ticketing.Ticket) { t.Status, t.SolvedAt = ticketing.StatusSolved, f.now })
	f.solved("tk-1")
	if n := len(f.jobs.all()); n != 2 {
		t.Fatalf("solved again: %d jobs, want 2", n)
	}
	f.fireAll()
	if s := f.core.surveys(); len(s) != 1 {
		t.Fatalf("after the second solve: %d surveys, want 1", len(s))
	}
}
