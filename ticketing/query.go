package ticketing

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TicketQuery answers the questions that are queries (lists, counts,
// search) from a node's read model, never by scanning the store.
// ticketing/query implements it on a local index kept current from events.
//
// Every method takes the Viewer and returns only what Viewer.CanSee
// allows. Bad parameters are *Error values with code EBadRequest naming
// the parameter.
type TicketQuery interface {
	// List returns one page of tickets matching f, in f.Sort order.
	List(ctx context.Context, v Viewer, f TicketFilter) (*TicketPage, error)
	// Counts returns how many tickets each built-in view (ViewOpen, ...)
	// holds for v.
	Counts(ctx context.Context, v Viewer) (map[string]int, error)
	// Search returns up to limit results for q, best first.
	Search(ctx context.Context, v Viewer, q string, limit int) ([]*SearchResult, error)
	// Customers returns one page of customers matching q (all when q is
	// empty), by name.
	Customers(ctx context.Context, v Viewer, q string, limit int, cursor string) (*CustomerPage, error)
}

// EventNoter is a read model that hears of this node's own events at once,
// before they come back from the bus (so an agent sees their own change in
// the next list).
type EventNoter interface {
	Note(ev *Event)
}

// SearchResult is one hit: a ticket, the message that matched (nil when
// the ticket or its customer matched) and a snippet: plain text, HTML
// escaped, with the matched words in <mark>.
type SearchResult struct {
	Ticket  *Ticket  `json:"ticket"`
	Message *Message `json:"message"`
	Snippet string   `json:"snippet"`
}

// CustomerPage is one page of customers.
type CustomerPage struct {
	Customers  []*Customer `json:"customers"`
	NextCursor string      `json:"next_cursor"`
}

// EBadRequest is the code of a malformed request parameter (HTTP 400); the
// error's Field names the parameter.
const EBadRequest = "bad_request"

// ParamError returns an EBadRequest error naming the parameter.
func ParamError(param, format string, args ...any) *Error {
	e := Errorf(EBadRequest, format, args...)
	e.Field, e.Message = param, param+": "+e.Message
	return e
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
	// MaxQueryLen bounds q, in bytes.
	MaxQueryLen = 500
)

// Allowed filter values.
var (
	filterStatuses   = []string{StatusOpen, StatusPending, StatusSolved, StatusClosed}
	filterPriorities = []string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
	filterTypes      = []string{"question", "order", "delivery", "return", "complaint"}
	filterSorts      = []string{SortActivity, SortOldest, SortWaiting, SortDue}
)

// FilterParams are the query parameters ParseTicketFilter reads.
var FilterParams = []string{"status", "assignee", "customer", "q", "channel", "team", "tag", "priority", "type",
	"tier", "created_after", "created_before", "sort", "limit", "cursor"}

// ParseTicketFilter builds a filter from a list's query parameters, as
// the contract names them (assignee=me|none|<id>, team=<id>|none|mine, ...).
// me is the agent that "me" means. Parameters it does not know are left
// alone (the caller may use them, like view=).
func ParseTicketFilter(q url.Values, me string) (TicketFilter, error) {
	var f TicketFilter
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	oneOf := func(param string, allowed []string) (string, error) {
		v := get(param)
		if v == "" {
			return "", nil
		}
		for _, a := range allowed {
			if v == a {
				return v, nil
			}
		}
		return "", ParamError(param, "must be one of %s", strings.Join(allowed, ", "))
	}
	var err error
	if f.Status, err = oneOf("status", filterStatuses); err != nil {
		return f, err
	}
	if f.Priority, err = oneOf("priority", filterPriorities); err != nil {
		return f, err
	}
	if f.Type, err = oneOf("type", filterTypes); err != nil {
		return f, err
	}
	if f.Sort, err = oneOf("sort", filterSorts); err != nil {
		return f, err
	}
	if ch := get("channel"); ch != "" {
		if !Channel(ch).Valid() {
			return f, ParamError("channel", "must be email, chat or sms")
		}
		f.Channel = Channel(ch)
	}
	switch as := get("assignee"); as {
	case "":
	case "me":
		f.AssigneeID = me
	case "none":
		f.AssigneeID = AssigneeNone
	default:
		if !isToken(as, 64) {
			return f, ParamError("assignee", "must be me, none or an agent id")
		}
		f.AssigneeID = as
	}
	switch tm := get("team"); tm {
	case "":
	case "none":
		f.TeamID = TeamNone
	case "mine":
		f.TeamID = TeamMine
	default:
		if !isToken(tm, 64) {
			return f, ParamError("team", "must be mine, none or a team id")
		}
		f.TeamID = tm
	}
	for _, p := range []struct {
		name string
		dst  *string
		max  int
	}{{"customer", &f.CustomerID, 200}, {"tag", &f.Tag, 50}, {"tier", &f.Tier, 50}} {
		v := get(p.name)
		if v == "" {
			continue
		}
		if utf8.RuneCountInString(v) > p.max || strings.ContainsAny(v, "\x00\r\n") {
			return f, ParamError(p.name, "must be at most %d characters on one line", p.max)
		}
		*p.dst = v
	}
	f.Query = get("q")
	if len(f.Query) > MaxQueryLen {
		return f, ParamError("q", "must be at most %d bytes", MaxQueryLen)
	}
	if !utf8.ValidString(f.Query) {
		return f, ParamError("q", "must be UTF-8 text")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		v := get(p.name)
		if v == "" {
			continue
		}
		t, err := parseTimeParam(v)
		if err != nil {
			return f, ParamError(p.name, "must be an RFC 3339 time or a date (2026-12-03)")
		}
		*p.dst = t
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			return f, ParamError("limit", "must be a whole number from 1 to %d", MaxListLimit)
		}
		f.Limit = n
	}
	f.Cursor = get("cursor")
	if len(f.Cursor) > 1000 {
		return f, ParamError("cursor", "is not a cursor this API returned")
	}
	return f, nil
}

