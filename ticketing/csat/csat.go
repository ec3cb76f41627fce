// Package csat asks customers how satisfied they are after their ticket is
// solved, on the channel they last wrote from (a mail with five one-click
// links, a rating prompt in the chat widget, an SMS asking for a digit),
// and records the answers on the ticket.
//
// It reacts to ticket events: a ticket that becomes solved schedules one
// job with the shared ticketing.Scheduler, keyed by the ticket and its
// solve time, so every node may hear the event and still one job is
// stored. When the job fires (after the configured delay) it checks that
// the ticket is still solved at that solve time and that it was never
// surveyed, then sends. The data it owns are _id-keyed state documents:
// "csat/settings", "csat/secret", "csat/sent/<ticket>" and
// "csat/sms/<phone>" (the pending SMS answer).
package csat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
)

// JobKind is the scheduler queue of surveys.
const JobKind = "csat"

// SMSWindow is how long a lone digit from the customer's number answers
// the survey.
const SMSWindow = 7 * 24 * time.Hour

// TokenLifetime is how long a survey link works.
const TokenLifetime = 30 * 24 * time.Hour

// MaxComment is the longest comment, in characters.
const MaxComment = 2000

// Settings are the admins' survey settings.
type Settings struct {
	Enabled  bool                `json:"enabled" bson:"enabled"`
	Delay    string              `json:"delay" bson:"delay"`
	Channels []ticketing.Channel `json:"channels" bson:"channels"`
}

// DefaultSettings: off; when on, ask at once on every channel.
func DefaultSettings() Settings {
	return Settings{Delay: "0s", Channels: []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS}}
}

// Core is what the package needs of the ticketing service.
type Core interface {
	Ticket(ctx context.Context, id string) (*ticketing.Ticket, error)
	SetCSAT(ctx context.Context, id string, c ticketing.CSAT) (*ticketing.Ticket, error)
	SendSystem(ctx context.Context, id string, m ticketing.SystemMessage) (*ticketing.Message, error)
}

// Store is the state the package keeps and the records it reads by _id.
type Store interface {
	ticketing.StateStore
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
	GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error)
}

// Events is the event stream every node hears.
type Events interface {
	SubscribeEvents(ctx context.Context, from uint64, fn func(*ticketing.Event)) error
}

// Options configure a Service.
type Options struct {
	Core      Core                // required
	Store     Store               // required
	Events    Events              // required for Run
	Scheduler ticketing.Scheduler // required for Run
	PublicURL string              // links in mails: {PublicURL}/csat/{token}
	Logger    *slog.Logger        // default slog.Default()
	Now       func() time.Time    // default time.Now
}

// Service runs surveys.
type Service struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	secret []byte
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{o: o, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	return s
}

const settingsKey = "csat/settings"

// Settings returns the current settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	st := DefaultSettings()
	err := s.o.Store.GetState(ctx, settingsKey, &st)
	if err != nil && !ticketing.IsNotFound(err) {
		return st, fmt.Errorf("csat: settings: %w", err)
	}
	return st, nil
}

// PutSettings checks and stores new settings.
func (s *Service) PutSettings(ctx context.Context, in Settings) (Settings, error) {
	if in.Delay == "" {
		in.Delay = "0s"
	}
	d, err := parseDelay(in.Delay)
	if err != nil {
		return in, ticketing.FieldError("delay", "must be a duration such as \"0s\", \"90s\" or \"24h\" (or seconds)")
	}
	if d < 0 || d > 30*24*time.Hour {
		return in, ticketing.FieldError("delay", "must be between 0s and 720h")
	}
	in.Delay = d.String()
	if in.Channels == nil {
		in.Channels = DefaultSettings().Channels
	}
	seen := map[ticketing.Channel]bool{}
	var chs []ticketing.Channel
	for _, ch := range in.Channels {
		if !ch.Valid() {
			return in, ticketing.FieldError("channels", "must list only email, chat and sms")
		}
		if !seen[ch] {
			seen[ch] = true
			chs = append(chs, ch)
		}
	}
	in.Channels = chs
	if chs == nil {
		in.Channels = []ticketing.Channel{}
	}
	if err := s.o.Store.PutState(ctx, settingsKey, in); err != nil {
		return in, fmt.Errorf("csat: put settings: %w", err)
	}
	return in, nil
}

