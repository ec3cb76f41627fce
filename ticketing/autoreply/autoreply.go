// Package autoreply answers customers who write outside business hours:
// the first inbound message of a ticket gets one automatic reply on its
// channel, in the customer's language, saying when the shop opens
// ({{next_open}}). It never answers an automatic message (out-of-office,
// bounce), a customer who opted out of the channel, or the same ticket
// twice within 24 hours, and it runs once however many nodes run: it
// reacts on a durable events consumer shared by every node, and the reply
// has a deterministic id (ticket and 24-hour window), so a redelivery
// stores nothing new.
package autoreply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
)

// SettingsKey is the _id of the settings' state document.
const SettingsKey = "settings:auto-reply"

// ConsumerName is the durable SVAR_EVENTS consumer the nodes share.
const ConsumerName = "svar-autoreply"

// Window is how long after an automatic reply a ticket gets no other.
const Window = 24 * time.Hour

// Placeholder is replaced by the next opening time.
const Placeholder = "{{next_open}}"

// Settings are what admins set.
type Settings struct {
	Enabled bool              `json:"enabled" bson:"enabled"`
	Text    map[string]string `json:"text" bson:"text"`
}

// DefaultText is used for a language the settings leave empty.
var DefaultText = map[string]string{
	"en": "Thank you for your message. We are closed right now and open again " + Placeholder + ". We will answer you then.",
	"sv": "Tack för ditt meddelande. Vi har stängt just nu och öppnar igen " + Placeholder + ". Vi svarar dig då.",
}

// Core is what the auto-reply needs of the ticketing service.
type Core interface {
	SystemReply(ctx context.Context, ticketID, id string, ch ticketing.Channel, text string) (*ticketing.Message, error)
}

// Events is the shared events consumer (natsbus.Bus.ConsumeEvents).
type Events interface {
	ConsumeEvents(ctx context.Context, durable string, h func(context.Context, *ticketing.Event) error, types ...string) error
}

// Options configure a Service.
type Options struct {
	Store  ticketing.Store
	Core   Core
	Events Events
	Hours  *hours.Service
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the out-of-hours auto-reply.
type Service struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	mu sync.Mutex
	st Settings
	at time.Time
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
	return s
}

// Run reacts to new messages until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return s.o.Events.ConsumeEvents(ctx, ConsumerName, s.HandleEvent,
		ticketing.EventMessageCreated)
}

// Settings returns the stored settings (disabled, default texts, if none).
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	s.mu.Lock()
	if !s.at.IsZero() && s.now().Sub(s.at) < 2*time.Second {
		st := s.st
		s.mu.Unlock()
		return st, nil
	}
	s.mu.Unlock()
	var st Settings
	if err := s.o.Store.GetState(ctx, SettingsKey, &st); err != nil && !ticketing.IsNotFound(err) {
		return Settings{}, err
	}
	st = withDefaults(st)
	s.mu.Lock()
	s.st, s.at = st, s.now()
	s.mu.Unlock()
	return st, nil
}

func withDefaults(st Settings) Settings {
	text := map[string]string{}
	for lang, def := range DefaultText {
		text[lang] = def
		if t := strings.TrimSpace(st.Text[lang]); t != "" {
			text[lang] = t
		}
	}
	st.Text = text
	return st
}

// PutSettings validates and stores the settings.
func (s *Service) PutSettings(ctx context.Context, st Settings) (Settings, error) {
	for lang, t := range st.Text {
		if _, ok := DefaultText[lang]; !ok {
			return Settings{}, ticketing.FieldError("text."+lang, "unknown language (use en or sv)")
		}
		if len(t) > 2000 {
			return Settings{}, ticketing.FieldError("text."+lang, "is longer than 2000 characters")
		}
	}
	st = withDefaults(st)
	if err := s.o.Store.PutState(ctx, SettingsKey, st); err != nil {
		return Settings{}, err
	}
	s.mu.Lock()
	s.st, s.at = st, s.now()
	s.mu.Unlock()
	return st, nil
}

