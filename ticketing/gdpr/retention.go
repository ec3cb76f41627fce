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

// RetentionKind is the Scheduler kind of the daily sweep.
const RetentionKind = "retention"

const (
	retentionKey = "settings:retention"
	maxDays      = 36500
	sweepHour    = 3 // UTC
)

// Retention is the setting; 0 keeps everything.
type Retention struct {
	SolvedTicketDays int `json:"solved_ticket_days" bson:"solved_ticket_days"`
}

// Preview is what a setting would erase now.
type Preview struct {
	Tickets   int `json:"tickets"`
	Customers int `json:"customers"`
}

// CheckDays validates a solved_ticket_days value.
func CheckDays(days int) error {
	if days < 0 || days > maxDays {
		return ticketing.FieldError("solved_ticket_days", "must be 0 (keep everything) or 1 to %d days", maxDays)
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
	if err := CheckDays(r.SolvedTicketDays); err != nil {
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

func (s *Service) plan(days int) (*plan, error) {
	p := &plan{tickets: map[string][]string{}, whole: map[string]bool{}}
	if days <= 0 || s.o.Tickets == nil {
		return p, nil
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	all := ticketing.Viewer{All: true, Role: ticketing.RoleAdmin}
	for _, status := range []string{ticketing.StatusSolved, ticketing.StatusClosed} {
		cursor := ""
		for {
			page, err := s.o.Tickets.List(ticketing.TicketFilter{Status: status, Limit: 200, Cursor: cursor, Viewer: all})
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
		page, err := s.o.Tickets.List(ticketing.TicketFilter{CustomerID: cid, Limit: len(old) + 1, Viewer: all})
		if err != nil {
			return nil, err
		}
		p.whole[cid] = len(page.Tickets) == len(old)
	}
	return p, nil
}

// PreviewRetention counts what days would erase now, erasing nothing.
func (s *Service) PreviewRetention(days int) (Preview, error) {
	if err := CheckDays(days); err != nil {
		return Preview{}, err
	}
	p, err := s.plan(days)
	if err != nil {
		return Preview{}, err
	}
	out := Preview{Tickets: p.count}
	for _, w := range p.whole {
		if w {
			out.Customers++
		}
	}
	return out, nil
}

// Sweep erases what the retention setting says is due.
func (s *Service) Sweep(ctx context.Context) (Preview, error) {
	r, err := s.Retention(ctx)
	if err != nil || r.SolvedTicketDays == 0 {
		return Preview{}, err
	}
	p, err := s.plan(r.SolvedTicketDays)
	if err != nil {
		return Preview{}, err
	}
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
