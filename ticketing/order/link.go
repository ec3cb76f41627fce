package order

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// JobKind is the scheduled-job kind that links a message's ticket to the
// orders it names: every node hears message.created and schedules the job
// keyed by the message id, so one node links it once.
const JobKind = "orderlink"

// mentionRe finds an order number after an order word, in English or
// Swedish ("order 1042", "my order number is 1042", "beställning 1042",
// "ordernummer: 1042", "best.nr 1042"), or after a hash ("#1042"). The
// number has a digit; a short letter prefix is allowed ("SE-1042").
var mentionRe = regexp.MustCompile(`(?i)(?:(?:^|[^\pL\pN])(?:orders?|order[- ]?(?:no|nr|number|id)|ordernummer|ordernr|` +
	`beställning(?:en|snummer|snr)?|bestallning(?:en|snummer)?|best\.?\s?nr|köp|purchase)\.?` +
	`(?:\s+(?:no\.?|nr\.?|number|nummer|id))?(?:\s+(?:is|är))?\s*[:#]?\s*|#)` +
	`([A-Za-z]{0,6}-?[0-9][0-9A-Za-z-]{0,39})`)

// MaxMentions caps the order numbers taken from one message.
const MaxMentions = 10

// Mentions returns the order numbers a text names, in order, once each.
func Mentions(text string) []string {
	if len(text) > 64<<10 {
		text = text[:64<<10]
	}
	var out []string
	for _, m := range mentionRe.FindAllStringSubmatch(text, -1) {
		n := strings.TrimRight(m[1], "-")
		if !ValidNumber(n) || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
		if len(out) == MaxMentions {
			break
		}
	}
	return out
}

// linkJob is the payload of an orderlink job.
type linkJob struct {
	TicketID   string   `json:"ticket_id"`
	CustomerID string   `json:"customer_id"`
	Numbers    []string `json:"numbers"`
}

// Run follows events and links tickets to the orders their customers
// name, until ctx ends. Every node runs it: each schedules the linking of
// a message it hears about (deduplicated by message id), and the shared
// job queue hands each to one node, which survives nodes dying mid-job.
func (s *Service) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.events.ConsumeJobs(ctx, JobKind, s.link) }()
	err := s.events.SubscribeEvents(ctx, 0, func(ev *ticketing.Event) {
		if err := s.schedule(ctx, ev); err != nil && ctx.Err() == nil {
			s.log.Warn("order: schedule link", "err", err)
		}
	})
	return errors.Join(err, <-errc)
}

func (s *Service) schedule(ctx context.Context, ev *ticketing.Event) error {
	m := ev.Message
	if ev.Type != ticketing.EventMessageCreated || m == nil || m.Direction != ticketing.DirectionInbound ||
		m.Author.Kind != ticketing.AuthorCustomer || m.TicketID == "" || m.CustomerID == "" {
		return nil
	}
	nums := Mentions(m.Subject + "\n" + m.Text)
	if len(nums) == 0 {
		return nil
	}
	b, err := json.Marshal(linkJob{TicketID: m.TicketID, CustomerID: m.CustomerID, Numbers: nums})
	if err != nil {
		return err
	}
	return s.events.Schedule(ctx, JobKind, m.ID, time.Time{}, b)
}

// link links the job's ticket to each named order that belongs to the
// ticket's customer; others are ignored (a customer never sees, nor links
// to, another customer's order). It is idempotent.
func (s *Service) link(ctx context.Context, j *ticketing.Job) error {
	var lj linkJob
	if err := json.Unmarshal(j.Payload, &lj); err != nil {
		return &ticketing.PoisonError{Reason: "orderlink payload: " + err.Error()}
	}
	// The orders first: most numbers a customer writes are not (yet) an
	// order of the shop's, and then the ticket need not be read at all.
	var t *ticketing.Ticket
	for _, n := range lj.Numbers {
		o, err := s.store.GetOrder(ctx, n)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if t == nil {
			if t, err = s.core.Ticket(ctx, lj.TicketID); ticketing.IsNotFound(err) {
				return nil
			} else if err != nil {
				return err
			}
		}
		// The ticket's customer now: a message threaded before a merge
		// counts for the customer the ticket belongs to.
		if o.CustomerID != t.CustomerID {
			continue
		}
		// The order first: a ticket shows only numbers whose order lists it.
		if !slices.Contains(o.TicketIDs, t.ID) {
			if err := s.store.AddOrderTicket(ctx, n, t.ID); err != nil {
				return err
			}
		}
		if _, err := s.core.LinkOrder(ctx, t.ID, n); err != nil {
			return err
		}
	}
	return nil
}
