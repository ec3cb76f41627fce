package ticketing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
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
	ReasonMerged     = "merged"        // moved here when its ticket was merged into this one (ticketing/ticketmerge)
	ReasonSplit      = "split"         // moved here when it was split off another ticket
)

// plan is one envelope's way through a batch: decided (customer, ticket),
// then stored, then added to its ticket.
type plan struct {
	env  *Envelope
	msg  *Message
	cust *Customer
	// ticket is the chosen ticket; "" for an auto-reply from someone who
	// has none (stored, no ticket opened).
	ticket string
	// opened is set when deciding opened the ticket for this message.
	opened bool
	// stored means the message was stored before: a redelivery.
	stored bool
	// savedTicket and savedReason are what the message was inserted with;
	// commit corrects them in the store when threading changes its mind.
	savedTicket, savedReason string
	events                   []*Event
}

// Ingest threads a batch of envelopes into customers' tickets. It returns
// one error per envelope: nil when the message is stored (or was already),
// a *PoisonError for input that can never be processed.
//
// A batch goes through four phases: decide each envelope's customer and
// ticket (opening tickets where needed), insert all messages in one batch,
// add each message to its ticket, publish the events. Envelopes of one
// sender keep their order in every phase; different senders run
// concurrently. A message is in the store before any ticket lists it, and
// an envelope is acknowledged only after both.
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

	plans := make([]*plan, len(envs))
	s.perSender(order, groups, func(i int) { plans[i], errs[i] = s.decide(ctx, envs[i]) })

	var msgs []*Message
	var at []int
	for i, p := range plans {
		if p != nil && errs[i] == nil {
			p.msg.TicketID = p.ticket
			p.savedTicket, p.savedReason = p.ticket, p.msg.ThreadReason
			msgs = append(msgs, p.msg)
			at = append(at, i)
		}
	}
	if len(msgs) == 0 {
		return errs
	}
	dup, err := s.store.InsertMessages(ctx, msgs)
	var each *InsertErrors
	switch {
	case errors.As(err, &each) && len(each.Errs) == len(msgs):
		// Some messages were stored, others not: each envelope fares on
		// its own, and one the store refuses goes to the dead letters alone.
		for k, i := range at {
			switch ierr := each.Errs[k]; {
			case ierr == nil:
			case ErrorCode(ierr) == EInvalid:
				errs[i] = &PoisonError{Reason: ierr.Error()}
			default:
				errs[i] = fmt.Errorf("ingest: insert message %s: %w", msgs[k].ID, ierr)
			}
		}
	case err != nil:
		for _, i := range at {
			errs[i] = fmt.Errorf("ingest: insert messages: %w", err)
		}
		return errs
	}
	for k, i := range at {
		if errs[i] == nil {
			plans[i].stored = dup[k]
		}
	}
	s.perSender(order, groups, func(i int) {
		p := plans[i]
		switch {
		case p == nil || errs[i] != nil:
		case p.stored:
			errs[i] = s.repair(ctx, p)
		default:
			errs[i] = s.commit(ctx, p)
		}
	})
	for _, i := range at {
		if errs[i] == nil {
			s.publish(ctx, plans[i].events...)
		}
	}
	return errs
}

// perSender runs f for every envelope, in order per sender, with up to
// s.conc senders at once.
func (s *Service) perSender(order []string, groups map[string][]int, f func(i int)) {
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
				f(i)
			}
		}()
	}
	wg.Wait()
}

