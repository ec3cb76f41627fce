package gdpr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// JobKind is the Scheduler kind that resumes erasures.
const JobKind = "erasure"

// resumeAfter is when the safety-net job looks at an erasure again: one
// that a dying node left running is finished then, on one node.
const resumeAfter = 2 * time.Minute

// record is an erasure's job record. While it runs it holds what it must
// delete (the lists and search needles); when done only the outcome stays.
type record struct {
	Status    string    `bson:"status"` // running, done
	StartedAt time.Time `bson:"started_at"`
	DoneAt    time.Time `bson:"done_at,omitempty"`
	Tickets   int       `bson:"tickets"`
	Reason    string    `bson:"reason,omitempty"` // request, retention

	TicketIDs    []string `bson:"ticket_ids,omitempty"`
	IdentityKeys []string `bson:"identity_keys,omitempty"`
	Needles      []string `bson:"needles,omitempty"`
}

func recordKey(customerID string) string { return "erasure:" + customerID }

// Result is a finished erasure.
type Result struct {
	CustomerID string    `json:"customer_id"`
	Tickets    int       `json:"tickets"`
	Streams    int       `json:"stream_messages"`
	ErasedAt   time.Time `json:"erased_at"`
}

// Erase erases customer id (see the package documentation). Erasing an
// erased customer is a conflict that says when it happened; an unknown id
// is not found.
func (s *Service) Erase(ctx context.Context, id string) (*Result, error) {
	return s.erase(ctx, id, "request")
}

func (s *Service) erase(ctx context.Context, id, reason string) (*Result, error) {
	if id == "" || len(id) > 200 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "customer not found")
	}
	var rec record
	err := s.o.Store.GetState(ctx, recordKey(id), &rec)
	switch {
	case err == nil && rec.Status == "done":
		return nil, ticketing.Errorf(ticketing.EConflict, "customer %s was erased already, at %s", id, rec.DoneAt.UTC().Format(time.RFC3339))
	case err == nil:
		// Running: another request, or a node that died; carry on.
	case ticketing.IsNotFound(err):
		c, err := s.customer(ctx, id)
		if err != nil {
			return nil, err
		}
		rec = newRecord(c, s.now(), reason)
		if err := s.o.Store.InsertState(ctx, recordKey(id), rec); err != nil {
			if !errors.Is(err, ticketing.ErrDuplicate) {
				return nil, err
			}
			if err := s.o.Store.GetState(ctx, recordKey(id), &rec); err != nil {
				return nil, err
			}
		}
		if s.o.Scheduler != nil {
			if err := s.o.Scheduler.Schedule(ctx, JobKind, id, s.now().Add(resumeAfter), []byte(id)); err != nil {
				s.log.Warn("gdpr: schedule the erasure's safety net", "customer_id", id, "err", err)
			}
		}
	default:
		return nil, err
	}
	return s.run(ctx, id, rec)
}

func newRecord(c *ticketing.Customer, now time.Time, reason string) record {
	rec := record{Status: "running", StartedAt: now.UTC(), Reason: reason, TicketIDs: c.TicketIDs,
		Needles: []string{c.ID}}
	for _, idn := range c.Identities {
		rec.IdentityKeys = append(rec.IdentityKeys, idn.Key())
		rec.Needles = append(rec.Needles, idn.Value)
	}
	if c.ExternalID != "" {
		rec.Needles = append(rec.Needles, c.ExternalID)
	}
	return rec
}

