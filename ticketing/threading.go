package ticketing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Thread reasons recorded on each inbound message.
const (
	ReasonNew        = "new"           // started a ticket
	ReasonOpen       = "open-ticket"   // joined the customer's open ticket
	ReasonReopened   = "reopened"      // reopened a recently solved ticket
	ReasonInReplyTo  = "in-reply-to"   // an In-Reply-To header matched
	ReasonReferences = "references"    // a References header matched
	ReasonToken      = "subject-token" // the [#number] subject token matched
	ReasonAuto       = "auto"          // an auto-reply kept on the latest ticket without reopening it
	ReasonNoTicket   = "no-ticket"     // an auto-reply from someone with no ticket: stored, no ticket opened
	ReasonBounce     = "bounce"        // a bounce, kept on the ticket of the message that bounced
)

// ingested is the outcome of threading one envelope.
type ingested struct {
	msg    *Message
	events []*Event
}

// Ingest threads a batch of envelopes into customers' tickets. It returns
// one error per envelope: nil when the message is stored (or was already),
// a *PoisonError for input that can never be processed. Envelopes of one
// sender are handled in order; different senders concurrently. Messages
// are inserted in one batch after threading, and events go out last, so
// an envelope is acknowledged only after the store has it.
func (s *Service) Ingest(ctx context.Context, envs []*Envelope) []error {
	errs := make([]error, len(envs))
	groups := map[string][]int{}
	var order []string
	for i, e := range envs {
		if e == nil {
			errs[i] = &PoisonError{Reason: "empty envelope"}
			continue
		}
		if err := s.valid.Validate(e); err != nil {
			errs[i] = &PoisonError{Reason: err.Error()}
			continue
		}
		k := e.From.Key()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}

	results := make([]*ingested, len(envs))
	sem := make(chan struct{}, s.conc)
	var wg sync.WaitGroup
	for _, k := range order {
		idx := groups[k]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, i := range idx {
				results[i], errs[i] = s.thread(ctx, envs[i])
			}
		}()
	}
	wg.Wait()

	var msgs []*Message
	var at []int
	for i, r := range results {
		if r != nil && errs[i] == nil {
			msgs = append(msgs, r.msg)
			at = append(at, i)
		}
	}
	if len(msgs) == 0 {
		return errs
	}
	if _, err := s.store.InsertMessages(ctx, msgs); err != nil {
		for _, i := range at {
			errs[i] = fmt.Errorf("ingest: insert messages: %w", err)
		}
		return errs
	}
	for _, i := range at {
		s.publish(ctx, results[i].events...)
	}
	return errs
}

// thread resolves the customer and the ticket of one envelope and records
// the message on the ticket. The message itself is inserted by the caller.
// A nil result with a nil error means the message was stored before.
func (s *Service) thread(ctx context.Context, e *Envelope) (*ingested, error) {
	msgID := e.MessageID()
	if _, err := s.store.GetMessage(ctx, msgID); err == nil {
		return nil, nil // a redelivery changes nothing
	} else if !IsNotFound(err) {
		return nil, fmt.Errorf("ingest %s: %w", msgID, err)
	}
	var evs []*Event
	if e.Bounce != nil && e.Bounce.MessageID != "" {
		reason := e.Bounce.Reason
		if reason == "" {
			reason = "the message bounced"
		}
		orig, err := s.store.SetDelivery(ctx, e.Bounce.MessageID, Delivery{Status: DeliveryFailed, Error: reason, UpdatedAt: s.now()})
		switch {
		case err == nil:
			evs = append(evs, &Event{Type: EventMessageUpdated, Message: orig})
			if orig.TicketID != "" {
				return s.attachBounce(ctx, e, orig, evs)
			}
		case !IsNotFound(err):
			return nil, fmt.Errorf("ingest %s: bounce: %w", msgID, err)
		}
	}

	c, err := s.resolveCustomer(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: customer: %w", msgID, err)
	}
	name := e.Name
	if name == "" {
		name = c.Name
	}
	created := e.ReceivedAt
	if created.IsZero() {
		created = s.now()
	}
	m := &Message{
		ID: msgID, CustomerID: c.ID, Direction: DirectionInbound, Channel: e.Channel,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		Author:    Author{Kind: AuthorCustomer, ID: c.ID, Name: name},
		CreatedAt: created.UTC(), Attachments: e.Attachments, ExternalID: e.ExternalID,
		ClientID: e.ClientID, Auto: e.Auto, Meta: e.Meta,
	}
	if e.AutoReason != "" {
		if m.Meta == nil {
			m.Meta = map[string]string{}
		}
		m.Meta["auto_reason"] = e.AutoReason
	}
	t, evType, err := s.place(ctx, c, e, m)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: thread: %w", msgID, err)
	}
	if t != nil {
		m.TicketID = t.ID
		evs = append(evs, &Event{Type: EventMessageCreated, Ticket: t, Message: m}, &Event{Type: evType, Ticket: t})
	} else {
		evs = append(evs, &Event{Type: EventMessageCreated, Message: m})
	}
	return &ingested{msg: m, events: evs}, nil
}

