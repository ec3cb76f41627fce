// Package macro keeps agents' canned replies: a text with placeholders
// (in English and Swedish), and actions applied to the ticket after the
// reply is sent. Macros are few, so they are listed from one _id-keyed
// document that holds them all (Store.ListMacros), read per request: every
// node sees every change at once and nothing is scanned.
//
// Sending a macro is on the reply path, so each node also caches the
// macros it sends, kept current from events: a change publishes
// EventChanged on SVAR_EVENTS and every node's ApplyEvent drops its cache;
// entries also expire after CacheTTL, should an event be lost. Editing
// always reads the store.
package macro

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Macro is a canned reply.
type Macro struct {
	ID   string `json:"id" bson:"_id"`
	Name string `json:"name" bson:"name"`
	// Text is the default text; Texts holds per-language texts ("en",
	// "sv"), picked by the customer's language.
	Text    string            `json:"text" bson:"text"`
	Texts   map[string]string `json:"texts,omitempty" bson:"texts,omitempty"`
	Actions Actions           `json:"actions" bson:"actions"`
	// Shared macros are for every agent; a personal one only for its owner.
	Shared    bool      `json:"shared" bson:"shared"`
	OwnerID   string    `json:"owner_id" bson:"owner_id"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`
}

// Actions change the ticket after the macro's reply is sent. Empty fields
// change nothing; assignee_id "me" is the sending agent.
type Actions struct {
	Status     string   `json:"status,omitempty" bson:"status,omitempty" validate:"omitempty,oneof=open pending solved closed"`
	Priority   string   `json:"priority,omitempty" bson:"priority,omitempty" validate:"omitempty,oneof=low normal high urgent"`
	TagsAdd    []string `json:"tags_add,omitempty" bson:"tags_add,omitempty" validate:"omitempty,max=20,dive,min=1,max=50"`
	TagsRemove []string `json:"tags_remove,omitempty" bson:"tags_remove,omitempty" validate:"omitempty,max=20,dive,min=1,max=50"`
	TeamID     string   `json:"team_id,omitempty" bson:"team_id,omitempty" validate:"omitempty,max=64"`
	AssigneeID string   `json:"assignee_id,omitempty" bson:"assignee_id,omitempty" validate:"omitempty,max=64"`
	Type       string   `json:"type,omitempty" bson:"type,omitempty" validate:"omitempty,oneof=question order delivery return complaint"`
}

// Empty reports whether the actions change nothing.
func (a Actions) Empty() bool {
	return a.Status == "" && a.Priority == "" && len(a.TagsAdd) == 0 && len(a.TagsRemove) == 0 &&
		a.TeamID == "" && a.AssigneeID == "" && a.Type == ""
}

// Input creates or changes a macro; on a change nil fields are left alone.
type Input struct {
	Name    *string           `json:"name" validate:"omitempty,max=100"`
	Text    *string           `json:"text" validate:"omitempty,max=5000"`
	Texts   map[string]string `json:"texts" validate:"omitempty,max=2,dive,keys,oneof=en sv,endkeys,max=5000"`
	Actions *Actions          `json:"actions"`
	Shared  *bool             `json:"shared"`
}

// Store keeps macros in a collection of their own, as _id-keyed documents.
type Store interface {
	// PutMacro inserts or replaces m, in its document and in the list.
	PutMacro(ctx context.Context, m *Macro) error
	// GetMacro reads one macro by id; ticketing.ErrNotFound if absent.
	GetMacro(ctx context.Context, id string) (*Macro, error)
	// DeleteMacro removes m from its document and the list; deleting
	// nothing is not an error.
	DeleteMacro(ctx context.Context, id string) error
	// ListMacros returns every macro, read from the one document that
	// lists them (never a scan).
	ListMacros(ctx context.Context) ([]*Macro, error)
}

// Core is what macros need of the ticketing service.
type Core interface {
	Reply(ctx context.Context, ticketID string, by *ticketing.Agent, in ticketing.ReplyInput) (*ticketing.Message, error)
	UpdateTicket(ctx context.Context, id string, by *ticketing.Agent, u ticketing.TicketUpdate) (*ticketing.Ticket, error)
}

