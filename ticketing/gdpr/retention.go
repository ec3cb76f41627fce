package gdpr

import (
	"context"
	"fmt"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// Retention: tickets solved or closed longer ago than SolvedTicketDays are
// erased by a daily job (Scheduler kind RetentionKind, one job per day
// however many nodes run). A customer all of whose tickets go is erased
// whole; otherwise only those tickets are (their messages, attachments
// and stream copies; a tombstone keeps the number).
//
// Separately, the files of messages older than AttachmentsDays are
// removed by the same job, whatever the ticket's status: the ticket and
// the text stay, and each file's entry becomes a placeholder saying that
// retention removed it. Only tickets created before the cutoff can hold
// such messages, and a ticket whose last message came before the previous
// sweep's cutoff was swept whole then, so each sweep reads the messages of
// the tickets that had activity since (the first sweep reads every old
// ticket once).

// RetentionKind is the Scheduler kind of the daily sweep.
const RetentionKind = "retention"

const (
	retentionKey   = "settings:retention"
	attachSweptKey = "retention:attachments-swept" // the cutoff of the last finished sweep
	maxDays        = 36500
	sweepHour      = 3 // UTC
)

// Retention is the setting; 0 keeps everything.
type Retention struct {
	SolvedTicketDays int `json:"solved_ticket_days" bson:"solved_ticket_days"`
	AttachmentsDays  int `json:"attachments_days" bson:"attachments_days"`
}

// Check validates both values, naming the field that is wrong.
func (r Retention) Check() error {
	if err := CheckDays(r.SolvedTicketDays); err != nil {
		return err
	}
	return CheckAttachmentDays(r.AttachmentsDays)
}

// Preview is what a setting would erase now.
type Preview struct {
	Tickets     int `json:"tickets"`
	Customers   int `json:"customers"`
	Attachments int `json:"attachments"`
}

// CheckDays validates a solved_ticket_days value.
func CheckDays(days int) error {
	if days < 0 || days > maxDays {
		return ticketing.FieldError("solved_ticket_days", "must be 0 (keep everything) or 1 to %d days", maxDays)
	}
	return nil
}

// CheckAttachmentDays validates an attachments_days value.
func CheckAttachmentDays(days int) error {
	if days < 0 || days > maxDays {
		return ticketing.FieldError("attachments_days", "must be 0 (keep every file) or 1 to %d days", maxDays)
	}
	return nil
}

// Retention returns the setting.
func (s *Service) Retention(ctx context.Context) (Retention, error) {
	var r Retention
	if err := s.o.Store.GetState(ctx, retentionKey, &r); err != nil && !ticketing.IsNotFound(err) {
		return r, err
	}
	return r, nil
}

// SetRetention stores the setting.
func (s *Service) SetRetention(ctx context.Context, r Retention) (Retention, error) {
	if err := r.Check(); err != nil {
		return r, err
	}
	if err := s.o.Store.PutState(ctx, retentionKey, r); err != nil {
		return r, err
	}
	return r, nil
}

// plan is what days would erase: old tickets by customer, and whether
// every ticket of that customer is among them.
type plan struct {
	tickets map[string][]string // customer id → old ticket ids
	whole   map[string]bool
	count   int
}

func (s *Service) plan(ctx context.Context, days int) (*plan, error) {
	p := &plan{tickets: map[string][]string{}, whole: map[string]bool{}}
	if days <= 0 || s.o.Tickets == nil {
		return p, nil
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	all := ticketing.Viewer{All: true, Role: ticketing.RoleAdmin}
	for _, status := range []string{ticketing.StatusSolved, ticketing.StatusClosed} {
		cursor := ""
		for {
			page, err := s.o.Tickets.ListTickets(ctx, all, ticketing.TicketFilter{Status: status, Limit: 200, Cursor: cursor})
			if err != nil {
				return nil, err
			}
			for _, t := range page.Tickets {
				at := t.SolvedAt
				if at.IsZero() {
					at = t.UpdatedAt
				}
				if at.Before(cutoff) {
					p.tickets[t.CustomerID] = append(p.tickets[t.CustomerID], t.ID)
					p.count++
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	for cid, old := range p.tickets {
		page, err := s.o.Tickets.ListTickets(ctx, all, ticketing.TicketFilter{CustomerID: cid, Limit: len(old) + 1})
		if err != nil {
			return nil, err
		}
		p.whole[cid] = len(page.Tickets) == len(old)
	}
	return p, nil
}

// PreviewRetention counts what setting r would erase now, erasing
// nothing.
func (s *Service) PreviewRetention(ctx context.Context, r Retention) (Preview, error) {
	if err := r.Check(); err != nil {
		return Preview{}, err
	}
	p, err := s.plan(ctx, r.SolvedTicketDays)
	if err != nil {
		return Preview{}, err
	}
	out := Preview{Tickets: p.count}
	for _, w := range p.whole {
		if w {
			out.Customers++
		}
	}
	ap, err := s.attachmentPlan(ctx, r.AttachmentsDays, p)
	if err != nil {
		return Preview{}, err
	}
	out.Attachments = ap.count
	return out, nil
}

// attachPlan is the messages whose files a sweep removes.
type attachPlan struct {
	msgs   []*ticketing.Message
	count  int // files
	cutoff time.Time
}

// attachmentPlan finds the messages older than days that still hold
// files, leaving out the tickets that solved-ticket retention (erasing)
// erases whole anyway.
func (s *Service) attachmentPlan(ctx context.Context, days int, erasing *plan) (*attachPlan, error) {
	ap := &attachPlan{}
	if days <= 0 || s.o.Tickets == nil {
		return ap, nil
	}
	ap.cutoff = s.now().UTC().Add(-time.Duration(days) * 24 * time.Hour)
	var swept struct {
		Through time.Time `bson:"through"`
	}
	if err := s.o.Store.GetState(ctx, attachSweptKey, &swept); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	gone := map[string]bool{}
	for _, ids := range erasing.tickets {
		for _, id := range ids {
			gone[id] = true
		}
	}
	all := ticketing.Viewer{All: true, Role: ticketing.RoleAdmin}
	cursor := ""
	for {
		page, err := s.o.Tickets.ListTickets(ctx, all, ticketing.TicketFilter{CreatedBefore: ap.cutoff, Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, lt := range page.Tickets {
			last := lt.LastMessageAt
			if last.IsZero() {
				last = lt.UpdatedAt
			}
			if gone[lt.ID] || (!swept.Through.IsZero() && last.Before(swept.Through)) {
				continue
			}
			t, err := s.o.Store.GetTicket(ctx, lt.ID)
			if ticketing.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			msgs, err := s.o.Store.GetMessages(ctx, t.MessageIDs)
			if err != nil {
				return nil, err
			}
			for _, m := range msgs {
				if !m.CreatedAt.Before(ap.cutoff) {
					continue
				}
				n := 0
				for _, a := range m.Attachments {
					if a.Removed == "" {
						n++
					}
				}
				if n > 0 {
					ap.msgs = append(ap.msgs, m)
					ap.count += n
				}
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return ap, nil
}

// sweepAttachments removes the files of ap's messages: the files go first,
// then each entry becomes a placeholder (a sweep cut short between the two
// finds the message again and finishes it).
func (s *Service) sweepAttachments(ctx context.Context, ap *attachPlan) (int, error) {
	removed := 0
	now := s.now().UTC().Truncate(time.Millisecond)
	for _, m := range ap.msgs {
		var keys []string
		atts := make([]ticketing.Attachment, len(m.Attachments))
		for i, a := range m.Attachments {
			if a.Removed != "" {
				atts[i] = a
				continue
			}
			keys = append(keys, a.Key)
			atts[i] = ticketing.Attachment{Filename: a.Filename, ContentType: a.ContentType, Removed: "retention", RemovedAt: now}
		}
		if err := s.o.Store.DeleteBlobs(ctx, keys); err != nil {
			return removed, err
		}
		if err := s.o.Store.SetMessageAttachments(ctx, m.ID, atts); err != nil && !ticketing.IsNotFound(err) {
			return removed, err
		}
		removed += len(keys)
		m.Attachments = atts
		if s.o.Events != nil {
			if err := s.o.Events.PublishEvent(ctx, &ticketing.Event{Type: ticketing.EventMessageUpdated, Message: m, At: now}); err != nil {
				s.log.Warn("gdpr: announce a message without its files", "message_id", m.ID, "err", err)
			}
		}
	}
	if !ap.cutoff.IsZero() {
		if err := s.o.Store.PutState(ctx, attachSweptKey, map[string]time.Time{"through": ap.cutoff}); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// Sweep erases what the retention setting says is due.
func (s *Service) Sweep(ctx context.Context) (Preview, error) {
	r, err := s.Retention(ctx)
	if err != nil || (r.SolvedTicketDays == 0 && r.AttachmentsDays == 0) {
		return Preview{}, err
	}
	p, err := s.plan(ctx, r.SolvedTicketDays)
	if err != nil {
		return Preview{}, err
	}
	out, err := s.sweepTickets(ctx, p)
	if err != nil {
		return out, err
	}
	// The files after the tickets: the plan leaves out what went whole.
	ap, err := s.attachmentPlan(ctx, r.AttachmentsDays, p)
	if err != nil {
		return out, err
	}
	out.Attachments, err = s.sweepAttachments(ctx, ap)
	if out.Attachments > 0 {
		s.o.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "system", Name: "retention"}, Action: "retention.attachments_removed",
			Target: fmt.Sprintf("attachments:%d", out.Attachments)})
	}
	return out, err
}

// sweepTickets erases the tickets of p.
func (s *Service) sweepTickets(ctx context.Context, p *plan) (Preview, error) {
	var out Preview
	for cid, ids := range p.tickets {
		if p.whole[cid] {
			if _, err := s.erase(ctx, cid, "retention"); err != nil && ticketing.ErrorCode(err) != ticketing.EConflict && ticketing.ErrorCode(err) != ticketing.ENotFound {
				return out, err
			}
			out.Customers++
			out.Tickets += len(ids)
			continue
		}
		var tombs []*ticketing.Ticket
		needles := make([]string, 0, len(ids))
		for _, id := range ids {
			t, err := s.eraseTicket(ctx, id)
			if err != nil {
				return out, err
			}
			if t != nil {
				tombs = append(tombs, t)
				needles = append(needles, `"`+id+`"`)
			}
		}
		if _, err := s.eraseStreams(ctx, needles); err != nil {
			return out, err
		}
		s.announce(ctx, tombs)
		out.Tickets += len(tombs)
	}
	if out.Tickets > 0 {
		s.o.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "system", Name: "retention"}, Action: "retention.swept",
			Target: fmt.Sprintf("tickets:%d customers:%d", out.Tickets, out.Customers)})
	}
	return out, nil
}

// nextSweep is the next sweep time after now.
func nextSweep(now time.Time) time.Time {
	t := time.Date(now.Year(), now.Month(), now.Day(), sweepHour, 0, 0, 0, time.UTC)
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// ScheduleSweep stores the next daily sweep (one job per day: the key is
// its date, so every node scheduling it stores one).
func (s *Service) ScheduleSweep(ctx context.Context) error {
	if s.o.Scheduler == nil {
		return nil
	}
	at := nextSweep(s.now().UTC())
	return s.o.Scheduler.Schedule(ctx, RetentionKind, at.Format("2006-01-02"), at, nil)
}

// HandleSweep is the Scheduler handler of RetentionKind: it sweeps, then
// schedules the next day's sweep.
func (s *Service) HandleSweep(ctx context.Context, _ *ticketing.Job) error {
	if _, err := s.Sweep(ctx); err != nil {
		return err
	}
	return s.ScheduleSweep(ctx)
}
