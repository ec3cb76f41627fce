package gdpr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// JobKind is the Scheduler kind that resumes erasures.
const JobKind = "erasure"

// DefaultResumeAfter is when the safety-net job looks at an erasure again:
// one that a dying node left running is finished then, on one node, and a
// finished one is settled (see record).
const DefaultResumeAfter = 2 * time.Minute

// record is an erasure's job record. While it runs it holds what it must
// delete (the lists and search needles). When done it keeps the outcome,
// and the needles until the safety-net job has swept the streams a second
// time (a message in flight during the erasure may have put a copy there
// after the first sweep); then only the outcome stays.
type record struct {
	Status    string    `bson:"status"` // running, done
	StartedAt time.Time `bson:"started_at"`
	DoneAt    time.Time `bson:"done_at,omitempty"`
	Tickets   int       `bson:"tickets"`
	Streams   int       `bson:"stream_messages"`
	Reason    string    `bson:"reason,omitempty"` // request, retention
	Settled   bool      `bson:"settled,omitempty"`

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

func (r *record) result(id string) *Result {
	return &Result{CustomerID: id, Tickets: r.Tickets, Streams: r.Streams, ErasedAt: r.DoneAt}
}

// Erase erases customer id (see the package documentation). Erasing an
// erased customer is a conflict that says when it happened; an unknown id
// is not found. Requests for one customer on any number of nodes at once
// run the erasure once (under the lease "erasure:<id>") and all return its
// result.
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
		}
		if s.o.Scheduler != nil {
			if err := s.o.Scheduler.Schedule(ctx, JobKind, jobKey(id), s.now().Add(s.resumeAfter), jobPayload(id)); err != nil {
				s.log.Warn("gdpr: schedule the erasure's safety net", "customer_id", id, "err", err)
			}
		}
	default:
		return nil, err
	}
	return s.runOnce(ctx, id)
}

// The safety-net job names its customer without their id in the clear:
// the erasure deletes every stream message that holds the id, its own job
// included, which then never came to settle the erasure.
func jobKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "e" + hex.EncodeToString(sum[:16])
}

func jobPayload(id string) []byte { return []byte("hex:" + hex.EncodeToString([]byte(id))) }

// jobCustomer is the customer a job's payload names (a job scheduled
// before the payload was encoded holds the id itself).
func jobCustomer(p []byte) string {
	if h, ok := strings.CutPrefix(string(p), "hex:"); ok {
		if b, err := hex.DecodeString(h); err == nil {
			return string(b)
		}
	}
	return string(p)
}

// runOnce runs the erasure under its lease, or waits for the node that
// holds it, and returns the finished record's result.
func (s *Service) runOnce(ctx context.Context, id string) (*Result, error) {
	var res *Result
	var rerr error
	step := func(ctx context.Context) error {
		var rec record
		if err := s.o.Store.GetState(ctx, recordKey(id), &rec); err != nil {
			rerr = err
			return nil
		}
		if rec.Status == "done" {
			res = rec.result(id)
			return nil
		}
		res, rerr = s.run(ctx, id, rec)
		return nil
	}
	if s.o.Leases == nil {
		_ = step(ctx)
		return res, rerr
	}
	if err := s.o.Leases.Run(ctx, recordKey(id), step); err != nil {
		return nil, err
	}
	return res, rerr
}

func newRecord(c *ticketing.Customer, now time.Time, reason string) record {
	rec := record{Status: "running", StartedAt: now.UTC(), Reason: reason, TicketIDs: c.TicketIDs,
		Needles: []string{c.ID}}
	rec.learn(c)
	return rec
}

// learn adds what c holds that rec does not know yet: identities that
// came later, tickets linked since. It reports whether it added any.
func (r *record) learn(c *ticketing.Customer) bool {
	added := false
	for _, idn := range c.Identities {
		if k := idn.Key(); !slices.Contains(r.IdentityKeys, k) {
			r.IdentityKeys = append(r.IdentityKeys, k)
			r.Needles = append(r.Needles, idn.Value)
			added = true
		}
	}
	if c.ExternalID != "" && !slices.Contains(r.Needles, c.ExternalID) {
		r.Needles = append(r.Needles, c.ExternalID)
		added = true
	}
	for _, tid := range c.TicketIDs {
		if !slices.Contains(r.TicketIDs, tid) {
			r.TicketIDs = append(r.TicketIDs, tid)
			added = true
		}
	}
	return added
}

