package ticketing

import "time"

// Event types published on svar.events.<type>.
const (
	EventTicketCreated   = "ticket.created"
	EventTicketUpdated   = "ticket.updated"
	EventMessageCreated  = "message.created"
	EventMessageUpdated  = "message.updated"
	EventCustomerUpdated = "customer.updated"
	// EventNotification carries a Notification for one agent (or, with no
	// AgentID, for the consoles that show the team's notifications).
	EventNotification = "notification"
)

// Event is a change that agents' consoles, chat sessions and read models
// hear about. Events are at-least-once: consumers apply them idempotently,
// keeping the newest Ticket.Version.
type Event struct {
	Type     string    `json:"type"`
	Ticket   *Ticket   `json:"ticket,omitempty"`
	Message  *Message  `json:"message,omitempty"`
	Customer *Customer `json:"customer,omitempty"`
	// Notification is set on EventNotification events.
	Notification *Notification `json:"notification,omitempty"`
	At           time.Time     `json:"at"`
	// Seq is the event's sequence in the events stream, set on delivery; a
	// console that reconnects asks for what came after the last Seq it saw.
	Seq uint64 `json:"seq,omitempty"`
}
