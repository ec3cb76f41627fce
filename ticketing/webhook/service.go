package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Feed is the durable event feed per webhook (ticketing/natsbus).
type Feed interface {
	CreateEventFeed(ctx context.Context, name string) error
	DeleteEventFeed(ctx context.Context, name string) error
	// ConsumeEventFeedPerTicket calls h with up to parallel events at
	// once, each ticket's in stream order: the next event of a ticket only
	// once h returned nil (or a final error) for the one before; a
	// *ticketing.RetryError calls h again with the same event after its
	// backoff. It returns when ctx ends; events in hand then are handed
	// back for the next reader. One node at a time may consume a feed.
	ConsumeEventFeedPerTicket(ctx context.Context, name string, parallel int,
		h func(ctx context.Context, ev *ticketing.Event, attempt int) error) error
}

// Options configure a Service.
type Options struct {
	Store Store
	Feed  Feed
	// Leases makes one node at a time deliver each webhook's events (the
	// lease "webhook <id>"). nil: this node is the only one.
	Leases ticketing.Leases
	// Parallel is how many of a webhook's tickets a node delivers to at
	// once (their events one after another each); default 32.
	Parallel int
	// AllowPrivate lets targets be loopback, private or link-local
	// (SVAR_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// Refresh is how often a node looks for webhooks created or deleted
	// on other nodes; default 2s.
	Refresh time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service registers webhooks and delivers events to them.
type Service struct {
	o      Options
	client *http.Client
	log    *slog.Logger
	kick   chan struct{}
}

// New returns a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 32
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = guardControl
	}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: o.Parallel,
		TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: DeliveryLimit, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: DeliveryLimit,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Service{o: o, client: client, log: o.Logger, kick: make(chan struct{}, 1)}
}

// Input is what an admin sends to create a webhook.
type Input struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
}

// Create registers a webhook. The secret (16 to 200 characters) signs
// every delivery; it is never shown again.
func (s *Service) Create(ctx context.Context, by string, in Input) (*Webhook, error) {
	u, err := checkURL(ctx, in.URL, s.o.AllowPrivate, net.DefaultResolver)
	if err != nil {
		return nil, ticketing.FieldError("url", "%v", err)
	}
	if len(in.Events) == 0 || len(in.Events) > len(Events) {
		return nil, ticketing.FieldError("events", "must list one or more of %v", Events)
	}
	var evs []string
	for i, e := range in.Events {
		if !slices.Contains(Events, e) {
			return nil, ticketing.FieldError("events["+strconv.Itoa(i)+"]", "must be one of %v", Events)
		}
		if !slices.Contains(evs, e) {
			evs = append(evs, e)
		}
	}
	if len(in.Secret) < 16 || len(in.Secret) > 200 {
		return nil, ticketing.FieldError("secret", "must be 16 to 200 characters")
	}
	have, err := s.o.Store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	if len(have) >= MaxWebhooks {
		return nil, ticketing.Errorf(ticketing.EInvalid, "at most %d webhooks", MaxWebhooks)
	}
	w := &Webhook{ID: ticketing.NewID(), URL: u, Events: evs, Secret: in.Secret, CreatedAt: s.o.Now().UTC(), CreatedBy: by}
	// The feed first, so that no event after the 201 is missed; a feed
	// without a webhook is deleted when the node next looks.
	if err := s.o.Feed.CreateEventFeed(ctx, w.ID); err != nil {
		return nil, err
	}
	if err := s.o.Store.InsertWebhook(ctx, w); err != nil {
		_ = s.o.Feed.DeleteEventFeed(ctx, w.ID)
		return nil, err
	}
	s.poke()
	return w, nil
}

// List returns the webhooks, oldest first.
func (s *Service) List(ctx context.Context) ([]*Webhook, error) {
	ws, err := s.o.Store.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ws, func(a, b *Webhook) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return ws, nil
}

// Delete removes a webhook and its feed.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := s.get(ctx, id); err != nil {
		return err
	}
	if err := s.o.Store.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	if err := s.o.Feed.DeleteEventFeed(ctx, id); err != nil {
		return err
	}
	s.poke()
	return nil
}

// Deliveries returns the webhook's delivery attempts, newest first.
func (s *Service) Deliveries(ctx context.Context, id string) ([]Attempt, error) {
	if _, err := s.get(ctx, id); err != nil {
		return nil, err
	}
	return s.o.Store.Attempts(ctx, id)
}

func (s *Service) get(ctx context.Context, id string) (*Webhook, error) {
	w, err := s.o.Store.GetWebhook(ctx, id)
	if ticketing.IsNotFound(err) || (err == nil && w == nil) {
		return nil, ticketing.Errorf(ticketing.ENotFound, "webhook %s not found", id)
	}
	return w, err
}