// Options configure a Service.
type Options struct {
	Store Store
	// State keeps the "actions applied" marks of sent macro replies.
	State   ticketing.StateStore
	Tickets ticketing.TicketStore
	// Customers are read for previews.
	Customers ticketing.CustomerStore
	Core      Core
	// Events, when set, is told of every change (EventChanged), so that
	// other nodes drop their caches.
	Events ticketing.EventPublisher
	// LatestOrder, when set, gives the customer's latest order for the
	// {{order.*}} placeholders (ticketing/order); nil, or no order there:
	// the orders pushed with the customer (Customer.Orders).
	LatestOrder func(ctx context.Context, customerID string) (*OrderFacts, error)
	Now         func() time.Time
}

// OrderFacts are what the {{order.*}} placeholders show.
type OrderFacts struct {
	Number, Status, TrackingURL string
}

// EventChanged is the event type published when any macro changes.
const EventChanged = "macro.changed"

// CacheTTL bounds how long a node sends a cached macro without reading it
// again, in case it missed an event.
const CacheTTL = time.Minute

type cached struct {
	m  Macro
	at time.Time
}

// Service manages macros and sends them.
type Service struct {
	o     Options
	valid *ticketing.Validator
	// parsed caches templates by their text: a text parses the same way
	// forever, so the cache is never stale, only bounded.
	mu     sync.Mutex
	parsed map[string]*Template
	macros map[string]cached // guarded by mu
}

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o, valid: ticketing.NewValidator(), parsed: map[string]*Template{}, macros: map[string]cached{}}
}

// MaxMacros bounds how many macros there are: they are listed from one
// document, which must stay well under MongoDB's 16 MiB (at most 500
// macros of three 5,000-character texts is under 8 MB).
const MaxMacros = 500

func canSee(m *Macro, a *ticketing.Agent) bool {
	return m.Shared || m.OwnerID == a.ID || a.Role == ticketing.RoleAdmin
}

func canEdit(m *Macro, a *ticketing.Agent) bool {
	return a.Role == ticketing.RoleAdmin || m.OwnerID == a.ID
}

func (s *Service) checkInput(in *Input) error {
	if err := s.valid.Struct(in); err != nil {
		return err
	}
	if in.Text != nil {
		if _, err := Parse("text", *in.Text); err != nil {
			return err
		}
	}
	for lang, t := range in.Texts {
		if _, err := Parse("texts."+lang, t); err != nil {
			return err
		}
	}
	if in.Actions != nil {
		if err := s.valid.Struct(in.Actions); err != nil {
			var e *ticketing.Error
			if errors.As(err, &e) && e.Field != "" {
				e.Field = "actions." + e.Field
				e.Message = "actions." + e.Message
			}
			return err
		}
	}
	return nil
}

// Create saves a new macro owned by a. Only admins create shared macros.
func (s *Service) Create(ctx context.Context, a *ticketing.Agent, in Input) (*Macro, error) {
	if a.Role == ticketing.RoleViewer {
		return nil, ticketing.Errorf(ticketing.EForbidden, "viewers cannot create macros")
	}
	if err := s.checkInput(&in); err != nil {
		return nil, err
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return nil, ticketing.FieldError("name", "is required")
	}
	if (in.Text == nil || strings.TrimSpace(*in.Text) == "") && len(in.Texts) == 0 {
		return nil, ticketing.FieldError("text", "is required")
	}
	all, err := s.o.Store.ListMacros(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) >= MaxMacros {
		return nil, ticketing.Errorf(ticketing.EConflict, "there are %d macros already, the most Svar keeps", MaxMacros)
	}
	now := s.o.Now().UTC()
	m := &Macro{ID: ticketing.NewID(), OwnerID: a.ID, CreatedAt: now, UpdatedAt: now}
	s.apply(m, in)
	if m.Shared && a.Role != ticketing.RoleAdmin {
		return nil, &ticketing.Error{Code: ticketing.EForbidden, Field: "shared", Message: "shared: only admins create shared macros"}
	}
	if err := s.o.Store.PutMacro(ctx, m); err != nil {
		return nil, err
	}
	s.changed(ctx)
	return m, nil
}

