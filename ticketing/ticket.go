package ticketing

import "time"

// Ticket statuses.
const (
	StatusOpen    = "open"
	StatusPending = "pending"
	StatusSolved  = "solved"
	StatusClosed  = "closed"
)

// Priorities.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Ticket is one conversation with one customer, across channels.
type Ticket struct {
	ID         string   `json:"id" bson:"_id"`
	Number     int64    `json:"number" bson:"number"`
	Status     string   `json:"status" bson:"status"`
	Priority   string   `json:"priority" bson:"priority"`
	Type       string   `json:"type,omitempty" bson:"type,omitempty"`
	Subject    string   `json:"subject" bson:"subject"`
	CustomerID string   `json:"customer_id" bson:"customer_id"`
	AssigneeID string   `json:"assignee_id" bson:"assignee_id"`
	Channel    Channel  `json:"channel" bson:"channel"`
	Tags       []string `json:"tags" bson:"tags"`
	// TeamID is the team that owns the ticket; empty: no team (everyone
	// may see it).
	TeamID string `json:"team_id,omitempty" bson:"team_id,omitempty"`
	// AssignmentReason says why the ticket has its assignee (or none).
	AssignmentReason string `json:"assignment_reason,omitempty" bson:"assignment_reason,omitempty"`
	// SLA holds the ticket's response clocks (ticketing/sla keeps them).
	SLA *SLAState `json:"sla,omitempty" bson:"sla,omitempty"`
	// OrderNumbers are the shop orders of the ticket's customer that the
	// conversation is about (ticketing/order links them).
	OrderNumbers []string `json:"order_numbers,omitempty" bson:"order_numbers,omitempty"`
	// CSAT is the customer's satisfaction answer (ticketing/csat asks).
	CSAT      *CSAT     `json:"csat,omitempty" bson:"csat,omitempty"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`

	// CustomerName is denormalised for lists.
	CustomerName string `json:"customer_name,omitempty" bson:"customer_name,omitempty"`
	// Preview is the first line of the latest message.
	Preview        string    `json:"preview" bson:"preview"`
	LastMessageAt  time.Time `json:"last_message_at" bson:"last_message_at"`
	LastInboundAt  time.Time `json:"last_inbound_at,omitzero" bson:"last_inbound_at,omitempty"`
	LastOutboundAt time.Time `json:"last_outbound_at,omitzero" bson:"last_outbound_at,omitempty"`
	// LastInboundChannel is where the customer last wrote from; a reply
	// goes there unless the agent picks another channel.
	LastInboundChannel Channel   `json:"last_inbound_channel,omitempty" bson:"last_inbound_channel,omitempty"`
	MessageCount       int       `json:"message_count" bson:"message_count"`
	SolvedAt           time.Time `json:"solved_at,omitzero" bson:"solved_at,omitempty"`
	PreviousTicketID   string    `json:"previous_ticket_id,omitempty" bson:"previous_ticket_id,omitempty"`
	// MessageIDs lists the ticket's messages in arrival order, so the ticket
	// view reads them by _id instead of scanning the messages collection.
	MessageIDs []string `json:"-" bson:"message_ids"`
	// Version grows with every change; events carry it so read models keep
	// the newest state whatever order events arrive in.
	Version int64 `json:"version" bson:"version"`
	// MergedInto is the ticket this one was merged into
	// (ticketing/ticketmerge): its messages are there now, and this one is
	// closed for good. MergedFrom lists the tickets merged into this one.
	MergedInto string   `json:"merged_into,omitempty" bson:"merged_into,omitempty"`
	MergedFrom []string `json:"merged_from,omitempty" bson:"merged_from,omitempty"`
	// SplitFrom is the ticket this one was split from; SplitInto lists the
	// tickets split from this one.
	SplitFrom string   `json:"split_from,omitempty" bson:"split_from,omitempty"`
	SplitInto []string `json:"split_into,omitempty" bson:"split_into,omitempty"`
	// SplitKey names the split operation that created the ticket, so a
	// repeated split recognises its own ticket.
	SplitKey string `json:"-" bson:"split_key,omitempty"`
	// Erased marks what is left of a ticket whose customer was erased
	// (ticketing/gdpr): its id, number and dates, for the books. It is
	// not found, listed or counted.
	Erased bool `json:"erased,omitempty" bson:"erased,omitempty"`
}