// HandleEvent answers a ticket's first inbound message when the shop is
// closed.
func (s *Service) HandleEvent(ctx context.Context, ev *ticketing.Event) error {
	m, t := ev.Message, ev.Ticket
	if ev.Type != ticketing.EventMessageCreated || m == nil || t == nil {
		return nil
	}
	if m.Direction != ticketing.DirectionInbound || m.Author.Kind != ticketing.AuthorCustomer || m.Auto {
		return nil // never answer an auto-reply or a bounce
	}
	if t.MessageCount != 1 {
		return nil // not the ticket's first message (events carry the count, not the ids)
	}
	st, err := s.Settings(ctx)
	if err != nil || !st.Enabled {
		return err
	}
	cal, err := s.o.Hours.Calendar(ctx, t.TeamID)
	if err != nil {
		return err
	}
	if cal.IsOpen(m.CreatedAt) {
		return nil
	}
	c, err := s.o.Store.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return err
	}
	if _, opted := c.OptOuts[string(m.Channel)]; opted {
		return nil
	}
	// One per ticket per 24 h: the id names the window, so a redelivery
	// (or a second node) finds it stored.
	mark := "autoreply:" + t.ID
	var last struct {
		At time.Time `bson:"at"`
	}
	if err := s.o.Store.GetState(ctx, mark, &last); err == nil && m.CreatedAt.Sub(last.At) < Window && m.CreatedAt.After(last.At) {
		return nil
	}
	lang := Language(c, m)
	text := strings.ReplaceAll(st.Text[lang], Placeholder, FormatNextOpen(cal, cal.NextOpen(m.CreatedAt), lang))
	id := fmt.Sprintf("auto-%s-%d", t.ID, m.CreatedAt.Unix()/int64(Window/time.Second))
	if _, err := s.o.Core.SystemReply(ctx, t.ID, id, m.Channel, text); err != nil {
		switch ticketing.ErrorCode(err) {
		case ticketing.EOptedOut, ticketing.EInvalid, ticketing.ENotFound:
			s.log.Info("autoreply: not sent", "ticket", t.ID, "reason", ticketing.ErrorMessage(err))
			return nil
		}
		return err
	}
	if err := s.o.Store.PutState(ctx, mark, map[string]any{"at": m.CreatedAt}); err != nil {
		s.log.Warn("autoreply: mark", "ticket", t.ID, "err", err)
	}
	return nil
}

// Language picks the customer's language: their "language" attribute,
// the message's (a chat widget's navigator.language in Meta), else a
// guess from the text: Swedish when it has Swedish letters or words.
func Language(c *ticketing.Customer, m *ticketing.Message) string {
	for _, v := range []string{c.Attributes.String("language"), m.Meta["language"]} {
		v = strings.ToLower(v)
		if strings.HasPrefix(v, "sv") {
			return "sv"
		}
		if strings.HasPrefix(v, "en") {
			return "en"
		}
	}
	text := strings.ToLower(m.Subject + " " + m.Text)
	if strings.ContainsAny(text, "åäö") {
		return "sv"
	}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !('a' <= r && r <= 'z') }) {
		switch w {
		case "hej", "jag", "och", "inte", "tack", "min", "mitt", "har", "det", "beställning", "paket":
			return "sv"
		}
	}
	return "en"
}

var (
	svDays   = []string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"}
	svMonths = []string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"}
)

// FormatNextOpen writes t in the shop's timezone for a customer:
// "måndag 28 december kl. 08:00" or "Monday 28 December at 08:00".
func FormatNextOpen(cal *hours.Calendar, t time.Time, lang string) string {
	if t.IsZero() {
		if lang == "sv" {
			return "så snart vi kan"
		}
		return "as soon as we can"
	}
	lt := t.In(cal.Location())
	if lang == "sv" {
		return fmt.Sprintf("%s %d %s kl. %s", svDays[lt.Weekday()], lt.Day(), svMonths[lt.Month()-1], lt.Format("15:04"))
	}
	return lt.Format("Monday 2 January at 15:04")
}
