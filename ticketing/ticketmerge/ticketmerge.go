// Package ticketmerge merges two tickets of one customer into one
// timeline, and splits messages off a ticket into a new one.
//
// The embedded store has no transactions, so each operation is an
// _id-keyed record written before anything moves ("ticketmerge/<from
// ticket>", "ticketsplit/<hash of the ticket and the messages>"), followed
// by steps that are each idempotent and ordered so that a message is on at
// least one ticket's list at every moment:
//
//  1. the receiving ticket lists the messages ($addToSet),
//  2. each message records its new ticket (message.updated on every node,
//     so the query index searches it on the new ticket),
//  3. the giving ticket lets them go ($pullAll) and, for a merge, is
//     closed with merged_into in the same write,
//  4. the record is marked applied and the audit log told.
//
// A node that dies half-way leaves a record in state "started"; repeating
// the same request finishes it (nothing is lost, nothing is done twice),
// and a repeat of a finished one is a clear 409.
package ticketmerge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// Operation states.
const (
	StateStarted = "started" // recorded; steps may be half done
	StateApplied = "applied"
)

// Audit actions.
const (
	ActionMerged = "ticket.merged"
	ActionSplit  = "ticket.split"
)

// MaxSplit bounds how many messages one split moves.
const MaxSplit = 1000

// Store is what merges and splits need of the store (ticketing/mongostore).
type Store interface {
	GetTicket(ctx context.Context, id string) (*ticketing.Ticket, error)
	InsertTicket(ctx context.Context, t *ticketing.Ticket) error
	ApplyToTicket(ctx context.Context, id string, c ticketing.TicketChange) (*ticketing.Ticket, error)
	NextTicketNumber(ctx context.Context) (int64, error)
	GetMessage(ctx context.Context, id string) (*ticketing.Message, error)
	GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error)
	SetMessageThread(ctx context.Context, id, ticketID, reason string) error
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	LinkTicket(ctx context.Context, customerID, ticketID string, gen int) (*ticketing.Customer, error)
	AddCustomerTicket(ctx context.Context, customerID, ticketID string, gen int) (*ticketing.Customer, error)
	ticketing.StateStore
}

// Core is what the package needs of the ticketing core.
type Core interface {
	// Ticket reads a ticket by id or number; erased tickets are not found.
	Ticket(ctx context.Context, id string) (*ticketing.Ticket, error)
	// Publish announces changes to every node and this node's read model.
	Publish(ctx context.Context, evs ...*ticketing.Event)
}

// Options configure a Service.
type Options struct {
	Store Store          // required
	Core  Core           // required
	Audit audit.Recorder // nil: not audited
	// Scheduler, when set, makes every operation schedule a job that
	// finishes it if the node doing it dies half-way (Run consumes them,
	// on any node). Nil: a repeat of the request finishes it.
	Scheduler ticketing.Scheduler
	// FinishAfter is how long after an operation began its finishing job
	// is due; default one minute.
	FinishAfter time.Duration
	Now         func() time.Time
}

// Service merges and splits tickets.
type Service struct {
	o Options
}

// New returns a Service.
func New(o Options) *Service {
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FinishAfter <= 0 {
		o.FinishAfter = time.Minute
	}
	return &Service{o: o}
}

// JobKind is the scheduler queue of the jobs that finish operations a
// node left half-done.
const JobKind = "ticketmerge"

type finishJob struct {
	Merge string `json:"merge,omitempty"` // the record key of a merge
	Split string `json:"split,omitempty"` // the record key of a split
}

// schedule stores the job that finishes an operation should this node
// stop before it does. It is stored before the operation's record, so a
// record never lacks its job; a job without a record does nothing.
func (s *Service) schedule(ctx context.Context, key string, j finishJob) error {
	if s.o.Scheduler == nil {
		return nil
	}
	b, _ := json.Marshal(j)
	if err := s.o.Scheduler.Schedule(ctx, JobKind, strings.NewReplacer("/", "-").Replace(key), s.o.Now().Add(s.o.FinishAfter), b); err != nil {
		return fmt.Errorf("ticketmerge: schedule: %w", err)
	}
	return nil
}

