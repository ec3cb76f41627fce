package query

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

var _ ticketing.TicketQuery = (*Index)(nil)
var _ ticketing.EventNoter = (*Index)(nil)

// sortSpec is how one sort orders tickets: by key, then id, both in dir.
type sortSpec struct {
	key  string
	desc bool
}

var sorts = map[string]sortSpec{
	ticketing.SortActivity: {"last_message_at", true},
	ticketing.SortOldest:   {"created_at", false},
	ticketing.SortWaiting:  {"waiting_since", false},
	ticketing.SortDue:      {"due_at", false},
}

// listCursor is the position after a page's last ticket: its sort key and
// id. The next page starts strictly after it, so a ticket is never shown
// twice while it keeps its place; a ticket whose key changes between pages
// moves (to the top, for new activity) and is shown where it is now.
type listCursor struct {
	Sort string `json:"s"`
	Key  int64  `json:"k"`
	ID   string `json:"i"`
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" || c.Sort != sort {
		return c, ticketing.ParamError("cursor", "is not a cursor this list returned")
	}
	return c, nil
}

// where collects SQL conditions and their arguments, and the common
// table expressions (with their arguments, which come first) they use.
type where struct {
	ctes    []string
	cteArgs []any
	conds   []string
	args    []any
}

// with is the WITH clause, or "".
func (w *where) with() string {
	if len(w.ctes) == 0 {
		return ""
	}
	return "WITH " + strings.Join(w.ctes, ", ") + " "
}

// allArgs are the CTEs' arguments, then the conditions'.
func (w *where) allArgs() []any { return append(append([]any{}, w.cteArgs...), w.args...) }

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, " AND ")
}

// viewerCond limits rows of tickets t to what v may see (Viewer.CanSee).
func viewerCond(w *where, v ticketing.Viewer) {
	if v.All || (v.AgentID == "" && v.Role == "") {
		return
	}
	cond := "(t.team_id = ''"
	args := []any{}
	if v.AgentID != "" {
		cond += " OR t.assignee_id = ?"
		args = append(args, v.AgentID)
	}
	if len(v.TeamIDs) > 0 {
		cond += " OR t.team_id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(v.TeamIDs)), ",") + ")"
		for _, id := range v.TeamIDs {
			args = append(args, id)
		}
	}
	w.add(cond+")", args...)
}

// maxTermDocs bounds the documents one word of q brings into a list: the
// newest that many (by rowid, which grows with every write). A word in
// more documents than that lists the tickets of its newest ones.
const maxTermDocs = 5000

// termCTE selects the documents one group matches.
const termCTE = `m%d AS MATERIALIZED (SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT %d)`

// termTickets is SQL for the ids of tickets group i matches: through a
// message or the ticket itself, or through its customer.
const termTickets = `SELECT d.ticket_id FROM m%[1]d CROSS JOIN docs d ON d.rowid = m%[1]d.rowid WHERE d.ticket_id <> ''
	UNION SELECT t2.id FROM m%[1]d CROSS JOIN docs d ON d.rowid = m%[1]d.rowid CROSS JOIN tickets t2 ON t2.customer_id = d.customer_id
	WHERE d.kind = 'c'`

