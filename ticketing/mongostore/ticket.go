package mongostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// ticketNumberBase is added to the counter, so the first ticket is #1001.
const ticketNumberBase = 1000

// ticketNumberCounter is the counters document behind NextTicketNumber.
const ticketNumberCounter = "ticket_number"

// List limits.
const (
	defaultListLimit = 50
	maxListLimit     = 200
)

// ticketNumberDoc maps a ticket number (as a string _id) to its ticket.
type ticketNumberDoc struct {
	ID       string `bson:"_id"`
	TicketID string `bson:"ticket_id"`
}

// NextTicketNumber returns the next ticket number: 1001, 1002, ...
func (s *Store) NextTicketNumber(ctx context.Context) (int64, error) {
	unlock, err := s.lock(ctx, collCounters, ticketNumberCounter)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var doc struct {
		N int64 `bson:"n"`
	}
	err = upsertRetry(func() error {
		return s.counters.FindOneAndUpdate(ctx, byID(ticketNumberCounter),
			bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&doc)
	})
	if err != nil {
		return 0, fmt.Errorf("mongostore: next ticket number: %w", err)
	}
	return ticketNumberBase + doc.N, nil
}

// InsertTicket inserts t and, when it has a number, the number's lookup
// entry. ErrDuplicate if t.ID exists.
//
// The number entry goes in first: if the ticket insert then loses a race,
// the entry points at a ticket with another number, which GetTicketByNumber
// treats as not found. The other order could leave a ticket whose number
// finds nothing.
func (s *Store) InsertTicket(ctx context.Context, t *ticketing.Ticket) error {
	if t.Number > 0 {
		key := strconv.FormatInt(t.Number, 10)
		_, err := s.ticketNumbers.InsertOne(ctx, ticketNumberDoc{ID: key, TicketID: t.ID})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: insert ticket %s: number %d: %w", t.ID, t.Number, err)
		}
		if err != nil {
			var d ticketNumberDoc
			if err := s.ticketNumbers.FindOne(ctx, byID(key)).Decode(&d); err != nil {
				return fmt.Errorf("mongostore: insert ticket %s: number %d: %w", t.ID, t.Number, err)
			}
			if d.TicketID != t.ID {
				return fmt.Errorf("mongostore: insert ticket %s: number %d already belongs to ticket %s", t.ID, t.Number, d.TicketID)
			}
		}
	}
	doc := *t
	if doc.MessageIDs == nil {
		doc.MessageIDs = []string{}
	}
	doc.MessageCount = len(doc.MessageIDs)
	if _, err := s.tickets.InsertOne(ctx, &doc); err != nil {
		return fmt.Errorf("mongostore: insert ticket %s: %w", t.ID, duplicate(err))
	}
	return nil
}

// GetTicket reads a ticket by id.
func (s *Store) GetTicket(ctx context.Context, id string) (*ticketing.Ticket, error) {
	var t ticketing.Ticket
	if err := s.tickets.FindOne(ctx, byID(id)).Decode(&t); err != nil {
		return nil, fmt.Errorf("mongostore: get ticket %s: %w", id, notFound(err))
	}
	return decoded(&t), nil
}

// GetTicketByNumber reads the number's lookup entry, then the ticket.
func (s *Store) GetTicketByNumber(ctx context.Context, number int64) (*ticketing.Ticket, error) {
	var d ticketNumberDoc
	if err := s.ticketNumbers.FindOne(ctx, byID(strconv.FormatInt(number, 10))).Decode(&d); err != nil {
		return nil, fmt.Errorf("mongostore: get ticket #%d: %w", number, notFound(err))
	}
	t, err := s.GetTicket(ctx, d.TicketID)
	if err != nil {
		return nil, fmt.Errorf("mongostore: get ticket #%d: %w", number, err)
	}
	if t.Number != number { // an entry left by an insert that lost a race
		return nil, fmt.Errorf("mongostore: get ticket #%d: %w", number, ticketing.ErrNotFound)
	}
	return t, nil
}

