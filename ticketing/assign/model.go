package assign

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// tinfo is what the model keeps of a ticket.
type tinfo struct {
	team, assignee, status, customer, prev string
	created                                time.Time
	unanswered                             bool
	version                                int64
}

func (t *tinfo) open() bool {
	return t.status == ticketing.StatusOpen || t.status == ticketing.StatusPending
}

func (t *tinfo) waiting() bool {
	return t.status == ticketing.StatusOpen && t.assignee == "" && t.team != ""
}

// Model is a node's view of tickets for assignment: each agent's open
// tickets and each team's unassigned ones. It is a cache of the store,
// kept current from events; a newer Version always wins. It holds open
// and pending tickets only, so it stays as large as the shop's backlog
// however many tickets the shop has had; of the solved and closed ones it
// remembers the latest (version and last assignee, up to closedMax) to
// refuse their older versions and to prefer a returning customer's agent
// without asking the store.
type Model struct {
	mu       sync.Mutex
	tickets  map[string]*tinfo // open and pending
	closed   map[string]closedInfo
	load     map[string]int                  // agent → open or pending tickets assigned
	waiting  map[string]map[string]time.Time // team → unassigned open ticket → created
	lastPick map[string]time.Time            // agent → when they were last given a ticket
	applied  uint64
	changed  chan struct{} // closed and replaced when applied grows
}

// closedInfo is what the model keeps of a solved or closed ticket.
type closedInfo struct {
	version  int64
	assignee string
}

// closedMax bounds Model.closed: when full it is forgotten (a miss only
// costs a store read or lets a stale event through that the core's
// version check refuses anyway).
const closedMax = 50_000

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{tickets: map[string]*tinfo{}, closed: map[string]closedInfo{}, load: map[string]int{}, waiting: map[string]map[string]time.Time{},
		lastPick: map[string]time.Time{}, changed: make(chan struct{})}
}

// Apply records t (from the store at start, or an event).
func (m *Model) Apply(t *ticketing.Ticket, at time.Time) {
	if t == nil || t.ID == "" {
		return
	}
	n := &tinfo{team: t.TeamID, assignee: t.AssigneeID, status: t.Status, customer: t.CustomerID,
		prev: t.PreviousTicketID, created: t.CreatedAt, unanswered: t.Unanswered(), version: t.Version}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.tickets[t.ID]
	if old != nil && old.version > n.version {
		return
	}
	if c, ok := m.closed[t.ID]; ok && old == nil && c.version > n.version {
		return
	}
	m.replace(t.ID, old, n, at)
}

// replace swaps old for n and keeps the counts (m.mu held).
func (m *Model) replace(id string, old, n *tinfo, at time.Time) {
	if old != nil {
		if old.open() && old.assignee != "" {
			m.load[old.assignee]--
			if m.load[old.assignee] <= 0 {
				delete(m.load, old.assignee)
			}
		}
		if old.waiting() {
			delete(m.waiting[old.team], id)
			if len(m.waiting[old.team]) == 0 {
				delete(m.waiting, old.team)
			}
		}
	}
	if n.open() && n.assignee != "" {
		m.load[n.assignee]++
	}
	if n.waiting() {
		if m.waiting[n.team] == nil {
			m.waiting[n.team] = map[string]time.Time{}
		}
		m.waiting[n.team][id] = n.created
	}
	if n.assignee != "" && (old == nil || old.assignee != n.assignee) && at.After(m.lastPick[n.assignee]) {
		m.lastPick[n.assignee] = at
	}
	if !n.open() {
		delete(m.tickets, id)
		if len(m.closed) >= closedMax {
			clear(m.closed)
		}
		m.closed[id] = closedInfo{version: n.version, assignee: n.assignee}
		return
	}
	delete(m.closed, id)
	m.tickets[id] = n
}

// assume records a decision before its event arrives, so the next
// decision of the same pass sees it.
func (m *Model) assume(id, team, agentID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.tickets[id]
	if old == nil {
		return
	}
	n := *old
	n.team, n.assignee = team, agentID
	m.replace(id, old, &n, at)
}

// ApplyEvent keeps the model current from an event of any node, in stream
// order.
func (m *Model) ApplyEvent(ev *ticketing.Event) {
	if ev.Ticket != nil {
		m.Apply(ev.Ticket, ev.At)
	}
	m.SetApplied(ev.Seq)
}

// SetApplied records that every event up to seq has been applied.
func (m *Model) SetApplied(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq > m.applied {
		m.applied = seq
		close(m.changed)
		m.changed = make(chan struct{})
	}
}

// WaitApplied waits until every event up to seq has been applied.
func (m *Model) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		m.mu.Lock()
		done, ch := m.applied >= seq, m.changed
		m.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Load is how many open or pending tickets agentID holds.
func (m *Model) Load(agentID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load[agentID]
}

func (m *Model) anyWaiting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.waiting) > 0
}

// waitingOf lists a team's unassigned open tickets, oldest first.
func (m *Model) waitingOf(team string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.waiting[team]
	ids := make([]string, 0, len(w))
	for id := range w {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := w[a].Compare(w[b]); c != 0 {
			return c
		}
		if a < b {
			return -1
		}
		return 1
	})
	return ids
}

func (m *Model) waitingTeams() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	teams := make([]string, 0, len(m.waiting))
	for t := range m.waiting {
		teams = append(teams, t)
	}
	slices.Sort(teams)
	return teams
}

// version is the newest version of ticket id the model knows (0: none).
func (m *Model) version(id string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tickets[id]; t != nil {
		return t.version
	}
	return m.closed[id].version
}

// lastAssignee is who holds (or last held) ticket id; known is false
// when the model does not know the ticket.
func (m *Model) lastAssignee(id string) (agentID string, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tickets[id]; t != nil {
		return t.assignee, true
	}
	if c, ok := m.closed[id]; ok {
		return c.assignee, true
	}
	return "", false
}

// unanswered lists the open tickets agentID holds whose customer waits
// for a reply.
func (m *Model) unanswered(agentID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, t := range m.tickets {
		if t.assignee == agentID && t.status == ticketing.StatusOpen && t.unanswered {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (m *Model) picked(agentID string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastPick[agentID]
}
