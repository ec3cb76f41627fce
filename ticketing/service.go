package ticketing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Options configure a Service. Zero values are documented defaults.
type Options struct {
	Store Store
	// Bus publishes events and outbound messages.
	Bus interface {
		EventPublisher
		OutboundPublisher
	}
	Logger *slog.Logger
	// ReopenWindow is how long after a ticket is solved a customer's new
	// message reopens it instead of starting a new ticket. Default 7 days.
	ReopenWindow time.Duration
	// Concurrency bounds how many customers of one batch are threaded at
	// once. Default 8.
	Concurrency int
	// ReplyChecks validate a reply's text per channel before it is stored
	// (SMS segment limits) and return metadata to keep on the message.
	ReplyChecks map[Channel]func(text string) (map[string]string, error)
	// ReplyChannels are the channels this installation can send replies
	// on (the adapters that are configured); a reply on any other is
	// refused. Nil means every channel.
	ReplyChannels []Channel
	// Now returns the time; default time.Now.
	Now func() time.Time
	// NormalizePhone reads a phone number in E.164 or national form (in
	// SVAR_SMS_DEFAULT_REGION) into E.164; nil: E.164 only.
	NormalizePhone func(raw string) (string, error)
	// Query serves lists and counts (ticketing/query). Nil: the in-memory
	// Inbox does, which holds every ticket in memory (tests, small tools).
	Query TicketQuery
}

// Service is the ticketing core: it threads inbound envelopes into
// customers' tickets, stores agents' replies and changes, and publishes
// events. It keeps no state of its own beyond caches that the store can
// always correct, so any number of nodes can run it side by side.
type Service struct {
	store Store
	bus   interface {
		EventPublisher
		OutboundPublisher
	}
	checks map[Channel]func(text string) (map[string]string, error)
	sends  []Channel // ReplyChannels, in a fixed order (reply.go)
	log    *slog.Logger
	valid  *Validator
	phone  func(string) (string, error)
	window time.Duration
	conc   int
	now    func() time.Time
	inbox  *Inbox      // nil when query is set
	query  TicketQuery // nil: inbox serves lists

	// identities caches identity key → customer id. Identities never move
	// between customers, so the cache is never wrong, only incomplete.
	identities *lru[string]
	// customers caches customers for threading. It may be stale (another
	// node opened a ticket): threading checks the ticket it chose with the
	// _id-keyed write that adds the message, and reads the customer afresh
	// when the ticket does not take it.
	customers *lru[Customer]
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, bus: o.Bus, checks: o.ReplyChecks, log: o.Logger, valid: NewValidator(), phone: o.NormalizePhone, window: o.ReopenWindow,
		conc: o.Concurrency, now: o.Now, query: o.Query, identities: newLRU[string](200_000),
		customers: newLRU[Customer](50_000), sends: replyChannels(o.ReplyChannels)}
	if s.query == nil {
		s.inbox = NewInbox()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.window <= 0 {
		s.window = 7 * 24 * time.Hour
	}
	if s.conc <= 0 {
		s.conc = 8
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Inbox is the in-memory read model of tickets, nil when Options.Query
// serves lists and counts.
func (s *Service) Inbox() *Inbox { return s.inbox }

// Validator is the Service's validator, for adapters and handlers.
func (s *Service) Validator() *Validator { return s.valid }

// Store returns the store the service uses.
func (s *Service) Store() Store { return s.store }

// LoadInbox fills the read model from the store. Call it once at start,
// after noting the events stream's sequence and before subscribing from it.
func (s *Service) LoadInbox(ctx context.Context) error {
	if s.inbox == nil {
		return nil
	}
	return s.store.ScanTickets(ctx, func(t *Ticket) error {
		s.inbox.Apply(t)
		return nil
	})
}

// ApplyEvent keeps the read model current from an event of any node.
func (s *Service) ApplyEvent(ev *Event) {
	if ev.Ticket != nil && s.inbox != nil {
		s.inbox.Apply(ev.Ticket)
	}
	if c := ev.Customer; c != nil && ev.Type == EventCustomerUpdated {
		// Identities may have moved to this customer (a merge or its
		// undo on any node): the next message from them finds it.
		keys := map[string]bool{}
		for _, id := range c.Identities {
			s.identities.put(id.Key(), c.ID)
			keys[id.Key()] = true
		}
		// An agent may have removed a contact (contacts.go): it no longer
		// finds this customer.
		s.identities.drop(func(k, v string) bool { return v == c.ID && !keys[k] })
		s.remember(c)
	}
	if ev.Type == EventCustomerErased && ev.Customer != nil {
		s.forgetCustomer(ev.Customer.ID)
	}
}

// forgetCustomer drops an erased customer from this node's caches, so the
// next message from one of their addresses starts a new customer.
func (s *Service) forgetCustomer(id string) {
	s.customers.drop(func(k string, _ Customer) bool { return k == id })
	s.identities.drop(func(_ string, v string) bool { return v == id })
}

// NewID returns a random, URL-safe id.
func NewID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// Publish tells every node of events, and this node's read model at once:
// capabilities that write to the store themselves (ticketing/ticketmerge)
// announce their changes through it. A failed publish is logged; the store
// has the change and the read models' reconciliation finds it.
func (s *Service) Publish(ctx context.Context, evs ...*Event) { s.publish(ctx, evs...) }

func (s *Service) publish(ctx context.Context, evs ...*Event) {
	for _, ev := range evs {
		if ev.At.IsZero() {
			ev.At = s.now()
		}
		if n, ok := s.query.(EventNoter); ok {
			n.Note(ev)
		} else if ev.Ticket != nil && s.inbox != nil {
			s.inbox.Apply(ev.Ticket)
		}
		if err := s.bus.PublishEvent(ctx, ev); err != nil {
			// The store has the change; consoles see it on their next
			// load. Losing a push is not losing a message.
			s.log.Warn("publish event", "type", ev.Type, "err", err)
		}
	}
}

// TicketView is a ticket with its customer and timeline.
type TicketView struct {
	Ticket   *Ticket    `json:"ticket"`
	Customer *Customer  `json:"customer"`
	Messages []*Message `json:"messages"`
	// ReplyChannels are the channels a reply can go out on here.
	ReplyChannels []Channel `json:"reply_channels"`
	// OrdersHidden says why Customer.Orders is left out of this view:
	// OrdersHiddenUnverified when the ticket's latest inbound message is
	// from a sender who failed verification (it may be forged, and the
	// customer's orders are not shown on the strength of it).
	OrdersHidden string `json:"orders_hidden,omitempty"`
}

// OrdersHiddenUnverified is TicketView.OrdersHidden for an unverified sender.
const OrdersHiddenUnverified = "unverified_sender"

// LatestInboundUnverified reports whether the latest inbound message of
// msgs (oldest first) is from a sender who failed verification. Automatic
// mail does not count: it is not the customer's word.
func LatestInboundUnverified(msgs []*Message) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Direction != DirectionInbound || m.Auto || m.Author.Kind != AuthorCustomer {
			continue
		}
		return m.SenderVerified != nil && !*m.SenderVerified
	}
	return false
}