func (s *Service) apply(m *Macro, in Input) {
	if in.Name != nil {
		m.Name = strings.TrimSpace(*in.Name)
	}
	if in.Text != nil {
		m.Text = *in.Text
	}
	if in.Texts != nil {
		m.Texts = map[string]string{}
		for k, v := range in.Texts {
			if strings.TrimSpace(v) != "" {
				m.Texts[k] = v
			}
		}
	}
	if in.Actions != nil {
		m.Actions = *in.Actions
	}
	if in.Shared != nil {
		m.Shared = *in.Shared
	}
}

// ApplyEvent drops the node's cache when any macro changed, on any node.
func (s *Service) ApplyEvent(ev *ticketing.Event) {
	if ev != nil && ev.Type == EventChanged {
		s.forget()
	}
}

func (s *Service) forget() {
	s.mu.Lock()
	s.macros = map[string]cached{}
	s.mu.Unlock()
}

// changed forgets the cache here and tells the other nodes.
func (s *Service) changed(ctx context.Context) {
	s.forget()
	if s.o.Events != nil {
		// A lost event leaves other nodes at most CacheTTL behind.
		_ = s.o.Events.PublishEvent(ctx, &ticketing.Event{Type: EventChanged, At: s.o.Now().UTC()})
	}
}

// use returns a macro for sending or previewing, from the cache when it
// is fresh.
func (s *Service) use(ctx context.Context, a *ticketing.Agent, id string) (*Macro, error) {
	now := s.o.Now()
	s.mu.Lock()
	c, ok := s.macros[id]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < CacheTTL {
		if !canSee(&c.m, a) {
			return nil, ticketing.Errorf(ticketing.ENotFound, "macro %s not found", id)
		}
		m := c.m
		return &m, nil
	}
	m, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.macros) >= MaxMacros {
		s.macros = map[string]cached{}
	}
	s.macros[id] = cached{m: *m, at: now}
	s.mu.Unlock()
	return m, nil
}

// Get returns a macro that a may use.
func (s *Service) Get(ctx context.Context, a *ticketing.Agent, id string) (*Macro, error) {
	if id == "" || len(id) > 64 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "macro not found")
	}
	m, err := s.o.Store.GetMacro(ctx, id)
	if ticketing.IsNotFound(err) || (err == nil && !canSee(m, a)) {
		return nil, ticketing.Errorf(ticketing.ENotFound, "macro %s not found", id)
	}
	return m, err
}

// Update changes a macro: its owner, or an admin.
func (s *Service) Update(ctx context.Context, a *ticketing.Agent, id string, in Input) (*Macro, error) {
	m, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !canEdit(m, a) {
		return nil, ticketing.Errorf(ticketing.EForbidden, "only its owner or an admin changes a macro")
	}
	if err := s.checkInput(&in); err != nil {
		return nil, err
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return nil, ticketing.FieldError("name", "is required")
	}
	s.apply(m, in)
	if strings.TrimSpace(m.Text) == "" && len(m.Texts) == 0 {
		return nil, ticketing.FieldError("text", "is required")
	}
	if in.Shared != nil && *in.Shared && a.Role != ticketing.RoleAdmin {
		return nil, &ticketing.Error{Code: ticketing.EForbidden, Field: "shared", Message: "shared: only admins share macros"}
	}
	m.UpdatedAt = s.o.Now().UTC()
	if err := s.o.Store.PutMacro(ctx, m); err != nil {
		return nil, err
	}
	s.changed(ctx)
	return m, nil
}