// run does an erasure's steps; each is idempotent, so a run cut short is
// run again from the start. The order is what keeps a message in flight
// from leaving anything half-made (ticketing's threading checks the marks
// on what it writes):
//
//  1. the identities go: a message from the same address now makes a new
//     customer;
//  2. the customer is marked erased; the mark returns every ticket linked
//     so far;
//  3. each ticket is marked erased, which returns every message added so
//     far; their files and the messages go, and the ticket becomes a
//     tombstone;
//  4. the customer document is deleted, which returns the tickets linked
//     up to that moment; any not erased yet are erased now;
//  5. the stream copies go (read for from step 2 on, beside steps 3 and
//     4), read models and the audit log are told.
func (s *Service) run(ctx context.Context, id string, rec record) (*Result, error) {
	if err := s.deleteIdentities(ctx, rec.IdentityKeys); err != nil {
		return nil, err
	}
	c, err := s.o.Store.MarkCustomerErased(ctx, id)
	switch {
	case err == nil:
		if rec.learn(c) {
			if err := s.o.Store.PutState(ctx, recordKey(id), rec); err != nil {
				return nil, err
			}
			if err := s.deleteIdentities(ctx, rec.IdentityKeys); err != nil {
				return nil, err
			}
		}
	case !ticketing.IsNotFound(err):
		return nil, err
	}
	// The stream copies are read for while the store's documents go: the
	// words to look for (the customer's id and addresses) are all known
	// once the customer is marked, and reading the streams waits on NATS
	// while the deletes wait on the store. Words learned later (an
	// identity added in between) are looked for afterwards.
	scanned := slices.Clone(rec.Needles)
	type scanResult struct {
		n   int
		err error
	}
	scanc := make(chan scanResult, 1)
	go func() {
		n, err := s.eraseStreams(ctx, scanned)
		scanc <- scanResult{n, err}
	}()
	var scan *scanResult
	waitScan := func() scanResult {
		if scan == nil {
			r := <-scanc
			scan = &r
		}
		return *scan
	}
	defer waitScan() // never return with the read still running
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
	last, err := s.o.Store.DeleteCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	if last != nil && rec.learn(last) {
		if err := s.o.Store.PutState(ctx, recordKey(id), rec); err != nil {
			return nil, err
		}
		if err := s.deleteIdentities(ctx, rec.IdentityKeys); err != nil {
			return nil, err
		}
		for _, tid := range last.TicketIDs {
			if slices.ContainsFunc(tombs, func(t *ticketing.Ticket) bool { return t.ID == tid }) {
				continue
			}
			t, err := s.eraseTicket(ctx, tid)
			if err != nil {
				return nil, err
			}
			if t != nil {
				tombs = append(tombs, t)
			}
		}
	}
	r := waitScan()
	if r.err != nil {
		return nil, r.err
	}
	streams := r.n
	var later []string
	for _, n := range rec.Needles {
		if !slices.Contains(scanned, n) {
			later = append(later, n)
		}
	}
	if len(later) > 0 {
		n, err := s.eraseStreams(ctx, later)
		streams += n
		if err != nil {
			return nil, err
		}
	}
	s.announce(ctx, tombs)
	s.announceErased(ctx, id)
	now := s.now().UTC().Truncate(time.Millisecond) // as the record stores it
	s.o.Audit.Record(ctx, audit.Entry{Action: "customer.erased",
		Target: fmt.Sprintf("customer:%s tickets:%d reason:%s", id, len(rec.TicketIDs), rec.Reason)})
	done := record{Status: "done", StartedAt: rec.StartedAt, DoneAt: now, Tickets: len(rec.TicketIDs), Streams: streams,
		Reason: rec.Reason, Needles: rec.Needles, Settled: s.o.Scheduler == nil}
	if done.Settled {
		done.Needles = nil
	}
	if err := s.o.Store.PutState(ctx, recordKey(id), done); err != nil {
		return nil, err
	}
	s.log.Info("customer erased", "customer_id", id, "tickets", len(rec.TicketIDs), "stream_messages", streams)
	return done.result(id), nil
}

// deleteIdentities deletes identity keys and what is keyed by them.
func (s *Service) deleteIdentities(ctx context.Context, keys []string) error {
	if err := s.o.Store.DeleteIdentities(ctx, keys); err != nil {
		return err
	}
	// A pending SMS survey is keyed by the phone (ticketing/csat).
	for _, k := range keys {
		if phone, ok := strings.CutPrefix(k, ticketing.IdentityPhone+":"); ok {
			if err := s.o.Store.DeleteState(ctx, "csat/sms/"+phone); err != nil {
				return err
			}
		}
	}
	return nil
}

// eraseTicket marks a ticket erased, deletes its messages and attachments
// and leaves its tombstone; it returns the tombstone (nil when there was
// no ticket). The files go before the messages that name them, so a run
// cut short finds them again.
func (s *Service) eraseTicket(ctx context.Context, tid string) (*ticketing.Ticket, error) {
	t, err := s.o.Store.MarkTicketErased(ctx, tid)
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
		var keys []string
		for _, m := range msgs {
			for _, a := range m.Attachments {
				keys = append(keys, a.Key)
			}
		}
		if err := s.o.Store.DeleteBlobs(ctx, keys); err != nil {
			return nil, err
		}
		if err := s.o.Store.DeleteMessages(ctx, t.MessageIDs); err != nil {
			return nil, err
		}
	}
	tomb := t.Tombstone(s.now())
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

// announceErased tells every node's caches and read models that the
// customer is gone (their documents leave the query index).
func (s *Service) announceErased(ctx context.Context, id string) {
	if s.o.Events == nil {
		return
	}
	ev := &ticketing.Event{Type: ticketing.EventCustomerErased, Customer: &ticketing.Customer{ID: id}, At: s.now().UTC()}
	if err := s.o.Events.PublishEvent(ctx, ev); err != nil {
		s.log.Warn("gdpr: announce an erased customer", "customer_id", id, "err", err)
	}
}

// HandleJob is the Scheduler handler of JobKind: it finishes an erasure a
// dying node left running, and settles a finished one: the streams are
// swept once more for copies that messages in flight during the erasure
// put there, read models are told again, and the needles go.
func (s *Service) HandleJob(ctx context.Context, j *ticketing.Job) error {
	id := jobCustomer(j.Payload)
	var rec record
	err := s.o.Store.GetState(ctx, recordKey(id), &rec)
	if ticketing.IsNotFound(err) || (err == nil && rec.Settled) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Status != "done" {
		if _, err := s.runOnce(ctx, id); err != nil {
			return err
		}
		if err := s.o.Store.GetState(ctx, recordKey(id), &rec); err != nil {
			return err
		}
	}
	n, err := s.eraseStreams(ctx, rec.Needles)
	if err != nil {
		return err
	}
	s.announceErased(ctx, id)
	rec.Streams += n
	rec.Settled, rec.Needles = true, nil
	return s.o.Store.PutState(ctx, recordKey(id), rec)
}