// Run finishes, on whichever node consumes the job, the operations whose
// node stopped half-way, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.o.Scheduler == nil {
		<-ctx.Done()
		return nil
	}
	return s.o.Scheduler.ConsumeJobs(ctx, JobKind, s.finish)
}

// finish completes an operation whose record is still "started".
func (s *Service) finish(ctx context.Context, j *ticketing.Job) error {
	var fj finishJob
	if err := json.Unmarshal(j.Payload, &fj); err != nil || (fj.Merge == "") == (fj.Split == "") {
		return &ticketing.PoisonError{Reason: "ticketmerge: bad job payload"}
	}
	if fj.Merge != "" {
		var r MergeRecord
		if err := s.o.Store.GetState(ctx, fj.Merge, &r); ticketing.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if r.State != StateStarted {
			return nil
		}
		into, err := s.o.Store.GetTicket(ctx, r.IntoID)
		if err != nil {
			return ignoreGone(err)
		}
		from, err := s.o.Store.GetTicket(ctx, r.FromID)
		if err != nil {
			return ignoreGone(err)
		}
		if _, err := s.applyMerge(ctx, &r, into, from); err != nil {
			return err
		}
		s.o.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "agent", ID: r.By}, Action: ActionMerged,
			Target: "ticket:" + into.ID + " from ticket:" + from.ID})
		return nil
	}
	var r SplitRecord
	if err := s.o.Store.GetState(ctx, fj.Split, &r); ticketing.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if r.State != StateStarted {
		return nil
	}
	src, err := s.o.Store.GetTicket(ctx, r.SourceID)
	if err != nil {
		return ignoreGone(err)
	}
	t, err := s.applySplit(ctx, &r, src)
	if err != nil {
		return err
	}
	s.o.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "agent", ID: r.By}, Action: ActionSplit,
		Target: "ticket:" + t.ID + " from ticket:" + src.ID})
	return nil
}

// ignoreGone: a ticket erased since (its customer's data went) leaves
// nothing to finish.
func ignoreGone(err error) error {
	if ticketing.IsNotFound(err) {
		return nil
	}
	return err
}

// MergeRecord is one ticket merge.
type MergeRecord struct {
	IntoID string    `bson:"into_id"`
	FromID string    `bson:"from_id"`
	By     string    `bson:"by"`
	At     time.Time `bson:"at"`
	State  string    `bson:"state"`
	// MessageIDs are the merged-away ticket's messages when the merge
	// began; Tags and OrderNumbers its tags and orders; FromLive whether
	// it was open or pending (then the merged ticket is too).
	MessageIDs   []string `bson:"message_ids"`
	Tags         []string `bson:"tags"`
	OrderNumbers []string `bson:"order_numbers"`
	FromLive     bool     `bson:"from_live"`
}

// SplitRecord is one split.
type SplitRecord struct {
	Key        string    `bson:"key"`
	SourceID   string    `bson:"source_id"`
	MessageIDs []string  `bson:"message_ids"`
	By         string    `bson:"by"`
	At         time.Time `bson:"at"`
	State      string    `bson:"state"`
	// Attempt grows when the same messages are split off again after they
	// came back (merged into their old ticket).
	Attempt  int    `bson:"attempt"`
	TicketID string `bson:"ticket_id,omitempty"`
}

func mergeKey(fromID string) string { return "ticketmerge/" + fromID }

func notFound(field, id string) error {
	e := &ticketing.Error{Code: ticketing.ENotFound, Message: fmt.Sprintf("ticket %s not found", id)}
	if field != "" {
		e.Field, e.Message = field, field+": "+e.Message
	}
	return e
}

func conflict(field, f string, a ...any) error {
	e := &ticketing.Error{Code: ticketing.EConflict, Field: field, Message: fmt.Sprintf(f, a...)}
	if field != "" {
		e.Message = field + ": " + e.Message
	}
	return e
}

