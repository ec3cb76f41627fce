package staff

import (
	"context"
	"slices"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// teamsKey is the state document that holds every team. Shops have a
// handful of teams, so one _id-keyed document serves every read.
const teamsKey = "staff:teams"

// maxTeams bounds how many teams a shop may have.
const maxTeams = 200

type teamsDoc struct {
	Teams []*ticketing.Team `bson:"teams"`
}

// TeamInput creates or changes a team; nil fields are left alone.
type TeamInput struct {
	Name         *string `json:"name" validate:"omitempty,max=100"`
	AutoAssign   *bool   `json:"auto_assign"`
	VisibleToAll *bool   `json:"visible_to_all"`
}

func (s *Service) loadTeams(ctx context.Context) ([]*ticketing.Team, error) {
	var d teamsDoc
	if err := s.store.GetState(ctx, teamsKey, &d); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	return d.Teams, nil
}

func (s *Service) cachedTeams(ctx context.Context) ([]*ticketing.Team, error) {
	s.mu.Lock()
	if s.teams != nil && s.now().Sub(s.teamsAt) < teamsTTL {
		t := s.teams
		s.mu.Unlock()
		return t, nil
	}
	s.mu.Unlock()
	teams, err := s.loadTeams(ctx)
	if err != nil {
		return nil, err
	}
	if teams == nil {
		teams = []*ticketing.Team{}
	}
	s.mu.Lock()
	s.teams, s.teamsAt = teams, s.now()
	s.mu.Unlock()
	return teams, nil
}

func (s *Service) forgetTeams() {
	s.mu.Lock()
	s.teams = nil
	s.mu.Unlock()
}

// Teams lists every team with its members.
func (s *Service) Teams(ctx context.Context) ([]*ticketing.Team, error) {
	teams, err := s.cachedTeams(ctx)
	if err != nil {
		return nil, err
	}
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ticketing.Team, 0, len(teams))
	for _, t := range teams {
		c := *t
		c.AgentIDs = []string{}
		for _, a := range agents {
			if a.Active && slices.Contains(a.TeamIDs, t.ID) {
				c.AgentIDs = append(c.AgentIDs, a.ID)
			}
		}
		out = append(out, &c)
	}
	return out, nil
}

// Team returns one team with its members.
func (s *Service) Team(ctx context.Context, id string) (*ticketing.Team, error) {
	teams, err := s.Teams(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, ticketing.Errorf(ticketing.ENotFound, "team %s not found", id)
}

// CheckTeams returns a FieldError naming field when an id is no team.
func (s *Service) CheckTeams(ctx context.Context, field string, ids []string) error {
	teams, err := s.loadTeams(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.ContainsFunc(teams, func(t *ticketing.Team) bool { return t.ID == id }) {
			return ticketing.FieldError(field, "no team has id %q", id)
		}
	}
	return nil
}

// CreateTeam adds a team (admins only).
func (s *Service) CreateTeam(ctx context.Context, by *ticketing.Agent, in TeamInput) (*ticketing.Team, error) {
	if err := RequireAdmin(by); err != nil {
		return nil, err
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if name == "" {
		return nil, ticketing.FieldError("name", "is required")
	}
	t := &ticketing.Team{ID: ticketing.NewID(), Name: name, CreatedAt: s.now().UTC()}
	if in.AutoAssign != nil {
		t.AutoAssign = *in.AutoAssign
	}
	if in.VisibleToAll != nil {
		t.VisibleToAll = *in.VisibleToAll
	}
	err := s.editTeams(ctx, func(teams []*ticketing.Team) ([]*ticketing.Team, error) {
		if len(teams) >= maxTeams {
			return nil, ticketing.Errorf(ticketing.ETooLarge, "at most %d teams", maxTeams)
		}
		for _, o := range teams {
			if strings.EqualFold(o.Name, name) {
				return nil, ticketing.FieldError("name", "a team with this name exists")
			}
		}
		return append(teams, t), nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("team created", "team_id", t.ID, "by", by.ID)
	s.audit(ctx, "team.created", "team:"+t.ID)
	s.changed(ctx, "")
	t.AgentIDs = []string{}
	return t, nil
}

// PatchTeam changes a team (admins only).
func (s *Service) PatchTeam(ctx context.Context, by *ticketing.Agent, id string, in TeamInput) (*ticketing.Team, error) {
	if err := RequireAdmin(by); err != nil {
		return nil, err
	}
	var name string
	if in.Name != nil {
		if name = strings.TrimSpace(*in.Name); name == "" {
			return nil, ticketing.FieldError("name", "is empty")
		}
	}
	err := s.editTeams(ctx, func(teams []*ticketing.Team) ([]*ticketing.Team, error) {
		i := slices.IndexFunc(teams, func(t *ticketing.Team) bool { return t.ID == id })
		if i < 0 {
			return nil, ticketing.Errorf(ticketing.ENotFound, "team %s not found", id)
		}
		t := teams[i]
		if name != "" {
			for _, o := range teams {
				if o.ID != id && strings.EqualFold(o.Name, name) {
					return nil, ticketing.FieldError("name", "a team with this name exists")
				}
			}
			t.Name = name
		}
		if in.AutoAssign != nil {
			t.AutoAssign = *in.AutoAssign
		}
		if in.VisibleToAll != nil {
			t.VisibleToAll = *in.VisibleToAll
		}
		return teams, nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "team.changed", "team:"+id)
	s.changed(ctx, "")
	return s.Team(ctx, id)
}

// editTeams reads the teams, applies fn and stores the result. Team
// changes are rare admin actions; the last writer wins.
func (s *Service) editTeams(ctx context.Context, fn func([]*ticketing.Team) ([]*ticketing.Team, error)) error {
	teams, err := s.loadTeams(ctx)
	if err != nil {
		return err
	}
	teams, err = fn(teams)
	if err != nil {
		return err
	}
	return s.store.PutState(ctx, teamsKey, teamsDoc{Teams: teams})
}

// RequireAdmin refuses anyone but an admin.
func RequireAdmin(a *ticketing.Agent) error {
	if a == nil || a.Role != ticketing.RoleAdmin {
		return ticketing.Errorf(ticketing.EForbidden, "only admins may do this")
	}
	return nil
}
