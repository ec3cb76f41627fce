package ticketing

import "context"

// SystemReply stores an automatic reply (author kind "system", Auto) with
// the given id on a ticket and queues it on ch, as Reply does for agents.
// It does not count as an agent's reply: LastOutbound stays, and SLA
// clocks keep running. The id makes it idempotent: a message with that id
// already stored is returned as it is, queued again if it is still queued.
// A customer who opted out of ch, or cannot be reached on it, gets nothing
// (EOptedOut, EInvalid).
func (s *Service) SystemReply(ctx context.Context, ticketID, id string, ch Channel, text string) (*Message, error) {
	return s.SendSystem(ctx, ticketID, SystemMessage{ID: id, Channel: ch, Text: text})
}