// filterConds turns f into conditions on tickets t.
func filterConds(w *where, f ticketing.TicketFilter, v ticketing.Viewer) (ok bool) {
	if f.Status != "" {
		w.add("t.status = ?", f.Status)
	}
	switch f.AssigneeID {
	case "":
	case ticketing.AssigneeNone:
		w.add("t.assignee_id = ''")
	default:
		w.add("t.assignee_id = ?", f.AssigneeID)
	}
	switch f.TeamID {
	case "":
	case ticketing.TeamNone:
		w.add("t.team_id = ''")
	case ticketing.TeamMine:
		mine := v.MineTeams()
		if len(mine) == 0 {
			return false
		}
		args := make([]any, len(mine))
		for i, id := range mine {
			args[i] = id
		}
		w.add("t.team_id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(mine)), ",")+")", args...)
	default:
		w.add("t.team_id = ?", f.TeamID)
	}
	if f.CustomerID != "" {
		w.add("t.customer_id = ?", f.CustomerID)
	}
	if f.Channel != "" {
		w.add("t.channel = ?", string(f.Channel))
	}
	if f.Priority != "" {
		w.add("t.priority = ?", f.Priority)
	}
	if f.Type != "" {
		w.add("t.type = ?", f.Type)
	}
	if f.Tier != "" {
		w.add("t.tier = ?", f.Tier)
	}
	if f.Tag != "" {
		w.add("t.id IN (SELECT ticket_id FROM ticket_tags WHERE tag = ?)", f.Tag)
	}
	if !f.CreatedAfter.IsZero() {
		w.add("t.created_at >= ?", nanos(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		w.add("t.created_at < ?", nanos(f.CreatedBefore))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		terms := parseQuery(q)
		if len(terms) == 0 {
			return false // nothing searchable in q: nothing matches
		}
		parts := make([]string, len(terms))
		for i, t := range terms {
			w.ctes = append(w.ctes, fmt.Sprintf(termCTE, i, maxTermDocs))
			w.cteArgs = append(w.cteArgs, t.expr)
			parts[i] = fmt.Sprintf(termTickets, i)
		}
		w.conds = append(w.conds, "t.id IN ("+strings.Join(parts, " INTERSECT ")+")")
	}
	return true
}

// List implements ticketing.TicketQuery.
func (ix *Index) List(ctx context.Context, v ticketing.Viewer, f ticketing.TicketFilter) (*ticketing.TicketPage, error) {
	if f.Sort == "" {
		f.Sort = ticketing.SortActivity
	}
	spec, ok := sorts[f.Sort]
	if !ok {
		return nil, ticketing.ParamError("sort", "must be activity, oldest, waiting or due")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = ticketing.DefaultListLimit
	}
	if limit > ticketing.MaxListLimit {
		return nil, ticketing.ParamError("limit", "must be a whole number from 1 to %d", ticketing.MaxListLimit)
	}
	var w where
	viewerCond(&w, v)
	if !filterConds(&w, f, v) {
		return &ticketing.TicketPage{Tickets: []*ticketing.Ticket{}}, nil
	}
	dir, cmp := "ASC", ">"
	if spec.desc {
		dir, cmp = "DESC", "<"
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, f.Sort)
		if err != nil {
			return nil, err
		}
		w.add(fmt.Sprintf("(t.%s, t.id) %s (?, ?)", spec.key, cmp), c.Key, c.ID)
	}
	ix.barrier(ctx)
	q := fmt.Sprintf(`%sSELECT t.doc, t.%s, t.id FROM tickets t WHERE %s ORDER BY t.%s %s, t.id %s LIMIT %d`,
		w.with(), spec.key, w.sql(), spec.key, dir, dir, limit+1)
	rows, err := ix.r.QueryContext(ctx, q, w.allArgs()...)
	if err != nil {
		return nil, fmt.Errorf("query: list: %w", err)
	}
	defer rows.Close()
	page := &ticketing.TicketPage{Tickets: make([]*ticketing.Ticket, 0, limit)}
	var last listCursor
	for rows.Next() {
		var doc []byte
		var key int64
		var id string
		if err := rows.Scan(&doc, &key, &id); err != nil {
			return nil, fmt.Errorf("query: list: %w", err)
		}
		if len(page.Tickets) == limit {
			page.NextCursor = encodeCursor(last)
			break
		}
		t, err := decodeTicket(doc)
		if err != nil {
			return nil, err
		}
		page.Tickets = append(page.Tickets, t)
		last = listCursor{Sort: f.Sort, Key: key, ID: id}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: list: %w", err)
	}
	return page, nil
}

// Count returns how many tickets match f for v (f's limit and cursor are
// ignored).
func (ix *Index) Count(ctx context.Context, v ticketing.Viewer, f ticketing.TicketFilter) (int, error) {
	var w where
	viewerCond(&w, v)
	if !filterConds(&w, f, v) {
		return 0, nil
	}
	var n int
	err := ix.r.QueryRowContext(ctx, w.with()+`SELECT count(*) FROM tickets t WHERE `+w.sql(), w.allArgs()...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("query: count: %w", err)
	}
	return n, nil
}

func decodeTicket(doc []byte) (*ticketing.Ticket, error) {
	t := new(ticketing.Ticket)
	if err := json.Unmarshal(doc, t); err != nil {
		return nil, fmt.Errorf("query: decode ticket: %w", err)
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return t, nil
}

// Counts implements ticketing.TicketQuery from counters kept per (status,
// team, assignee) as tickets change: no query per request.
func (ix *Index) Counts(ctx context.Context, v ticketing.Viewer) (map[string]int, error) {
	ix.barrier(ctx)
	c := map[string]int{ticketing.ViewOpen: 0, ticketing.ViewMine: 0, ticketing.ViewMyTeams: 0, ticketing.ViewUnassigned: 0,
		ticketing.ViewPending: 0, ticketing.ViewSolved: 0, ticketing.ViewAll: 0}
	ix.groupsMu.RLock()
	defer ix.groupsMu.RUnlock()
	for k, n := range ix.groups {
		if !v.CanSee(&ticketing.Ticket{TeamID: k.team, AssigneeID: k.assignee}) {
			continue
		}
		c[ticketing.ViewAll] += n
		switch k.status {
		case ticketing.StatusOpen:
			c[ticketing.ViewOpen] += n
			if k.team != "" && slices.Contains(v.MineTeams(), k.team) {
				c[ticketing.ViewMyTeams] += n
			}
			if k.assignee == "" {
				c[ticketing.ViewUnassigned] += n
			} else if k.assignee == v.AgentID {
				c[ticketing.ViewMine] += n
			}
		case ticketing.StatusPending:
			c[ticketing.ViewPending] += n
		case ticketing.StatusSolved:
			c[ticketing.ViewSolved] += n
		}
	}
	return c, nil
}

// LatestTicketOf returns the customer's ticket with the latest message
// (for the live hub's scoping of a customer's typing).
func (ix *Index) LatestTicketOf(customerID string) (*ticketing.Ticket, bool) {
	var doc []byte
	if err := ix.r.QueryRow(`SELECT doc FROM tickets WHERE customer_id = ? ORDER BY last_message_at DESC, id DESC LIMIT 1`,
		customerID).Scan(&doc); err != nil {
		return nil, false
	}
	t, err := decodeTicket(doc)
	return t, err == nil
}

// Get returns the index's copy of a ticket (for the live hub's scoping of
// message-only events).
func (ix *Index) Get(id string) (*ticketing.Ticket, bool) {
	var doc []byte
	if err := ix.r.QueryRow(`SELECT doc FROM tickets WHERE id = ?`, id).Scan(&doc); err != nil {
		return nil, false
	}
	t, err := decodeTicket(doc)
	return t, err == nil
}