// ticket reads a ticket for an operation; field names it in errors.
func (s *Service) ticket(ctx context.Context, field, id string) (*ticketing.Ticket, error) {
	t, err := s.o.Core.Ticket(ctx, id)
	if ticketing.IsNotFound(err) {
		return nil, notFound(field, id)
	}
	return t, err
}

// CheckMerge validates merging ticket fromID into intoID as far as the
// tickets themselves go and returns both; the caller checks who may see
// them.
func (s *Service) CheckMerge(ctx context.Context, intoID, fromID string) (into, from *ticketing.Ticket, err error) {
	if strings.TrimSpace(fromID) == "" {
		return nil, nil, ticketing.FieldError("from_id", "is required: the ticket to merge into this one")
	}
	if into, err = s.ticket(ctx, "", intoID); err != nil {
		return nil, nil, err
	}
	if from, err = s.ticket(ctx, "from_id", fromID); err != nil {
		return nil, nil, err
	}
	if from.ID == into.ID {
		return nil, nil, ticketing.FieldError("from_id", "is this ticket: a ticket cannot be merged into itself")
	}
	if from.CustomerID != into.CustomerID {
		return nil, nil, ticketing.FieldError("from_id", "ticket #%d belongs to another customer: only tickets of one customer can be merged", from.Number)
	}
	if into.MergedInto != "" {
		return nil, nil, conflict("", "ticket #%d was merged into ticket %s; merge into that one", into.Number, into.MergedInto)
	}
	return into, from, nil
}

// Merge moves ticket fromID's messages into ticket intoID (one timeline, in
// time order), gives it fromID's tags and order numbers, and closes fromID
// with merged_into. Both tickets must be the same customer's. It returns
// the merged ticket.
func (s *Service) Merge(ctx context.Context, by *ticketing.Agent, intoID, fromID string) (*ticketing.Ticket, error) {
	into, from, err := s.CheckMerge(ctx, intoID, fromID)
	if err != nil {
		return nil, err
	}
	var r MergeRecord
	err = s.o.Store.GetState(ctx, mergeKey(from.ID), &r)
	switch {
	case err == nil && r.State == StateApplied:
		return nil, conflict("from_id", "ticket #%d was already merged into ticket %s", from.Number, r.IntoID)
	case err == nil && r.IntoID != into.ID:
		return nil, conflict("from_id", "a merge of ticket #%d into ticket %s is unfinished: repeat that merge to finish it", from.Number, r.IntoID)
	case err == nil: // started: a node stopped half-way; finish it
	case ticketing.IsNotFound(err):
		if from.MergedInto != "" {
			return nil, conflict("from_id", "ticket #%d was already merged into ticket %s", from.Number, from.MergedInto)
		}
		r = MergeRecord{IntoID: into.ID, FromID: from.ID, By: agentID(by), At: s.o.Now().UTC(), State: StateStarted,
			MessageIDs: slices.Clone(from.MessageIDs), Tags: slices.Clone(from.Tags),
			OrderNumbers: slices.Clone(from.OrderNumbers), FromLive: from.Live()}
		if err := s.schedule(ctx, mergeKey(from.ID), finishJob{Merge: mergeKey(from.ID)}); err != nil {
			return nil, err
		}
		if err := s.o.Store.InsertState(ctx, mergeKey(from.ID), r); err != nil {
			if ticketing.ErrorCode(err) == ticketing.EConflict {
				return nil, conflict("from_id", "ticket #%d is being merged by someone else right now", from.Number)
			}
			return nil, err
		}
	default:
		return nil, err
	}
	t, err := s.applyMerge(ctx, &r, into, from)
	if err != nil {
		return nil, err
	}
	s.o.Audit.Record(ctx, audit.Entry{Action: ActionMerged, Target: "ticket:" + into.ID + " from ticket:" + from.ID})
	return t, nil
}

