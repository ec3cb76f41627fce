package ticketing

import "time"

// Event types published on svar.events.<type>.
const (
	EventTicketCreated   = "ticket.created"
	EventTicketUpdated   = "ticket.updated"
	EventMessageCreated  = "message.created"
	EventMessageUpdated  = "message.updated"
	EventCustomerUpdated = "customer.updated"
	// EventCustomerErased carries only the erased customer's id
	// (ticketing/gdpr): nodes forget it from their caches.
	EventCustomerErased = "customer.erased"
	// EventAgentAvailability: an agent's availability may have changed
	// (Event.AgentID, Event.Availability); assignment reacts to it.
	EventAgentAvailability = "agent.availability"
	// EventNotification is for one agent (Event.AgentID) or every member
	// of a team (Event.TeamID): Event.Notification. Any package may
	// publish one (ticketing/sla publishes kind "sla"); the notifications
	// package stores it per agent and the console shows it.
	EventNotification = "notification"
)

// Notification kinds.
const (
	NotifyMention  = "mention"
	NotifyAssigned = "assigned"
	NotifySLA      = "sla"
)

// Notification tells an agent about something that needs them.
type Notification struct {
	ID       string    `json:"id" bson:"id"`
	Kind     string    `json:"kind" bson:"kind"` // mention, assigned or sla
	TicketID string    `json:"ticket_id" bson:"ticket_id"`
	Text     string    `json:"text" bson:"text"`
	At       time.Time `json:"at" bson:"at"`
	Read     bool      `json:"read" bson:"read"`
}

// Event is a change that agents' consoles, chat sessions and read models
// hear about. Events are at-least-once: consumers apply them idempotently,
// keeping the newest Ticket.Version.
type Event struct {
	Type     string    `json:"type"`
	Ticket   *Ticket   `json:"ticket,omitempty"`
	Message  *Message  `json:"message,omitempty"`
	Customer *Customer `json:"customer,omitempty"`
	At       time.Time `json:"at"`
	// AgentID, TeamID, Availability and Notification are set on agent
	// and notification events.
	AgentID      string        `json:"agent_id,omitempty"`
	TeamID       string        `json:"team_id,omitempty"`
	Availability string        `json:"availability,omitempty"`
	Notification *Notification `json:"notification,omitempty"`
	// Seq is the event's sequence in the events stream, set on delivery; a
	// console that reconnects asks for what came after the last Seq it saw.
	Seq uint64 `json:"seq,omitempty"`
}
