package realtime

import (
	"context"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Tickets finds the ticket of an event that carries only a message, so
// the hub can tell whether a session may see it. The core's read model
// (ticketing.Inbox) satisfies it.
type Tickets interface {
	Get(id string) (*ticketing.Ticket, bool)
}

// CustomerTickets is what Tickets may also answer: the customer's latest
// ticket, so that a customer's typing reaches only who may see it. The
// query index satisfies it; without it, typing goes only to sessions that
// see every ticket.
type CustomerTickets interface {
	LatestTicketOf(customerID string) (*ticketing.Ticket, bool)
}

// broadcastAbout pushes an ephemeral frame about a ticket (nil: unknown)
// to the sessions that may see it: all of them when it is nil only to
// those that see everything. lookup, when set, finds the ticket the first
// time a session needs it.
func (h *Hub) broadcastAbout(f frame, t *ticketing.Ticket, lookup func() (*ticketing.Ticket, bool)) {
	looked := t != nil || lookup == nil
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.sessions {
		v := s.viewer.Load()
		if v == nil || v.All {
			s.offer(f)
			continue
		}
		if !looked {
			t, _ = lookup()
			looked = true
		}
		if t != nil && v.CanSee(t) {
			s.offer(f)
		}
	}
}

// ViewerFunc returns what an agent may see now; the hub calls it when
// RefreshViewers says an agent's teams changed.
type ViewerFunc func(ctx context.Context, agentID string) (ticketing.Viewer, error)

// viewerTimeout bounds one ViewerFunc call.
const viewerTimeout = 5 * time.Second

// sees reports whether the session may receive ev. Events about tickets
// the agent may not see are never delivered: not live, not replayed.
func (s *session) sees(ev *ticketing.Event) bool {
	if ev.Type == ticketing.EventNotification {
		return ev.AgentID == s.agentID // the notifications package addresses each agent
	}
	v := s.viewer.Load()
	if v == nil || v.All {
		return true
	}
	t := ev.Ticket
	if t == nil && ev.Message != nil && ev.Message.TicketID != "" {
		if s.hub.opts.Tickets == nil {
			return false
		}
		var ok bool
		if t, ok = s.hub.opts.Tickets.Get(ev.Message.TicketID); !ok {
			return false
		}
	}
	if t == nil {
		// A customer's change: shown to who sees everything; others
		// read the customer when they open one of their tickets.
		return ev.Customer == nil
	}
	return v.CanSee(t)
}

// RefreshViewers recomputes the Viewer of agentID's sessions on this node
// (every session when agentID is empty) with Options.Viewers. Call it on
// every node when teams or an agent's teams or role change.
func (h *Hub) RefreshViewers(agentID string) {
	if h.opts.Viewers == nil {
		return
	}
	h.mu.RLock()
	var list []*session
	for _, s := range h.sessions {
		if agentID == "" || s.agentID == agentID {
			list = append(list, s)
		}
	}
	h.mu.RUnlock()
	cache := map[string]*ticketing.Viewer{}
	for _, s := range list {
		v, ok := cache[s.agentID]
		if !ok {
			ctx, cancel := context.WithTimeout(h.ctx, viewerTimeout)
			nv, err := h.opts.Viewers(ctx, s.agentID)
			cancel()
			if err != nil {
				// Seeing too little until the next refresh is safer
				// than seeing too much.
				h.log.Warn("realtime: refresh a session's viewer; it sees only unteamed tickets", "agent_id", s.agentID, "err", err)
				nv = ticketing.Viewer{AgentID: s.agentID, Role: ticketing.RoleViewer, TeamIDs: []string{}}
			}
			v = &nv
			cache[s.agentID] = v
		}
		s.viewer.Store(v)
	}
}
