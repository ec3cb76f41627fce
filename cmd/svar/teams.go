package main

import (
	"context"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/assign"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/notify"
)

// teamsParts are the team workflow's parts of a node.
type teamsParts struct {
	assigner *assign.Assigner
	notify   *notify.Service
}

// Durable consumers of the team workflow.
const (
	consumerAssign   = "svar-assign"
	consumerHandBack = "svar-assign-handback"
	consumerNotify   = "svar-notify"
)

// startTeams wires assignment: its model from the inbox at seq, and the
// decision and hand-back consumers. Call it after LoadInbox and before
// the events subscription starts.
func (m *Main) startTeams(ctx context.Context, seq uint64) {
	m.teams.notify = notify.New(m.Store, m.Bus)
	a := assign.New(assign.Options{Core: m.Service, Directory: m.Staff, Presence: m.Hub, Bus: m.Bus, Store: m.Store,
		HandBackAfter: m.Config.HandBackAfter, Notify: m.teams.notify.Publish, Logger: m.logger().With("component", "assign")})
	m.teams.assigner = a
	m.Staff.OnViewChange(a.Invalidate)
	if err := m.eachTicket(ctx, func(t *ticketing.Ticket) { a.Model().Apply(t, t.UpdatedAt) }); err != nil {
		m.logger().Warn("assign: load tickets", "err", err)
	}
	a.Model().SetApplied(seq)
	// The model has an events subscription of its own: a decision waits
	// until the model has applied every stored event, and behind the live
	// hub's fan-out that wait grew with the traffic.
	m.goRun("assign model", func() error {
		return m.Bus.SubscribeEvents(ctx, seq, a.Model().ApplyEvent)
	})
	m.goRun("assign", func() error {
		return m.Bus.ConsumeEventWork(ctx, natsbus.EventWork{Name: consumerAssign,
			Types: []string{"ticket.>", "agent.>"}, MaxAckPending: 1}, a.Handle)
	})
	m.goRun("notify", func() error {
		return m.Bus.ConsumeEventWork(ctx, natsbus.EventWork{Name: consumerNotify,
			Types: []string{ticketing.EventNotification, ticketing.EventMessageCreated}, MaxAckPending: 1}, m.teams.notify.Handle)
	})
	m.goRun("hand-back", func() error {
		return m.Bus.ConsumeEventWork(ctx, natsbus.EventWork{Name: consumerHandBack,
			Types: []string{ticketing.EventAgentAvailability}, MaxAckPending: 1000}, a.HandBack)
	})
}

// availabilityChanged tells every node's assignment, through the events
// stream, that an agent came online or went offline.
func (m *Main) availabilityChanged(agentID string, online bool) {
	state := ticketing.AvailabilityOffline
	if online {
		state = ticketing.AvailabilityOnline
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ev := &ticketing.Event{Type: ticketing.EventAgentAvailability, AgentID: agentID, Availability: state, At: time.Now().UTC()}
	if err := m.Bus.PublishEvent(ctx, ev); err != nil {
		m.logger().Warn("publish availability", "agent_id", agentID, "err", err)
	}
}

// eachTicket calls fn for every open and pending ticket the node's read side knows: the
// query index page by page, or the in-memory inbox without one.
func (m *Main) eachTicket(ctx context.Context, fn func(*ticketing.Ticket)) error {
	if in := m.Service.Inbox(); in != nil {
		in.Range(fn)
		return nil
	}
	// Only the backlog: the model keeps open and pending tickets.
	for _, status := range []string{ticketing.StatusOpen, ticketing.StatusPending} {
		cursor := ""
		for {
			page, err := m.Service.ListTickets(ctx, ticketing.System, ticketing.TicketFilter{Status: status, Limit: 200, Cursor: cursor})
			if err != nil {
				return err
			}
			for _, t := range page.Tickets {
				fn(t)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return nil
}
