package ticketing

import (
	"context"
	"fmt"
	"time"
)

// Notification kinds.
const (
	NotificationMention  = "mention"
	NotificationAssigned = "assigned"
	NotificationSLA      = "sla"
)

// Notification tells an agent that something needs them. It travels as an
// EventNotification event on SVAR_EVENTS; realtime pushes it only to the
// consoles of AgentID (all consoles when AgentID is empty and TeamID names
// the team, until team membership is known to realtime). Its ID is
// deterministic for its cause, so a redelivered job repeats the same id
// and a store of notifications keeps one.
type Notification struct {
	ID       string    `json:"id" bson:"_id"`
	Kind     string    `json:"kind" bson:"kind"`
	TicketID string    `json:"ticket_id" bson:"ticket_id"`
	Text     string    `json:"text" bson:"text"`
	At       time.Time `json:"at" bson:"at"`
	AgentID  string    `json:"agent_id,omitempty" bson:"agent_id,omitempty"`
	TeamID   string    `json:"team_id,omitempty" bson:"team_id,omitempty"`
}

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

// Notify publishes a notification event.
func (s *Service) Notify(ctx context.Context, n *Notification) {
	if n.At.IsZero() {
		n.At = s.now().UTC()
	}
	s.publish(ctx, &Event{Type: EventNotification, Notification: n})
}
