package order

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Core is what orders need of the ticketing core.
type Core interface {
	CustomerFor(ctx context.Context, id ticketing.Identity) (*ticketing.Customer, error)
	LinkOrder(ctx context.Context, ticketID, number string) (*ticketing.Ticket, error)
	Ticket(ctx context.Context, id string) (*ticketing.Ticket, error)
}

// Customers reads customers by id.
type Customers interface {
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
}

// Events is the bus's event feed and scheduled jobs (ticketing/natsbus).
type Events interface {
	SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error
	ticketing.Scheduler
}

// Options configure a Service.
type Options struct {
	Store     Store
	Customers Customers
	Core      Core
	Events    Events
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service upserts and reads orders and links tickets to them.
type Service struct {
	store     Store
	customers Customers
	core      Core
	events    Events
	log       *slog.Logger
	now       func() time.Time
}

// New returns a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: o.Store, customers: o.Customers, core: o.Core, events: o.Events, log: o.Logger, now: o.Now}
}

// Put creates or updates the order with this number. The customer is the
// one owning the identity the input names; when nobody owns it a customer
// is created with that identity (verified: the shop's backend vouches for
// it), so that their first mail or chat finds their orders. An order that
// moves to another customer leaves the first one's list.
func (s *Service) Put(ctx context.Context, number string, in Input) (*Order, *ticketing.Customer, error) {
	if !ValidNumber(number) {
		return nil, nil, ticketing.FieldError("number", "must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
	id, err := in.identity()
	if err != nil {
		return nil, nil, err
	}
	if err := in.validate(); err != nil {
		return nil, nil, err
	}
	c, err := s.core.CustomerFor(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	o := &Order{Number: number, CustomerID: c.ID, Status: in.Status, PlacedAt: in.PlacedAt.UTC(), Total: in.Total,
		Currency: in.Currency, Items: in.Items, Carrier: in.Carrier, TrackingURL: in.TrackingURL,
		ReturnStatus: in.ReturnStatus, AdminURL: in.AdminURL, TicketIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	if in.PlacedAt.IsZero() {
		o.PlacedAt = time.Time{}
	}
	if o.Items == nil {
		o.Items = []Item{}
	}
	old, err := s.store.GetOrder(ctx, number)
	switch {
	case err == nil:
		o.CreatedAt = old.CreatedAt
		if old.CustomerID == c.ID {
			o.TicketIDs = old.TicketIDs // a ticket's link stays with its customer's order
		}
	case !ticketing.IsNotFound(err):
		return nil, nil, err
	}
	// The customer's list first: an order in a list whose document is
	// missing is skipped when read, never the other way round.
	if err := s.store.AddCustomerOrder(ctx, c.ID, number); err != nil {
		return nil, nil, err
	}
	if err := s.store.PutOrder(ctx, o); err != nil {
		return nil, nil, err
	}
	if old != nil && old.CustomerID != c.ID {
		if err := s.store.RemoveCustomerOrder(ctx, old.CustomerID, number); err != nil {
			return nil, nil, err
		}
	}
	return o, c, nil
}

// View is an order with its customer and linked tickets.
type View struct {
	Order    *Order              `json:"order"`
	Customer *ticketing.Customer `json:"customer"`
	Tickets  []*ticketing.Ticket `json:"tickets"`
}

// Get returns the order, its customer and the tickets linked to it.
func (s *Service) Get(ctx context.Context, number string) (*View, error) {
	missing := ticketing.Errorf(ticketing.ENotFound, "order %s not found", number)
	if !ValidNumber(number) {
		return nil, missing
	}
	o, err := s.store.GetOrder(ctx, number)
	if ticketing.IsNotFound(err) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	v := &View{Order: o, Tickets: []*ticketing.Ticket{}}
	if v.Customer, err = s.customers.GetCustomer(ctx, o.CustomerID); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	for _, id := range o.TicketIDs {
		t, err := s.core.Ticket(ctx, id)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		v.Tickets = append(v.Tickets, t)
	}
	return v, nil
}

// ForCustomer returns up to CustomerOrders of the customer's orders,
// newest first (by placed_at, else when Svar first heard of them).
func (s *Service) ForCustomer(ctx context.Context, customerID string) ([]*Order, error) {
	nums, err := s.store.CustomerOrderNumbers(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]*Order, 0, min(len(nums), CustomerOrders))
	// The newest are at the end of the list; read from there.
	for i := len(nums) - 1; i >= 0 && len(out) < 4*CustomerOrders; i-- {
		o, err := s.store.GetOrder(ctx, nums[i])
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b *Order) int { return newest(a).Compare(newest(b)) * -1 })
	if len(out) > CustomerOrders {
		out = out[:CustomerOrders]
	}
	return out, nil
}

func newest(o *Order) time.Time {
	if !o.PlacedAt.IsZero() {
		return o.PlacedAt
	}
	return o.CreatedAt
}

// Numbers lists the customer's order numbers, first linked first.
func (s *Service) Numbers(ctx context.Context, customerID string) ([]string, error) {
	return s.store.CustomerOrderNumbers(ctx, customerID)
}

// Move gives the orders with these numbers to customer to (a customer
// merge, or its undo). It is idempotent: an order already there stays.
func (s *Service) Move(ctx context.Context, numbers []string, from, to string) error {
	for _, n := range numbers {
		o, err := s.store.GetOrder(ctx, n)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.store.AddCustomerOrder(ctx, to, n); err != nil {
			return err
		}
		if o.CustomerID != to {
			o.CustomerID = to
			if err := s.store.PutOrder(ctx, o); err != nil {
				return err
			}
		}
		if err := s.store.RemoveCustomerOrder(ctx, from, n); err != nil {
			return err
		}
	}
	return nil
}