// run does an erasure's steps; each is idempotent.
func (s *Service) run(ctx context.Context, id string, rec record) (*Result, error) {
	// Identities first: from now on a message from the same address
	// starts a new customer.
	if err := s.o.Store.DeleteIdentities(ctx, rec.IdentityKeys); err != nil {
		return nil, err
	}
	// A pending SMS survey is keyed by the phone (ticketing/csat).
	for _, k := range rec.IdentityKeys {
		if phone, ok := strings.CutPrefix(k, ticketing.IdentityPhone+":"); ok {
			if err := s.o.Store.DeleteState(ctx, "csat/sms/"+phone); err != nil {
				return nil, err
			}
		}
	}
	var tombs []*ticketing.Ticket
	for _, tid := range rec.TicketIDs {
		t, err := s.eraseTicket(ctx, tid)
		if err != nil {
			return nil, err
		}
		if t != nil {
			tombs = append(tombs, t)
		}
	}
	streams, err := s.eraseStreams(ctx, rec.Needles)
	if err != nil {
		return nil, err
	}
	if err := s.o.Store.DeleteCustomer(ctx, id); err != nil {
		return nil, err
	}
	s.announce(ctx, tombs)
	if s.o.Events != nil {
		ev := &ticketing.Event{Type: ticketing.EventCustomerErased, Customer: &ticketing.Customer{ID: id}, At: s.now().UTC()}
		if err := s.o.Events.PublishEvent(ctx, ev); err != nil {
			s.log.Warn("gdpr: announce an erased customer", "customer_id", id, "err", err)
		}
	}
	now := s.now().UTC()
	s.o.Audit.Record(ctx, audit.Entry{Action: "customer.erased",
		Target: fmt.Sprintf("customer:%s tickets:%d reason:%s", id, len(rec.TicketIDs), rec.Reason)})
	done := record{Status: "done", StartedAt: rec.StartedAt, DoneAt: now, Tickets: len(rec.TicketIDs), Reason: rec.Reason}
	if err := s.o.Store.PutState(ctx, recordKey(id), done); err != nil {
		return nil, err
	}
	s.log.Info("customer erased", "customer_id", id, "tickets", len(rec.TicketIDs), "stream_messages", streams)
	return &Result{CustomerID: id, Tickets: len(rec.TicketIDs), Streams: streams, ErasedAt: now}, nil
}

// eraseTicket deletes a ticket's messages and attachments and leaves its
// tombstone; it returns the tombstone (nil when there was no ticket).
func (s *Service) eraseTicket(ctx context.Context, tid string) (*ticketing.Ticket, error) {
	t, err := s.o.Store.GetTicket(ctx, tid)
	if ticketing.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(t.MessageIDs) > 0 {
		msgs, err := s.o.Store.GetMessages(ctx, t.MessageIDs)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			for _, a := range m.Attachments {
				if err := s.o.Store.DeleteBlob(ctx, a.Key); err != nil {
					return nil, err
				}
			}
		}
		if err := s.o.Store.DeleteMessages(ctx, t.MessageIDs); err != nil {
			return nil, err
		}
	}
	tomb := &ticketing.Ticket{ID: t.ID, Number: t.Number, Status: t.Status, Priority: t.Priority, Channel: t.Channel,
		Tags: []string{}, MessageIDs: []string{}, CreatedAt: t.CreatedAt, UpdatedAt: s.now().UTC(), SolvedAt: t.SolvedAt,
		Version: t.Version + 1, Erased: true}
	if t.Erased {
		tomb.Version = t.Version
	}
	if err := s.o.Store.ReplaceTicket(ctx, tomb); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	// The CSAT answer lived on the ticket (gone with it); the survey's
	// send record is ticketing/csat's state document.
	if err := s.o.Store.DeleteState(ctx, "csat/sent/"+tid); err != nil {
		return nil, err
	}
	return tomb, nil
}

func (s *Service) eraseStreams(ctx context.Context, needles []string) (int, error) {
	if s.o.Streams == nil {
		return 0, nil
	}
	ns := make([][]byte, 0, len(needles))
	for _, n := range needles {
		ns = append(ns, []byte(n))
	}
	return s.o.Streams.EraseMatching(ctx, ns)
}

// announce tells every node's read models that the tickets are gone.
func (s *Service) announce(ctx context.Context, tombs []*ticketing.Ticket) {
	if s.o.Events == nil {
		return
	}
	for _, t := range tombs {
		ev := &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: t, At: s.now().UTC()}
		if err := s.o.Events.PublishEvent(ctx, ev); err != nil {
			s.log.Warn("gdpr: announce an erased ticket", "ticket_id", t.ID, "err", err)
		}
	}
}

// HandleJob is the Scheduler handler of JobKind: it finishes an erasure a
// dying node left running; a finished one is nothing to do.
func (s *Service) HandleJob(ctx context.Context, j *ticketing.Job) error {
	id := string(j.Payload)
	var rec record
	err := s.o.Store.GetState(ctx, recordKey(id), &rec)
	if ticketing.IsNotFound(err) || (err == nil && rec.Status == "done") {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.run(ctx, id, rec)
	return err
}
