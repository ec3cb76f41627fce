package ticketing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReplyInput is an agent's reply or internal note.
type ReplyInput struct {
	Text string `json:"text" validate:"max=65536"`
	// Channel picks where the reply goes; empty means the channel of the
	// customer's latest inbound message.
	Channel Channel `json:"channel" validate:"omitempty,oneof=email chat sms"`
	Note    bool    `json:"note"`
	// ClientID makes a retried request idempotent: the same agent and
	// client id store one message.
	ClientID string `json:"client_id" validate:"max=100"`
	// Render, when set, makes the reply's text from the ticket and customer
	// the reply reads anyway (a macro, package ticketing/macro), so that
	// rendering costs no extra reads; its error refuses the reply.
	Render func(t *Ticket, c *Customer) (string, error) `json:"-" validate:"-"`
	// Attachments are files already in the blob store that go out with the
	// reply (as mail attachments, chat links or MMS).
	Attachments []Attachment `json:"-" validate:"omitempty,max=10,dive"`
}

// Reply stores an agent's reply as outbound with delivery queued and puts
// it on SVAR_OUTBOUND for its channel, or stores a note that is never
// sent. The message is in the store before it is queued.
func (s *Service) Reply(ctx context.Context, ticketID string, by *Agent, in ReplyInput) (*Message, error) {
	if err := s.valid.Struct(&in); err != nil {
		return nil, err
	}
	text := strings.TrimSpace(in.Text)
	if text == "" && in.Render == nil && len(in.Attachments) == 0 {
		return nil, FieldError("text", "is empty")
	}
	t, err := s.ticket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	if err := mergedAway(ctx, s, t, "reply"); err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("reply %s: customer: %w", t.ID, err)
	}
	if in.Render != nil {
		if text, err = in.Render(t, c); err != nil {
			return nil, err
		}
		if text = strings.TrimSpace(text); text == "" {
			return nil, FieldError("text", "is empty")
		}
	}
	now := s.now().UTC()
	id := NewID()
	if in.ClientID != "" {
		sum := sha256.Sum256([]byte(by.ID + "\x00" + t.ID + "\x00" + in.ClientID))
		id = "r" + hex.EncodeToString(sum[:12])
	}
	m := &Message{
		ID: id, TicketID: t.ID, CustomerID: c.ID, Text: text,
		Author: Author{Kind: AuthorAgent, ID: by.ID, Name: by.Name}, CreatedAt: now,
		ClientID: in.ClientID, Attachments: in.Attachments,
	}
	var out *Outbound
	if in.Note {
		m.Direction = DirectionNote
		m.Channel = in.Channel
		if m.Channel == "" {
			m.Channel = t.Channel
		}
	} else {
		ch := in.Channel
		if ch == "" {
			ch = t.LastInboundChannel
		}
		if ch == "" {
			ch = c.LastInboundChannel
		}
		if ch == "" {
			ch = t.Channel
		}
		if !slices.Contains(s.sends, ch) {
			why := ""
			if in.Channel == "" {
				why = fmt.Sprintf("the customer last wrote by %s, but ", ch)
			}
			return nil, FieldError("channel", "%sreplies by %s are not set up on this Svar; pick one of: %s", why, ch, joinChannels(s.sends))
		}
		to, ok := Recipient(c, ch)
		if !ok {
			return nil, FieldError("channel", "the customer cannot be reached by %s", ch)
		}
		if reason, opted := c.OptOuts[string(ch)]; opted {
			return nil, &Error{Code: EOptedOut, Field: "channel", Message: fmt.Sprintf("channel: the customer opted out of %s (%s)", ch, reason)}
		}
		if check := s.checks[ch]; check != nil {
			meta, err := check(text)
			if err != nil {
				return nil, err
			}
			m.Meta = meta
		}
		m.Direction = DirectionOutbound
		m.Channel = ch
		m.Delivery = &Delivery{Status: DeliveryQueued, UpdatedAt: now}
		out = &Outbound{
			MessageID: m.ID, TicketID: t.ID, TicketNumber: t.Number, CustomerID: c.ID, Channel: ch, To: to,
			Subject: t.Subject, Text: text, AgentName: by.Name, CreatedAt: now, Attachments: in.Attachments,
			Language: CustomerLanguage(c),
		}
		if ch == ChannelEmail {
			out.InReplyTo, out.References = s.emailThread(ctx, t)
		}
	}

	dup, err := s.store.InsertMessages(ctx, []*Message{m})
	if err != nil {
		return nil, fmt.Errorf("reply %s: %w", t.ID, err)
	}
	if dup[0] { // a retried request: answer with what was stored
		stored, err := s.store.GetMessage(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if out != nil && stored.Delivery != nil && stored.Delivery.Status == DeliveryQueued {
			if err := s.bus.PublishOutbound(ctx, out); err != nil {
				return nil, Errorf(EUnavailable, "the reply is saved but could not be queued for delivery; try again")
			}
		}
		return stored, nil
	}

	change := TicketChange{AddMessageID: m.ID, LastMessage: now, UpdatedAt: now}
	if out != nil {
		preview := FirstLine(text, 140)
		if preview == "" && len(m.Attachments) > 0 {
			preview = "📎 " + m.Attachments[0].Filename
		}
		change.Preview = &preview
		change.LastOutbound = now
	}
	t, err = s.store.ApplyToTicket(ctx, t.ID, change)
	if err != nil {
		return nil, fmt.Errorf("reply %s: ticket: %w", m.TicketID, err)
	}
	if out != nil {
		if err := s.bus.PublishOutbound(ctx, out); err != nil {
			s.log.Error("queue reply", "message", m.ID, "err", err)
			return nil, Errorf(EUnavailable, "the reply is saved but could not be queued for delivery; try again")
		}
	}
	s.publish(ctx, &Event{Type: EventMessageCreated, Ticket: t, Message: m}, &Event{Type: EventTicketUpdated, Ticket: t})
	return m, nil
}