// applyMerge runs a merge's steps; each is idempotent.
func (s *Service) applyMerge(ctx context.Context, r *MergeRecord, into, from *ticketing.Ticket) (*ticketing.Ticket, error) {
	now := s.o.Now().UTC()
	// 1. The merged ticket lists every message, and takes the other's
	// latest activity and, when the other was live and it is not, reopens.
	change := ticketing.TicketChange{AddMessageIDs: r.MessageIDs, AddTags: r.Tags, AddOrderNumbers: r.OrderNumbers,
		AddMergedFrom: from.ID, LastMessage: from.LastMessageAt, LastInbound: from.LastInboundAt,
		LastOutbound: from.LastOutboundAt, UpdatedAt: now}
	if from.LastMessageAt.After(into.LastMessageAt) {
		change.Preview = &from.Preview
		if from.LastInboundChannel != "" && from.LastInboundAt.After(into.LastInboundAt) {
			change.LastInboundChannel = from.LastInboundChannel
		}
	}
	if r.FromLive && !into.Live() {
		open, zero := ticketing.StatusOpen, time.Time{}
		change.Status, change.SolvedAt = &open, &zero
	}
	t, err := s.o.Store.ApplyToTicket(ctx, into.ID, change)
	if err != nil {
		return nil, fmt.Errorf("ticketmerge: merge %s into %s: %w", from.ID, into.ID, err)
	}
	s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: t})
	// 2. Each message says so.
	if err := s.moveMessages(ctx, r.MessageIDs, t, ticketing.ReasonMerged); err != nil {
		return nil, err
	}
	// 3. New mail of the customer goes to the merged ticket.
	if c, err := s.o.Store.GetCustomer(ctx, into.CustomerID); err == nil && c.CurrentTicketID == from.ID {
		if _, err := s.o.Store.LinkTicket(ctx, c.ID, into.ID, 0); err != nil {
			return nil, fmt.Errorf("ticketmerge: current ticket of %s: %w", c.ID, err)
		}
	}
	// 4. The other ticket lets them go, closed for good. A message that
	// joined it meanwhile is moved after it.
	closed, solved := ticketing.StatusClosed, now
	if !from.SolvedAt.IsZero() {
		solved = from.SolvedAt
	}
	change = ticketing.TicketChange{RemoveMessageIDs: r.MessageIDs, Status: &closed, SolvedAt: &solved,
		MergedInto: &into.ID, UpdatedAt: now}
	if len(change.RemoveMessageIDs) == 0 {
		change.RemoveMessageIDs = nil
	}
	ft, err := s.o.Store.ApplyToTicket(ctx, from.ID, change)
	if err != nil {
		return nil, fmt.Errorf("ticketmerge: close %s: %w", from.ID, err)
	}
	for round := 0; len(ft.MessageIDs) > 0 && round < 3; round++ {
		late := slices.Clone(ft.MessageIDs)
		if t, err = s.o.Store.ApplyToTicket(ctx, into.ID, ticketing.TicketChange{AddMessageIDs: late, UpdatedAt: now}); err != nil {
			return nil, err
		}
		if err := s.moveMessages(ctx, late, t, ticketing.ReasonMerged); err != nil {
			return nil, err
		}
		if ft, err = s.o.Store.ApplyToTicket(ctx, from.ID, ticketing.TicketChange{RemoveMessageIDs: late, UpdatedAt: now}); err != nil {
			return nil, err
		}
		s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: t})
	}
	s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: ft})
	r.State = StateApplied
	if err := s.o.Store.PutState(ctx, mergeKey(from.ID), r); err != nil {
		return nil, err
	}
	return t, nil
}

// moveMessages records t as the ticket of each message and announces it
// (message.updated carries the ticket, so every node's index and consoles
// follow). A message already there is announced again: cheap, and a redo
// after a lost publish heals. The messages are read together and written
// a few at a time (each write is keyed by its own _id).
func (s *Service) moveMessages(ctx context.Context, ids []string, t *ticketing.Ticket, reason string) error {
	msgs, err := s.o.Store.GetMessages(ctx, ids) // erased ones are left out
	if err != nil {
		return fmt.Errorf("ticketmerge: read messages: %w", err)
	}
	errs := make([]error, len(msgs))
	sem := make(chan struct{}, moveConcurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		if m.TicketID == t.ID {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.o.Store.SetMessageThread(ctx, m.ID, t.ID, reason); err != nil {
				errs[i] = fmt.Errorf("ticketmerge: move message %s: %w", m.ID, err)
				return
			}
			m.TicketID, m.ThreadReason = t.ID, reason
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, m := range msgs {
		s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventMessageUpdated, Ticket: t, Message: m})
	}
	return nil
}