// Values is the inverse of ParseTicketFilter, for saving a filter; "me"
// stays "me" when AssigneeID is me.
func (f TicketFilter) Values(me string) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", f.Status)
	switch f.AssigneeID {
	case AssigneeNone:
		set("assignee", "none")
	case me:
		set("assignee", "me")
	default:
		set("assignee", f.AssigneeID)
	}
	switch f.TeamID {
	case TeamNone:
		set("team", "none")
	case TeamMine:
		set("team", "mine")
	default:
		set("team", f.TeamID)
	}
	set("customer", f.CustomerID)
	set("q", f.Query)
	set("channel", string(f.Channel))
	set("tag", f.Tag)
	set("priority", f.Priority)
	set("type", f.Type)
	set("tier", f.Tier)
	if !f.CreatedAfter.IsZero() {
		set("created_after", f.CreatedAfter.UTC().Format(time.RFC3339))
	}
	if !f.CreatedBefore.IsZero() {
		set("created_before", f.CreatedBefore.UTC().Format(time.RFC3339))
	}
	set("sort", f.Sort)
	return q
}

func parseTimeParam(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	return t.UTC(), err
}

// isToken reports whether s is a short id: letters, digits, - _ . : @.
func isToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.:@", r):
		default:
			return false
		}
	}
	return true
}

// View is a saved list filter, personal (only its owner sees it) or shared.
type View struct {
	ID string `json:"id" bson:"_id"`
	// Name is what the sidebar shows.
	Name string `json:"name" bson:"name"`
	// Filters are the list's query parameters (status, assignee, q, ...).
	Filters   map[string]string `json:"filters" bson:"filters"`
	Shared    bool              `json:"shared" bson:"shared"`
	OwnerID   string            `json:"owner_id" bson:"owner_id"`
	CreatedAt time.Time         `json:"created_at" bson:"created_at"`
	// Count is how many tickets the view holds for the reader (not stored).
	Count *int `json:"count,omitempty" bson:"-"`
}

// ViewStore keeps saved views as _id-keyed documents in their own
// collection. ListViews reads them all: there are a few dozen per shop.
type ViewStore interface {
	InsertView(ctx context.Context, v *View) error
	GetView(ctx context.Context, id string) (*View, error) // ErrNotFound
	ListViews(ctx context.Context) ([]*View, error)
	DeleteView(ctx context.Context, id string) error
}

// ViewInput is a new view: POST /api/v1/views.
type ViewInput struct {
	Name    string            `json:"name"`
	Filters map[string]string `json:"filters"`
	Shared  bool              `json:"shared"`
}
