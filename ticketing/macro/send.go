package macro

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// appliedKey is the state document that records that a macro reply's
// actions were applied, so that a retried request (same client_id, same
// message) applies them once.
func appliedKey(messageID string) string { return "macro:applied:" + messageID }

type appliedMark struct {
	MacroID string    `bson:"macro_id"`
	At      time.Time `bson:"at"`
}

// Send sends macro macroID as a reply (or note) on ticketID and then
// applies its actions. Without in.Text the macro's text is rendered in the
// customer's language; with it (the agent edited the preview) that text is
// sent, its placeholders filled. A placeholder that cannot be filled and
// has no default refuses the reply before anything is stored. The actions
// are applied once per message: a request retried with the same client_id
// stores one message and changes the ticket once.
func (s *Service) Send(ctx context.Context, ticketID string, by *ticketing.Agent, in ticketing.ReplyInput, macroID string) (*ticketing.Message, error) {
	m, err := s.use(ctx, by, macroID)
	if ticketing.IsNotFound(err) {
		return nil, ticketing.FieldError("macro_id", "no macro %q", macroID)
	}
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Text) == "" {
		// Render runs inside Core.Reply, within this request's ctx.
		in.Render = func(t *ticketing.Ticket, c *ticketing.Customer) (string, error) {
			v, err := s.values(ctx, t, c, by)
			if err != nil {
				return "", err
			}
			return m.render(s, v, c)
		}
	} else if strings.Contains(in.Text, "{{") {
		tpl, err := Parse("text", in.Text)
		if err != nil {
			return nil, err
		}
		in.Render = func(t *ticketing.Ticket, c *ticketing.Customer) (string, error) {
			v, err := s.values(ctx, t, c, by)
			if err != nil {
				return "", err
			}
			return tpl.Render(v)
		}
	}
	msg, err := s.o.Core.Reply(ctx, ticketID, by, in)
	if err != nil {
		return nil, err
	}
	if m.Actions.Empty() {
		return msg, nil
	}
	var mark appliedMark
	switch err := s.o.State.GetState(ctx, appliedKey(msg.ID), &mark); {
	case err == nil:
		return msg, nil // a retry: applied already
	case !ticketing.IsNotFound(err):
		return nil, fmt.Errorf("macro %s: read applied mark: %w", m.ID, err)
	}
	// Apply, then mark: a crash in between applies the same values again
	// on the retry, which changes nothing; marking first could lose them.
	if err := s.applyActions(ctx, msg.TicketID, by, m.Actions); err != nil {
		var de *ticketing.Error
		if ok := asDomain(err, &de); ok && de.Code == ticketing.EInvalid {
			return nil, &ticketing.Error{Code: ticketing.EInvalid, Field: "macro_id",
				Message: "macro_id: the reply was sent but the macro's actions could not be applied: " + de.Message}
		}
		return nil, ticketing.Errorf(ticketing.EUnavailable,
			"the reply was sent but the macro's actions were not applied; send again with the same client_id to apply them")
	}
	if err := s.o.State.PutState(ctx, appliedKey(msg.ID), appliedMark{MacroID: m.ID, At: s.o.Now().UTC()}); err != nil {
		return nil, ticketing.Errorf(ticketing.EUnavailable, "the reply was sent and the actions applied, but not recorded; try again")
	}
	return msg, nil
}

func (s *Service) applyActions(ctx context.Context, ticketID string, by *ticketing.Agent, a Actions) error {
	var u ticketing.TicketUpdate
	if a.Status != "" {
		u.Status = &a.Status
	}
	if a.Priority != "" {
		u.Priority = &a.Priority
	}
	if a.Type != "" {
		u.Type = &a.Type
	}
	if a.TeamID != "" {
		u.TeamID = &a.TeamID
	}
	if a.AssigneeID != "" {
		id := a.AssigneeID
		if id == "me" {
			id = by.ID
		}
		u.AssigneeID = &id
	}
	if len(a.TagsAdd) > 0 || len(a.TagsRemove) > 0 {
		t, err := s.o.Tickets.GetTicket(ctx, ticketID)
		if err != nil {
			return err
		}
		tags := ApplyTags(t.Tags, a.TagsAdd, a.TagsRemove)
		u.Tags = &tags
	}
	_, err := s.o.Core.UpdateTicket(ctx, ticketID, by, u)
	return err
}

// ApplyTags returns tags with add added and remove removed (lower-cased,
// each once, in order).
func ApplyTags(tags, add, remove []string) []string {
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	out := []string{}
	for _, t := range append(slices.Clone(tags), add...) {
		t = norm(t)
		if t == "" || slices.Contains(out, t) || slices.ContainsFunc(remove, func(r string) bool { return norm(r) == t }) {
			continue
		}
		out = append(out, t)
	}
	return out
}
