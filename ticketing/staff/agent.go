package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// MinPasswordLen is the shortest password an agent may choose.
const MinPasswordLen = 10

// MaxCapacity bounds an agent's capacity.
const MaxCapacity = 1000

var roles = []string{ticketing.RoleAdmin, ticketing.RoleAgent, ticketing.RoleViewer}

// AgentInput invites (POST) or changes (PATCH) an agent; nil fields are
// left alone.
type AgentInput struct {
	Email     *string   `json:"email" validate:"omitempty,email,max=320"`
	Name      *string   `json:"name" validate:"omitempty,max=200"`
	Role      *string   `json:"role"`
	Language  *string   `json:"language" validate:"omitempty,oneof=en sv"`
	Active    *bool     `json:"active"`
	ResetTOTP bool      `json:"reset_totp"`
	TeamIDs   *[]string `json:"team_ids" validate:"omitempty,max=100"`
	Capacity  *int      `json:"capacity"`
}

func (s *Service) checkInput(ctx context.Context, in *AgentInput) error {
	if in.Role != nil && !slices.Contains(roles, *in.Role) {
		return ticketing.FieldError("role", "must be admin, agent or viewer")
	}
	if in.Capacity != nil && (*in.Capacity < 0 || *in.Capacity > MaxCapacity) {
		return ticketing.FieldError("capacity", "must be from 0 to %d", MaxCapacity)
	}
	if in.TeamIDs != nil {
		ids := slices.Compact(slices.Sorted(slices.Values(*in.TeamIDs)))
		if err := s.CheckTeams(ctx, "team_ids", ids); err != nil {
			return err
		}
		*in.TeamIDs = ids
	}
	return nil
}

// Agents lists every agent; availability is filled in by the caller.
func (s *Service) Agents(ctx context.Context) ([]*ticketing.Agent, error) {
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range agents {
		fill(a)
	}
	if agents == nil {
		agents = []*ticketing.Agent{}
	}
	return agents, nil
}

// Agent returns one agent.
func (s *Service) Agent(ctx context.Context, id string) (*ticketing.Agent, error) {
	a, err := s.store.GetAgent(ctx, id)
	if ticketing.IsNotFound(err) {
		return nil, ticketing.Errorf(ticketing.ENotFound, "agent %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	return fill(a), nil
}

func fill(a *ticketing.Agent) *ticketing.Agent {
	if a.TeamIDs == nil {
		a.TeamIDs = []string{}
	}
	if a.Capacity == nil {
		c := ticketing.DefaultCapacity
		a.Capacity = &c
	}
	return a
}

// Invite creates an agent with a one-time password that the admin hands
// over; the agent changes it in their settings.
func (s *Service) Invite(ctx context.Context, by *ticketing.Agent, in AgentInput) (*ticketing.Agent, string, error) {
	if err := RequireAdmin(by); err != nil {
		return nil, "", err
	}
	if in.Email == nil || *in.Email == "" {
		return nil, "", ticketing.FieldError("email", "is required")
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if name == "" {
		return nil, "", ticketing.FieldError("name", "is required")
	}
	if in.Role != nil && *in.Role == "" {
		in.Role = nil // the default
	}
	if err := s.checkInput(ctx, &in); err != nil {
		return nil, "", err
	}
	email := ticketing.NormalizeEmail(*in.Email)
	if _, err := s.store.GetAgentByEmail(ctx, email); err == nil {
		return nil, "", ticketing.FieldError("email", "an agent with this email exists")
	} else if !ticketing.IsNotFound(err) {
		return nil, "", err
	}
	password := RandomSecret(12)
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, "", err
	}
	n := &ticketing.Agent{ID: ticketing.NewID(), Email: email, Name: name, Role: ticketing.RoleAgent,
		Language: "en", Active: true, PasswordHash: hash, CreatedAt: s.now().UTC(), TeamIDs: []string{}}
	if in.Role != nil {
		n.Role = *in.Role
	}
	if in.Language != nil {
		n.Language = *in.Language
	}
	if in.TeamIDs != nil {
		n.TeamIDs = *in.TeamIDs
	}
	if in.Capacity != nil {
		c := *in.Capacity
		n.Capacity = &c
	}
	if err := s.store.InsertAgent(ctx, n); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) || ticketing.ErrorCode(err) == ticketing.EConflict {
			return nil, "", ticketing.FieldError("email", "an agent with this email exists")
		}
		return nil, "", err
	}
	s.log.Info("agent invited", "agent_id", n.ID, "by", by.ID, "role", n.Role)
	s.audit(ctx, "agent.invited", "agent:"+n.ID+" role:"+n.Role)
	if len(n.TeamIDs) > 0 {
		s.changed(ctx, n.ID)
	}
	return fill(n), password, nil
}

