package staff

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// Store is what the service keeps its data in.
type Store interface {
	ticketing.AgentStore
	ticketing.StateStore
}

// Options configure a Service. Zero values are documented defaults.
type Options struct {
	Store  Store
	Logger *slog.Logger // default slog.Default()
	// Relay, when set, tells every node that teams or an agent's teams
	// changed, so cached teams and live sessions' viewers are refreshed.
	Relay ticketing.Relay
	// MaxHashing bounds argon2id hashes running at once on this node
	// (each takes 32 MiB and a core for tens of milliseconds); default 3.
	// A sign-in that waits longer than HashWait is refused with 429.
	MaxHashing int
	HashWait   time.Duration // default 2s
	// Limits of failed sign-ins within LoginWindow: per client address
	// (default 20), per email and address pair (default 5) and per email
	// from anywhere (default 50, over EmailWindow).
	AddressLimit int
	PairLimit    int
	EmailLimit   int
	LoginWindow  time.Duration // default 15 minutes
	EmailWindow  time.Duration // default 1 hour
	// Now returns the time; default time.Now.
	Now func() time.Time
	// Audit records sign-ins, agent, team and token changes; nil: none.
	Audit audit.Recorder
}

// Service is agents, sessions, teams and who may see what.
type Service struct {
	store Store
	log   *slog.Logger
	relay ticketing.Relay
	o     Options
	now   func() time.Time
	hash  chan struct{}

	dummyOnce sync.Once
	dummy     string

	mu       sync.Mutex // guards teams and teamsAt
	teams    []*ticketing.Team
	teamsAt  time.Time
	onChange []func(agentID string)
	cancel   func()
}

// teamsTTL bounds how stale this node's copy of the teams may be when a
// relay message about a change was lost.
const teamsTTL = 5 * time.Second

// topicTeams is the relay topic for "teams changed"; the payload is an
// agent id, or empty when any agent's view may have changed.
const topicTeams = "staff.teams"

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
	if o.MaxHashing <= 0 {
		o.MaxHashing = 3
	}
	if o.HashWait <= 0 {
		o.HashWait = 2 * time.Second
	}
	if o.AddressLimit <= 0 {
		o.AddressLimit = 20
	}
	if o.PairLimit <= 0 {
		o.PairLimit = 5
	}
	if o.EmailLimit <= 0 {
		o.EmailLimit = 50
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 15 * time.Minute
	}
	if o.EmailWindow <= 0 {
		o.EmailWindow = time.Hour
	}
	s := &Service{store: o.Store, log: o.Logger, relay: o.Relay, o: o, now: o.Now, hash: make(chan struct{}, o.MaxHashing)}
	if o.Relay != nil {
		cancel, err := o.Relay.Subscribe(topicTeams, func(p []byte) bool {
			s.forgetTeams()
			s.notify(string(p))
			return true
		})
		if err != nil {
			s.log.Error("staff: subscribe to team changes; other nodes notice them within seconds", "err", err)
		} else {
			s.cancel = cancel
		}
	}
	return s
}

// Close stops listening to the relay.
func (s *Service) Close() {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
}

// OnViewChange registers fn, called (on every node) with an agent id when
// what that agent may see changed, or with "" when any agent's may have.
// Register before serving.
func (s *Service) OnViewChange(fn func(agentID string)) {
	s.mu.Lock()
	s.onChange = append(s.onChange, fn)
	s.mu.Unlock()
}

func (s *Service) notify(agentID string) {
	s.mu.Lock()
	fns := slices.Clone(s.onChange)
	s.mu.Unlock()
	for _, fn := range fns {
		fn(agentID)
	}
}

// changed tells this node and every other that agentID's view (or, with
// "", anyone's) changed.
func (s *Service) changed(ctx context.Context, agentID string) {
	s.forgetTeams()
	if s.relay == nil {
		s.notify(agentID)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.relay.Publish(ctx, topicTeams, []byte(agentID)); err != nil {
		s.log.Warn("staff: tell other nodes about a team change", "err", err)
		s.notify(agentID)
	}
}

// acquireHash takes a hashing slot, waiting at most HashWait.
func (s *Service) acquireHash(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(s.o.HashWait)
	defer t.Stop()
	select {
	case s.hash <- struct{}{}:
		return func() { <-s.hash }, nil
	case <-t.C:
		return nil, ticketing.Errorf(ticketing.ETooMany, "too many sign-ins at once; try again in a moment")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashPassword hashes under the concurrency cap.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password)
}

// checkPassword checks under the concurrency cap.
func (s *Service) checkPassword(ctx context.Context, encoded, password string) (bool, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(encoded, password), nil
}

// Viewer is what agent a may see: everything for admins, else the
// tickets of a's teams, of teams visible to all, a's own and those with no
// team.
func (s *Service) Viewer(ctx context.Context, a *ticketing.Agent) (ticketing.Viewer, error) {
	if a == nil {
		return ticketing.Viewer{}, ticketing.Errorf(ticketing.EUnauthorized, "sign in first")
	}
	v := ticketing.Viewer{AgentID: a.ID, Role: a.Role, OwnTeamIDs: append([]string{}, a.TeamIDs...)}
	if a.Role == ticketing.RoleAdmin {
		v.All = true
		return v, nil
	}
	teams, err := s.cachedTeams(ctx)
	if err != nil {
		return ticketing.Viewer{}, err
	}
	v.TeamIDs = []string{}
	for _, t := range teams {
		if t.VisibleToAll || slices.Contains(a.TeamIDs, t.ID) {
			v.TeamIDs = append(v.TeamIDs, t.ID)
		}
	}
	return v, nil
}

// ViewerOf is Viewer for an agent id (live sessions refresh with it).
func (s *Service) ViewerOf(ctx context.Context, agentID string) (ticketing.Viewer, error) {
	a, err := s.store.GetAgent(ctx, agentID)
	if err != nil {
		return ticketing.Viewer{}, err
	}
	if !a.Active {
		return ticketing.Viewer{AgentID: a.ID, Role: a.Role, TeamIDs: []string{}}, nil
	}
	return s.Viewer(ctx, a)
}

// audit records action on target under the context's actor.
func (s *Service) audit(ctx context.Context, action, target string) {
	s.o.Audit.Record(ctx, audit.Entry{Action: action, Target: target})
}

// AgentActor is how an agent appears in the audit log.
func AgentActor(a *ticketing.Agent) audit.Actor {
	return audit.Actor{Kind: "agent", ID: a.ID, Name: a.Name}
}