// TicketView returns a ticket, its customer and its messages, oldest first.
func (s *Service) TicketView(ctx context.Context, id string) (*TicketView, error) {
	t, err := s.ticket(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("ticket view %s: customer: %w", id, err)
	}
	msgs, err := s.store.GetMessages(ctx, t.MessageIDs)
	if err != nil {
		return nil, fmt.Errorf("ticket view %s: messages: %w", id, err)
	}
	if msgs == nil {
		msgs = []*Message{}
	}
	if len(t.MergedFrom) > 0 {
		// Merged messages were appended: the timeline is shown in time order.
		slices.SortStableFunc(msgs, func(a, b *Message) int { return a.CreatedAt.Compare(b.CreatedAt) })
	}
	v := &TicketView{Ticket: t, Customer: c, Messages: msgs, ReplyChannels: s.ReplyChannels()}
	if LatestInboundUnverified(msgs) {
		cp := *c
		cp.Orders = nil
		v.Customer, v.OrdersHidden = &cp, OrdersHiddenUnverified
	}
	return v, nil
}

// ticket reads a ticket by id, or by number when id is "#1042" or "1042"
// and no ticket has that id.
func (s *Service) ticket(ctx context.Context, id string) (*Ticket, error) {
	if id == "" || len(id) > 200 {
		return nil, Errorf(ENotFound, "ticket not found")
	}
	t, err := s.store.GetTicket(ctx, id)
	if IsNotFound(err) {
		if n, perr := strconv.ParseInt(trimHash(id), 10, 64); perr == nil && n > 0 {
			t, err = s.store.GetTicketByNumber(ctx, n)
		}
	}
	if IsNotFound(err) || (err == nil && t.Erased) {
		return nil, Errorf(ENotFound, "ticket %s not found", id)
	}
	return t, err
}

func trimHash(s string) string {
	if len(s) > 0 && s[0] == '#' {
		return s[1:]
	}
	return s
}

