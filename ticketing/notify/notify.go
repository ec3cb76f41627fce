// Package notify keeps each agent's notifications (assigned to you,
// @mentions in notes, SLA alarms): it reads notification events from the
// events stream on one durable consumer shared by every node, stores each
// agent's newest notifications in one _id-keyed document, and turns
// @mentions in notes into notification events. The live socket delivers a
// notification event only to its agent (package realtime).
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// keep is how many notifications an agent's list holds.
const keep = 100

// Store keeps the lists.
type Store interface {
	ticketing.StateStore
	ListAgents(ctx context.Context) ([]*ticketing.Agent, error)
}

// Service stores and lists notifications.
type Service struct {
	store Store
	bus   ticketing.EventPublisher
	now   func() time.Time
}

// New returns a Service.
func New(store Store, bus ticketing.EventPublisher) *Service {
	return &Service{store: store, bus: bus, now: time.Now}
}

type list struct {
	Items []ticketing.Notification `bson:"items"`
}

func key(agentID string) string { return "notify:" + agentID }

// ID is a notification's id derived from what caused it, so a redelivered
// cause stores it once.
func ID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}

// Publish sends n to agentID (stored and pushed live by the consumer).
func (s *Service) Publish(ctx context.Context, agentID string, n ticketing.Notification) error {
	if n.At.IsZero() {
		n.At = s.now().UTC()
	}
	return s.bus.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventNotification, AgentID: agentID,
		Notification: &n, At: n.At})
}

var mentionRE = regexp.MustCompile(`@([\p{L}\p{N}._-]+)`)

// Handle is the durable consumer's handler (notification and
// message.created events; one at a time across nodes).
func (s *Service) Handle(ctx context.Context, ev *ticketing.Event) error {
	switch {
	case ev.Type == ticketing.EventNotification && ev.Notification != nil && ev.AgentID != "":
		return s.store1(ctx, ev.AgentID, *ev.Notification)
	case ev.Type == ticketing.EventMessageCreated && ev.Message != nil && ev.Message.Direction == ticketing.DirectionNote:
		return s.mentions(ctx, ev.Message)
	}
	return nil
}

func (s *Service) store1(ctx context.Context, agentID string, n ticketing.Notification) error {
	var l list
	if err := s.store.GetState(ctx, key(agentID), &l); err != nil && !ticketing.IsNotFound(err) {
		return err
	}
	if slices.ContainsFunc(l.Items, func(o ticketing.Notification) bool { return o.ID == n.ID }) {
		return nil
	}
	l.Items = append([]ticketing.Notification{n}, l.Items...)
	if len(l.Items) > keep {
		l.Items = l.Items[:keep]
	}
	return s.store.PutState(ctx, key(agentID), l)
}

// mentions notifies every agent a note names as @name (their name without
// spaces, or its first word, or their email's local part; case ignored).
func (s *Service) mentions(ctx context.Context, m *ticketing.Message) error {
	found := mentionRE.FindAllStringSubmatch(m.Text, 20)
	if len(found) == 0 {
		return nil
	}
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return err
	}
	text := m.Text
	if len(text) > 200 {
		text = text[:200]
	}
	for _, a := range agents {
		if !a.Active || a.ID == m.Author.ID {
			continue
		}
		for _, f := range found {
			if matches(a, f[1]) {
				n := ticketing.Notification{ID: ID("mention", m.ID, a.ID), Kind: ticketing.NotifyMention,
					TicketID: m.TicketID, Text: m.Author.Name + ": " + text, At: m.CreatedAt}
				if err := s.Publish(ctx, a.ID, n); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func matches(a *ticketing.Agent, name string) bool {
	name = strings.ToLower(strings.TrimRight(name, "._-"))
	full := strings.ToLower(strings.ReplaceAll(a.Name, " ", ""))
	first, _, _ := strings.Cut(strings.ToLower(a.Name), " ")
	local, _, _ := strings.Cut(a.Email, "@")
	return name != "" && (name == full || name == first || name == strings.ToLower(local))
}

// List returns the agent's notifications, newest first, and how many are
// unread.
func (s *Service) List(ctx context.Context, agentID string) ([]ticketing.Notification, int, error) {
	var l list
	if err := s.store.GetState(ctx, key(agentID), &l); err != nil && !ticketing.IsNotFound(err) {
		return nil, 0, err
	}
	unread := 0
	for _, n := range l.Items {
		if !n.Read {
			unread++
		}
	}
	if l.Items == nil {
		l.Items = []ticketing.Notification{}
	}
	return l.Items, unread, nil
}

// MarkRead marks the given notifications (all when ids is empty) read.
func (s *Service) MarkRead(ctx context.Context, agentID string, ids []string) error {
	var l list
	if err := s.store.GetState(ctx, key(agentID), &l); err != nil {
		if ticketing.IsNotFound(err) {
			return nil
		}
		return err
	}
	for i := range l.Items {
		if len(ids) == 0 || slices.Contains(ids, l.Items[i].ID) {
			l.Items[i].Read = true
		}
	}
	return s.store.PutState(ctx, key(agentID), l)
}
