package ticketing

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CSAT is a customer's answer to the satisfaction survey of a ticket
// (ticketing/csat asks and records; the core only keeps it).
type CSAT struct {
	Score   int       `json:"score" bson:"score"`
	Comment string    `json:"comment,omitempty" bson:"comment,omitempty"`
	At      time.Time `json:"at" bson:"at"`
	Channel Channel   `json:"channel" bson:"channel"`
}

// SetCSAT stores the survey answer on ticket id (replacing an earlier
// one) and tells everyone with ticket.updated. It neither reopens the
// ticket nor counts as a message.
func (s *Service) SetCSAT(ctx context.Context, id string, c CSAT) (*Ticket, error) {
	now := s.now().UTC()
	t, err := s.store.ApplyToTicket(ctx, id, TicketChange{CSAT: &c, UpdatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("set csat %s: %w", id, err)
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	return t, nil
}

// SystemMessage is a message Svar itself sends (SystemReply is the
// plain-text form) a customer on a ticket: a
// survey, an automatic reply.
type SystemMessage struct {
	// ID makes sending idempotent: the same id stores and queues once.
	ID      string
	Channel Channel
	Text    string
	// HTML is the mail's HTML part (email only); empty: made from Text.
	HTML string
	Meta map[string]string
}

// SendSystem stores m on ticket id as an outbound message by the system
// (author kind "system", Auto) and queues it on its channel. It does not
// count as an agent's reply (LastOutbound is left alone) and never
// reopens the ticket. A redelivered m.ID queues the stored message again
// only while it is still queued.
func (s *Service) SendSystem(ctx context.Context, id string, m SystemMessage) (*Message, error) {
	m.Text = strings.TrimSpace(m.Text)
	if m.Text == "" {
		return nil, FieldError("text", "is empty")
	}
	t, err := s.ticket(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("system message %s: customer: %w", t.ID, err)
	}
	to, ok := Recipient(c, m.Channel)
	if !ok {
		return nil, FieldError("channel", "the customer cannot be reached by %s", m.Channel)
	}
	if reason, opted := c.OptOuts[string(m.Channel)]; opted {
		return nil, &Error{Code: EOptedOut, Field: "channel", Message: fmt.Sprintf("channel: the customer opted out of %s (%s)", m.Channel, reason)}
	}
	now := s.now().UTC()
	msg := &Message{
		ID: m.ID, TicketID: t.ID, CustomerID: c.ID, Direction: DirectionOutbound, Channel: m.Channel,
		Text: m.Text, Author: Author{Kind: AuthorSystem, Name: "Svar"}, CreatedAt: now, Auto: true, Meta: m.Meta,
		Delivery: &Delivery{Status: DeliveryQueued, UpdatedAt: now},
	}
	if check := s.checks[m.Channel]; check != nil {
		meta, err := check(m.Text)
		if err != nil {
			return nil, err
		}
		for k, v := range meta {
			if msg.Meta == nil {
				msg.Meta = map[string]string{}
			}
			msg.Meta[k] = v
		}
	}
	out := &Outbound{
		MessageID: msg.ID, TicketID: t.ID, TicketNumber: t.Number, CustomerID: c.ID, Channel: m.Channel, To: to,
		Subject: t.Subject, Text: m.Text, HTML: m.HTML, Auto: true, CreatedAt: now,
	}
	if m.Channel == ChannelEmail {
		out.InReplyTo, out.References = s.emailThread(ctx, t)
	}
	dup, err := s.store.InsertMessages(ctx, []*Message{msg})
	if err != nil {
		return nil, fmt.Errorf("system message %s: %w", t.ID, err)
	}
	if dup[0] {
		stored, err := s.store.GetMessage(ctx, msg.ID)
		if err != nil {
			return nil, err
		}
		if stored.Delivery != nil && stored.Delivery.Status == DeliveryQueued {
			if err := s.bus.PublishOutbound(ctx, out); err != nil {
				return nil, Errorf(EUnavailable, "system message saved but not queued; try again")
			}
		}
		// A crash between the insert and the ticket change: finish it.
		if _, err := s.store.ApplyToTicket(ctx, t.ID, TicketChange{AddMessageID: stored.ID}); err != nil {
			return nil, err
		}
		return stored, nil
	}
	t, err = s.store.ApplyToTicket(ctx, t.ID, TicketChange{AddMessageID: msg.ID, LastMessage: now, UpdatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("system message %s: ticket: %w", id, err)
	}
	if err := s.bus.PublishOutbound(ctx, out); err != nil {
		return nil, Errorf(EUnavailable, "system message saved but not queued; try again")
	}
	s.publish(ctx, &Event{Type: EventMessageCreated, Ticket: t, Message: msg}, &Event{Type: EventTicketUpdated, Ticket: t})
	return msg, nil
}