// ApplyToTicket applies c in one findOneAndUpdate keyed by _id alone and
// returns the ticket after it. Only a change that both adds and removes a
// message id takes two updates, because MongoDB refuses $addToSet and $pull
// on one field in one update; the first of them removes and leaves the
// version alone.
func (s *Store) ApplyToTicket(ctx context.Context, id string, c ticketing.TicketChange) (*ticketing.Ticket, error) {
	unlock, err := s.lock(ctx, collTickets, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	fail := func(err error) (*ticketing.Ticket, error) {
		return nil, fmt.Errorf("mongostore: apply to ticket %s: %w", id, notFound(err))
	}
	update := ticketUpdate(c)
	if c.AddMessageID != "" && c.RemoveMessageID != "" {
		res, err := s.tickets.UpdateOne(ctx, byID(id), bson.D{{Key: "$pull", Value: bson.D{{Key: "message_ids", Value: c.RemoveMessageID}}}})
		if err != nil {
			return fail(err)
		}
		if res.MatchedCount == 0 {
			return fail(mongo.ErrNoDocuments)
		}
	} else if c.RemoveMessageID != "" {
		update = append(update, bson.E{Key: "$pull", Value: bson.D{{Key: "message_ids", Value: c.RemoveMessageID}}})
	}
	var t ticketing.Ticket
	err = s.tickets.FindOneAndUpdate(ctx, byID(id), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
	if err != nil {
		return fail(err)
	}
	return decoded(&t), nil
}

// ticketUpdate builds the update for c, without the $pull.
func ticketUpdate(c ticketing.TicketChange) bson.D {
	var set, unset, maxes bson.D
	if c.Preview != nil {
		set = append(set, bson.E{Key: "preview", Value: *c.Preview})
	}
	if c.LastInboundChannel != "" {
		set = append(set, bson.E{Key: "last_inbound_channel", Value: c.LastInboundChannel})
	}
	if c.Status != nil {
		set = append(set, bson.E{Key: "status", Value: *c.Status})
	}
	if c.SolvedAt != nil {
		if c.SolvedAt.IsZero() {
			unset = append(unset, bson.E{Key: "solved_at", Value: ""})
		} else {
			set = append(set, bson.E{Key: "solved_at", Value: *c.SolvedAt})
		}
	}
	if c.AssigneeID != nil {
		set = append(set, bson.E{Key: "assignee_id", Value: *c.AssigneeID})
	}
	if c.Priority != nil {
		set = append(set, bson.E{Key: "priority", Value: *c.Priority})
	}
	if c.TeamID != nil {
		if *c.TeamID == "" {
			unset = append(unset, bson.E{Key: "team_id", Value: ""})
		} else {
			set = append(set, bson.E{Key: "team_id", Value: *c.TeamID})
		}
	}
	if c.AssignmentReason != nil {
		set = append(set, bson.E{Key: "assignment_reason", Value: *c.AssignmentReason})
	}
	if c.Tags != nil {
		tags := *c.Tags
		if tags == nil {
			tags = []string{}
		}
		set = append(set, bson.E{Key: "tags", Value: tags})
	}
	if c.Type != nil {
		set = append(set, bson.E{Key: "type", Value: *c.Type})
	}
	if c.CustomerName != nil {
		set = append(set, bson.E{Key: "customer_name", Value: *c.CustomerName})
	}
	if c.CustomerID != nil {
		set = append(set, bson.E{Key: "customer_id", Value: *c.CustomerID})
	}
	if c.CSAT != nil {
		set = append(set, bson.E{Key: "csat", Value: c.CSAT})
	}
	if c.SLA != nil {
		set = append(set, bson.E{Key: "sla", Value: c.SLA})
	}
	if c.MergedInto != nil {
		set = append(set, bson.E{Key: "merged_into", Value: *c.MergedInto})
	}
	if tl := c.Timeline; tl != nil {
		set = append(set, bson.E{Key: "preview", Value: tl.Preview}, bson.E{Key: "last_message_at", Value: tl.LastMessage})
		for _, f := range []struct {
			field string
			t     time.Time
		}{{"last_inbound_at", tl.LastInbound}, {"last_outbound_at", tl.LastOutbound}} {
			if f.t.IsZero() {
				unset = append(unset, bson.E{Key: f.field, Value: ""})
			} else {
				set = append(set, bson.E{Key: f.field, Value: f.t})
			}
		}
	}
	for _, m := range []struct {
		field string
		t     time.Time
	}{
		{"last_message_at", c.LastMessage},
		{"last_inbound_at", c.LastInbound},
		{"last_outbound_at", c.LastOutbound},
		{"updated_at", c.UpdatedAt},
	} {
		if !m.t.IsZero() {
			maxes = append(maxes, bson.E{Key: m.field, Value: m.t})
		}
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if len(maxes) > 0 {
		update = append(update, bson.E{Key: "$max", Value: maxes})
	}
	var sets bson.D
	for _, f := range []struct {
		field string
		one   string
		many  []string
	}{
		{"message_ids", c.AddMessageID, c.AddMessageIDs},
		{"order_numbers", c.AddOrderNumber, c.AddOrderNumbers},
		{"tags", "", c.AddTags},
		{"merged_from", c.AddMergedFrom, nil},
		{"split_into", c.AddSplitInto, nil},
	} {
		vals := f.many
		if f.one != "" {
			vals = append([]string{f.one}, vals...)
		}
		switch {
		case len(vals) == 1:
			sets = append(sets, bson.E{Key: f.field, Value: vals[0]})
		case len(vals) > 1:
			sets = append(sets, bson.E{Key: f.field, Value: bson.D{{Key: "$each", Value: vals}}})
		}
	}
	if len(sets) > 0 {
		update = append(update, bson.E{Key: "$addToSet", Value: sets})
	}
	if len(c.RemoveMessageIDs) > 0 {
		// $pullAll, not $pull with $in: the embedded store ignores the latter.
		update = append(update, bson.E{Key: "$pullAll", Value: bson.D{{Key: "message_ids", Value: c.RemoveMessageIDs}}})
	}
	return update
}

// decoded fills the fields a stored ticket does not keep current.
func decoded(t *ticketing.Ticket) *ticketing.Ticket {
	if t.MessageIDs == nil {
		t.MessageIDs = []string{}
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	t.MessageCount = len(t.MessageIDs)
	return t
}

// listCursor is the position after the last ticket of a page.
type listCursor struct {
	T  int64  `json:"t"` // last_message_at in Unix milliseconds (BSON's precision)
	ID string `json:"id"`
}

// ListTickets returns tickets matching f, newest activity first, then by
// id (descending) among equal times. It is index-backed on MongoDB and a
// scan on the embedded server.
func (s *Store) ListTickets(ctx context.Context, f ticketing.TicketFilter) (*ticketing.TicketPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var and bson.A
	if f.Status != "" {
		and = append(and, bson.D{{Key: "status", Value: f.Status}})
	}
	switch f.AssigneeID {
	case "":
	case ticketing.AssigneeNone:
		and = append(and, bson.D{{Key: "assignee_id", Value: bson.D{{Key: "$in", Value: bson.A{"", nil}}}}})
	default:
		and = append(and, bson.D{{Key: "assignee_id", Value: f.AssigneeID}})
	}
	if f.CustomerID != "" {
		and = append(and, bson.D{{Key: "customer_id", Value: f.CustomerID}})
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		or := bson.A{
			bson.D{{Key: "subject", Value: re}},
			bson.D{{Key: "preview", Value: re}},
			bson.D{{Key: "customer_name", Value: re}},
		}
		if n, err := strconv.ParseInt(strings.TrimPrefix(q, "#"), 10, 64); err == nil {
			or = append(or, bson.D{{Key: "number", Value: n}})
		}
		and = append(and, bson.D{{Key: "$or", Value: or}})
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		at := time.UnixMilli(c.T).UTC()
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "last_message_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "last_message_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: c.ID}}}},
		}}})
	}
	filter := bson.D{}
	if len(and) > 0 {
		filter = bson.D{{Key: "$and", Value: and}}
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "last_message_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit) + 1)
	cur, err := s.tickets.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongostore: list tickets: %w", err)
	}
	tickets := []*ticketing.Ticket{}
	if err := cur.All(ctx, &tickets); err != nil {
		return nil, fmt.Errorf("mongostore: list tickets: %w", err)
	}
	page := &ticketing.TicketPage{Tickets: tickets}
	if len(tickets) > limit {
		page.Tickets = tickets[:limit]
		last := page.Tickets[limit-1]
		page.NextCursor = encodeCursor(listCursor{T: last.LastMessageAt.UnixMilli(), ID: last.ID})
	}
	for _, t := range page.Tickets {
		decoded(t)
	}
	return page, nil
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return c, ticketing.FieldError("cursor", "is not a cursor from a previous page")
	}
	return c, nil
}

// ScanTickets calls fn for every ticket, in no order, decoding one at a
// time. It stops at fn's first error and returns it.
func (s *Store) ScanTickets(ctx context.Context, fn func(*ticketing.Ticket) error) error {
	cur, err := s.tickets.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongostore: scan tickets: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var t ticketing.Ticket
		if err := cur.Decode(&t); err != nil {
			return fmt.Errorf("mongostore: scan tickets: %w", err)
		}
		if err := fn(decoded(&t)); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongostore: scan tickets: %w", err)
	}
	return nil
}
