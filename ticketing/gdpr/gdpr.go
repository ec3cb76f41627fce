// Package gdpr exports and erases what Svar holds about a customer, and
// erases solved tickets and old attachments after the retention periods.
//
// An erasure removes the customer's identities first (so a new message
// from the same address starts a new customer), marks the customer and
// then each ticket erased (the marks return what to erase, and tell
// threading on any node that what it just wrote came too late), deletes
// their messages and attachments in bulk, replaces each ticket with a
// tombstone that keeps only its id, number and dates (for the shop's
// books), deletes the customer document and the copies in Svar's NATS
// streams, and records the erasure in the audit log without personal
// data. Its progress is a job record ("erasure:<customer id>"); it runs
// under the lease of the same name, so requests on many nodes run it
// once; every step is idempotent, and a scheduled job (ticketing.Scheduler,
// kind "erasure") resumes an erasure that a dying node left half done, on
// one node, and settles a finished one (a second read of the streams).
package gdpr

import (
	"context"
	"log/slog"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// Store is what export and erasure read and delete.
type Store interface {
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	GetTicket(ctx context.Context, id string) (*ticketing.Ticket, error)
	GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error)
	GetBlob(ctx context.Context, key string) (*ticketing.Blob, error)
	DeleteIdentities(ctx context.Context, keys []string) error
	// MarkCustomerErased and MarkTicketErased set the erased mark and
	// return the document after it (ErrNotFound if there is none).
	MarkCustomerErased(ctx context.Context, id string) (*ticketing.Customer, error)
	MarkTicketErased(ctx context.Context, id string) (*ticketing.Ticket, error)
	// DeleteCustomer deletes the customer document and returns it as it
	// was then (nil when there was none).
	DeleteCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	DeleteMessages(ctx context.Context, ids []string) error
	DeleteBlobs(ctx context.Context, keys []string) error
	ReplaceTicket(ctx context.Context, t *ticketing.Ticket) error
	// SetMessageAttachments replaces a message's attachment list.
	SetMessageAttachments(ctx context.Context, id string, atts []ticketing.Attachment) error
	ticketing.StateStore
}

// Streams erases copies in the message streams (natsbus.Bus).
type Streams interface {
	EraseMatching(ctx context.Context, needles [][]byte) (int, error)
}

// Tickets lists tickets for retention (the per-node read model).
type Tickets interface {
	ListTickets(ctx context.Context, v ticketing.Viewer, f ticketing.TicketFilter) (*ticketing.TicketPage, error)
}

// Options configure a Service.
type Options struct {
	Store     Store
	Streams   Streams                  // nil: streams are not searched
	Events    ticketing.EventPublisher // tells every node's read models of tombstones
	Scheduler ticketing.Scheduler      // nil: no resumption after a crash
	// Leases makes concurrent requests for one customer run the erasure
	// once (nil: they run it side by side, which is safe but does the
	// work twice).
	Leases ticketing.Leases
	// ResumeAfter is when the safety-net job looks at an erasure again;
	// 0 means DefaultResumeAfter.
	ResumeAfter time.Duration
	Audit       audit.Recorder // nil: not audited
	Tickets     Tickets        // for retention
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service exports and erases.
type Service struct {
	o           Options
	log         *slog.Logger
	now         func() time.Time
	resumeAfter time.Duration
}

// New returns a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.ResumeAfter <= 0 {
		o.ResumeAfter = DefaultResumeAfter
	}
	return &Service{o: o, log: o.Logger, now: o.Now, resumeAfter: o.ResumeAfter}
}

// customer reads a customer; an erased or unknown one is not found.
func (s *Service) customer(ctx context.Context, id string) (*ticketing.Customer, error) {
	if id == "" || len(id) > 200 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "customer not found")
	}
	c, err := s.o.Store.GetCustomer(ctx, id)
	if ticketing.IsNotFound(err) {
		return nil, ticketing.Errorf(ticketing.ENotFound, "customer %s not found", id)
	}
	return c, err
}
