package ticketing

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Inbox views, as the console names them.
const (
	ViewOpen       = "open"
	ViewMine       = "mine"
	ViewMyTeams    = "my_teams" // open tickets of the viewer's own teams
	ViewUnassigned = "unassigned"
	ViewPending    = "pending"
	ViewSolved     = "solved"
	ViewAll        = "all"
)

// Inbox is a node's in-memory read model of ticket summaries, built from
// the store at start and kept current from events of every node. It
// serves lists and counts without scanning the store (the embedded store
// scans a whole collection for any query that is not an _id lookup). It
// is a cache: the store stays the truth, and a newer Version always wins,
// so events may arrive late, twice or out of order.
type Inbox struct {
	mu   sync.RWMutex
	byID map[string]*Ticket
}

// NewInbox returns an empty Inbox.
func NewInbox() *Inbox { return &Inbox{byID: map[string]*Ticket{}} }

// Apply records t unless a newer version is already known.
func (in *Inbox) Apply(t *Ticket) {
	if t == nil || t.ID == "" {
		return
	}
	sum := *t
	sum.MessageIDs = nil
	in.mu.Lock()
	defer in.mu.Unlock()
	if have, ok := in.byID[t.ID]; ok && have.Version > t.Version {
		return
	}
	in.byID[t.ID] = &sum
}

// Len is the number of tickets known.
func (in *Inbox) Len() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return len(in.byID)
}

// Range calls fn with a copy of every ticket summary, in no order (read
// models built from this one at start).
func (in *Inbox) Range(fn func(*Ticket)) {
	in.mu.RLock()
	list := make([]Ticket, 0, len(in.byID))
	for _, t := range in.byID {
		list = append(list, *t)
	}
	in.mu.RUnlock()
	for i := range list {
		fn(&list[i])
	}
}

// Get returns the summary of a ticket.
func (in *Inbox) Get(id string) (*Ticket, bool) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	t, ok := in.byID[id]
	if !ok {
		return nil, false
	}
	c := *t
	return &c, true
}

// List returns one page of tickets matching f that v may see, newest
// activity first. It knows only the filters status, assignee, team,
// customer and a substring q; ticketing/query serves the rest.
func (in *Inbox) List(v Viewer, f TicketFilter) (*TicketPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 200 {
		limit = 200
	}
	var after *cursor
	if f.Cursor != "" {
		c, ok := parseCursor(f.Cursor)
		if !ok {
			return nil, FieldError("cursor", "is not a cursor this API returned")
		}
		after = &c
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	in.mu.RLock()
	matched := make([]*Ticket, 0, 64)
	for _, t := range in.byID {
		if v.CanSee(t) && matches(t, f, q, v) && (after == nil || after.before(t)) {
			matched = append(matched, t)
		}
	}
	in.mu.RUnlock()
	sort.Slice(matched, func(i, j int) bool { return newer(matched[i], matched[j]) })
	page := &TicketPage{Tickets: make([]*Ticket, 0, limit)}
	for i, t := range matched {
		if i == limit {
			last := page.Tickets[limit-1]
			page.NextCursor = cursor{at: last.LastMessageAt, id: last.ID}.String()
			break
		}
		c := *t
		page.Tickets = append(page.Tickets, &c)
	}
	return page, nil
}

func matches(t *Ticket, f TicketFilter, q string, v Viewer) bool {
	if t.Erased {
		return false
	}
	switch f.TeamID {
	case "":
	case TeamNone:
		if t.TeamID != "" {
			return false
		}
	case TeamMine:
		if t.TeamID == "" || !slices.Contains(v.MineTeams(), t.TeamID) {
			return false
		}
	default:
		if t.TeamID != f.TeamID {
			return false
		}
	}
	if f.Status != "" && t.Status != f.Status {
		return false
	}
	switch f.AssigneeID {
	case "":
	case AssigneeNone:
		if t.AssigneeID != "" {
			return false
		}
	default:
		if t.AssigneeID != f.AssigneeID {
			return false
		}
	}
	if f.CustomerID != "" && t.CustomerID != f.CustomerID {
		return false
	}
	if q != "" {
		num := strconv.FormatInt(t.Number, 10)
		if !strings.Contains(strings.ToLower(t.Subject), q) && !strings.Contains(strings.ToLower(t.Preview), q) &&
			!strings.Contains(strings.ToLower(t.CustomerName), q) && strings.TrimPrefix(q, "#") != num {
			return false
		}
	}
	return true
}

// newer orders by last activity, then id, both descending.
func newer(a, b *Ticket) bool {
	if !a.LastMessageAt.Equal(b.LastMessageAt) {
		return a.LastMessageAt.After(b.LastMessageAt)
	}
	return a.ID > b.ID
}

type cursor struct {
	at time.Time
	id string
}

func (c cursor) String() string { return strconv.FormatInt(c.at.UnixNano(), 36) + "." + c.id }

// before reports whether t sorts after the cursor position.
func (c cursor) before(t *Ticket) bool {
	return newer(&Ticket{LastMessageAt: c.at, ID: c.id}, t)
}

func parseCursor(s string) (cursor, bool) {
	i := strings.IndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return cursor{}, false
	}
	n, err := strconv.ParseInt(s[:i], 36, 64)
	if err != nil {
		return cursor{}, false
	}
	return cursor{at: time.Unix(0, n).UTC(), id: s[i+1:]}, true
}

// ViewFilter returns the filter of a console view for an agent.
func ViewFilter(view, agentID string) (TicketFilter, bool) {
	switch view {
	case ViewOpen:
		return TicketFilter{Status: StatusOpen}, true
	case ViewMine:
		return TicketFilter{Status: StatusOpen, AssigneeID: agentID}, true
	case ViewMyTeams:
		return TicketFilter{Status: StatusOpen, TeamID: TeamMine}, true
	case ViewUnassigned:
		return TicketFilter{Status: StatusOpen, AssigneeID: AssigneeNone}, true
	case ViewPending:
		return TicketFilter{Status: StatusPending}, true
	case ViewSolved:
		return TicketFilter{Status: StatusSolved}, true
	case ViewAll:
		return TicketFilter{}, true
	}
	return TicketFilter{}, false
}

// CountsFor is Counts.
func (in *Inbox) CountsFor(v Viewer) map[string]int { return in.Counts(v) }

// Counts returns how many tickets each view holds that v may see.
func (in *Inbox) Counts(v Viewer) map[string]int {
	agentID := v.AgentID
	c := map[string]int{ViewOpen: 0, ViewMine: 0, ViewMyTeams: 0, ViewUnassigned: 0, ViewPending: 0, ViewSolved: 0, ViewAll: 0}
	in.mu.RLock()
	defer in.mu.RUnlock()
	for _, t := range in.byID {
		if t.Erased || !v.CanSee(t) {
			continue
		}
		c[ViewAll]++
		switch t.Status {
		case StatusOpen:
			c[ViewOpen]++
			if t.TeamID != "" && slices.Contains(v.MineTeams(), t.TeamID) {
				c[ViewMyTeams]++
			}
			if t.AssigneeID == "" {
				c[ViewUnassigned]++
			} else if t.AssigneeID == agentID {
				c[ViewMine]++
			}
		case StatusPending:
			c[ViewPending]++
		case StatusSolved:
			c[ViewSolved]++
		}
	}
	return c
}