func parseDelay(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// Run schedules surveys as tickets are solved and sends them when due,
// until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		errc <- s.o.Events.SubscribeEvents(ctx, 0, func(ev *ticketing.Event) { s.onEvent(ctx, ev) })
	}()
	go func() { errc <- s.o.Scheduler.ConsumeJobs(ctx, JobKind, s.fire) }()
	err := errors.Join(<-errc, <-errc)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type jobPayload struct {
	TicketID string    `json:"ticket_id"`
	SolvedAt time.Time `json:"solved_at"`
}

// onEvent schedules the survey of a ticket that is solved. Every node
// hears the event; the job's key (ticket and solve time) stores it once.
func (s *Service) onEvent(ctx context.Context, ev *ticketing.Event) {
	t := ev.Ticket
	if t == nil || ev.Type != ticketing.EventTicketUpdated || t.Status != ticketing.StatusSolved || t.SolvedAt.IsZero() || t.CSAT != nil ||
		t.MergedInto != "" {
		return
	}
	st, err := s.Settings(ctx)
	if err != nil {
		s.log.Warn("csat: settings", "err", err)
		return
	}
	if !st.Enabled {
		return
	}
	d, _ := parseDelay(st.Delay)
	b, _ := json.Marshal(jobPayload{TicketID: t.ID, SolvedAt: t.SolvedAt})
	key := t.ID + "-" + strconv.FormatInt(t.SolvedAt.UnixNano(), 10)
	if err := s.o.Scheduler.Schedule(ctx, JobKind, key, t.SolvedAt.Add(d), b); err != nil && ctx.Err() == nil {
		s.log.Error("csat: schedule survey", "ticket", t.ID, "err", err)
	}
}

// sent records that a ticket's survey went out (or is going out).
type sent struct {
	TicketID string            `bson:"ticket_id"`
	Channel  ticketing.Channel `bson:"channel"`
	At       time.Time         `bson:"at"`
	Done     bool              `bson:"done"`
}

// pendingSMS is a survey waiting for a digit from a number.
type pendingSMS struct {
	TicketID string    `bson:"ticket_id"`
	Token    string    `bson:"token"`
	Expires  time.Time `bson:"expires"`
}

func sentKey(ticketID string) string { return "csat/sent/" + ticketID }
func smsKey(phone string) string     { return "csat/sms/" + phone }

// fire sends one due survey, if the ticket should still get one.
func (s *Service) fire(ctx context.Context, j *ticketing.Job) error {
	var p jobPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.TicketID == "" {
		return &ticketing.PoisonError{Reason: "csat: bad job payload"}
	}
	t, err := s.o.Core.Ticket(ctx, p.TicketID)
	if ticketing.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.Status != ticketing.StatusSolved || !t.SolvedAt.Equal(p.SolvedAt) || t.CSAT != nil || t.MergedInto != "" {
		return nil // reopened, closed, merged away or answered since
	}
	st, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	ch, ok, err := s.surveyChannel(ctx, t, st)
	if err != nil || !ok {
		return err
	}
	rec := sent{TicketID: t.ID, Channel: ch, At: s.now().UTC()}
	switch err := s.o.Store.InsertState(ctx, sentKey(t.ID), rec); {
	case ticketing.ErrorCode(err) == ticketing.EConflict:
		if err := s.o.Store.GetState(ctx, sentKey(t.ID), &rec); err != nil {
			return err
		}
		if rec.Done {
			return nil // asked once per ticket, whatever happens later
		}
		ch = rec.Channel // an earlier attempt died half-way: finish it
	case err != nil:
		return err
	}
	if err := s.send(ctx, t, ch); err != nil {
		if ticketing.ErrorCode(err) == ticketing.EOptedOut || ticketing.ErrorCode(err) == ticketing.EInvalid {
			s.log.Info("csat: survey not sent", "ticket", t.ID, "err", err)
			return nil
		}
		return err
	}
	rec.Done = true
	return s.o.Store.PutState(ctx, sentKey(t.ID), rec)
}

