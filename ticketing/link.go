package ticketing

import (
	"context"
	"slices"
)

// CustomerFor returns the customer that owns id, creating a customer that
// owns it when nobody does (as a first message from it would). Packages
// that learn of customers from elsewhere (the shop's orders) use it.
func (s *Service) CustomerFor(ctx context.Context, id Identity) (*Customer, error) {
	if err := s.valid.Struct(&id); err != nil {
		return nil, err
	}
	return s.resolveCustomer(ctx, &Envelope{From: id})
}

// LinkOrder adds an order number to the ticket's OrderNumbers and
// publishes ticket.updated. Linking a number the ticket has changes
// nothing. Whether the order is the ticket's customer's is the caller's
// check (ticketing/order).
func (s *Service) LinkOrder(ctx context.Context, ticketID, number string) (*Ticket, error) {
	t, err := s.store.GetTicket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	if slices.Contains(t.OrderNumbers, number) {
		return t, nil
	}
	t, err = s.store.ApplyToTicket(ctx, ticketID, TicketChange{AddOrderNumber: number, UpdatedAt: s.now().UTC()})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	return t, nil
}

// MoveTicket gives the ticket to another customer (a customer merge or
// its undo) and publishes ticket.updated. Moving it where it is changes
// nothing.
func (s *Service) MoveTicket(ctx context.Context, ticketID, customerID string) (*Ticket, error) {
	t, err := s.store.GetTicket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	if t.CustomerID == customerID {
		return t, nil
	}
	t, err = s.store.ApplyToTicket(ctx, ticketID, TicketChange{CustomerID: &customerID, UpdatedAt: s.now().UTC()})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	return t, nil
}

// CustomersChanged tells every node (and this one at once) that these
// customers changed as a whole, identities included.
func (s *Service) CustomersChanged(ctx context.Context, cs ...*Customer) {
	for _, c := range cs {
		for _, id := range c.Identities {
			s.identities.put(id.Key(), c.ID)
		}
		s.remember(c)
		s.publish(ctx, &Event{Type: EventCustomerUpdated, Customer: c})
	}
}