// CustomerView returns a customer and their tickets, newest first.
func (s *Service) CustomerView(ctx context.Context, id string) (*Customer, []*Ticket, error) {
	if id == "" || len(id) > 200 {
		return nil, nil, Errorf(ENotFound, "customer not found")
	}
	c, err := s.store.GetCustomer(ctx, id)
	if IsNotFound(err) {
		return nil, nil, Errorf(ENotFound, "customer %s not found", id)
	}
	if err != nil {
		return nil, nil, err
	}
	tickets := make([]*Ticket, 0, len(c.TicketIDs))
	for i := len(c.TicketIDs) - 1; i >= 0; i-- {
		t, err := s.store.GetTicket(ctx, c.TicketIDs[i])
		if IsNotFound(err) || (err == nil && t.Erased) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		tickets = append(tickets, t)
	}
	return c, tickets, nil
}

// CustomerByIdentity returns the customer owning key (kind:value).
func (s *Service) CustomerByIdentity(ctx context.Context, key string) (*Customer, error) {
	id, err := s.lookupIdentity(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.store.GetCustomer(ctx, id)
}

func (s *Service) lookupIdentity(ctx context.Context, key string) (string, error) {
	if id, ok := s.identities.get(key); ok {
		return id, nil
	}
	id, err := s.store.LookupIdentity(ctx, key)
	if err != nil {
		return "", err
	}
	s.identities.put(key, id)
	return id, nil
}

// History returns up to limit of the customer's messages that the customer
// may see (no notes), oldest first, across their tickets.
func (s *Service) History(ctx context.Context, customerID string, limit int) ([]*Message, error) {
	c, err := s.store.GetCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	var out []*Message
	for i := len(c.TicketIDs) - 1; i >= 0 && len(out) < limit; i-- {
		t, err := s.store.GetTicket(ctx, c.TicketIDs[i])
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ids := t.MessageIDs
		if len(ids) > limit {
			ids = ids[len(ids)-limit:]
		}
		msgs, err := s.store.GetMessages(ctx, ids)
		if err != nil {
			return nil, err
		}
		var keep []*Message
		for _, m := range msgs {
			if m.Direction != DirectionNote {
				keep = append(keep, m)
			}
		}
		if len(t.MergedFrom) > 0 { // merged messages were appended
			slices.SortStableFunc(keep, func(a, b *Message) int { return a.CreatedAt.Compare(b.CreatedAt) })
		}
		out = append(keep, out...)
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// ListTickets serves a list from the query index (or the Inbox).
func (s *Service) ListTickets(ctx context.Context, v Viewer, f TicketFilter) (*TicketPage, error) {
	if s.query != nil {
		return s.query.List(ctx, v, f)
	}
	return s.inbox.List(v, f)
}

// Counts returns the inbox view counts for a viewer.
func (s *Service) Counts(ctx context.Context, v Viewer) (map[string]int, error) {
	if s.query != nil {
		return s.query.Counts(ctx, v)
	}
	return s.inbox.Counts(v), nil
}

// Ticket returns a ticket by id, or by number ("#1042" or "1042").
func (s *Service) Ticket(ctx context.Context, id string) (*Ticket, error) { return s.ticket(ctx, id) }

// PatchCustomer changes a customer's shop-pushed fields.
func (s *Service) PatchCustomer(ctx context.Context, id string, p CustomerPatch) (*Customer, error) {
	return s.EditCustomer(ctx, id, p, Contacts{})
}

// lru is a small bounded cache. When full it forgets everything older
// than the newest half, which is cheap and good enough for id caches.
type lru[V any] struct {
	mu   sync.Mutex
	max  int
	cur  map[string]V
	prev map[string]V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, cur: map[string]V{}, prev: map[string]V{}}
}

func (c *lru[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	if v, ok := c.prev[k]; ok {
		c.cur[k] = v
		return v, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.max/2 {
		c.prev, c.cur = c.cur, map[string]V{}
	}
	c.cur[k] = v
}

// drop forgets the entries f picks.
func (c *lru[V]) drop(f func(k string, v V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[string]V{c.cur, c.prev} {
		for k, v := range m {
			if f(k, v) {
				delete(m, k)
			}
		}
	}
}

// cachedCustomer returns a copy of a cached customer.
func (s *Service) cachedCustomer(id string) (*Customer, bool) {
	c, ok := s.customers.get(id)
	if !ok {
		return nil, false
	}
	c.Identities = append([]Identity(nil), c.Identities...)
	return &c, true
}

// remember caches a copy of c.
func (s *Service) remember(c *Customer) {
	if c != nil {
		cp := *c
		cp.Identities = append([]Identity(nil), c.Identities...)
		cp.TicketIDs = nil // not used by threading
		s.customers.put(c.ID, cp)
	}
}

// freshCustomer reads a customer from the store and caches it.
func (s *Service) freshCustomer(ctx context.Context, id string) (*Customer, error) {
	c, err := s.store.GetCustomer(ctx, id)
	switch {
	case err == nil:
		s.remember(c)
	case IsNotFound(err):
		s.forgetCustomer(id) // erased: the next message makes a new customer
	}
	return c, err
}