// moveConcurrency bounds the message writes of one move in flight.
const moveConcurrency = 4

func agentID(a *ticketing.Agent) string {
	if a == nil {
		return ""
	}
	return a.ID
}

// splitKey names a split of these messages off this ticket.
func splitKey(sourceID string, ids []string) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	h := sha256.New()
	h.Write([]byte(sourceID))
	for _, id := range sorted {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return "ticketsplit/" + hex.EncodeToString(h.Sum(nil)[:16])
}

// CheckSplit validates a split of messageIDs off ticket id and returns the
// ticket and the ids in timeline order, without duplicates.
func (s *Service) CheckSplit(ctx context.Context, id string, messageIDs []string) (*ticketing.Ticket, []string, error) {
	src, err := s.splitSource(ctx, id, messageIDs)
	if err != nil {
		return nil, nil, err
	}
	ids, err := onTicket(src, messageIDs)
	return src, ids, err
}

// splitSource reads the ticket of a split and checks what it can without
// knowing whether the split was begun before.
func (s *Service) splitSource(ctx context.Context, id string, messageIDs []string) (*ticketing.Ticket, error) {
	src, err := s.ticket(ctx, "", id)
	if err != nil {
		return nil, err
	}
	if src.MergedInto != "" {
		return nil, conflict("merged_into", "ticket #%d was merged into ticket %s: split there", src.Number, src.MergedInto)
	}
	if len(messageIDs) == 0 {
		return nil, ticketing.FieldError("message_ids", "must list at least one message of the ticket")
	}
	if len(messageIDs) > MaxSplit {
		return nil, ticketing.FieldError("message_ids", "must list at most %d messages", MaxSplit)
	}
	return src, nil
}

