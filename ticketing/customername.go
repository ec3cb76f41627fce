package ticketing

import "context"

// maxNamedTickets bounds how many of a customer's latest tickets a new
// name is carried to.
const maxNamedTickets = 20

// nameTickets carries a customer's name to the tickets that show it in
// lists and search: their current ticket and their other live (open or
// pending) tickets among the latest few. Each change is an _id-keyed write
// and emits ticket.updated. Solved and closed tickets keep the name they
// had. A failure is logged: the customer is already renamed, and the next
// rename or message tries again.
func (s *Service) nameTickets(ctx context.Context, c *Customer) {
	if c == nil || c.Name == "" {
		return
	}
	ids := c.TicketIDs
	if len(ids) > maxNamedTickets {
		ids = ids[len(ids)-maxNamedTickets:]
	}
	if c.CurrentTicketID != "" && !containsString(ids, c.CurrentTicketID) {
		ids = append(ids, c.CurrentTicketID)
	}
	name := c.Name
	for _, id := range ids {
		t, err := s.store.GetTicket(ctx, id)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			s.log.Warn("name tickets: read ticket", "ticket", id, "err", err)
			return
		}
		if t.CustomerName == name || t.CustomerID != c.ID || (t.ID != c.CurrentTicketID && !t.Live()) {
			continue
		}
		t, err = s.store.ApplyToTicket(ctx, id, TicketChange{CustomerName: &name, UpdatedAt: s.now().UTC()})
		if err != nil {
			s.log.Warn("name tickets: rename", "ticket", id, "err", err)
			return
		}
		s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
