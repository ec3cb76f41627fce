package realtime

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Availability from open consoles, across nodes. Each node knows its own
// sessions; every ConsoleBeat it tells the others, through the relay,
// which agents have a console on it (and, for ConsoleGrace after their last
// one closed, still counts them). An agent is online while any node
// counts them. A node that stops beating (it died) stops counting after
// three beats. This is each node's own state shared with the others, not
// a job: nothing here must happen once.

// topicConsoles carries the beats.
const topicConsoles = "agents.consoles"

type consolesBeat struct {
	Node   string   `json:"node"`
	Agents []string `json:"agents"`
}

type remoteConsoles struct {
	agents map[string]bool
	at     time.Time
}

// consoleBook is the hub's view of consoles. Its mutex is never held with
// Hub.mu.
type consoleBook struct {
	mu       sync.Mutex
	node     string
	local    map[string]int       // agent → open sessions here
	closedAt map[string]time.Time // agent → when their last session here closed (within grace)
	remote   map[string]remoteConsoles
}

func newConsoleBook() *consoleBook {
	return &consoleBook{node: ticketing.NewID(), local: map[string]int{}, closedAt: map[string]time.Time{},
		remote: map[string]remoteConsoles{}}
}

// elsewhere reports whether another node counts agentID (c.mu held).
func (c *consoleBook) elsewhere(agentID string, now time.Time, stale time.Duration) bool {
	for _, r := range c.remote {
		if r.agents[agentID] && now.Sub(r.at) < stale {
			return true
		}
	}
	return false
}

// Online reports whether agentID has a console open on any node (or
// closed less than ConsoleGrace ago).
func (h *Hub) Online(agentID string) bool {
	c := h.consoles
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.local[agentID] > 0 {
		return true
	}
	if _, ok := c.closedAt[agentID]; ok {
		return true
	}
	return c.elsewhere(agentID, h.now(), 3*h.opts.ConsoleBeat)
}

// StatusChanged tells assignment that an agent chose another availability.
func (h *Hub) StatusChanged(_ context.Context, a *ticketing.Agent) {
	if h.opts.OnAvailability != nil {
		on := a.Status != ticketing.AvailabilityAway && a.Status != ticketing.AvailabilityOffline && h.Online(a.ID)
		h.opts.OnAvailability(a.ID, on)
	}
}

// consoleOpened counts a new session of agentID.
func (h *Hub) consoleOpened(agentID string) {
	c := h.consoles
	c.mu.Lock()
	c.local[agentID]++
	_, inGrace := c.closedAt[agentID]
	delete(c.closedAt, agentID)
	first := c.local[agentID] == 1 && !inGrace && !c.elsewhere(agentID, h.now(), 3*h.opts.ConsoleBeat)
	c.mu.Unlock()
	if first {
		h.beat()
		if h.opts.OnAvailability != nil {
			h.opts.OnAvailability(agentID, true)
		}
	}
}

// consoleClosed uncounts a session; the agent stays online for the grace.
func (h *Hub) consoleClosed(agentID string) {
	c := h.consoles
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.local[agentID]--; c.local[agentID] <= 0 {
		delete(c.local, agentID)
		c.closedAt[agentID] = h.now()
	}
}

// beat tells the other nodes which agents this node counts.
func (h *Hub) beat() {
	if h.opts.Relay == nil {
		return
	}
	c := h.consoles
	c.mu.Lock()
	agents := slices.Collect(maps.Keys(c.local))
	for id := range c.closedAt {
		agents = append(agents, id)
	}
	c.mu.Unlock()
	data, err := json.Marshal(consolesBeat{Node: c.node, Agents: agents})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, relayTimeout)
	defer cancel()
	if err := h.opts.Relay.Publish(ctx, topicConsoles, data); err != nil {
		h.log.Debug("realtime: console beat", "err", err)
	}
}

// consolesFromRelay records another node's beat.
func (h *Hub) consolesFromRelay(payload []byte) bool {
	var b consolesBeat
	if err := json.Unmarshal(payload, &b); err != nil || b.Node == "" || len(b.Agents) > 100_000 {
		return true
	}
	c := h.consoles
	if b.Node == c.node {
		return true
	}
	set := make(map[string]bool, len(b.Agents))
	for _, id := range b.Agents {
		set[id] = true
	}
	c.mu.Lock()
	c.remote[b.Node] = remoteConsoles{agents: set, at: h.now()}
	c.mu.Unlock()
	return true
}

// runConsoles beats and ends graces until the hub closes.
func (h *Hub) runConsoles() {
	tick := min(h.opts.ConsoleBeat, max(h.opts.ConsoleGrace/3, 10*time.Millisecond))
	t := time.NewTicker(tick)
	defer t.Stop()
	lastBeat := time.Time{}
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		now := h.now()
		c := h.consoles
		var gone []string
		c.mu.Lock()
		for id, at := range c.closedAt {
			if now.Sub(at) >= h.opts.ConsoleGrace {
				delete(c.closedAt, id)
				if !c.elsewhere(id, now, 3*h.opts.ConsoleBeat) {
					gone = append(gone, id)
				}
			}
		}
		for node, r := range c.remote {
			if now.Sub(r.at) > 10*h.opts.ConsoleBeat {
				delete(c.remote, node)
			}
		}
		c.mu.Unlock()
		if len(gone) > 0 || now.Sub(lastBeat) >= h.opts.ConsoleBeat {
			h.beat()
			lastBeat = now
		}
		if h.opts.OnAvailability != nil {
			for _, id := range gone {
				h.opts.OnAvailability(id, false)
			}
		}
	}
}
