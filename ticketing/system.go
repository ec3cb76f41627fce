package ticketing

import (
	"context"
	"fmt"
	"strings"
)

// SystemReply stores an automatic reply (author kind "system", Auto) with
// the given id on a ticket and queues it on ch, as Reply does for agents.
// It does not count as an agent's reply: LastOutbound stays, and SLA
// clocks keep running. The id makes it idempotent: a message with that id
// already stored is returned as it is, queued again if it is still queued.
// A customer who opted out of ch, or cannot be reached on it, gets nothing
// (EOptedOut, EInvalid).
func (s *Service) SystemReply(ctx context.Context, ticketID, id string, ch Channel, text string) (*Message, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, FieldError("text", "is empty")
	}
	t, err := s.ticket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("system reply %s: customer: %w", t.ID, err)
	}
	to, ok := Recipient(c, ch)
	if !ok {
		return nil, FieldError("channel", "the customer cannot be reached by %s", ch)
	}
	if reason, opted := c.OptOuts[string(ch)]; opted {
		return nil, &Error{Code: EOptedOut, Field: "channel", Message: fmt.Sprintf("channel: the customer opted out of %s (%s)", ch, reason)}
	}
	now := s.now().UTC()
	m := &Message{ID: id, TicketID: t.ID, CustomerID: c.ID, Direction: DirectionOutbound, Channel: ch, Text: text,
		Author: Author{Kind: AuthorSystem, Name: "Svar"}, CreatedAt: now, Auto: true,
		Delivery: &Delivery{Status: DeliveryQueued, UpdatedAt: now}}
	out := &Outbound{MessageID: m.ID, TicketID: t.ID, TicketNumber: t.Number, CustomerID: c.ID, Channel: ch, To: to,
		Subject: t.Subject, Text: text, Auto: true, CreatedAt: now}
	if ch == ChannelEmail {
		out.InReplyTo, out.References = s.emailThread(ctx, t)
	}
	dup, err := s.store.InsertMessages(ctx, []*Message{m})
	if err != nil {
		return nil, fmt.Errorf("system reply %s: %w", t.ID, err)
	}
	if dup[0] {
		stored, err := s.store.GetMessage(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if stored.Delivery != nil && stored.Delivery.Status == DeliveryQueued {
			if err := s.bus.PublishOutbound(ctx, out); err != nil {
				return nil, err
			}
		}
		if _, err := s.store.ApplyToTicket(ctx, t.ID, TicketChange{AddMessageID: m.ID}); err != nil {
			return nil, err
		}
		return stored, nil
	}
	t, err = s.store.ApplyToTicket(ctx, t.ID, TicketChange{AddMessageID: m.ID, LastMessage: now, UpdatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("system reply %s: ticket: %w", t.ID, err)
	}
	if err := s.bus.PublishOutbound(ctx, out); err != nil {
		return nil, Errorf(EUnavailable, "the automatic reply is saved but could not be queued: %v", err)
	}
	s.publish(ctx, &Event{Type: EventMessageCreated, Ticket: t, Message: m}, &Event{Type: EventTicketUpdated, Ticket: t})
	return m, nil
}
