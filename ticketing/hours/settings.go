package hours

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// SettingsKey is the _id of the shop's business hours in the state store;
// a team's are under SettingsKey + ":team:" + its id.
const SettingsKey = "settings:business-hours"

// cacheFor is how long a node trusts the calendar it read: another node's
// PUT is seen within it.
const cacheFor = 2 * time.Second

// Service keeps the business hours in the state store (an _id-keyed
// document) and hands out compiled calendars.
type Service struct {
	store ticketing.StateStore
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	cal *Calendar // nil: the team has no hours of its own (the shop's apply)
	at  time.Time
}

// NewService returns a Service on store. now defaults to time.Now.
func NewService(store ticketing.StateStore, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, cache: map[string]cached{}}
}

func key(teamID string) string {
	if teamID == "" {
		return SettingsKey
	}
	return SettingsKey + ":team:" + teamID
}

// Calendar returns the business hours of team (empty: the shop's). A team
// without hours of its own has the shop's; a shop without, Default().
func (s *Service) Calendar(ctx context.Context, teamID string) (*Calendar, error) {
	s.mu.Lock()
	c, ok := s.cache[teamID]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < cacheFor {
		if c.cal == nil {
			return s.Calendar(ctx, "")
		}
		return c.cal, nil
	}
	var doc stored
	err := s.store.GetState(ctx, key(teamID), &doc)
	st := doc.settings()
	var cal *Calendar
	switch {
	case ticketing.IsNotFound(err) && teamID != "":
		// Remembered too: every clock of a team without its own hours
		// asked the store again.
		s.mu.Lock()
		s.cache[teamID] = cached{at: s.now()}
		s.mu.Unlock()
		return s.Calendar(ctx, "")
	case ticketing.IsNotFound(err):
		cal = MustCompile(Default())
		cal.dflt = true
	case err != nil:
		return nil, err
	default:
		if cal, err = Compile(st); err != nil {
			cal = MustCompile(Default()) // a stored document is valid; this is defence only
		}
	}
	s.mu.Lock()
	s.cache[teamID] = cached{cal: cal, at: s.now()}
	s.mu.Unlock()
	return cal, nil
}

// Put validates and stores the business hours of team (empty: the shop).
func (s *Service) Put(ctx context.Context, teamID string, st Settings) (*Calendar, error) {
	cal, err := Compile(st)
	if err != nil {
		return nil, err
	}
	if err := s.store.PutState(ctx, key(teamID), storedOf(cal.Settings())); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[teamID] = cached{cal: cal, at: s.now()}
	s.mu.Unlock()
	return cal, nil
}

// Status is whether the shop is open now and when it next opens.
type Status struct {
	Open     bool      `json:"open"`
	NextOpen time.Time `json:"next_open,omitzero"`
	// Configured is false while the shop has never set its hours (the
	// default hours apply to SLA clocks, but customers are not told the
	// shop is closed).
	Configured bool `json:"configured"`
}

// Status returns the shop's (or team's) open status at now.
func (s *Service) Status(ctx context.Context, teamID string) (Status, error) {
	cal, err := s.Calendar(ctx, teamID)
	if err != nil {
		return Status{}, err
	}
	now := s.now()
	return Status{Open: cal.IsOpen(now), NextOpen: cal.NextOpen(now).UTC(), Configured: !cal.Default()}, nil
}

// stored is Settings as the store keeps them: blocks as "08:00-17:00"
// strings, since the embedded store takes no nested arrays.
type stored struct {
	Timezone    string              `bson:"timezone"`
	Week        map[string][]string `bson:"week"`
	Holidays    string              `bson:"holidays"`
	ClosedDates []string            `bson:"closed_dates"`
	OpenDates   []string            `bson:"open_dates"`
}

func storedOf(st Settings) stored {
	d := stored{Timezone: st.Timezone, Week: map[string][]string{}, Holidays: st.Holidays, ClosedDates: st.ClosedDates, OpenDates: st.OpenDates}
	for day, blocks := range st.Week {
		for _, b := range blocks {
			d.Week[day] = append(d.Week[day], strings.Join(b, "-"))
		}
	}
	return d
}

func (d stored) settings() Settings {
	st := Settings{Timezone: d.Timezone, Week: map[string][][]string{}, Holidays: d.Holidays, ClosedDates: d.ClosedDates, OpenDates: d.OpenDates}
	for day, blocks := range d.Week {
		for _, b := range blocks {
			st.Week[day] = append(st.Week[day], strings.Split(b, "-"))
		}
	}
	return st
}
