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

// Feed is the durable, in-order event feed per webhook (ticketing/natsbus).
type Feed interface {
	CreateEventFeed(ctx context.Context, name string) error
	DeleteEventFeed(ctx context.Context, name string) error
	ConsumeEventFeed(ctx context.Context, name string, h func(ctx context.Context, ev *ticketing.Event, attempt int) error) error
}

// Options configure a Service.
type Options struct {
	Store Store
	Feed  Feed
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
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = guardControl
	}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4,
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
// it: each webhook's feed hands each event to one node at a time, in
// order, so deliveries go out once per attempt however many nodes run.
// Deliveries run beside ingest, never in its way: a slow or dead
// receiver holds up only its own webhook's feed.
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
				id := w.ID
				wg.Go(func() {
					err := s.o.Feed.ConsumeEventFeed(wctx, id, func(ctx context.Context, ev *ticketing.Event, attempt int) error {
						return s.deliver(ctx, id, ev, attempt)
					})
					if err != nil && wctx.Err() == nil {
						s.log.Warn("webhook: feed stopped", "webhook", id, "err", err)
					}
				})
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

// deliver makes one attempt at one event. It reads the webhook each time:
// a deleted webhook delivers nothing more.
func (s *Service) deliver(ctx context.Context, id string, ev *ticketing.Event, attempt int) error {
	w, err := s.o.Store.GetWebhook(ctx, id)
	if ticketing.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return ticketing.Retry(err, 0)
	}
	if !slices.Contains(w.Events, ev.Type) || ev.Ticket == nil {
		return nil
	}
	p := Payload{ID: "evt_" + strconv.FormatUint(ev.Seq, 10), Type: ev.Type, At: ev.At.UTC(), Ticket: ev.Ticket, Message: ev.Message}
	a := Attempt{EventID: p.ID, EventType: ev.Type, TicketID: ev.Ticket.ID, Attempt: attempt, At: s.o.Now().UTC()}
	if !ev.At.IsZero() && s.o.Now().Sub(ev.At) > RetryFor {
		a.GaveUp, a.Error = true, "older than 24 hours: not retried"
		s.record(ctx, id, a)
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
	s.record(ctx, id, a)
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

func (s *Service) record(ctx context.Context, id string, a Attempt) {
	if err := s.o.Store.AddAttempt(context.WithoutCancel(ctx), id, a, MaxAttempts); err != nil {
		s.log.Warn("webhook: record attempt", "webhook", id, "err", err)
	}
}