// Delete removes a macro: its owner, or an admin.
func (s *Service) Delete(ctx context.Context, a *ticketing.Agent, id string) error {
	m, err := s.Get(ctx, a, id)
	if err != nil {
		return err
	}
	if !canEdit(m, a) {
		return ticketing.Errorf(ticketing.EForbidden, "only its owner or an admin deletes a macro")
	}
	if err := s.o.Store.DeleteMacro(ctx, id); err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// List returns the macros a may use, the best matches for q first (all of
// them by name when q is empty).
func (s *Service) List(ctx context.Context, a *ticketing.Agent, q string, limit int) ([]*Macro, error) {
	all, err := s.o.Store.ListMacros(ctx)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	type scored struct {
		m     *Macro
		score int
	}
	var hits []scored
	q = strings.ToLower(strings.TrimSpace(q))
	for _, m := range all {
		if !canSee(m, a) {
			continue
		}
		sc := 0
		if q != "" {
			sc = Score(q, m)
			if sc <= 0 {
				continue
			}
		}
		hits = append(hits, scored{m, sc})
	}
	slices.SortStableFunc(hits, func(x, y scored) int {
		if x.score != y.score {
			return y.score - x.score
		}
		return strings.Compare(strings.ToLower(x.m.Name), strings.ToLower(y.m.Name))
	})
	out := make([]*Macro, 0, min(limit, len(hits)))
	for i := 0; i < len(hits) && i < limit; i++ {
		out = append(out, hits[i].m)
	}
	return out, nil
}

// TextFor is the macro's text in lang, else its default text, else any.
func (m *Macro) TextFor(lang string) string {
	if t := m.Texts[lang]; strings.TrimSpace(t) != "" {
		return t
	}
	if strings.TrimSpace(m.Text) != "" {
		return m.Text
	}
	for _, l := range []string{ticketing.LangEnglish, ticketing.LangSwedish} {
		if t := m.Texts[l]; t != "" {
			return t
		}
	}
	return ""
}

// Render renders the macro for a reply on t to c by a, in c's language.
func (m *Macro) Render(t *ticketing.Ticket, c *ticketing.Customer, a *ticketing.Agent) (string, error) {
	return m.render(nil, Values(t, c, a), c)
}

func (m *Macro) render(s *Service, values map[string]string, c *ticketing.Customer) (string, error) {
	text := m.TextFor(ticketing.CustomerLanguage(c))
	var tpl *Template
	if s != nil {
		s.mu.Lock()
		tpl = s.parsed[text]
		s.mu.Unlock()
	}
	if tpl == nil {
		var err error
		if tpl, err = Parse("text", text); err != nil {
			return "", fmt.Errorf("macro %s: stored text no longer parses: %w", m.ID, err)
		}
		if s != nil {
			s.mu.Lock()
			if len(s.parsed) >= 4*MaxMacros {
				s.parsed = map[string]*Template{}
			}
			s.parsed[text] = tpl
			s.mu.Unlock()
		}
	}
	return tpl.Render(values)
}

// values are the placeholders' values, the latest order from
// Options.LatestOrder when it knows one.
func (s *Service) values(ctx context.Context, t *ticketing.Ticket, c *ticketing.Customer, a *ticketing.Agent) (map[string]string, error) {
	v := Values(t, c, a)
	if s.o.LatestOrder == nil || c == nil {
		return v, nil
	}
	o, err := s.o.LatestOrder(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("macro: latest order of customer %s: %w", c.ID, err)
	}
	if o != nil {
		v["order.number"], v["order.status"], v["order.tracking_url"] = o.Number, o.Status, o.TrackingURL
	}
	return v, nil
}

// Preview renders macro id for ticket ticketID as a would send it.
func (s *Service) Preview(ctx context.Context, a *ticketing.Agent, ticketID, id string) (string, error) {
	m, err := s.use(ctx, a, id)
	if err != nil {
		return "", err
	}
	t, err := s.o.Tickets.GetTicket(ctx, ticketID)
	if ticketing.IsNotFound(err) {
		return "", ticketing.Errorf(ticketing.ENotFound, "ticket %s not found", ticketID)
	}
	if err != nil {
		return "", err
	}
	c, err := s.o.Customers.GetCustomer(ctx, t.CustomerID)
	if err != nil {
		return "", fmt.Errorf("macro preview: customer %s: %w", t.CustomerID, err)
	}
	v, err := s.values(ctx, t, c, a)
	if err != nil {
		return "", err
	}
	return m.render(s, v, c)
}
