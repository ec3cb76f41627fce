package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// errOffline is why a reply waits: nobody has the chat open.
var errOffline = errors.New("chat: the customer is not online")

const relayTimeout = 3 * time.Second

// handleOutbound delivers one agent reply on the chat channel: to every
// open socket of the customer, on whichever node holds it. When nobody is
// online it waits (durably, as a delayed redelivery of the bus) for the
// grace period and then mails the customer, or leaves the reply queued for
// the next visit when they have no email address.
func (c *Channel) handleOutbound(ctx context.Context, o *ticketing.Outbound, attempt int) error {
	m, err := c.o.Store.GetMessage(ctx, o.MessageID)
	if ticketing.IsNotFound(err) {
		c.log.Error("chat: outbound message does not exist", "message", o.MessageID)
		return fmt.Errorf("chat: outbound %s: %w", o.MessageID, err)
	}
	if err != nil {
		return ticketing.Retry(fmt.Errorf("chat: get message %s: %w", o.MessageID, err), 0)
	}
	if m.Direction == ticketing.DirectionNote {
		c.log.Error("chat: a note was queued for the customer; not sent", "message", m.ID)
		return nil
	}
	if d := m.Delivery; d != nil {
		switch {
		case d.Status == ticketing.DeliverySent || d.Status == ticketing.DeliveryDelivered:
			return nil // done already (a redelivery)
		case d.Channel == ticketing.ChannelEmail:
			return nil // carried by a fallback mail
		}
	}
	custID := o.CustomerID
	if custID == "" {
		custID = m.CustomerID
	}
	cust, err := c.o.Store.GetCustomer(ctx, custID)
	if ticketing.IsNotFound(err) {
		err = fmt.Errorf("chat: customer %s of message %s does not exist", custID, m.ID)
		c.report(ctx, m.ID, ticketing.Delivery{Status: ticketing.DeliveryFailed, Channel: ticketing.ChannelChat, Error: "customer not found"})
		return err
	}
	if err != nil {
		return ticketing.Retry(fmt.Errorf("chat: get customer %s: %w", custID, err), 0)
	}

	view := c.view(m)
	view.csatToken = m.Meta["csat_token"]
	delivered, err := c.deliverReply(ctx, cust, view)
	if delivered {
		d := ticketing.Delivery{Status: ticketing.DeliveryDelivered, Channel: ticketing.ChannelChat, UpdatedAt: time.Now()}
		if _, err := c.o.Service.ReportDelivery(ctx, m.ID, d); err != nil {
			// Redelivering shows it again; the widget drops the duplicate.
			return ticketing.Retry(fmt.Errorf("chat: report delivery of %s: %w", m.ID, err), 0)
		}
		return nil
	}
	if err != nil {
		return ticketing.Retry(err, 0)
	}

	to, ok := c.fallbackAddress(cust)
	if !ok {
		// Shown (and marked delivered) in the welcome of their next visit.
		c.log.Debug("chat: customer offline; reply kept for the next visit", "message", m.ID)
		return nil
	}
	since := o.CreatedAt
	if since.IsZero() {
		since = m.CreatedAt
	}
	if wait := c.o.FallbackGrace - time.Since(since); wait > 0 {
		return ticketing.Retry(errOffline, wait)
	}
	return c.mailFallback(ctx, o, m, cust, to)
}

// deliverReply requests every chat topic of the customer; it reports
// whether any socket anywhere took the reply. Topics that fail are only an
// error when no other took it.
func (c *Channel) deliverReply(ctx context.Context, cust *ticketing.Customer, v *messageView) (bool, error) {
	payload, err := json.Marshal(relayReply{CustomerID: cust.ID, Message: v, CSATToken: v.csatToken})
	if err != nil {
		return false, fmt.Errorf("chat: encode reply: %w", err)
	}
	var errs []error
	delivered := false
	for _, topic := range chatTopics(cust) {
		rctx, cancel := context.WithTimeout(ctx, relayTimeout)
		ok, err := c.o.Relay.Request(rctx, topic, payload)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("chat: relay %s: %w", topic, err))
		}
		delivered = delivered || ok
	}
	return delivered, errors.Join(errs...)
}

// fallbackAddress returns the address a chat reply may be mailed to.
func (c *Channel) fallbackAddress(cust *ticketing.Customer) (ticketing.Identity, bool) {
	if !c.o.EmailFallback {
		return ticketing.Identity{}, false
	}
	if _, out := cust.OptOuts[string(ticketing.ChannelEmail)]; out {
		return ticketing.Identity{}, false
	}
	var first *ticketing.Identity
	for i, id := range cust.Identities {
		if id.Kind != ticketing.IdentityEmail {
			continue
		}
		if id.Verified {
			return id, true
		}
		if first == nil {
			first = &cust.Identities[i]
		}
	}
	if first == nil {
		return ticketing.Identity{}, false
	}
	return *first, true
}