// onTicket checks that the messages are on the ticket, and not all of it,
// and returns them in timeline order without duplicates.
func onTicket(src *ticketing.Ticket, messageIDs []string) ([]string, error) {
	want := map[string]bool{}
	for _, m := range messageIDs {
		if !slices.Contains(src.MessageIDs, m) {
			return nil, ticketing.FieldError("message_ids", "message %q is not on ticket #%d", clip(m), src.Number)
		}
		want[m] = true
	}
	var ids []string
	for _, m := range src.MessageIDs {
		if want[m] {
			ids = append(ids, m)
		}
	}
	if len(ids) == len(src.MessageIDs) {
		return nil, ticketing.FieldError("message_ids", "lists every message of ticket #%d: at least one must stay", src.Number)
	}
	return ids, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Split moves messages off ticket id into a new ticket of the same
// customer (the next ticket number, the same team, priority and type) and
// returns the new ticket. A split that a node began and did not finish is
// finished by the same request.
func (s *Service) Split(ctx context.Context, by *ticketing.Agent, id string, messageIDs []string) (*ticketing.Ticket, error) {
	src, err := s.splitSource(ctx, id, messageIDs)
	if err != nil {
		return nil, err
	}
	key := splitKey(src.ID, messageIDs)
	var r SplitRecord
	err = s.o.Store.GetState(ctx, key, &r)
	switch {
	case err == nil && r.State == StateStarted: // a node stopped half-way; finish it
	case err == nil || ticketing.IsNotFound(err):
		ids, verr := onTicket(src, messageIDs)
		if verr != nil {
			return nil, verr
		}
		if err == nil {
			// Split before and finished, yet the messages are all on the
			// ticket again (merged back): this is a new split of them.
			r.Attempt++
			r.State, r.TicketID, r.By, r.At = StateStarted, "", agentID(by), s.o.Now().UTC()
			if err := s.schedule(ctx, fmt.Sprintf("%s/%d", key, r.Attempt), finishJob{Split: key}); err != nil {
				return nil, err
			}
			if err := s.o.Store.PutState(ctx, key, r); err != nil {
				return nil, err
			}
			break
		}
		r = SplitRecord{Key: key, SourceID: src.ID, MessageIDs: ids, By: agentID(by), At: s.o.Now().UTC(), State: StateStarted}
		if err := s.schedule(ctx, key+"/0", finishJob{Split: key}); err != nil {
			return nil, err
		}
		if err := s.o.Store.InsertState(ctx, key, r); err != nil {
			if ticketing.ErrorCode(err) != ticketing.EConflict {
				return nil, err
			}
			if err := s.o.Store.GetState(ctx, key, &r); err != nil { // another request of the same split won
				return nil, err
			}
		}
	default:
		return nil, err
	}
	t, err := s.applySplit(ctx, &r, src)
	if err != nil {
		return nil, err
	}
	s.o.Audit.Record(ctx, audit.Entry{Action: ActionSplit, Target: "ticket:" + t.ID + " from ticket:" + src.ID})
	return t, nil
}

// applySplit runs a split's steps; each is idempotent.
func (s *Service) applySplit(ctx context.Context, r *SplitRecord, src *ticketing.Ticket) (*ticketing.Ticket, error) {
	msgs, err := s.o.Store.GetMessages(ctx, r.MessageIDs)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, ticketing.FieldError("message_ids", "none of these messages exists any more")
	}
	// 1. The new ticket, listing the messages.
	t, err := s.newTicket(ctx, r, src, msgs)
	if err != nil {
		return nil, err
	}
	// 2. Each message says so.
	if err := s.moveMessages(ctx, r.MessageIDs, t, ticketing.ReasonSplit); err != nil {
		return nil, err
	}
	// 3. The old ticket lets them go and shows its own latest message.
	rest, err := s.o.Store.GetMessages(ctx, remaining(src.MessageIDs, r.MessageIDs))
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC()
	tl := timeline(rest)
	st, err := s.o.Store.ApplyToTicket(ctx, src.ID, ticketing.TicketChange{RemoveMessageIDs: r.MessageIDs,
		AddSplitInto: t.ID, Timeline: &tl, UpdatedAt: now})
	if err != nil {
		return nil, fmt.Errorf("ticketmerge: split off %s: %w", src.ID, err)
	}
	s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: st})
	r.State = StateApplied
	if err := s.o.Store.PutState(ctx, r.Key, r); err != nil {
		return nil, err
	}
	return t, nil
}

func remaining(all, moved []string) []string {
	var out []string
	for _, id := range all {
		if !slices.Contains(moved, id) {
			out = append(out, id)
		}
	}
	return out
}

// timeline is what a ticket of these messages shows as its latest.
func timeline(msgs []*ticketing.Message) ticketing.Timeline {
	var tl ticketing.Timeline
	for _, m := range msgs {
		if !m.CreatedAt.Before(tl.LastMessage) && m.Direction != ticketing.DirectionNote {
			tl.LastMessage = m.CreatedAt
			if tl.Preview = ticketing.FirstLine(m.Text, 140); tl.Preview == "" {
				tl.Preview = ticketing.FirstLine(m.Subject, 140)
			}
		}
		switch {
		case m.Direction == ticketing.DirectionInbound && !m.Auto && m.CreatedAt.After(tl.LastInbound):
			tl.LastInbound = m.CreatedAt
		case m.Direction == ticketing.DirectionOutbound && m.CreatedAt.After(tl.LastOutbound):
			tl.LastOutbound = m.CreatedAt
		}
	}
	if tl.LastMessage.IsZero() && len(msgs) > 0 { // notes only
		tl.LastMessage = msgs[len(msgs)-1].CreatedAt
	}
	return tl
}