func (s *Service) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run delivers events to every webhook until ctx ends. Every node runs
// it; each webhook's feed is read by the node holding its lease, which
// delivers up to Options.Parallel of the webhook's tickets at once, each
// ticket's events in order, a failing event retried in place while the
// later events of its ticket wait. Deliveries go out once per attempt
// however many nodes run, and a node that stops or dies hands its events
// back to the next holder. Deliveries run beside ingest, never in its
// way: a slow or dead receiver holds up only its own webhook's feed.
//
// A node delivers with the webhook as it read it when it started the
// feed (webhooks do not change; a deleted one's feed is deleted with it,
// which ends its deliveries on every node), and records attempts through
// one log writer per webhook, so that the store's cost per attempt does
// not bound the delivery rate.
func (s *Service) Run(ctx context.Context) error {
	running := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, cancel := range running {
			cancel()
		}
		wg.Wait()
	}()
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	for {
		ws, err := s.o.Store.ListWebhooks(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhook: list", "err", err)
		}
		if err == nil {
			seen := map[string]bool{}
			for _, w := range ws {
				seen[w.ID] = true
				if running[w.ID] != nil {
					continue
				}
				wctx, cancel := context.WithCancel(ctx)
				running[w.ID] = cancel
				hook := w
				wg.Go(func() { s.feed(wctx, hook) })
			}
			for id, cancel := range running {
				if !seen[id] {
					cancel()
					delete(running, id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// feed delivers w's events until ctx ends, while this node holds the
// webhook's lease, then writes the attempts not yet recorded.
func (s *Service) feed(ctx context.Context, w *Webhook) {
	log := newAttemptLog(s, w.ID)
	defer log.close()
	consume := func(ctx context.Context) error {
		err := s.o.Feed.ConsumeEventFeedPerTicket(ctx, w.ID, s.o.Parallel, func(ctx context.Context, ev *ticketing.Event, attempt int) error {
			return s.deliver(ctx, w, log, ev, attempt)
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("webhook: feed stopped", "webhook", w.ID, "err", err)
		}
		return ctx.Err() // the lease was lost or Run is stopping: try again
	}
	if s.o.Leases == nil {
		_ = consume(ctx)
		return
	}
	_ = s.o.Leases.Run(ctx, "webhook "+w.ID, consume)
}

// deliver makes one attempt at one event.
func (s *Service) deliver(ctx context.Context, w *Webhook, log *attemptLog, ev *ticketing.Event, attempt int) error {
	if !slices.Contains(w.Events, ev.Type) || ev.Ticket == nil {
		return nil
	}
	p := Payload{ID: "evt_" + strconv.FormatUint(ev.Seq, 10), Type: ev.Type, At: ev.At.UTC(), Ticket: ev.Ticket, Message: ev.Message}
	a := Attempt{EventID: p.ID, EventType: ev.Type, TicketID: ev.Ticket.ID, Attempt: attempt, At: s.o.Now().UTC()}
	if !ev.At.IsZero() && s.o.Now().Sub(ev.At) > RetryFor {
		a.GaveUp, a.Error = true, "older than 24 hours: not retried"
		log.add(a)
		return nil
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	start := time.Now()
	status, err := s.post(ctx, w, p.ID, body)
	a.DurationMS = time.Since(start).Milliseconds()
	a.Status = status
	switch {
	case err != nil:
		a.Error = err.Error()
	case status < 200 || status > 299:
		a.Error = "the receiver answered " + strconv.Itoa(status)
	default:
		a.OK = true
	}
	log.add(a)
	if a.OK {
		return nil
	}
	return ticketing.Retry(errors.New(a.Error), 0)
}

func (s *Service) post(ctx context.Context, w *Webhook, eventID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Svar-Webhook/1")
	req.Header.Set("Svar-Event-Id", eventID)
	req.Header.Set("Svar-Signature", Sign(w.Secret, s.o.Now(), body))
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

// attemptLog writes one webhook's attempts to its delivery log in the
// background: attempts that arrive while a write is under way go in the
// next one, so a burst costs a few writes, not one each. An attempt may
// show in GET .../deliveries a moment after it was made; a node that dies
// loses at most the attempts of that moment from the log (never an event:
// the feed redelivers what was not acknowledged).
type attemptLog struct {
	s       *Service
	id      string
	mu      sync.Mutex
	pending []Attempt
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newAttemptLog(s *Service, id string) *attemptLog {
	l := &attemptLog{s: s, id: id, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *attemptLog) add(a Attempt) {
	l.mu.Lock()
	if len(l.pending) < MaxAttempts {
		l.pending = append(l.pending, a)
	} else { // the store is behind: keep the newest, as the log does
		l.pending = append(l.pending[1:], a)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *attemptLog) run() {
	defer close(l.done)
	for {
		select {
		case <-l.wake:
			l.flush()
		case <-l.quit:
			l.flush()
			return
		}
	}
}

func (l *attemptLog) flush() {
	l.mu.Lock()
	as := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(as) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.s.o.Store.GetWebhook(ctx, l.id); ticketing.IsNotFound(err) {
		return // deleted, and its log with it: do not write a new one
	}
	if err := l.s.o.Store.AddAttempts(ctx, l.id, as, MaxAttempts); err != nil {
		l.s.log.Warn("webhook: record attempts", "webhook", l.id, "attempts", len(as), "err", err)
	}
}

// close writes what is pending and stops the writer.
func (l *attemptLog) close() {
	close(l.quit)
	<-l.done
}