// SLAState is a ticket's response clocks. Due times are zero when no
// target applies or the clock has stopped.
type SLAState struct {
	PolicyID         string    `json:"policy_id" bson:"policy_id"`
	FirstResponseDue time.Time `json:"first_response_due,omitzero" bson:"first_response_due,omitempty"`
	NextResponseDue  time.Time `json:"next_response_due,omitzero" bson:"next_response_due,omitempty"`
	ResolutionDue    time.Time `json:"resolution_due,omitzero" bson:"resolution_due,omitempty"`
	Breaches         []string  `json:"breaches" bson:"breaches,omitempty"`
	Paused           bool      `json:"paused" bson:"paused"`
}

// NextDue is the earliest running due time, zero if none (or paused).
func (s *SLAState) NextDue() time.Time {
	if s == nil || s.Paused {
		return time.Time{}
	}
	var next time.Time
	for _, t := range []time.Time{s.FirstResponseDue, s.NextResponseDue, s.ResolutionDue} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// Unanswered reports whether the customer's latest message has no reply yet.
func (t *Ticket) Unanswered() bool { return t.LastInboundAt.After(t.LastOutboundAt) }

// Live reports whether new messages join this ticket without reopening it.
func (t *Ticket) Live() bool { return t.Status == StatusOpen || t.Status == StatusPending }

// TicketFilter selects tickets for a list. ParseTicketFilter builds one
// from a list's query parameters; the query index (ticketing/query)
// serves it.
type TicketFilter struct {
	Status     string // empty: any
	AssigneeID string // empty: any; "-" (AssigneeNone): unassigned
	CustomerID string
	// Query is searched in every message's text and subject, the
	// customer's name, emails, phones and external id, ticket and order
	// numbers, by stem and prefix, ignoring case.
	Query    string
	Channel  Channel
	TeamID   string // empty: any; "-" (TeamNone): no team; TeamMine: the viewer's own teams
	Tag      string
	Priority string
	Type     string
	Tier     string
	// CreatedAfter and CreatedBefore bound CreatedAt (after: inclusive,
	// before: exclusive); zero: unbounded.
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// Sort is SortActivity (default), SortOldest, SortWaiting or SortDue.
	Sort   string
	Limit  int
	Cursor string
}

// TeamNone in TicketFilter.TeamID selects tickets without a team.
const TeamNone = "-"

// TeamMine in TicketFilter.TeamID (team=mine) selects the tickets of the
// teams the viewer belongs to (Viewer.OwnTeamIDs); none when they belong
// to no team. It is not a valid team id, so it never names a real team.
const TeamMine = "~mine"

// List sorts.
const (
	SortActivity = "activity" // newest activity first
	SortOldest   = "oldest"   // oldest created first
	SortWaiting  = "waiting"  // longest-waiting customer first (unanswered tickets)
	SortDue      = "due"      // nearest SLA due time first
)

// AssigneeNone in TicketFilter.AssigneeID selects unassigned tickets.
const AssigneeNone = "-"

// TicketPage is one page of a list, newest activity first.
type TicketPage struct {
	Tickets    []*Ticket `json:"tickets"`
	NextCursor string    `json:"next_cursor"`
}

// TicketUpdate changes a ticket; nil fields are left alone.
type TicketUpdate struct {
	Status     *string   `json:"status" validate:"omitempty,oneof=open pending solved closed"`
	AssigneeID *string   `json:"assignee_id" validate:"omitempty,max=64"`
	Priority   *string   `json:"priority" validate:"omitempty,oneof=low normal high urgent"`
	Tags       *[]string `json:"tags" validate:"omitempty,max=50,dive,min=1,max=50"`
	Type       *string   `json:"type" validate:"omitempty,oneof=question order delivery return complaint"`
	// TeamID moves the ticket to a team ("" : no team). The caller checks
	// that the team exists (teams are ticketing/staff's).
	TeamID *string `json:"team_id" validate:"omitempty,max=64"`
	// AssignmentReason says why the assignee changed (auto-assignment
	// records its decision; an agent's change is "manual").
	AssignmentReason *string `json:"-"`
}

// Tombstone is what stays of an erased ticket (ticketing/gdpr): its id,
// number, status, channel and dates, for the shop's books, and nothing
// personal.
func (t *Ticket) Tombstone(now time.Time) *Ticket {
	return &Ticket{ID: t.ID, Number: t.Number, Status: t.Status, Priority: t.Priority, Channel: t.Channel,
		Tags: []string{}, MessageIDs: []string{}, CreatedAt: t.CreatedAt, UpdatedAt: now.UTC(), SolvedAt: t.SolvedAt,
		Version: t.Version + 1, Erased: true}
}