// newTicket creates (or, on a redo, finds) the split's ticket. Its id is
// the customer's next "<customer id>-<n>", so that it never collides with
// a ticket threading opens: the n is claimed in the split's own _id-keyed
// claim documents, so two requests of one split agree on it, and a claim
// that a ticket of threading took meanwhile moves on to the next n.
func (s *Service) newTicket(ctx context.Context, r *SplitRecord, src *ticketing.Ticket, msgs []*ticketing.Message) (*ticketing.Ticket, error) {
	mark := fmt.Sprintf("%s/%d", r.Key, r.Attempt)
	for k := 0; k < 8; k++ {
		claim := fmt.Sprintf("%s/ticket/%d", mark, k)
		var id string
		err := s.o.Store.GetState(ctx, claim, &id)
		if ticketing.IsNotFound(err) {
			c, err := s.o.Store.GetCustomer(ctx, src.CustomerID)
			if err != nil {
				return nil, fmt.Errorf("ticketmerge: split: customer: %w", err)
			}
			id = fmt.Sprintf("%s-%d", c.ID, c.TicketCount+1)
			if err := s.o.Store.InsertState(ctx, claim, id); err != nil {
				if ticketing.ErrorCode(err) != ticketing.EConflict {
					return nil, err
				}
				err = s.o.Store.GetState(ctx, claim, &id)
			}
			if err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		t, err := s.o.Store.GetTicket(ctx, id)
		if ticketing.IsNotFound(err) {
			t, err = s.insert(ctx, id, mark, src, msgs)
			if ticketing.ErrorCode(err) == ticketing.EConflict {
				t, err = s.o.Store.GetTicket(ctx, id) // inserted meanwhile: by whom?
			}
		}
		if err != nil {
			return nil, err
		}
		if t.SplitKey != mark { // threading opened this one: claim the next
			if _, err := s.o.Store.AddCustomerTicket(ctx, src.CustomerID, id, generation(id)); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := s.o.Store.AddCustomerTicket(ctx, src.CustomerID, t.ID, generation(t.ID)); err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("ticketmerge: split of %s: the customer's tickets kept changing", src.ID)
}

// insert stores the split's new ticket and announces it.
func (s *Service) insert(ctx context.Context, id, mark string, src *ticketing.Ticket, msgs []*ticketing.Message) (*ticketing.Ticket, error) {
	num, err := s.o.Store.NextTicketNumber(ctx)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC()
	first := msgs[0]
	subject := ticketing.CleanSubject(first.Subject)
	if subject == "" {
		subject = ticketing.FirstLine(first.Text, 80)
	}
	if subject == "" {
		subject = src.Subject
	}
	tl := timeline(msgs)
	ids := make([]string, len(msgs))
	var lastIn ticketing.Channel
	for i, m := range msgs {
		ids[i] = m.ID
		if m.Direction == ticketing.DirectionInbound && !m.Auto {
			lastIn = m.Channel
		}
	}
	t := &ticketing.Ticket{
		ID: id, Number: num, Status: ticketing.StatusOpen, Priority: src.Priority, Type: src.Type, Subject: subject,
		CustomerID: src.CustomerID, AssigneeID: src.AssigneeID, TeamID: src.TeamID, Channel: first.Channel,
		Tags: []string{}, CreatedAt: now, UpdatedAt: now, CustomerName: src.CustomerName,
		Preview: tl.Preview, LastMessageAt: tl.LastMessage, LastInboundAt: tl.LastInbound, LastOutboundAt: tl.LastOutbound,
		LastInboundChannel: lastIn, MessageIDs: ids, SplitFrom: src.ID, SplitKey: mark, Version: 1,
	}
	if t.Priority == "" {
		t.Priority = ticketing.PriorityNormal
	}
	if src.AssigneeID != "" {
		t.AssignmentReason = "split from #" + fmt.Sprint(src.Number)
	}
	if err := s.o.Store.InsertTicket(ctx, t); err != nil {
		if ticketing.ErrorCode(err) == ticketing.EConflict {
			return nil, err
		}
		return nil, fmt.Errorf("ticketmerge: split: insert %s: %w", id, err)
	}
	t.MessageCount = len(t.MessageIDs)
	s.o.Core.Publish(ctx, &ticketing.Event{Type: ticketing.EventTicketCreated, Ticket: t})
	return t, nil
}

// generation is n of a ticket id "<customer id>-<n>".
func generation(id string) int {
	i := strings.LastIndexByte(id, '-')
	n := 0
	if i >= 0 {
		fmt.Sscanf(id[i+1:], "%d", &n)
	}
	return n
}
