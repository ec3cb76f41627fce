package realtime

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// presenceMinInterval: a console repeating the same state on a ticket (say
// "typing" on every key) is relayed at most this often.
const presenceMinInterval = time.Second

// maxPresenceID bounds ticket and agent ids in presence frames.
const maxPresenceID = 128

// maxPresenceTickets bounds the tickets one session is present on.
const maxPresenceTickets = 32

// presenceFromSession validates a console's presence report, shares it with
// every node and, for "viewing", tells the console who else is on the
// ticket. It runs in the session's reader.
func (h *Hub) presenceFromSession(s *session, in clientFrame) error {
	if !validID(in.TicketID) {
		return ticketing.FieldError("ticket_id", "must be 1 to %d letters, digits or -_.:", maxPresenceID)
	}
	if !validState(in.State) {
		return ticketing.FieldError("state", "must be viewing, typing or left")
	}
	now := h.now()
	prev, had := s.onTickets[in.TicketID]
	if !had && !s.mayView(in.TicketID) {
		// Neither shared nor answered: who views a ticket is the ticket's.
		return ticketing.Errorf(ticketing.ENotFound, "presence: no such ticket")
	}
	if !had && in.State != stateLeft && len(s.onTickets) >= maxPresenceTickets {
		return ticketing.Errorf(ticketing.ETooMany, "presence: at most %d tickets at once", maxPresenceTickets)
	}
	// A console repeating its state (say "typing" on every key) is relayed
	// at most once per presenceMinInterval: the last report still stands.
	repeat := had && prev.state == in.State && now.Sub(prev.relayed) < presenceMinInterval
	if !repeat {
		if in.State == stateLeft {
			delete(s.onTickets, in.TicketID)
		} else {
			s.onTickets[in.TicketID] = presenceState{state: in.State, relayed: now}
		}
		h.sharePresence(presenceFrame{
			Type:     "presence",
			TicketID: in.TicketID,
			Agent:    agentRef{ID: s.agentID, Name: s.agentName},
			State:    in.State,
			At:       now.UTC(),
		})
	}
	if in.State == stateViewing {
		for _, f := range h.presence.snapshot(in.TicketID, now, s.agentID) {
			s.offerJSONFrame(f, true)
		}
	}
	return nil
}

// mayView reports whether the session may see the ticket (by the node's
// index; a ticket it does not know is seen only by who sees everything).
func (s *session) mayView(ticketID string) bool {
	v := s.viewer.Load()
	if v == nil || v.All {
		return true
	}
	if s.hub.opts.Tickets == nil {
		return false
	}
	t, ok := s.hub.opts.Tickets.Get(ticketID)
	return ok && v.CanSee(t)
}

// leaveAll reports "left" for every ticket the ended session was on.
func (s *session) leaveAll() {
	now := s.hub.now().UTC()
	for id := range s.onTickets {
		s.hub.sharePresence(presenceFrame{
			Type:     "presence",
			TicketID: id,
			Agent:    agentRef{ID: s.agentID, Name: s.agentName},
			State:    stateLeft,
			At:       now,
		})
	}
	clear(s.onTickets)
}

// sharePresence sends f to every node through the relay, which delivers it
// back to this node too; without a relay, or when it fails, f is applied
// here only.
func (h *Hub) sharePresence(f presenceFrame) {
	data, err := json.Marshal(f)
	if err != nil {
		h.log.Error("realtime: encode presence", "err", err)
		return
	}
	if h.relayed {
		ctx, cancel := context.WithTimeout(h.ctx, relayTimeout)
		err := h.opts.Relay.Publish(ctx, topicPresence, data)
		cancel()
		if err == nil {
			return
		}
		h.log.Warn("realtime: relay presence; kept on this node", "ticket_id", f.TicketID, "err", err)
	}
	h.applyPresence(f, data)
}

// presenceFromRelay applies a presence report from any node. Its result
// answers relay requests, which presence does not use.
func (h *Hub) presenceFromRelay(payload []byte) bool {
	var f presenceFrame
	if err := json.Unmarshal(payload, &f); err != nil || f.Type != "presence" ||
		!validID(f.TicketID) || !validID(f.Agent.ID) || !validState(f.State) {
		h.log.Debug("realtime: drop malformed presence from relay", "err", err)
		return true
	}
	data, err := json.Marshal(f) // only the fields consoles know
	if err != nil {
		return true
	}
	h.applyPresence(f, data)
	return true
}

// applyPresence remembers f and pushes it to every session on this node
// that may see its ticket.
func (h *Hub) applyPresence(f presenceFrame, data []byte) {
	h.presence.update(f, h.now())
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		h.log.Error("realtime: prepare presence", "err", err)
		return
	}
	var lookup func() (*ticketing.Ticket, bool)
	if h.opts.Tickets != nil {
		lookup = func() (*ticketing.Ticket, bool) { return h.opts.Tickets.Get(f.TicketID) }
	}
	h.broadcastAbout(frame{pm: pm, ephemeral: true}, nil, lookup)
}

func validState(s string) bool {
	return s == stateViewing || s == stateTyping || s == stateLeft
}

// validID accepts ids of letters, digits and -_.: (what Svar's ids use).
func validID(id string) bool {
	if id == "" || len(id) > maxPresenceID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// presenceBook remembers who is on which ticket, per agent, until a report
// is older than ttl.
type presenceBook struct {
	ttl time.Duration

	mu      sync.Mutex // guards the fields below; never held with Hub.mu
	tickets map[string]map[string]presenceEntry
	swept   time.Time
}

type presenceEntry struct {
	f    presenceFrame
	seen time.Time // when this node heard it: expiry ignores other nodes' clocks
}

func newPresenceBook(ttl time.Duration) *presenceBook {
	return &presenceBook{ttl: ttl, tickets: make(map[string]map[string]presenceEntry)}
}

func (b *presenceBook) update(f presenceFrame, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.swept) >= b.ttl {
		b.sweepLocked(now)
	}
	agents := b.tickets[f.TicketID]
	if f.State == stateLeft {
		delete(agents, f.Agent.ID)
		if len(agents) == 0 {
			delete(b.tickets, f.TicketID)
		}
		return
	}
	if agents == nil {
		agents = make(map[string]presenceEntry)
		b.tickets[f.TicketID] = agents
	}
	agents[f.Agent.ID] = presenceEntry{f: f, seen: now}
}

// sweepLocked forgets expired reports, so tickets nobody refreshes do not
// pile up.
func (b *presenceBook) sweepLocked(now time.Time) {
	for id, agents := range b.tickets {
		for a, e := range agents {
			if now.Sub(e.seen) >= b.ttl {
				delete(agents, a)
			}
		}
		if len(agents) == 0 {
			delete(b.tickets, id)
		}
	}
	b.swept = now
}

// snapshot returns the current reports on a ticket, except the agent's own,
// ordered by agent name.
func (b *presenceBook) snapshot(ticketID string, now time.Time, exceptAgent string) []presenceFrame {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []presenceFrame
	for a, e := range b.tickets[ticketID] {
		if a != exceptAgent && now.Sub(e.seen) < b.ttl {
			out = append(out, e.f)
		}
	}
	slices.SortFunc(out, func(x, y presenceFrame) int {
		return cmp.Or(cmp.Compare(x.Agent.Name, y.Agent.Name), cmp.Compare(x.Agent.ID, y.Agent.ID))
	})
	return out
}
