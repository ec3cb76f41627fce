package assign

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Core is the ticketing core as assignment uses it.
type Core interface {
	Ticket(ctx context.Context, id string) (*ticketing.Ticket, error)
	Assign(ctx context.Context, id string, a ticketing.Assignment) (*ticketing.Ticket, error)
}

// Directory is who works in which team (staff.Service).
type Directory interface {
	Agents(ctx context.Context) ([]*ticketing.Agent, error)
	Teams(ctx context.Context) ([]*ticketing.Team, error)
	TeamChecker
}

// Presence says whether an agent has a console open on any node.
type Presence interface {
	Online(agentID string) bool
}

// Bus is the events stream as assignment uses it (natsbus.Bus).
type Bus interface {
	// LastEventSeq is the sequence of the newest stored event.
	LastEventSeq(ctx context.Context) (uint64, error)
}

// Store keeps the routing rules.
type Store interface {
	ticketing.StateStore
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
}

// Options configure an Assigner.
type Options struct {
	Core      Core
	Directory Directory
	Presence  Presence
	Bus       Bus
	Store     Store
	Model     *Model
	Logger    *slog.Logger
	// HandBackAfter is how long an agent may be offline before their open,
	// unanswered tickets go back to their team's queue; 0: never.
	HandBackAfter time.Duration
	// CatchUpTimeout bounds the wait for this node's model to apply every
	// stored event before a decision; default 5s.
	CatchUpTimeout time.Duration
	// Notify, when set, tells an agent a ticket was assigned to them.
	Notify func(ctx context.Context, agentID string, n ticketing.Notification) error
	Now    func() time.Time
}

// Assigner makes routing and assignment decisions.
type Assigner struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex // guards the caches
	agents  []*ticketing.Agent
	teams   map[string]*ticketing.Team
	rules   *Routing
	cacheAt time.Time
}

// cacheTTL bounds how stale agents, teams and rules may be when an
// invalidation from another node was missed.
const cacheTTL = 2 * time.Second

// New returns an Assigner.
func New(o Options) *Assigner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CatchUpTimeout <= 0 {
		o.CatchUpTimeout = 5 * time.Second
	}
	if o.Model == nil {
		o.Model = NewModel()
	}
	return &Assigner{o: o, log: o.Logger, now: o.Now}
}

// Model is the assigner's read model; feed it every event.
func (a *Assigner) Model() *Model { return a.o.Model }

// Invalidate forgets cached agents, teams and rules (a change to any).
func (a *Assigner) Invalidate(string) {
	a.mu.Lock()
	a.cacheAt = time.Time{}
	a.mu.Unlock()
}

