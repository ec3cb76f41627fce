// Package merge merges two customers into one and undoes it exactly.
//
// A merge is recorded before anything moves: an _id-keyed record holding
// both customers' before-images (their whole documents, the order numbers
// of the one merged away) and a state. Every step after it is idempotent
// (identity lookups repointed, tickets moved, orders moved, both customer
// documents written whole from the before-images), so a merge that
// stopped half-way is finished by running it again, and an undo restores
// both customers from the before-images whatever step the merge reached.
// The embedded store has no transactions; this is how multi-step writes
// stay safe on it.
package merge

import (
	"context"
	"slices"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// Audit actions.
const (
	ActionMerged = "customer.merged"
	ActionUndone = "customer.merge_undone"
)

// Merge states.
const (
	StateStarted = "started" // recorded; steps may be half done
	StateApplied = "applied"
	StateUndoing = "undoing"
	StateUndone  = "undone"
)

// Record is one merge: who, when, what, and how to undo it.
type Record struct {
	ID         string              `json:"id" bson:"id"`
	IntoID     string              `json:"into_id" bson:"into_id"`
	FromID     string              `json:"from_id" bson:"from_id"`
	By         string              `json:"by" bson:"by"`
	At         time.Time           `json:"at" bson:"at"`
	State      string              `json:"state" bson:"state"`
	UndoneAt   time.Time           `json:"undone_at,omitzero" bson:"undone_at,omitempty"`
	UndoneBy   string              `json:"undone_by,omitempty" bson:"undone_by,omitempty"`
	Into       *ticketing.Customer `json:"-" bson:"into"`
	From       *ticketing.Customer `json:"-" bson:"from"`
	FromOrders []string            `json:"from_orders" bson:"from_orders"`
	// PrevInto and PrevFrom are the merges that were the customers'
	// latest before this one: undoing this one makes them latest again.
	PrevInto string `json:"-" bson:"prev_into,omitempty"`
	PrevFrom string `json:"-" bson:"prev_from,omitempty"`
}

// Store is what merges need of the store (ticketing/mongostore).
type Store interface {
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	PutCustomer(ctx context.Context, c *ticketing.Customer) error
	SetIdentityOwner(ctx context.Context, id ticketing.Identity, customerID string) error
	ticketing.StateStore
}

// Core is what merges need of the ticketing core.
type Core interface {
	MoveTicket(ctx context.Context, ticketID, customerID string) (*ticketing.Ticket, error)
	CustomersChanged(ctx context.Context, cs ...*ticketing.Customer)
}

// Orders moves orders between customers (ticketing/order).
type Orders interface {
	Numbers(ctx context.Context, customerID string) ([]string, error)
	Move(ctx context.Context, numbers []string, from, to string) error
}

// Service merges customers.
type Service struct {
	store  Store
	core   Core
	orders Orders
	audit  audit.Recorder
	now    func() time.Time
}

// New returns a Service; orders may be nil, and rec nil audits nothing.
// Every merge and undo is recorded in the audit log (who, when, which
// customers and the merge id; nothing of their data).
func New(store Store, core Core, orders Orders, rec audit.Recorder) *Service {
	if rec == nil {
		rec = audit.Nop{}
	}
	return &Service{store: store, core: core, orders: orders, audit: rec, now: time.Now}
}

func recordKey(id string) string  { return "merge/" + id }
func latestKey(cid string) string { return "merge/latest/" + cid }
func missing(id string) error {
	return ticketing.Errorf(ticketing.ENotFound, "customer %s not found", id)
}
func conflict(f string, a ...any) error { return ticketing.Errorf(ticketing.EConflict, f, a...) }

func (s *Service) latest(ctx context.Context, cid string) (string, error) {
	var id string
	err := s.store.GetState(ctx, latestKey(cid), &id)
	if ticketing.IsNotFound(err) {
		return "", nil
	}
	return id, err
}

// Merge moves customer fromID's identities, tickets and orders to intoID.
func (s *Service) Merge(ctx context.Context, by, intoID, fromID string) (*Record, *ticketing.Customer, error) {
	if fromID == "" {
		return nil, nil, ticketing.FieldError("from_id", "is required")
	}
	if fromID == intoID {
		return nil, nil, ticketing.FieldError("from_id", "is this customer: a customer cannot be merged into itself")
	}
	into, err := s.customer(ctx, intoID)
	if err != nil {
		return nil, nil, err
	}
	from, err := s.customer(ctx, fromID)
	if err != nil {
		return nil, nil, ticketing.FieldError("from_id", "customer %s not found", fromID)
	}
	if into.MergedInto != "" {
		return nil, nil, conflict("customer %s was merged into %s; merge into that one", into.ID, into.MergedInto)
	}
	if from.MergedInto != "" {
		return nil, nil, conflict("customer %s was already merged into %s", from.ID, from.MergedInto)
	}
	r := &Record{ID: ticketing.NewID(), IntoID: into.ID, FromID: from.ID, By: by, At: s.now().UTC(), State: StateStarted,
		Into: into, From: from, FromOrders: []string{}}
	if s.orders != nil {
		if r.FromOrders, err = s.orders.Numbers(ctx, from.ID); err != nil {
			return nil, nil, err
		}
	}
	if r.PrevInto, err = s.latest(ctx, into.ID); err != nil {
		return nil, nil, err
	}
	if r.PrevFrom, err = s.latest(ctx, from.ID); err != nil {
		return nil, nil, err
	}
	if err := s.store.InsertState(ctx, recordKey(r.ID), r); err != nil {
		return nil, nil, err
	}
	c, err := s.apply(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	s.audit.Record(ctx, audit.Entry{Action: ActionMerged, Target: "customer:" + r.IntoID + " from customer:" + r.FromID + " merge:" + r.ID})
	return r, c, nil
}

func (s *Service) customer(ctx context.Context, id string) (*ticketing.Customer, error) {
	c, err := s.store.GetCustomer(ctx, id)
	if ticketing.IsNotFound(err) {
		return nil, missing(id)
	}
	return c, err
}

// merged is the customer both become, computed from the before-images
// alone so that applying it again writes the same document.
func merged(r *Record) (into, from *ticketing.Customer) {
	a := *r.Into
	a.Identities = slices.Clone(r.Into.Identities)
	for _, id := range r.From.Identities {
		if !slices.ContainsFunc(a.Identities, func(h ticketing.Identity) bool { return h.Key() == id.Key() }) {
			a.Identities = append(a.Identities, id)
		}
	}
	a.TicketIDs = slices.Clone(r.Into.TicketIDs)
	for _, t := range r.From.TicketIDs {
		if !slices.Contains(a.TicketIDs, t) {
			a.TicketIDs = append(a.TicketIDs, t)
		}
	}
	if a.Name == "" {
		a.Name = r.From.Name
	}
	if a.ExternalID == "" {
		a.ExternalID = r.From.ExternalID
	}
	if len(r.From.Attributes) > 0 {
		attrs := ticketing.Attributes{}
		for k, v := range r.From.Attributes {
			attrs[k] = v
		}
		for k, v := range r.Into.Attributes {
			attrs[k] = v // the customer merged into wins
		}
		a.Attributes = attrs
	}
	if a.CurrentTicketID == "" {
		a.CurrentTicketID = r.From.CurrentTicketID
	}
	a.UpdatedAt = r.At
	b := *r.From
	b.Identities = []ticketing.Identity{}
	b.TicketIDs = nil
	b.CurrentTicketID = ""
	b.MergedInto = r.Into.ID
	b.UpdatedAt = r.At
	return &a, &b
}

// apply runs the merge's steps; each is idempotent.
func (s *Service) apply(ctx context.Context, r *Record) (*ticketing.Customer, error) {
	into, from := merged(r)
	// The merged customer first: a message arriving while identities move
	// finds a customer that already knows them.
	if err := s.store.PutCustomer(ctx, into); err != nil {
		return nil, err
	}
	for _, id := range r.From.Identities {
		if err := s.store.SetIdentityOwner(ctx, id, r.IntoID); err != nil {
			return nil, err
		}
	}
	for _, t := range r.From.TicketIDs {
		if _, err := s.core.MoveTicket(ctx, t, r.IntoID); err != nil && !ticketing.IsNotFound(err) {
			return nil, err
		}
	}
	if s.orders != nil {
		if err := s.orders.Move(ctx, r.FromOrders, r.FromID, r.IntoID); err != nil {
			return nil, err
		}
	}
	if err := s.store.PutCustomer(ctx, from); err != nil {
		return nil, err
	}
	for _, cid := range []string{r.IntoID, r.FromID} {
		if err := s.store.PutState(ctx, latestKey(cid), r.ID); err != nil {
			return nil, err
		}
	}
	r.State = StateApplied
	if err := s.store.PutState(ctx, recordKey(r.ID), r); err != nil {
		return nil, err
	}
	s.core.CustomersChanged(ctx, from, into)
	return into, nil
}

// Get returns a merge record.
func (s *Service) Get(ctx context.Context, id string) (*Record, error) {
	var r Record
	err := s.store.GetState(ctx, recordKey(id), &r)
	if ticketing.IsNotFound(err) || (err == nil && r.ID == "") {
		return nil, ticketing.Errorf(ticketing.ENotFound, "merge %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Undo restores both customers exactly as they were before the merge:
// identities, tickets, orders and both documents. Only a customer's
// latest merge can be undone; a later one must be undone first.
func (s *Service) Undo(ctx context.Context, by, id string) (*Record, error) {
	if id == "" || len(id) > 100 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "merge not found")
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State == StateUndone {
		return nil, conflict("merge %s was already undone", id)
	}
	for _, cid := range []string{r.IntoID, r.FromID} {
		l, err := s.latest(ctx, cid)
		if err != nil {
			return nil, err
		}
		if l != r.ID && r.State != StateStarted {
			return nil, conflict("merge %s came later and involves customer %s: undo it first", l, cid)
		}
	}
	r.State = StateUndoing
	if err := s.store.PutState(ctx, recordKey(r.ID), r); err != nil {
		return nil, err
	}
	for _, ident := range r.From.Identities {
		if err := s.store.SetIdentityOwner(ctx, ident, r.FromID); err != nil {
			return nil, err
		}
	}
	for _, t := range r.From.TicketIDs {
		if _, err := s.core.MoveTicket(ctx, t, r.FromID); err != nil && !ticketing.IsNotFound(err) {
			return nil, err
		}
	}
	if s.orders != nil {
		if err := s.orders.Move(ctx, r.FromOrders, r.IntoID, r.FromID); err != nil {
			return nil, err
		}
	}
	if err := s.store.PutCustomer(ctx, r.From); err != nil {
		return nil, err
	}
	if err := s.store.PutCustomer(ctx, r.Into); err != nil {
		return nil, err
	}
	for cid, prev := range map[string]string{r.IntoID: r.PrevInto, r.FromID: r.PrevFrom} {
		var err error
		if prev == "" {
			err = s.store.DeleteState(ctx, latestKey(cid))
		} else {
			err = s.store.PutState(ctx, latestKey(cid), prev)
		}
		if err != nil {
			return nil, err
		}
	}
	r.State, r.UndoneAt, r.UndoneBy = StateUndone, s.now().UTC(), by
	if err := s.store.PutState(ctx, recordKey(r.ID), r); err != nil {
		return nil, err
	}
	s.core.CustomersChanged(ctx, r.From, r.Into)
	s.audit.Record(ctx, audit.Entry{Action: ActionUndone, Target: "customer:" + r.IntoID + " from customer:" + r.FromID + " merge:" + r.ID})
	return r, nil
}