// attachBounce stores a bounce on the ticket of the message that bounced,
// as a system message that neither reopens the ticket nor creates a
// customer for the mailer daemon.
func (s *Service) attachBounce(ctx context.Context, e *Envelope, orig *Message, evs []*Event) (*ingested, error) {
	m := &Message{
		ID: e.MessageID(), TicketID: orig.TicketID, CustomerID: orig.CustomerID, Direction: DirectionInbound,
		Channel: e.Channel, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		Author:    Author{Kind: AuthorSystem, Name: e.From.Value},
		CreatedAt: e.ReceivedAt.UTC(), Attachments: e.Attachments, ExternalID: e.ExternalID, Auto: true,
		ThreadReason: ReasonBounce, Meta: e.Meta,
	}
	t, err := s.store.ApplyToTicket(ctx, orig.TicketID, TicketChange{AddMessageID: m.ID, LastMessage: m.CreatedAt, UpdatedAt: s.now().UTC()})
	if err != nil {
		return nil, fmt.Errorf("ingest %s: bounce: %w", m.ID, err)
	}
	evs = append(evs, &Event{Type: EventMessageCreated, Ticket: t, Message: m}, &Event{Type: EventTicketUpdated, Ticket: t})
	return &ingested{msg: m, events: evs}, nil
}

