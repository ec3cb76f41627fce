package main

import (
	"context"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// teamsParts are the team workflow's parts of a node.
type teamsParts struct{}

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
