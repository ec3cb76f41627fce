// Package sla keeps tickets' response clocks: first response, next
// response and resolution targets chosen by policy, in business or
// calendar time, paused while a ticket is pending.
//
// It reacts to events on a durable consumer of SVAR_EVENTS shared by
// every node (so each event is handled once), records the facts a clock
// needs in grow-only sets of an _id-keyed state document (so that nodes
// racing on one ticket merge instead of overwriting each other), derives
// Ticket.SLA from those facts alone, and schedules a warning (80 % of the
// target) and a breach for each running clock as jobs of kind "sla" on the
// one Scheduler. A job whose due time has moved finds the clock changed
// and does nothing; a breach is marked in the facts once, and notifies the
// assignee (or the team) with a notification of kind "sla".
package sla

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// JobKind is the Scheduler kind of SLA warnings and breaches.
const JobKind = "sla"

// ConsumerName is the durable SVAR_EVENTS consumer the nodes share.
const ConsumerName = "svar-sla"

// Store is what the SLA keeps: state documents, and grow-only sets in
// them (ticketing/mongostore implements both).
type Store interface {
	ticketing.StateStore
	// AddToSets adds values to named sets of the state document at key
	// atomically (creating it) and decodes the value after into v.
	AddToSets(ctx context.Context, key string, add map[string][]any, v any) error
	GetTicket(ctx context.Context, id string) (*ticketing.Ticket, error)
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
}

// Core is the part of the ticketing service the SLA calls.
type Core interface {
	SetSLA(ctx context.Context, ticketID string, st *ticketing.SLAState) (*ticketing.Ticket, error)
	Notify(ctx context.Context, agentID, teamID string, n *ticketing.Notification)
}

// Events is the shared events consumer (natsbus.Bus.ConsumeEvents).
type Events interface {
	ConsumeEvents(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error, types ...string) error
}

// Options configure a Service.
type Options struct {
	Store     Store
	Core      Core
	Scheduler ticketing.Scheduler
	Events    Events
	Hours     *hours.Service
	Logger    *slog.Logger
	Now       func() time.Time // default time.Now
	// OnBreach, when set, is called after a breach is recorded (the
	// benchmark measures due → breach with it).
	OnBreach func(ticketID, metric string, due time.Time)
}

// Service is the SLA capability. Run it on every node.
type Service struct {
	o     Options
	log   *slog.Logger
	pol   *policies
	now   func() time.Time
	cache *factCache
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{o: o, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.pol = &policies{store: o.Store, now: s.now}
	s.cache = &factCache{m: map[string]facts{}}
	return s
}

// Run consumes events and SLA jobs until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		errc <- s.o.Events.ConsumeEvents(ctx, ConsumerName, s.HandleEvent,
			ticketing.EventTicketCreated, ticketing.EventTicketUpdated, ticketing.EventMessageCreated, ticketing.EventCustomerUpdated)
	}()
	go func() { errc <- s.o.Scheduler.ConsumeJobs(ctx, JobKind, s.HandleJob) }()
	err1, err2 := <-errc, <-errc
	if err1 != nil {
		return err1
	}
	return err2
}

// HandleEvent records what an event tells about a ticket's clocks and
// brings Ticket.SLA up to date.
func (s *Service) HandleEvent(ctx context.Context, ev *ticketing.Event) error {
	switch ev.Type {
	case ticketing.EventTicketCreated, ticketing.EventTicketUpdated, ticketing.EventMessageCreated:
	case ticketing.EventCustomerUpdated:
		return s.customerChanged(ctx, ev.Customer)
	default:
		return nil
	}
	t := ev.Ticket
	if t == nil {
		return nil
	}
	pols, err := s.pol.all(ctx)
	if err != nil {
		return err
	}
	if len(pols) == 0 && t.SLA == nil {
		return nil // nothing to keep: the common case without policies
	}
	// The node's cached facts are a subset of the stored ones (they only
	// grow). When the event adds nothing to them and the ticket already
	// shows what they give, there is nothing to do: whichever node added
	// facts we lack wrote the ticket after adding them.
	f, cached := s.cache.get(t.ID)
	if cached {
		if add := s.additions(ev, t, &f); len(add) == 0 {
			if st, _, err := s.evaluate(ctx, t, &f, pols); err == nil && (sameSLA(t.SLA, st) || (st == nil && t.SLA == nil) ||
				(st != nil && s.cache.hasWritten(t, st))) {
				return nil
			}
		}
	}
	f = facts{}
	// A ticket at its first version has no facts yet, or only ones another
	// node added from its first events (its creation and first state; a
	// reply or any change makes a new version): adding this event's facts
	// to the stored ones returns them all, so the read before is saved
	// (one store command per new ticket; $addToSet makes a fact already
	// there a no-op).
	if t.Version > 1 {
		if err := s.o.Store.GetState(ctx, factsKey(t.ID), &f); err != nil && !ticketing.IsNotFound(err) {
			return err
		}
	}
	add := s.additions(ev, t, &f)
	if len(add) > 0 {
		f = facts{}
		if err := s.o.Store.AddToSets(ctx, factsKey(t.ID), add, &f); err != nil {
			return err
		}
	}
	s.cache.put(t.ID, f)
	_, err = s.sync(ctx, t, &f, pols)
	return err
}