// mailFallback mails the customer, in one message, every chat reply of
// theirs that is still waiting, and records that email carries them.
//
// Batching: the oldest waiting reply leads. When its grace ends it takes
// every younger waiting reply along (the customer has been away since the
// oldest), marks them carried newest first and itself last, so a younger
// reply's own turn, which re-reads the history, either finds itself
// carried (nothing to do) or an older reply still waiting (try again in a
// moment). A burst of replies makes one mail even when their turns run at
// once on several nodes.
func (c *Channel) mailFallback(ctx context.Context, o *ticketing.Outbound, m *ticketing.Message, cust *ticketing.Customer, to ticketing.Identity) error {
	hist, err := c.o.Service.History(ctx, cust.ID, historyLimit)
	if err != nil {
		return ticketing.Retry(fmt.Errorf("chat: history of %s: %w", cust.ID, err), 0)
	}
	var waiting []*ticketing.Message
	for _, h := range hist {
		if h.ID == m.ID && !waitingForMail(h) {
			return nil // carried by an older reply's mail meanwhile
		}
		if h.ID != m.ID && waitingForMail(h) {
			waiting = append(waiting, h)
		}
	}
	batch := append([]*ticketing.Message{m}, waiting...)
	slices.SortStableFunc(batch, func(a, b *ticketing.Message) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if lead := batch[0]; lead.ID != m.ID && time.Since(m.CreatedAt) < c.o.FallbackGrace+leaderPatience {
		return ticketing.Retry(fmt.Errorf("chat: %s waits for the fallback mail led by %s", m.ID, lead.ID), followerRetry)
	}

	out := &ticketing.Outbound{
		MessageID:    m.ID,
		TicketID:     o.TicketID,
		TicketNumber: o.TicketNumber,
		CustomerID:   cust.ID,
		Channel:      ticketing.ChannelEmail,
		To:           to,
		Subject:      o.Subject,
		Text:         fallbackText(batch),
		AgentName:    o.AgentName,
		CreatedAt:    time.Now().UTC(),
		Fallback:     ticketing.ChannelChat,
		Language:     ticketing.CustomerLanguage(cust),
	}
	for _, b := range batch {
		out.Attachments = append(out.Attachments, b.Attachments...)
	}
	if err := c.o.Outbound.PublishOutbound(ctx, out); err != nil {
		return ticketing.Retry(fmt.Errorf("chat: publish fallback mail for %s: %w", m.ID, err), 0)
	}
	d := ticketing.Delivery{Status: ticketing.DeliveryQueued, Channel: ticketing.ChannelEmail, UpdatedAt: time.Now()}
	for i := len(batch) - 1; i >= 0; i-- {
		b := batch[i]
		if b.ID == m.ID {
			continue
		}
		if _, err := c.o.Service.ReportDelivery(ctx, b.ID, d); err != nil {
			// The mail is published; doing this again republishes it under
			// the same dedupe id, so it still goes out once.
			return ticketing.Retry(fmt.Errorf("chat: report fallback of %s: %w", b.ID, err), 0)
		}
	}
	if _, err := c.o.Service.ReportDelivery(ctx, m.ID, d); err != nil {
		return ticketing.Retry(fmt.Errorf("chat: report fallback of %s: %w", m.ID, err), 0)
	}
	c.log.Info("chat: customer offline; replies mailed", "customer", cust.ID, "messages", len(batch))
	return nil
}

// Batching timings: a younger reply asks again after followerRetry while
// an older one leads; after leaderPatience past its own grace it stops
// waiting and leads itself (the older reply's turn may be stuck).
const (
	followerRetry  = 3 * time.Second
	leaderPatience = 2 * time.Minute
)

// waitingForMail reports whether m is a chat reply nobody has seen that no
// fallback mail carries yet.
func waitingForMail(m *ticketing.Message) bool {
	return waitingForVisit(m) && (m.Delivery.Channel == "" || m.Delivery.Channel == ticketing.ChannelChat)
}

// fallbackText joins the replies of one fallback mail, oldest first.
func fallbackText(batch []*ticketing.Message) string {
	parts := make([]string, 0, len(batch))
	for _, m := range batch {
		t := strings.TrimSpace(m.Text)
		if len(batch) > 1 && m.Author.Name != "" {
			t = m.Author.Name + ":\n" + t
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "\n\n---\n\n")
}

func (c *Channel) report(ctx context.Context, id string, d ticketing.Delivery) {
	d.UpdatedAt = time.Now()
	if _, err := c.o.Service.ReportDelivery(ctx, id, d); err != nil {
		c.log.Warn("chat: report delivery", "message", id, "err", err)
	}
}