func (a *Assigner) directory(ctx context.Context) ([]*ticketing.Agent, map[string]*ticketing.Team, *Routing, error) {
	a.mu.Lock()
	if !a.cacheAt.IsZero() && a.now().Sub(a.cacheAt) < cacheTTL {
		ag, tm, r := a.agents, a.teams, a.rules
		a.mu.Unlock()
		return ag, tm, r, nil
	}
	a.mu.Unlock()
	agents, err := a.o.Directory.Agents(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	list, err := a.o.Directory.Teams(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	teams := make(map[string]*ticketing.Team, len(list))
	for _, t := range list {
		teams[t.ID] = t
	}
	r, err := a.Routing(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	a.mu.Lock()
	a.agents, a.teams, a.rules, a.cacheAt = agents, teams, r, a.now()
	a.mu.Unlock()
	return agents, teams, r, nil
}

// Routing returns the routing rules.
func (a *Assigner) Routing(ctx context.Context) (*Routing, error) {
	var r Routing
	if err := a.o.Store.GetState(ctx, rulesKey, &r); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	if r.Rules == nil {
		r.Rules = []Rule{}
	}
	return &r, nil
}

// SetRouting replaces the routing rules (admins only).
func (a *Assigner) SetRouting(ctx context.Context, by *ticketing.Agent, r Routing) (*Routing, error) {
	if by == nil || by.Role != ticketing.RoleAdmin {
		return nil, ticketing.Errorf(ticketing.EForbidden, "only admins may set routing rules")
	}
	if err := r.Validate(ctx, a.o.Directory); err != nil {
		return nil, err
	}
	if err := a.o.Store.PutState(ctx, rulesKey, r); err != nil {
		return nil, err
	}
	a.Invalidate("")
	return &r, nil
}

// Handle is the decision consumer's handler: it runs for one event at a
// time across every node.
func (a *Assigner) Handle(ctx context.Context, ev *ticketing.Event) error {
	m := a.o.Model
	if on, err := a.enabled(ctx); err != nil || !on {
		return err
	}
	var snap *ticketing.Ticket
	switch ev.Type {
	case ticketing.EventTicketCreated, ticketing.EventTicketUpdated:
		t := ev.Ticket
		if t == nil {
			return nil
		}
		if t.Status == ticketing.StatusOpen && t.AssigneeID == "" {
			snap = t
		} else if !m.anyWaiting() {
			return nil
		}
	case ticketing.EventAgentAvailability:
		a.Invalidate("")
		if !m.anyWaiting() {
			return nil
		}
	default:
		return nil
	}
	// See every decision made before this one, on whichever node.
	cctx, cancel := context.WithTimeout(ctx, a.o.CatchUpTimeout)
	defer cancel()
	last, err := a.o.Bus.LastEventSeq(cctx)
	if err != nil {
		return err
	}
	if err := m.WaitApplied(cctx, max(last, ev.Seq)); err != nil {
		return fmt.Errorf("assign: catch up to event %d: %w", last, err)
	}
	if snap != nil {
		// The event's ticket is current unless the model, caught up to
		// the stream's end, knows a newer version.
		if m.version(snap.ID) > snap.Version {
			snap = nil
			if _, err := a.place(ctx, ev.Ticket.ID, nil, ev.Type == ticketing.EventTicketCreated); err != nil {
				return err
			}
		} else if _, err := a.place(ctx, snap.ID, snap, ev.Type == ticketing.EventTicketCreated); err != nil {
			return err
		}
	}
	return a.drain(ctx)
}

// enabled reports whether any team auto-assigns or any rule routes.
func (a *Assigner) enabled(ctx context.Context) (bool, error) {
	_, teams, rules, err := a.directory(ctx)
	if err != nil {
		return false, err
	}
	if !rules.empty() {
		return true, nil
	}
	for _, t := range teams {
		if t.AutoAssign {
			return true, nil
		}
	}
	return false, nil
}

// drain places waiting tickets while agents have room, oldest first.
func (a *Assigner) drain(ctx context.Context) error {
	m := a.o.Model
	for _, team := range m.waitingTeams() {
		for _, id := range m.waitingOf(team) {
			placed, err := a.place(ctx, id, nil, false)
			if err != nil {
				return err
			}
			if !placed {
				break // nobody in this team has room
			}
		}
	}
	return nil
}

// place routes and assigns one ticket, t when the caller has it current
// (else it is read). It reports whether the ticket has an assignee
// afterwards (false: it waits).
func (a *Assigner) place(ctx context.Context, id string, t *ticketing.Ticket, isNew bool) (bool, error) {
	if t == nil {
		var err error
		t, err = a.o.Core.Ticket(ctx, id)
		if ticketing.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	if t.Status != ticketing.StatusOpen || t.AssigneeID != "" {
		return true, nil
	}
	agents, teams, rules, err := a.directory(ctx)
	if err != nil {
		return false, err
	}
	var u ticketing.Assignment
	teamID, why := t.TeamID, ""
	if teamID == "" && isNew && !rules.empty() {
		tier := ""
		if rules.needsTier() {
			if c, err := a.o.Store.GetCustomer(ctx, t.CustomerID); err == nil {
				tier = c.TierName()
			}
		}
		if teamID, why = rules.route(t, tier); teamID != "" {
			if _, ok := teams[teamID]; ok {
				u.TeamID = &teamID
			} else {
				teamID = ""
			}
		}
	}
	team := teams[teamID]
	prefix := ""
	if u.TeamID != nil && team != nil {
		prefix = fmt.Sprintf("routed to %s (%s); ", team.Name, why)
	}
	if team == nil || !team.AutoAssign {
		if u.TeamID == nil {
			return true, nil // nothing to decide: no auto-assign team
		}
		u.Reason = prefix + "no auto-assignment in this team"
		_, err := a.o.Core.Assign(ctx, id, u)
		return true, err
	}
	agent, reason := a.pick(agents, team, t, a.previousAssignee(ctx, t))
	if agent == nil {
		reason = prefix + "waiting: no online agent in " + team.Name + " has room"
		if u.TeamID == nil && t.AssignmentReason == reason {
			return false, nil
		}
		u.Reason = reason
		_, err := a.o.Core.Assign(ctx, id, u)
		return false, err
	}
	u.AssigneeID, u.Reason = &agent.ID, prefix+reason
	if _, err := a.o.Core.Assign(ctx, id, u); err != nil {
		return false, err
	}
	a.o.Model.assume(id, team.ID, agent.ID, a.now())
	if a.o.Notify != nil {
		n := ticketing.Notification{ID: fmt.Sprintf("assigned-%s-%d", id, t.Version), Kind: ticketing.NotifyAssigned,
			TicketID: id, Text: fmt.Sprintf("#%d %s", t.Number, t.Subject), At: a.now().UTC()}
		if err := a.o.Notify(ctx, agent.ID, n); err != nil {
			a.log.Warn("assign: notify the assignee", "ticket_id", id, "err", err)
		}
	}
	a.log.Debug("assign: ticket assigned", "ticket_id", id, "agent_id", agent.ID, "reason", u.Reason)
	return true, nil
}

// available reports whether ag may get a ticket now.
func (a *Assigner) available(ag *ticketing.Agent) bool {
	if !ag.Active || ag.Role == ticketing.RoleViewer {
		return false
	}
	if ag.Status == ticketing.AvailabilityAway || ag.Status == ticketing.AvailabilityOffline {
		return false
	}
	return a.o.Presence == nil || a.o.Presence.Online(ag.ID)
}

// previousAssignee is who last held the customer's previous ticket: from
// the model, else (a ticket solved long ago) from the store by _id.
func (a *Assigner) previousAssignee(ctx context.Context, t *ticketing.Ticket) string {
	if t.PreviousTicketID == "" {
		return ""
	}
	if id, known := a.o.Model.lastAssignee(t.PreviousTicketID); known {
		return id
	}
	prev, err := a.o.Core.Ticket(ctx, t.PreviousTicketID)
	if err != nil {
		return ""
	}
	return prev.AssigneeID
}

// pick chooses the agent of team for t: prev, the agent who last solved the
// customer's previous ticket, if they are online with room, else the least
// loaded online agent with room, the one given a ticket longest ago among
// equals (round robin).
func (a *Assigner) pick(agents []*ticketing.Agent, team *ticketing.Team, t *ticketing.Ticket, prev string) (*ticketing.Agent, string) {
	m := a.o.Model
	var cands []*ticketing.Agent
	loads := map[string]int{}
	for _, ag := range agents {
		if !slices.Contains(ag.TeamIDs, team.ID) || !a.available(ag) {
			continue
		}
		l := m.Load(ag.ID)
		if l >= ag.MaxOpen() {
			continue
		}
		loads[ag.ID] = l
		cands = append(cands, ag)
	}
	if len(cands) == 0 {
		return nil, ""
	}
	if prev != "" {
		for _, ag := range cands {
			if ag.ID == prev {
				return ag, fmt.Sprintf("returning customer: %s solved their previous ticket (%d of %d open)",
					ag.Name, loads[ag.ID], ag.MaxOpen())
			}
		}
	}
	slices.SortFunc(cands, func(x, y *ticketing.Agent) int {
		if d := loads[x.ID] - loads[y.ID]; d != 0 {
			return d
		}
		if c := m.picked(x.ID).Compare(m.picked(y.ID)); c != 0 {
			return c
		}
		if x.ID < y.ID {
			return -1
		}
		return 1
	})
	best := cands[0]
	return best, fmt.Sprintf("least loaded online agent in %s: %s (%d of %d open)", team.Name, best.Name,
		loads[best.ID], best.MaxOpen())
}

// HandBack is the hand-back consumer's handler (agent.availability
// events): an agent offline for HandBackAfter gives their open,
// unanswered tickets back to their teams' queues.
func (a *Assigner) HandBack(ctx context.Context, ev *ticketing.Event) error {
	if a.o.HandBackAfter <= 0 || ev.Type != ticketing.EventAgentAvailability || ev.Availability != ticketing.AvailabilityOffline {
		return nil
	}
	if wait := ev.At.Add(a.o.HandBackAfter).Sub(a.now()); wait > 0 {
		return &ticketing.RetryError{Err: fmt.Errorf("agent %s offline for less than %s", ev.AgentID, a.o.HandBackAfter), After: wait}
	}
	a.Invalidate("")
	agents, _, _, err := a.directory(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(agents, func(ag *ticketing.Agent) bool { return ag.ID == ev.AgentID })
	if i < 0 || a.available(agents[i]) {
		return nil // gone, or back
	}
	ag := agents[i]
	reason := fmt.Sprintf("handed back: %s offline for %s with the customer waiting", ag.Name, a.o.HandBackAfter)
	none := ""
	for _, id := range a.o.Model.unanswered(ag.ID) {
		t, err := a.o.Core.Ticket(ctx, id)
		if err != nil {
			if ticketing.IsNotFound(err) {
				continue
			}
			return err
		}
		if t.AssigneeID != ag.ID || t.Status != ticketing.StatusOpen || !t.Unanswered() {
			continue
		}
		if _, err := a.o.Core.Assign(ctx, id, ticketing.Assignment{AssigneeID: &none, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}