// surveyChannel picks the channel of the customer's latest message, and
// says no for auto-replies, bounces, opt-outs and merged-away tickets.
func (s *Service) surveyChannel(ctx context.Context, t *ticketing.Ticket, st Settings) (ticketing.Channel, bool, error) {
	if !st.Enabled || t.MergedInto != "" || slices.Contains(t.Tags, "merged") {
		return "", false, nil
	}
	ids := t.MessageIDs
	if len(ids) > 50 {
		ids = ids[len(ids)-50:]
	}
	msgs, err := s.o.Store.GetMessages(ctx, ids)
	if err != nil {
		return "", false, err
	}
	var last *ticketing.Message
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; m.Direction == ticketing.DirectionInbound {
			last = m
			break
		}
	}
	if last == nil || last.Auto {
		return "", false, nil // nobody wrote, or only a machine did
	}
	ch := last.Channel
	if !slices.Contains(st.Channels, ch) {
		return "", false, nil
	}
	c, err := s.o.Store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return "", false, err
	}
	if _, out := c.OptOuts[string(ch)]; out {
		return "", false, nil
	}
	if _, ok := ticketing.Recipient(c, ch); !ok {
		return "", false, nil
	}
	return ch, true, nil
}

// send puts the survey on its channel.
func (s *Service) send(ctx context.Context, t *ticketing.Ticket, ch ticketing.Channel) error {
	c, err := s.o.Store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return err
	}
	lang := language(c)
	tok, err := s.Token(ctx, t.ID, lang, s.now().Add(TokenLifetime))
	if err != nil {
		return err
	}
	txt := catalog[lang]
	m := ticketing.SystemMessage{ID: "csat-" + t.ID, Channel: ch, Meta: map[string]string{"csat": "survey"}}
	switch ch {
	case ticketing.ChannelEmail:
		m.Text, m.HTML = s.mailBody(tok, lang)
	case ticketing.ChannelChat:
		m.Text = txt.chat + "\n" + s.o.PublicURL + "/csat/" + tok
		m.Meta["csat_token"] = tok
	case ticketing.ChannelSMS:
		m.Text = txt.sms
		to, _ := ticketing.Recipient(c, ch)
		p := pendingSMS{TicketID: t.ID, Token: tok, Expires: s.now().Add(SMSWindow).UTC()}
		if err := s.o.Store.PutState(ctx, smsKey(to.Value), p); err != nil {
			return err
		}
	}
	_, err = s.o.Core.SendSystem(ctx, t.ID, m)
	return err
}

// Answer records a survey answer given with its token; a second answer
// replaces the first.
func (s *Service) Answer(ctx context.Context, token string, score int, comment string, ch ticketing.Channel) error {
	claim, err := s.Verify(ctx, token)
	if err != nil {
		return err
	}
	return s.record(ctx, claim.TicketID, score, comment, ch)
}

func (s *Service) record(ctx context.Context, ticketID string, score int, comment string, ch ticketing.Channel) error {
	if score < 1 || score > 5 {
		return ticketing.FieldError("score", "must be a whole number from 1 to 5")
	}
	comment = strings.TrimSpace(strings.ToValidUTF8(comment, ""))
	if utf8.RuneCountInString(comment) > MaxComment {
		return ticketing.FieldError("comment", "must be at most %d characters", MaxComment)
	}
	_, err := s.o.Core.SetCSAT(ctx, ticketID, ticketing.CSAT{Score: score, Comment: comment, At: s.now().UTC(), Channel: ch})
	if ticketing.IsNotFound(err) {
		return ticketing.Errorf(ticketing.ENotFound, "this survey does not exist")
	}
	return err
}

// InterceptSMS takes a lone digit 1–5 from a number with a pending survey
// as the answer; anything else ("5 thanks") is a message.
func (s *Service) InterceptSMS(ctx context.Context, from ticketing.Identity, text string) (bool, error) {
	t := strings.TrimSpace(text)
	if len(t) != 1 || t[0] < '1' || t[0] > '5' || from.Kind != ticketing.IdentityPhone {
		return false, nil
	}
	var p pendingSMS
	err := s.o.Store.GetState(ctx, smsKey(from.Value), &p)
	if ticketing.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !s.now().Before(p.Expires) {
		return false, nil
	}
	if err := s.record(ctx, p.TicketID, int(t[0]-'0'), "", ticketing.ChannelSMS); err != nil {
		if ticketing.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