// PatchResult is a changed agent and what the change means for sessions.
type PatchResult struct {
	Agent *ticketing.Agent
	// Deactivated: every session of the agent is void; close their sockets.
	Deactivated bool
}

// PatchAgent lets an admin deactivate or reactivate an agent, change their
// role, name, teams or capacity, or turn off their two-factor sign-in (a
// lost phone). Deactivating raises the agent's session epoch, which voids
// every session and token they hold. The last active admin can be neither
// demoted nor deactivated.
func (s *Service) PatchAgent(ctx context.Context, by *ticketing.Agent, id string, in AgentInput) (*PatchResult, error) {
	if err := RequireAdmin(by); err != nil {
		return nil, err
	}
	if in.Email != nil {
		return nil, ticketing.FieldError("email", "cannot be changed")
	}
	if err := s.checkInput(ctx, &in); err != nil {
		return nil, err
	}
	if id == by.ID && ((in.Active != nil && !*in.Active) || (in.Role != nil && *in.Role != by.Role)) {
		return nil, ticketing.Errorf(ticketing.EForbidden, "admins cannot deactivate themselves or change their own role")
	}
	t, err := s.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	losesAdmin := t.Role == ticketing.RoleAdmin && t.Active &&
		((in.Role != nil && *in.Role != ticketing.RoleAdmin) || (in.Active != nil && !*in.Active))
	if losesAdmin {
		if err := s.keepAnAdmin(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	res := &PatchResult{Agent: t}
	if in.Active != nil && *in.Active != t.Active {
		t.Active = *in.Active
		if !t.Active {
			t.SessionEpoch++
			res.Deactivated = true
		}
	}
	if in.Role != nil {
		t.Role = *in.Role
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return nil, ticketing.FieldError("name", "is empty")
		}
		t.Name = name
	}
	if in.Language != nil {
		t.Language = *in.Language
	}
	if in.TeamIDs != nil {
		t.TeamIDs = *in.TeamIDs
	}
	if in.Capacity != nil {
		c := *in.Capacity
		t.Capacity = &c
	}
	if in.ResetTOTP {
		t.TOTPEnabled, t.TOTPSecret, t.TOTPRecovery = false, "", nil
	}
	if err := s.store.UpdateAgent(ctx, t); err != nil {
		return nil, err
	}
	s.log.Info("agent changed", "agent_id", t.ID, "by", by.ID, "active", t.Active, "role", t.Role, "reset_totp", in.ResetTOTP)
	action := "agent.changed"
	if in.Role != nil {
		action = "agent.role_changed"
	}
	s.audit(ctx, action, fmt.Sprintf("agent:%s role:%s active:%t", t.ID, t.Role, t.Active))
	if in.TeamIDs != nil || in.Role != nil || in.Active != nil {
		s.changed(ctx, t.ID)
	}
	return res, nil
}

// keepAnAdmin refuses when except is the only active admin.
func (s *Service) keepAnAdmin(ctx context.Context, except string) error {
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.ID != except && a.Active && a.Role == ticketing.RoleAdmin {
			return nil
		}
	}
	return ticketing.Errorf(ticketing.EConflict, "this is the last active admin; make another agent admin first")
}