// Recipient returns the identity a reply on ch goes to.
func Recipient(c *Customer, ch Channel) (Identity, bool) {
	switch ch {
	case ChannelEmail:
		return c.Identity(IdentityEmail)
	case ChannelSMS:
		for _, id := range c.Identities {
			if id.Kind == IdentityPhone && strings.HasPrefix(id.Value, "+") {
				return id, true
			}
		}
	case ChannelChat:
		if id, ok := c.Identity(IdentityExternal); ok && id.Verified {
			return id, true
		}
		return c.Identity(IdentityChat)
	}
	return Identity{}, false
}

// maxReferences bounds a reply's References: the thread's first mail and
// its latest ones, as RFC 5322 suggests when a chain grows long.
const maxReferences = 11

// emailThread returns In-Reply-To and References for a reply: the
// customer's latest mail, and the thread's whole chain (what the first
// mail referenced, then every mail of the ticket in and out, oldest
// first), bounded to the first and the latest ten.
func (s *Service) emailThread(ctx context.Context, t *Ticket) (string, []string) {
	ids := t.MessageIDs
	if len(ids) > 24 { // the first few and the latest: enough for the bound
		ids = append(append([]string(nil), ids[:4]...), ids[len(ids)-20:]...)
	}
	msgs, err := s.store.GetMessages(ctx, ids)
	if err != nil {
		s.log.Warn("reply threading", "ticket", t.ID, "err", err)
		return "", nil
	}
	var chain []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			chain = append(chain, id)
		}
	}
	inReplyTo := ""
	for _, m := range msgs {
		if m.Channel != ChannelEmail {
			continue
		}
		switch {
		case m.Direction == DirectionInbound && m.Meta["message_id"] != "":
			if len(chain) == 0 {
				for _, r := range strings.Fields(m.Meta["references"]) {
					add(r)
				}
				add(m.Meta["in_reply_to"])
			}
			add(m.Meta["message_id"])
			inReplyTo = m.Meta["message_id"]
		case m.Direction == DirectionOutbound && m.Delivery != nil && m.Delivery.ProviderID != "" &&
			(m.Delivery.Channel == "" || m.Delivery.Channel == ChannelEmail):
			add(m.Delivery.ProviderID)
		}
	}
	if inReplyTo == "" {
		return "", nil
	}
	if len(chain) > maxReferences {
		chain = append(chain[:1], chain[len(chain)-(maxReferences-1):]...)
	}
	return inReplyTo, chain
}

