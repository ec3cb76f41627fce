package ticketing

import (
	"context"
	"fmt"
)

// SetSLA replaces a ticket's response clocks and tells everyone with
// ticket.updated. ticketing/sla calls it; the core does not compute SLAs.
func (s *Service) SetSLA(ctx context.Context, ticketID string, st *SLAState) (*Ticket, error) {
	if st == nil {
		st = &SLAState{}
	}
	if st.Breaches == nil {
		st.Breaches = []string{}
	}
	t, err := s.store.ApplyToTicket(ctx, ticketID, TicketChange{SLA: st})
	if err != nil {
		return nil, fmt.Errorf("set sla %s: %w", ticketID, err)
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	return t, nil
}

// Notify publishes a notification event for an agent (agentID) or, with
// no agent, for the members of a team (teamID; the notifications package
// addresses each member).
func (s *Service) Notify(ctx context.Context, agentID, teamID string, n *Notification) {
	if n.At.IsZero() {
		n.At = s.now().UTC()
	}
	s.publish(ctx, &Event{Type: EventNotification, AgentID: agentID, TeamID: teamID, Notification: n})
}