// MeInput changes the signed-in agent's own settings.
type MeInput struct {
	Language        *string `json:"language" validate:"omitempty,oneof=en sv"`
	Name            *string `json:"name" validate:"omitempty,min=1,max=200"`
	Password        *string `json:"password" validate:"omitempty,max=1024"`
	CurrentPassword string  `json:"current_password" validate:"max=1024"`
}

// PatchMe changes the signed-in agent's language, name or password. A new
// password voids every session and token of the agent (PasswordChanged);
// the caller starts a fresh session for this request.
func (s *Service) PatchMe(ctx context.Context, me *ticketing.Agent, in MeInput) (a *ticketing.Agent, passwordChanged bool, err error) {
	var name, hash string
	if in.Name != nil {
		if name = strings.TrimSpace(*in.Name); name == "" {
			return nil, false, ticketing.FieldError("name", "is empty")
		}
	}
	if in.Password != nil {
		ok, err := s.checkPassword(ctx, me.PasswordHash, in.CurrentPassword)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, ticketing.FieldError("current_password", "is wrong")
		}
		if len([]rune(*in.Password)) < MinPasswordLen {
			return nil, false, ticketing.FieldError("password", "must be at least %d characters", MinPasswordLen)
		}
		if hash, err = s.hashPassword(ctx, *in.Password); err != nil {
			return nil, false, err
		}
	}
	a, err = s.ChangeMe(ctx, me, func(a *ticketing.Agent) error {
		if in.Language != nil {
			a.Language = *in.Language
		}
		if name != "" {
			a.Name = name
		}
		if hash != "" {
			a.PasswordHash = hash
			a.SessionEpoch++
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return a, hash != "", nil
}

// ChangeMe applies fn to a fresh copy of the signed-in agent and stores
// it. The store replaces whole agents, so reading just before writing
// keeps an admin's change made meanwhile (a deactivation above all) from
// being written back over; an agent whose sessions ended meanwhile is
// refused.
func (s *Service) ChangeMe(ctx context.Context, me *ticketing.Agent, fn func(a *ticketing.Agent) error) (*ticketing.Agent, error) {
	a, err := s.store.GetAgent(ctx, me.ID)
	if err != nil {
		return nil, err
	}
	if !a.Active || a.SessionEpoch != me.SessionEpoch {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "the session was ended; sign in again")
	}
	if err := fn(a); err != nil {
		return nil, err
	}
	if err := s.store.UpdateAgent(ctx, a); err != nil {
		return nil, err
	}
	return fill(a), nil
}

// SetStatus records the availability the agent chose.
func (s *Service) SetStatus(ctx context.Context, me *ticketing.Agent, status string) (*ticketing.Agent, error) {
	switch status {
	case ticketing.AvailabilityOnline, ticketing.AvailabilityAway, ticketing.AvailabilityOffline:
	default:
		return nil, ticketing.FieldError("status", "must be online, away or offline")
	}
	return s.ChangeMe(ctx, me, func(a *ticketing.Agent) error {
		a.Status = status
		return nil
	})
}

// EnsureAdmin creates the first admin when there are no agents yet. It
// returns the password it generated, if it generated one.
func EnsureAdmin(ctx context.Context, store ticketing.AgentStore, email, password string) (created bool, generated string, err error) {
	n, err := store.CountAgents(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		password = RandomSecret(12)
		generated = password
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, "", err
	}
	a := &ticketing.Agent{ID: ticketing.NewID(), Email: ticketing.NormalizeEmail(email), Name: "Admin",
		Role: ticketing.RoleAdmin, Language: "en", Active: true, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := store.InsertAgent(ctx, a); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) {
			return false, "", nil // another node created it first
		}
		return false, "", err
	}
	return true, generated, nil
}
