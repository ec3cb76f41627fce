package ticketing

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timeline limits.
const (
	// MaxTimelineTickets bounds how many of a customer's tickets a
	// timeline lists and reads messages from (the newest activity first).
	MaxTimelineTickets = 1000
	// timelineChunk is how many message ids are read by _id at once.
	timelineChunk = 50
)

// TimelinePage is one page of a customer's messages across all their tickets,
// newest first, with the tickets they belong to.
type TimelinePage struct {
	Customer *Customer `json:"customer"`
	// Tickets are every ticket of the customer the viewer may see, newest
	// activity first (from the query index).
	Tickets  []*Ticket  `json:"tickets"`
	Messages []*Message `json:"messages"`
	// NextCursor continues with older messages; empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// timelineKey orders messages newest first: by created_at, then id.
type timelineKey struct {
	at time.Time
	id string
}

func (k timelineKey) before(o timelineKey) bool { // k is older than o
	if c := k.at.Compare(o.at); c != 0 {
		return c < 0
	}
	return k.id < o.id
}

func (k timelineKey) String() string { return strconv.FormatInt(k.at.UnixNano(), 10) + "_" + k.id }

func parseTimelineCursor(s string) (timelineKey, bool, error) {
	if s == "" {
		return timelineKey{}, false, nil
	}
	ns, id, ok := strings.Cut(s, "_")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || len(s) > 300 {
		return timelineKey{}, false, FieldError("cursor", "is not a cursor this endpoint gave")
	}
	return timelineKey{at: time.Unix(0, n).UTC(), id: id}, true, nil
}

// CustomerTimeline returns a page of the customer's messages across the
// tickets v may see, newest first. The tickets come from the query index
// (never a scan of the store); their messages are read by _id, from each
// ticket's newest backwards, only as far as the page needs. Within a
// ticket messages are taken to be in arrival order. A customer none of
// whose tickets v may see is not found for v.
func (s *Service) CustomerTimeline(ctx context.Context, v Viewer, id string, limit int, cursor string) (*TimelinePage, error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > 200 {
		return nil, FieldError("limit", "must be at most 200")
	}
	after, paged, err := parseTimelineCursor(cursor)
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > 200 {
		return nil, Errorf(ENotFound, "customer not found")
	}
	c, err := s.store.GetCustomer(ctx, id)
	if IsNotFound(err) {
		return nil, Errorf(ENotFound, "customer %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	var tickets []*Ticket
	f := TicketFilter{CustomerID: id, Sort: SortActivity, Limit: 200}
	for len(tickets) < MaxTimelineTickets {
		page, err := s.ListTickets(ctx, v, f)
		if err != nil {
			return nil, err
		}
		tickets = append(tickets, page.Tickets...)
		if page.NextCursor == "" || len(page.Tickets) == 0 {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(tickets) == 0 && !v.All {
		return nil, Errorf(ENotFound, "customer %s not found", id)
	}
	var got []*Message
	sortGot := func() {
		slices.SortFunc(got, func(a, b *Message) int {
			if messageKey(a).before(messageKey(b)) {
				return 1
			}
			if messageKey(b).before(messageKey(a)) {
				return -1
			}
			return 0
		})
	}
	for _, row := range tickets {
		// Tickets go newest activity first: once the page is full and this
		// ticket's latest message is older than the page's oldest, no
		// later ticket can add to it.
		// (The page keeps one more than limit, to tell whether more follow.)
		if len(got) > limit {
			sortGot()
			got = got[:limit+1]
			if row.LastMessageAt.Before(got[limit].CreatedAt) {
				break
			}
		}
		t, err := s.store.GetTicket(ctx, row.ID)
		if IsNotFound(err) || (err == nil && (t.Erased || t.CustomerID != id)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		msgs, err := s.ticketTail(ctx, t, after, paged, limit)
		if err != nil {
			return nil, err
		}
		got = append(got, msgs...)
	}
	sortGot()
	out := &TimelinePage{Customer: c, Tickets: tickets, Messages: got}
	if len(got) > limit {
		out.Messages = got[:limit]
		out.NextCursor = messageKey(got[limit-1]).String()
	}
	if out.Tickets == nil {
		out.Tickets = []*Ticket{}
	}
	if out.Messages == nil {
		out.Messages = []*Message{}
	}
	return out, nil
}

// ticketTail reads up to limit+1 of t's messages older than after (all
// when !paged), newest first, by _id.
func (s *Service) ticketTail(ctx context.Context, t *Ticket, after timelineKey, paged bool, limit int) ([]*Message, error) {
	ids := t.MessageIDs
	if len(ids) == 0 {
		return nil, nil
	}
	if paged {
		// A ticket whose first message is not older than the cursor was
		// read whole by earlier pages: one read tells.
		first, err := s.store.GetMessages(ctx, ids[:1])
		if err != nil {
			return nil, err
		}
		if len(first) == 1 && !messageKey(first[0]).before(after) {
			return nil, nil
		}
	}
	var out []*Message
	for end := len(ids); end > 0 && len(out) <= limit; {
		start := max(0, end-timelineChunk)
		msgs, err := s.store.GetMessages(ctx, ids[start:end])
		if err != nil {
			return nil, err
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			if !paged || messageKey(msgs[i]).before(after) {
				out = append(out, msgs[i])
			}
		}
		end = start
	}
	return out, nil
}

// messageKey is m's place in a timeline.
func messageKey(m *Message) timelineKey { return timelineKey{at: m.CreatedAt, id: m.ID} }