// decide resolves the customer and chooses the ticket of one envelope,
// opening a ticket when the rules say so. It does not touch the message's
// ticket list: commit does, after the message is stored.
func (s *Service) decide(ctx context.Context, e *Envelope) (*plan, error) {
	// A redelivered envelope is found by the batch insert (its message _id
	// exists); until then nothing here changes what is stored.
	msgID := e.MessageID()
	p := &plan{env: e}
	if e.Bounce != nil && e.Bounce.MessageID != "" {
		reason := e.Bounce.Reason
		if reason == "" {
			reason = "the message bounced"
		}
		orig, err := s.store.SetDelivery(ctx, e.Bounce.MessageID, Delivery{Status: DeliveryFailed, Error: reason, UpdatedAt: s.now()})
		switch {
		case err == nil:
			p.events = append(p.events, &Event{Type: EventMessageUpdated, Message: orig})
			if orig.TicketID != "" {
				// The bounce goes on the ticket of the message that bounced,
				// as a system message: no customer for the mailer daemon.
				p.ticket = orig.TicketID
				p.msg = &Message{
					ID: msgID, TicketID: orig.TicketID, CustomerID: orig.CustomerID, Direction: DirectionInbound,
					Channel: e.Channel, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
					Author:    Author{Kind: AuthorSystem, Name: e.From.Value},
					CreatedAt: e.ReceivedAt.UTC(), Attachments: e.Attachments, Truncated: e.Truncated, ExternalID: e.ExternalID, Auto: true,
					ThreadReason: ReasonBounce, Meta: e.Meta,
				}
				return p, nil
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
		CreatedAt: created.UTC(), Attachments: e.Attachments, Truncated: e.Truncated, SenderVerified: e.SenderVerified,
		ExternalID: e.ExternalID, ClientID: e.ClientID, Auto: e.Auto, Meta: e.Meta,
	}
	if e.AutoReason != "" {
		if m.Meta == nil {
			m.Meta = map[string]string{}
		}
		m.Meta["auto_reason"] = e.AutoReason
	}
	p.msg, p.cust = m, c

	if t, reason := s.hinted(ctx, c, e); t != nil {
		if ok, _ := s.accepts(t, e.Auto); ok {
			p.ticket, m.ThreadReason = t.ID, reason
			return p, nil
		}
	}
	if err := s.choose(ctx, p, true); err != nil {
		return nil, fmt.Errorf("ingest %s: thread: %w", msgID, err)
	}
	return p, nil
}

// accepts reports whether ticket t takes a new message from its customer,
// and whether that reopens it.
func (s *Service) accepts(t *Ticket, auto bool) (ok, reopens bool) {
	switch {
	case t.Erased:
		return false, false
	case t.Live(), auto:
		return true, false
	case t.Status == StatusSolved && s.now().Sub(t.SolvedAt) <= s.window:
		return true, true
	}
	return false, false
}

// choose picks the ticket for p's message. Optimistic, it takes the
// customer's current ticket without reading it: commit's _id-keyed write
// returns the ticket and checks it then. Otherwise it reads the customer
// afresh and the current ticket, and opens the customer's next ticket when
// that one does not take the message. Ticket ids are the customer id and
// the ticket's ordinal, so when two nodes open the same next ticket at
// once one of them loses, reads the customer again and joins the winner's.
func (s *Service) choose(ctx context.Context, p *plan, optimistic bool) error {
	c, e, m := p.cust, p.env, p.msg
	if optimistic && c.CurrentTicketID != "" {
		p.ticket = c.CurrentTicketID
		if m.ThreadReason == "" {
			m.ThreadReason = ReasonOpen // the likely outcome; commit corrects it
		}
		return nil
	}
	prev := ""
	for attempt := 0; attempt < 8; attempt++ {
		if attempt > 0 || !optimistic {
			fresh, err := s.freshCustomer(ctx, c.ID)
			if err != nil {
				return err
			}
			c, p.cust = fresh, fresh
		}
		if cur := c.CurrentTicketID; cur != "" {
			t, err := s.store.GetTicket(ctx, cur)
			switch {
			case err == nil:
				if ok, reopens := s.accepts(t, e.Auto); ok {
					p.ticket = t.ID
					switch {
					case m.ThreadReason != "":
					case reopens:
						m.ThreadReason = ReasonReopened
					case e.Auto && !t.Live():
						m.ThreadReason = ReasonAuto
					default:
						m.ThreadReason = ReasonOpen
					}
					return nil
				}
				prev = cur
			case !IsNotFound(err):
				return err
			}
		}
		if e.Auto {
			p.ticket, m.ThreadReason = "", ReasonNoTicket
			return nil
		}
		t, err := s.openTicket(ctx, c, e, prev)
		if errors.Is(err, errLostRace) {
			continue
		}
		if err != nil {
			return err
		}
		p.ticket, p.opened = t.ID, true
		if m.ThreadReason == "" {
			m.ThreadReason = ReasonNew
		}
		return nil
	}
	return fmt.Errorf("customer %s: ticket kept changing while threading", c.ID)
}

// commit adds a stored message to its ticket. The write is keyed by _id
// alone and the ticket that comes back is checked: if it is solved the
// message reopens it (within the window); if it cannot take the message
// (closed, or chosen from a stale cache) the message is taken off it and
// threaded afresh. Where the outcome differs from what the message was
// inserted with, the message is corrected in the store.
func (s *Service) commit(ctx context.Context, p *plan) error {
	m, e := p.msg, p.env
	if p.ticket == "" {
		p.events = append(p.events, &Event{Type: EventMessageCreated, Message: m})
		return nil
	}
	preview := FirstLine(e.Text, 140)
	if preview == "" {
		preview = FirstLine(e.Subject, 140)
	}
	change := TicketChange{AddMessageID: m.ID, Preview: &preview, LastMessage: m.CreatedAt, UpdatedAt: s.now().UTC()}
	if !m.Auto { // an auto-reply is not the customer's latest word
		change.LastInbound, change.LastInboundChannel = m.CreatedAt, e.Channel
	}
	for attempt := 0; attempt < 4; attempt++ {
		m.TicketID = p.ticket
		t, reopened, ok, err := s.join(ctx, p.ticket, change, m.Auto)
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("ingest %s: add to ticket %s: %w", m.ID, p.ticket, err)
		}
		if ok {
			switch {
			case m.ThreadReason == ReasonBounce:
			case reopened && m.ThreadReason == ReasonOpen:
				m.ThreadReason = ReasonReopened
			case m.Auto && !t.Live() && m.ThreadReason == ReasonOpen:
				m.ThreadReason = ReasonAuto
			}
			evType := EventTicketUpdated
			if p.opened {
				evType = EventTicketCreated
			}
			if m.TicketID != p.savedTicket || m.ThreadReason != p.savedReason {
				if err := s.store.SetMessageThread(ctx, m.ID, m.TicketID, m.ThreadReason); err != nil {
					return err
				}
			}
			p.events = append(p.events, &Event{Type: EventMessageCreated, Ticket: t, Message: m}, &Event{Type: evType, Ticket: t})
			return nil
		}
		if t != nil && t.Erased {
			// Added after an eraser marked the ticket, so not in its list.
			// If the customer is being erased too, the message is stored
			// afresh on redelivery; otherwise (retention erased the
			// ticket) it is threaded afresh now.
			if _, err := s.freshCustomer(ctx, m.CustomerID); IsNotFound(err) {
				return s.undoErased(ctx, nil, m, m.CustomerID)
			} else if err != nil {
				return err
			}
		}
		// The ticket does not take the message: thread it afresh.
		if p.cust == nil {
			return fmt.Errorf("ingest %s: ticket %s does not take the message", m.ID, p.ticket)
		}
		m.ThreadReason = ""
		if err := s.choose(ctx, p, false); err != nil {
			return err
		}
		if p.ticket == "" { // an auto-reply: stored without a ticket
			m.TicketID = ""
			if err := s.store.SetMessageThread(ctx, m.ID, "", m.ThreadReason); err != nil {
				return err
			}
			p.events = append(p.events, &Event{Type: EventMessageCreated, Message: m})
			return nil
		}
	}
	return fmt.Errorf("ingest %s: ticket kept closing while threading", m.ID)
}

// repair handles a message that was already stored: a redelivery. If a
// node stopped between storing the message and adding it to its ticket,
// it adds it now; otherwise nothing changes.
func (s *Service) repair(ctx context.Context, p *plan) error {
	stored, err := s.store.GetMessage(ctx, p.msg.ID)
	if err != nil {
		return fmt.Errorf("ingest %s: redelivery: %w", p.msg.ID, err)
	}
	if stored.TicketID == "" {
		return nil
	}
	t, err := s.store.GetTicket(ctx, stored.TicketID)
	if err != nil {
		return fmt.Errorf("ingest %s: redelivery: %w", p.msg.ID, err)
	}
	if t.Erased {
		// Its ticket was erased since (with its customer, or by
		// retention): the message is stored afresh on redelivery.
		return s.undoErased(ctx, t, stored, stored.CustomerID)
	}
	if slices.Contains(t.MessageIDs, stored.ID) {
		// A redelivery changes nothing in the store; but the node that
		// stored it may have died before its events were out, so they go
		// out again (every reader takes an event twice as once).
		p.events = append(p.events, &Event{Type: EventMessageCreated, Ticket: t, Message: stored}, &Event{Type: EventTicketUpdated, Ticket: t})
		return nil
	}
	t, err = s.store.ApplyToTicket(ctx, t.ID, TicketChange{AddMessageID: stored.ID, LastMessage: stored.CreatedAt, UpdatedAt: s.now().UTC()})
	if err != nil {
		return err
	}
	if t.Erased { // an eraser marked it in the meantime
		return s.undoErased(ctx, t, stored, stored.CustomerID)
	}
	p.events = append(p.events, &Event{Type: EventMessageCreated, Ticket: t, Message: stored}, &Event{Type: EventTicketUpdated, Ticket: t})
	return nil
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
	switch cached, ok := s.cachedCustomer(cid); {
	case created:
		c, err = s.store.EnsureCustomer(ctx, fresh)
	case ok:
		c = cached
	default:
		c, err = s.store.GetCustomer(ctx, cid)
		if IsNotFound(err) {
			// Either the node that inserted the identity stopped before the
			// customer, or the customer was erased (ticketing/gdpr) and this
			// node's cache still had them: only the store's identity says.
			if owner, lerr := s.store.LookupIdentity(ctx, key); lerr == nil && owner == cid {
				c, err = s.store.EnsureCustomer(ctx, fresh)
			} else if IsNotFound(lerr) || lerr == nil {
				s.forgetCustomer(cid)
				return s.resolveCustomer(ctx, e)
			} else {
				err = lerr
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer func() { s.remember(c) }()
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
			s.nameTickets(ctx, c) // the name learned now reaches the lists
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

var errLostRace = errors.New("another writer opened the ticket first")

// errCustomerErased: the customer was erased (ticketing/gdpr) while their
// message was being threaded, after the eraser had read what to erase.
// What this node wrote is undone, and the envelope fails for now: its
// redelivery finds no identity and makes a new customer wholly from the
// message. A message threaded before the eraser read its lists is erased
// with the customer instead. Either way nothing is left half-made.
var errCustomerErased = errors.New("the customer was erased while the message was threaded; it is threaded afresh")

// undoErased takes a message that reached an erased customer's ticket off
// it again and deletes it, so that its redelivery stores it afresh.
func (s *Service) undoErased(ctx context.Context, t *Ticket, m *Message, customerID string) error {
	if customerID != "" {
		s.forgetCustomer(customerID)
	}
	if t != nil {
		if _, err := s.store.ApplyToTicket(ctx, t.ID, TicketChange{RemoveMessageID: m.ID, UpdatedAt: s.now().UTC()}); err != nil && !IsNotFound(err) {
			return err
		}
	}
	if err := s.store.DeleteMessages(ctx, []string{m.ID}); err != nil {
		return err
	}
	return errCustomerErased
}

// join adds the message to ticket id and checks, by the rules of accepts,
// the ticket that comes back: reopened says the message reopened it. ok is
// false when the ticket cannot take the message (closed, or solved beyond
// the reopen window): the message is taken off it again.
func (s *Service) join(ctx context.Context, id string, change TicketChange, auto bool) (t *Ticket, reopened, ok bool, err error) {
	if t, err = s.store.ApplyToTicket(ctx, id, change); err != nil {
		return nil, false, false, err
	}
	ok, reopens := s.accepts(t, auto)
	switch {
	case ok && reopens:
		open, zero := StatusOpen, time.Time{}
		t, err = s.store.ApplyToTicket(ctx, id, TicketChange{Status: &open, SolvedAt: &zero, UpdatedAt: s.now().UTC()})
		return t, true, err == nil, err
	case ok:
		return t, false, true, nil
	}
	_, err = s.store.ApplyToTicket(ctx, id, TicketChange{RemoveMessageID: change.AddMessageID, UpdatedAt: change.UpdatedAt})
	return t, false, false, err
}

// openTicket creates the customer's next ticket. Its _id is the customer id
// and the ticket's ordinal, so a concurrent creator on another node inserts
// the same _id and one of the two gets errLostRace.
func (s *Service) openTicket(ctx context.Context, c *Customer, e *Envelope, prev string) (*Ticket, error) {
	gen := c.TicketCount + 1
	id := c.ID + "-" + strconv.Itoa(gen)
	num, err := s.store.NextTicketNumber(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	subject := CleanSubject(e.Subject)
	if subject == "" {
		subject = FirstLine(e.Text, 80)
	}
	// The message is added by commit once it is stored; until then the
	// ticket is empty and no event has announced it.
	t := &Ticket{
		ID: id, Number: num, Status: StatusOpen, Priority: PriorityNormal, Subject: subject,
		CustomerID: c.ID, Channel: e.Channel, Tags: []string{}, CreatedAt: now, UpdatedAt: now,
		CustomerName: c.Name, LastMessageAt: e.ReceivedAt.UTC(), LastInboundChannel: e.Channel,
		MessageIDs: []string{}, PreviousTicketID: prev, Version: 1,
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
	linked, err := s.store.LinkTicket(ctx, c.ID, id, gen)
	switch {
	case IsNotFound(err):
		// The customer's erasure deleted them after this node resolved
		// them: the eraser never saw this ticket, so its tombstone is
		// written here.
		s.forgetCustomer(c.ID)
		if err := s.store.ReplaceTicket(ctx, t.Tombstone(s.now())); err != nil {
			return nil, err
		}
		return nil, errCustomerErased
	case err != nil:
		return nil, err
	case linked.Erased:
		// The eraser takes every ticket linked before it deletes the
		// customer, this one included.
		s.forgetCustomer(c.ID)
		return nil, errCustomerErased
	}
	s.remember(linked)
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
		if err == nil {
			t = s.followMerges(ctx, t)
		}
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
		if err == nil {
			t = s.followMerges(ctx, t)
		}
		if err == nil && t.CustomerID == c.ID {
			return t, ReasonToken
		}
	}
	return nil, ""
}

// followMerges returns the ticket that holds t's conversation: t, or the
// ticket it was merged into (a reply to a merged-away ticket's mail, or its
// [#number], lands there). Merges of merges are followed a few hops.
func (s *Service) followMerges(ctx context.Context, t *Ticket) *Ticket {
	for hop := 0; hop < 5 && t.MergedInto != ""; hop++ {
		into, err := s.store.GetTicket(ctx, t.MergedInto)
		if err != nil {
			break
		}
		t = into
	}
	return t
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