// UpdateTicket changes a ticket's status, assignee, priority, type or tags.
func (s *Service) UpdateTicket(ctx context.Context, id string, by *Agent, u TicketUpdate) (*Ticket, error) {
	if err := s.valid.Struct(&u); err != nil {
		return nil, err
	}
	t, err := s.ticket(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Status != nil && *u.Status != t.Status {
		if err := mergedAway(ctx, s, t, "change the status"); err != nil {
			return nil, err
		}
	}
	if u.AssigneeID != nil && *u.AssigneeID != "" {
		if _, err := s.store.GetAgent(ctx, *u.AssigneeID); IsNotFound(err) {
			return nil, FieldError("assignee_id", "no agent has id %q", *u.AssigneeID)
		} else if err != nil {
			return nil, err
		}
	}
	now := s.now().UTC()
	change := TicketChange{Status: u.Status, AssigneeID: u.AssigneeID, Priority: u.Priority, Type: u.Type,
		TeamID: u.TeamID, AssignmentReason: u.AssignmentReason, UpdatedAt: now}
	if u.AssigneeID != nil && u.AssignmentReason == nil && *u.AssigneeID != t.AssigneeID {
		reason := "manual"
		if by != nil {
			reason = "manual: " + by.Name
		}
		change.AssignmentReason = &reason
	}
	if u.Tags != nil {
		tags := normalizeTags(*u.Tags)
		change.Tags = &tags
	}
	if u.Status != nil {
		solved := time.Time{}
		if *u.Status == StatusSolved || *u.Status == StatusClosed {
			solved = now
			if !t.SolvedAt.IsZero() && *u.Status == StatusClosed {
				solved = t.SolvedAt
			}
		}
		change.SolvedAt = &solved
	}
	before := t.AssigneeID
	t, err = s.store.ApplyToTicket(ctx, t.ID, change)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	if u.AssigneeID != nil && u.AssignmentReason == nil && t.AssigneeID != "" && t.AssigneeID != before &&
		(by == nil || by.ID != t.AssigneeID) {
		// Given a ticket by someone else: the assignee hears of it, as
		// from auto-assignment.
		s.Notify(ctx, t.AssigneeID, "", &Notification{ID: fmt.Sprintf("assigned-%s-%d", t.ID, t.Version),
			Kind: NotifyAssigned, TicketID: t.ID, Text: fmt.Sprintf("#%d %s", t.Number, t.Subject)})
	}
	return t, nil
}

func normalizeTags(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// ReportDelivery records an adapter's delivery report on an outbound
// message and tells the consoles.
func (s *Service) ReportDelivery(ctx context.Context, messageID string, d Delivery) (*Message, error) {
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = s.now().UTC()
	}
	m, err := s.store.SetDelivery(ctx, messageID, d)
	if IsNotFound(err) {
		return nil, Errorf(ENotFound, "message %s not found", messageID)
	}
	if err != nil {
		return nil, fmt.Errorf("report delivery %s: %w", messageID, err)
	}
	s.publish(ctx, &Event{Type: EventMessageUpdated, Message: m})
	return m, nil
}

// GetMessage returns a stored message.
func (s *Service) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := s.store.GetMessage(ctx, id)
	if IsNotFound(err) {
		return nil, Errorf(ENotFound, "message %s not found", id)
	}
	return m, err
}

// Assignment is a decision of auto-assignment or routing; nil fields are
// left alone.
type Assignment struct {
	TeamID     *string
	AssigneeID *string
	Reason     string
}

// Assign records an assignment decision in one write, without the checks
// UpdateTicket makes for agents' input: the caller (ticketing/assign)
// knows the team and the agent exist. ticket.updated carries the result.
func (s *Service) Assign(ctx context.Context, id string, a Assignment) (*Ticket, error) {
	reason := a.Reason
	t, err := s.store.ApplyToTicket(ctx, id, TicketChange{TeamID: a.TeamID, AssigneeID: a.AssigneeID,
		AssignmentReason: &reason, UpdatedAt: s.now().UTC()})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, &Event{Type: EventTicketUpdated, Ticket: t})
	return t, nil
}

// allChannels are the channels in the order pickers offer them.
var allChannels = []Channel{ChannelEmail, ChannelChat, ChannelSMS}

// replyChannels orders the configured channels; nil means all.
func replyChannels(cs []Channel) []Channel {
	if cs == nil {
		return slices.Clone(allChannels)
	}
	out := []Channel{}
	for _, ch := range allChannels {
		if slices.Contains(cs, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// ReplyChannels returns the channels replies can go out on here: the
// configured adapters. A reply on another is refused with a field error.
func (s *Service) ReplyChannels() []Channel { return slices.Clone(s.sends) }

func joinChannels(cs []Channel) string {
	if len(cs) == 0 {
		return "(none)"
	}
	names := make([]string, len(cs))
	for i, ch := range cs {
		names[i] = string(ch)
	}
	return strings.Join(names, ", ")
}

// mergedAway refuses to act on a ticket that was merged into another,
// naming the ticket that holds its conversation now.
func mergedAway(ctx context.Context, s *Service, t *Ticket, what string) error {
	if t.MergedInto == "" {
		return nil
	}
	target := t.MergedInto
	if into, err := s.store.GetTicket(ctx, t.MergedInto); err == nil {
		target = fmt.Sprintf("#%d (%s)", into.Number, into.ID)
	}
	return &Error{Code: EConflict, Field: "merged_into",
		Message: fmt.Sprintf("ticket #%d was merged into ticket %s: %s there", t.Number, target, what)}
}