// resolveCustomer finds or creates the sender's customer. Identity keys
// are _ids, so two nodes racing to create the same customer both insert
// the same key and the loser adopts the winner's customer.
func (s *Service) resolveCustomer(ctx context.Context, e *Envelope) (*Customer, error) {
	key := e.From.Key()
	now := s.now().UTC()
	cid, err := s.lookupIdentity(ctx, key)
	created := false
	if IsNotFound(err) {
		cid = NewID()
		err = s.store.InsertIdentity(ctx, e.From, cid)
		switch {
		case errors.Is(err, ErrDuplicate):
			cid, err = s.store.LookupIdentity(ctx, key)
		case err == nil:
			created = true
		}
	}
	if err != nil {
		return nil, err
	}
	s.identities.put(key, cid)
	fresh := &Customer{ID: cid, Name: e.Name, Identities: []Identity{e.From}, CreatedAt: now, UpdatedAt: now}
	if e.From.Kind == IdentityExternal {
		fresh.ExternalID = e.From.Value
	}
	var c *Customer
	if created {
		c, err = s.store.EnsureCustomer(ctx, fresh)
	} else {
		c, err = s.store.GetCustomer(ctx, cid)
		if IsNotFound(err) { // the node that inserted the identity stopped before the customer
			c, err = s.store.EnsureCustomer(ctx, fresh)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, cl := range e.Claims {
		if hasIdentity(c, cl) {
			continue
		}
		cl.Verified = false
		err := s.store.InsertIdentity(ctx, cl, c.ID)
		if errors.Is(err, ErrDuplicate) {
			continue // someone owns it already: a claim never merges customers
		}
		if err != nil {
			return nil, err
		}
		if err := s.store.AddCustomerIdentity(ctx, c.ID, cl); err != nil {
			return nil, err
		}
		c.Identities = append(c.Identities, cl)
	}
	if c.Name == "" && e.Name != "" {
		name := e.Name
		if pc, err := s.store.PatchCustomer(ctx, c.ID, CustomerPatch{Name: &name}); err == nil {
			c = pc
		}
	}
	return c, nil
}

func hasIdentity(c *Customer, id Identity) bool {
	for _, have := range c.Identities {
		if have.Kind == id.Kind && have.Value == id.Value {
			return true
		}
	}
	return false
}

// place puts message m into the right ticket of customer c, following the
// threading rules, and returns the ticket and the ticket event type. It
// writes with _id-keyed updates only and checks the returned status, so a
// race with an agent solving the ticket at the same moment still ends with
// the message in a ticket that is open (or a new one).
func (s *Service) place(ctx context.Context, c *Customer, e *Envelope, m *Message) (*Ticket, string, error) {
	now := s.now().UTC()
	preview := FirstLine(e.Text, 140)
	if preview == "" {
		preview = FirstLine(e.Subject, 140)
	}
	change := TicketChange{
		AddMessageID: m.ID, Preview: &preview, LastMessage: m.CreatedAt, LastInbound: m.CreatedAt,
		LastInboundChannel: e.Channel, UpdatedAt: now,
	}
	if e.Auto { // an auto-reply neither counts as the customer's latest word nor reopens
		change.LastInbound = time.Time{}
	}

	if t, reason := s.hinted(ctx, c, e); t != nil && t.ID != c.CurrentTicketID {
		got, evType, ok, err := s.join(ctx, t.ID, change, e.Auto)
		if err != nil {
			return nil, "", err
		}
		if ok {
			m.ThreadReason = reason
			if evType == EventTicketReopened {
				evType = EventTicketUpdated
			}
			return got, evType, nil
		}
	} else if t != nil {
		m.ThreadReason = reason
	}

	prev := ""
	for attempt := 0; attempt < 8; attempt++ {
		if cur := c.CurrentTicketID; cur != "" {
			got, evType, ok, err := s.join(ctx, cur, change, e.Auto)
			if err != nil && !IsNotFound(err) {
				return nil, "", err
			}
			if ok {
				switch {
				case evType == EventTicketReopened:
					if m.ThreadReason == "" {
						m.ThreadReason = ReasonReopened
					}
					evType = EventTicketUpdated
				case e.Auto && !got.Live():
					m.ThreadReason = ReasonAuto
				case m.ThreadReason == "":
					m.ThreadReason = ReasonOpen
				}
				return got, evType, nil
			}
			if err == nil {
				prev = cur
			}
		}
		if e.Auto {
			m.ThreadReason = ReasonNoTicket
			return nil, "", nil
		}
		t, err := s.openTicket(ctx, c, e, m, change, prev)
		if errors.Is(err, errLostRace) {
			if c, err = s.store.GetCustomer(ctx, c.ID); err != nil {
				return nil, "", err
			}
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if m.ThreadReason == "" {
			m.ThreadReason = ReasonNew
		}
		return t, EventTicketCreated, nil
	}
	return nil, "", fmt.Errorf("customer %s: ticket kept changing while threading", c.ID)
}

// EventTicketReopened is internal to threading: it is published as
// ticket.updated.
const EventTicketReopened = "ticket.reopened"

var errLostRace = errors.New("another writer opened the ticket first")

// join adds the message to ticket id. ok is false when the ticket cannot
// take it (closed, or solved beyond the reopen window): the message is
// taken off it again and the caller opens a new ticket.
func (s *Service) join(ctx context.Context, id string, change TicketChange, auto bool) (*Ticket, string, bool, error) {
	t, err := s.store.ApplyToTicket(ctx, id, change)
	if err != nil {
		return nil, "", false, err
	}
	switch {
	case t.Live():
		return t, EventTicketUpdated, true, nil
	case auto:
		return t, EventTicketUpdated, true, nil
	case t.Status == StatusSolved && s.now().Sub(t.SolvedAt) <= s.window:
		open := StatusOpen
		zero := time.Time{}
		t, err = s.store.ApplyToTicket(ctx, id, TicketChange{Status: &open, SolvedAt: &zero, UpdatedAt: s.now().UTC()})
		if err != nil {
			return nil, "", false, err
		}
		return t, EventTicketReopened, true, nil
	}
	if _, err := s.store.ApplyToTicket(ctx, id, TicketChange{RemoveMessageID: change.AddMessageID, UpdatedAt: change.UpdatedAt}); err != nil {
		return nil, "", false, err
	}
	return t, "", false, nil
}

// openTicket creates the customer's next ticket. Its _id is the customer id
// and the ticket's ordinal, so a concurrent creator on another node inserts
// the same _id and one of the two gets errLostRace.
func (s *Service) openTicket(ctx context.Context, c *Customer, e *Envelope, m *Message, change TicketChange, prev string) (*Ticket, error) {
	gen := c.TicketCount + 1
	id := c.ID + "-" + strconv.Itoa(gen)
	num, err := s.store.NextTicketNumber(ctx)
	if err != nil {
		return nil, err
	}
	now := change.UpdatedAt
	subject := CleanSubject(e.Subject)
	if subject == "" {
		subject = FirstLine(e.Text, 80)
	}
	t := &Ticket{
		ID: id, Number: num, Status: StatusOpen, Priority: PriorityNormal, Subject: subject,
		CustomerID: c.ID, Channel: e.Channel, Tags: []string{}, CreatedAt: now, UpdatedAt: now,
		CustomerName: c.Name, Preview: *change.Preview, LastMessageAt: change.LastMessage,
		LastInboundAt: change.LastInbound, LastInboundChannel: e.Channel, MessageIDs: []string{m.ID},
		MessageCount: 1, PreviousTicketID: prev, Version: 1,
	}
	err = s.store.InsertTicket(ctx, t)
	if errors.Is(err, ErrDuplicate) {
		fresh, gerr := s.store.GetCustomer(ctx, c.ID)
		if gerr != nil {
			return nil, gerr
		}
		if fresh.TicketCount < gen { // its creator stopped before linking it
			if _, err := s.store.LinkTicket(ctx, c.ID, id, gen); err != nil {
				return nil, err
			}
		}
		return nil, errLostRace
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.LinkTicket(ctx, c.ID, id, gen); err != nil {
		return nil, err
	}
	return t, nil
}

// hinted returns the ticket an envelope's threading hints point at, only
// when it belongs to the sender's customer: a forged reference never puts a
// message into someone else's ticket.
func (s *Service) hinted(ctx context.Context, c *Customer, e *Envelope) (*Ticket, string) {
	h := e.Thread
	for i, id := range h.MessageIDs {
		if i >= 20 {
			break
		}
		ref, err := s.store.GetMessage(ctx, id)
		if err != nil || ref.TicketID == "" || ref.CustomerID != c.ID {
			continue
		}
		t, err := s.store.GetTicket(ctx, ref.TicketID)
		if err != nil || t.CustomerID != c.ID {
			continue
		}
		reason := ReasonReferences
		if i == 0 && h.InReplyTo != "" {
			reason = ReasonInReplyTo
		}
		return t, reason
	}
	if h.TicketNumber > 0 {
		t, err := s.store.GetTicketByNumber(ctx, h.TicketNumber)
		if err == nil && t.CustomerID == c.ID {
			return t, ReasonToken
		}
	}
	return nil, ""
}

var subjectNoise = regexp.MustCompile(`(?i)^\s*((re|sv|aw|fw|fwd|vb|vs)\s*(\[\d+\])?\s*:\s*)+|\s*\[#\d+\]`)

// CleanSubject strips reply prefixes (Re:, SV:, Fwd:, VB:) and ticket
// tokens from a subject.
func CleanSubject(s string) string {
	for {
		n := strings.TrimSpace(subjectNoise.ReplaceAllString(s, ""))
		if n == s {
			return n
		}
		s = n
	}
}
