package query

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// searchWindow bounds how many matching documents one search ranks.
const searchWindow = 500

// Search implements ticketing.TicketQuery: documents matching every word
// of q ranked by BM25 (or, when none does, any word), one result per
// ticket, best first.
func (ix *Index) Search(ctx context.Context, v ticketing.Viewer, q string, limit int) ([]*ticketing.SearchResult, error) {
	if len(q) > ticketing.MaxQueryLen {
		return nil, ticketing.ParamError("q", "must be at most %d bytes", ticketing.MaxQueryLen)
	}
	if limit <= 0 {
		limit = 20
	}
	if limit > ticketing.MaxListLimit {
		return nil, ticketing.ParamError("limit", "must be a whole number from 1 to %d", ticketing.MaxListLimit)
	}
	out := []*ticketing.SearchResult{}
	terms := parseQuery(q)
	if len(terms) == 0 {
		return out, nil
	}
	ix.barrier(ctx)
	out, err := ix.search(ctx, v, terms, matchAll(terms), limit)
	if err == nil && len(out) == 0 && len(terms) > 1 {
		out, err = ix.search(ctx, v, terms, matchAny(terms), limit)
	}
	return out, err
}

func (ix *Index) search(ctx context.Context, v ticketing.Viewer, terms []term, expr string, limit int) ([]*ticketing.SearchResult, error) {
	// BM25 over every match costs time in proportion to the matches: rank
	// the newest searchWindow matching documents instead (all of them for
	// any but the commonest words).
	rows, err := ix.r.QueryContext(ctx, fmt.Sprintf(`SELECT d.kind, d.ticket_id, d.customer_id, d.text, d.msg
		FROM (SELECT rowid, bm25(fts) AS score FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT %d) m
		JOIN docs d ON d.rowid = m.rowid ORDER BY m.score, m.rowid DESC`, searchWindow), expr)
	if err != nil {
		return nil, fmt.Errorf("query: search: %w", err)
	}
	type hit struct {
		kind, ticketID, customerID, text string
		msg                              []byte
	}
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.kind, &h.ticketID, &h.customerID, &h.text, &h.msg); err != nil {
			rows.Close()
			return nil, fmt.Errorf("query: search: %w", err)
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: search: %w", err)
	}
	out := []*ticketing.SearchResult{}
	seen := map[string]bool{}
	for _, h := range hits {
		if len(out) >= limit {
			break
		}
		ids := []string{h.ticketID}
		if h.kind == "c" {
			ids, err = ix.customerTickets(ctx, v, h.customerID, 3)
			if err != nil {
				return nil, err
			}
		}
		for _, id := range ids {
			if seen[id] || len(out) >= limit {
				continue
			}
			t, err := ix.visibleTicket(ctx, v, id)
			if err != nil {
				return nil, err
			}
			if t == nil {
				continue
			}
			seen[id] = true
			r := &ticketing.SearchResult{Ticket: t, Snippet: snippet(h.text, terms)}
			if h.kind == "m" && h.msg != nil {
				m := new(ticketing.Message)
				if err := json.Unmarshal(h.msg, m); err == nil {
					r.Message = m
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// visibleTicket returns the index's ticket id if v may see it, else nil.
func (ix *Index) visibleTicket(ctx context.Context, v ticketing.Viewer, id string) (*ticketing.Ticket, error) {
	var w where
	w.add("t.id = ?", id)
	viewerCond(&w, v)
	var doc []byte
	err := ix.r.QueryRowContext(ctx, `SELECT t.doc FROM tickets t WHERE `+w.sql(), w.args...).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query: search: %w", err)
	}
	return decodeTicket(doc)
}

func (ix *Index) customerTickets(ctx context.Context, v ticketing.Viewer, customerID string, n int) ([]string, error) {
	var w where
	w.add("t.customer_id = ?", customerID)
	viewerCond(&w, v)
	rows, err := ix.r.QueryContext(ctx, fmt.Sprintf(`SELECT t.id FROM tickets t WHERE %s ORDER BY t.last_message_at DESC LIMIT %d`, w.sql(), n), w.args...)
	if err != nil {
		return nil, fmt.Errorf("query: search: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

type customerCursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// Customers implements ticketing.TicketQuery: customers whose name,
// emails, phones or external id match q, by name; every customer when q is
// empty. A viewer who does not see everything sees the customers of
// tickets they may see.
func (ix *Index) Customers(ctx context.Context, v ticketing.Viewer, q string, limit int, cursor string) (*ticketing.CustomerPage, error) {
	if len(q) > ticketing.MaxQueryLen {
		return nil, ticketing.ParamError("q", "must be at most %d bytes", ticketing.MaxQueryLen)
	}
	if limit <= 0 {
		limit = ticketing.DefaultListLimit
	}
	if limit > ticketing.MaxListLimit {
		return nil, ticketing.ParamError("limit", "must be a whole number from 1 to %d", ticketing.MaxListLimit)
	}
	page := &ticketing.CustomerPage{Customers: []*ticketing.Customer{}}
	var w where
	if q = strings.TrimSpace(q); q != "" {
		terms := parseQuery(q)
		if len(terms) == 0 {
			return page, nil
		}
		w.add(`c.id IN (SELECT d.customer_id FROM docs d WHERE d.kind = 'c' AND d.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?))`, matchAll(terms))
	}
	if !(v.All || (v.AgentID == "" && v.Role == "")) {
		var tw where
		tw.add("t.customer_id = c.id")
		viewerCond(&tw, v)
		w.add("EXISTS (SELECT 1 FROM tickets t WHERE "+tw.sql()+")", tw.args...)
	}
	if cursor != "" {
		var c customerCursor
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.ID == "" {
			return nil, ticketing.ParamError("cursor", "is not a cursor this list returned")
		}
		w.add("(c.name_key, c.id) > (?, ?)", c.Name, c.ID)
	}
	ix.barrier(ctx)
	rows, err := ix.r.QueryContext(ctx, fmt.Sprintf(`SELECT c.doc, c.name_key, c.id FROM customers c WHERE %s
		ORDER BY c.name_key, c.id LIMIT %d`, w.sql(), limit+1), w.args...)
	if err != nil {
		return nil, fmt.Errorf("query: customers: %w", err)
	}
	defer rows.Close()
	var last customerCursor
	for rows.Next() {
		var doc []byte
		var cur customerCursor
		if err := rows.Scan(&doc, &cur.Name, &cur.ID); err != nil {
			return nil, err
		}
		if len(page.Customers) == limit {
			b, _ := json.Marshal(last)
			page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
			break
		}
		c := new(ticketing.Customer)
		if err := json.Unmarshal(doc, c); err != nil {
			return nil, fmt.Errorf("query: decode customer: %w", err)
		}
		if c.Identities == nil {
			c.Identities = []ticketing.Identity{}
		}
		page.Customers = append(page.Customers, c)
		last = cur
	}
	return page, rows.Err()
}