// additions are the facts an event adds to f.
func (s *Service) additions(ev *ticketing.Event, t *ticketing.Ticket, f *facts) map[string][]any {
	add := map[string][]any{}
	if len(f.Created) == 0 {
		add["created"] = []any{ms(t.CreatedAt)}
	}
	if e := (stateEntry{V: t.Version, At: ms(t.UpdatedAt), Attrs: attrsOf(t)}); f.newState(e) {
		add["states"] = []any{e}
	}
	if m := ev.Message; m != nil && ev.Type == ticketing.EventMessageCreated {
		lastReply, replied := maxOf(f.Replies)
		switch {
		case m.Direction == ticketing.DirectionInbound && !m.Auto:
			at := ms(m.CreatedAt)
			if replied && at > lastReply {
				if v, ok := firstIn(slices.Sorted(slices.Values(f.Inbound)), lastReply, 1<<62); !ok || at < v {
					add["inbound"] = []any{at}
				}
			}
		case m.Direction == ticketing.DirectionOutbound && m.Author.Kind == ticketing.AuthorAgent && !m.Auto:
			at := ms(m.CreatedAt)
			if !slices.Contains(f.Replies, at) {
				add["replies"] = []any{at}
			}
			// A customer message that came after this reply but was
			// handled first found no reply to follow.
			if li := ms(t.LastInboundAt); li > at && !slices.Contains(f.Inbound, li) {
				add["inbound"] = []any{li}
			}
		}
	}
	return add
}

func (s *Service) customerChanged(ctx context.Context, c *ticketing.Customer) error {
	if c == nil || c.CurrentTicketID == "" {
		return nil
	}
	pols, err := s.pol.all(ctx)
	if err != nil {
		return err
	}
	// Only the tier of a customer moves clocks, and only when a policy
	// matches on it: other changes (every new ticket links its customer)
	// cost nothing here.
	if !slices.ContainsFunc(pols, func(p Policy) bool { return len(p.Match.Tier) > 0 }) {
		return nil
	}
	t, err := s.o.Store.GetTicket(ctx, c.CurrentTicketID)
	if ticketing.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var f facts
	if err := s.o.Store.GetState(ctx, factsKey(t.ID), &f); err != nil {
		if ticketing.IsNotFound(err) {
			return nil
		}
		return err
	}
	_, err = s.sync(ctx, t, &f, pols)
	return err
}

// Tier is the customer's tier as policies match it (the shop pushes it as
// the attribute "tier").
func Tier(c *ticketing.Customer) string {
	if c == nil {
		return ""
	}
	return c.TierName()
}

// evaluate picks the policy and computes the ticket's state and jobs.
func (s *Service) evaluate(ctx context.Context, t *ticketing.Ticket, f *facts, pols []Policy) (*ticketing.SLAState, []job, error) {
	a, ok := f.latest()
	if !ok {
		a = stateEntry{Attrs: attrsOf(t)}
	}
	if slices.ContainsFunc(pols, func(p Policy) bool { return len(p.Match.Tier) > 0 }) {
		c, err := s.o.Store.GetCustomer(ctx, t.CustomerID)
		if err != nil && !ticketing.IsNotFound(err) {
			return nil, nil, err
		}
		a.Attrs.Tier = Tier(c)
	}
	var p *Policy
	for i := range pols {
		if pols[i].matches(a.Attrs) {
			p = &pols[i]
			break
		}
	}
	if p == nil {
		return nil, nil, nil
	}
	cal, err := s.o.Hours.Calendar(ctx, a.Attrs.Team)
	if err != nil {
		return nil, nil, err
	}
	st, jobs := compute(t.ID, f, p, cal)
	return st, jobs, nil
}

// sync writes Ticket.SLA when the facts give another state than the
// ticket shows, after scheduling the jobs of its running clocks. It
// returns the state.
func (s *Service) sync(ctx context.Context, t *ticketing.Ticket, f *facts, pols []Policy) (*ticketing.SLAState, error) {
	st, jobs, err := s.evaluate(ctx, t, f, pols)
	if err != nil {
		return nil, err
	}
	if st == nil {
		if t.SLA == nil || t.SLA.PolicyID == "" {
			return nil, nil
		}
		st = &ticketing.SLAState{Breaches: []string{}} // no policy applies any more
	}
	if sameSLA(t.SLA, st) || s.cache.hasWritten(t, st) {
		return st, nil
	}
	// The jobs go out together: each publish waits for JetStream's ack.
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		if f.marked(j.Kind + ":" + j.Metric + "@" + fmt.Sprint(j.Due)) {
			continue
		}
		wg.Go(func() {
			payload, _ := json.Marshal(j)
			errs[i] = s.o.Scheduler.Schedule(ctx, JobKind, j.key(), j.at, payload)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	nt, err := s.o.Core.SetSLA(ctx, t.ID, st)
	if err != nil {
		if ticketing.IsNotFound(err) {
			return st, nil
		}
		return nil, err
	}
	if nt != nil {
		s.cache.wrote(t.ID, st, nt.Version)
	}
	return st, nil
}

// HandleJob runs a warning or breach when it is due, if its clock still
// runs to that due time.
func (s *Service) HandleJob(ctx context.Context, jb *ticketing.Job) error {
	var j job
	if err := json.Unmarshal(jb.Payload, &j); err != nil || j.Ticket == "" {
		return &ticketing.PoisonError{Reason: "sla job: bad payload"}
	}
	t, err := s.o.Store.GetTicket(ctx, j.Ticket)
	if ticketing.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pols, err := s.pol.all(ctx)
	if err != nil {
		return err
	}
	var f facts
	if err := s.o.Store.GetState(ctx, factsKey(t.ID), &f); err != nil {
		if ticketing.IsNotFound(err) {
			return nil
		}
		return err
	}
	st, _, err := s.evaluate(ctx, t, &f, pols)
	if err != nil {
		return err
	}
	due := fromMS(j.Due)
	if st == nil || !dueOf(st, j.Metric).Equal(due) {
		return nil // stale: the clock stopped, paused or moved
	}
	if wait := jb.At.Sub(s.now()); wait > 0 {
		return ticketing.Retry(fmt.Errorf("not due"), wait)
	}
	mark := j.Kind + ":" + j.Metric + "@" + fmt.Sprint(j.Due)
	if f.marked(mark) {
		_, err := s.sync(ctx, t, &f, pols) // done before; make sure the ticket shows it
		return err
	}
	s.notify(ctx, t, j)
	add := []any{mark}
	if j.Kind == "breach" {
		add = append(add, "breach:"+j.Metric)
	}
	f = facts{}
	if err := s.o.Store.AddToSets(ctx, factsKey(t.ID), map[string][]any{"marks": add}, &f); err != nil {
		return err
	}
	s.cache.put(t.ID, f)
	if _, err := s.sync(ctx, t, &f, pols); err != nil {
		return err
	}
	if j.Kind == "breach" && s.o.OnBreach != nil {
		s.o.OnBreach(t.ID, j.Metric, due)
	}
	return nil
}

var metricNames = map[string]string{
	FirstResponse: "first response",
	NextResponse:  "next response",
	Resolution:    "resolution",
}

func (s *Service) notify(ctx context.Context, t *ticketing.Ticket, j job) {
	due := fromMS(j.Due)
	text := fmt.Sprintf("Ticket #%d: %s due at %s", t.Number, metricNames[j.Metric], due.Format(time.RFC3339))
	if j.Kind == "breach" {
		text = fmt.Sprintf("Ticket #%d: %s target breached", t.Number, metricNames[j.Metric])
	}
	s.o.Core.Notify(ctx, t.AssigneeID, t.TeamID, &ticketing.Notification{
		ID: "sla:" + j.key(), Kind: ticketing.NotifySLA, TicketID: t.ID, Text: text,
	})
}

// factCache keeps recently seen facts per ticket on this node, bounded:
// when full it forgets everything (it is only a shortcut).
type factCache struct {
	mu sync.Mutex
	m  map[string]facts
	// written is the SLA state this node last wrote on each ticket, and
	// the ticket's version that write made: an event of an older version
	// still carries the state from before (a new ticket's own events,
	// published before its SLA was set) and needs no second write.
	written map[string]writtenSLA
}

type writtenSLA struct {
	st      *ticketing.SLAState
	version int64
}

func (c *factCache) wrote(id string, st *ticketing.SLAState, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.written == nil || len(c.written) >= factCacheMax {
		c.written = map[string]writtenSLA{}
	}
	c.written[id] = writtenSLA{st, version}
}

// hasWritten reports whether this node wrote st on t at a version t does
// not yet show (t is older than that write).
func (c *factCache) hasWritten(t *ticketing.Ticket, st *ticketing.SLAState) bool {
	c.mu.Lock()
	w, ok := c.written[t.ID]
	c.mu.Unlock()
	return ok && t.Version < w.version && sameSLA(w.st, st)
}

const factCacheMax = 50_000

func (c *factCache) get(id string) (facts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[id]
	return f, ok
}

func (c *factCache) put(id string, f facts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= factCacheMax {
		c.m = map[string]facts{}
	}
	c.m[id] = f
}
