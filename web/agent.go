package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Agents: the list every agent sees (the assignee picker), the admin's
// invitations and deactivations, and an agent's own settings.

// minPasswordLen is the shortest password an agent may choose.
const minPasswordLen = 10

// topicDisconnect is the relay topic that asks every node to close an
// agent's live sockets; the payload is the agent's id.
const topicDisconnect = "agents.disconnect"

// listenDisconnect makes this node close the sockets of agents that any
// node signed out. It runs once, from New.
func (s *Server) listenDisconnect() {
	if s.opts.Relay == nil || s.live == nil {
		return
	}
	cancel, err := s.opts.Relay.Subscribe(topicDisconnect, func(payload []byte) bool {
		if id := string(payload); id != "" && len(id) <= 128 {
			s.live.DisconnectAgent(id)
		}
		return true
	})
	if err != nil {
		s.log.Error("web: subscribe to agent sign-outs; only this node closes sockets at once", "err", err)
		return
	}
	s.console.unsubscribe = cancel
}

// Close stops listening to the relay. It does not close the listener or
// connections: the http.Server and the live hub own those.
func (s *Server) Close() {
	if s.console != nil && s.console.unsubscribe != nil {
		s.console.unsubscribe()
		s.console.unsubscribe = nil
	}
}

// disconnectAgent closes the agent's live sockets here at once and, through
// the relay, on every other node. Their sessions are void already (the
// epoch changed), so a socket that somehow stays open cannot reconnect.
func (s *Server) disconnectAgent(ctx context.Context, id string) {
	if s.live != nil {
		s.live.DisconnectAgent(id)
	}
	if s.opts.Relay == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.opts.Relay.Publish(ctx, topicDisconnect, []byte(id)); err != nil {
		s.log.Warn("web: tell other nodes to close an agent's sockets", "agent_id", id, "err", err)
	}
}

func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	agents, err := s.store.ListAgents(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if agents == nil {
		agents = []*ticketing.Agent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
}

func requireAdmin(a *ticketing.Agent) error {
	if a.Role != ticketing.RoleAdmin {
		return ticketing.Errorf(ticketing.EForbidden, "only admins may manage agents")
	}
	return nil
}

type inviteRequest struct {
	Email    string `json:"email" validate:"required,email,max=320"`
	Name     string `json:"name" validate:"required,max=200"`
	Role     string `json:"role" validate:"omitempty,oneof=admin agent"`
	Language string `json:"language" validate:"omitempty,oneof=en sv"`
}

// handleInviteAgent creates an agent with a one-time password that the
// admin hands over; the agent changes it in their settings.
func (s *Server) handleInviteAgent(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := requireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in inviteRequest
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := s.valid.Struct(&in); err != nil {
		writeError(w, r, err)
		return
	}
	if in.Role == "" {
		in.Role = ticketing.RoleAgent
	}
	if in.Language == "" {
		in.Language = langEnglish
	}
	password := RandomSecret(12)
	hash, err := HashPassword(password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	email := ticketing.NormalizeEmail(in.Email)
	if _, err := s.store.GetAgentByEmail(r.Context(), email); err == nil {
		writeError(w, r, ticketing.FieldError("email", "an agent with this email exists"))
		return
	} else if !ticketing.IsNotFound(err) {
		writeError(w, r, err)
		return
	}
	n := &ticketing.Agent{ID: ticketing.NewID(), Email: email, Name: in.Name, Role: in.Role,
		Language: in.Language, Active: true, PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.store.InsertAgent(r.Context(), n); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) || ticketing.ErrorCode(err) == ticketing.EConflict {
			writeError(w, r, ticketing.FieldError("email", "an agent with this email exists"))
			return
		}
		writeError(w, r, err)
		return
	}
	s.log.Info("agent invited", "agent_id", n.ID, "by", a.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"agent": n, "password": password})
}

type agentPatch struct {
	Active    *bool   `json:"active"`
	Role      *string `json:"role" validate:"omitempty,oneof=admin agent"`
	Name      *string `json:"name" validate:"omitempty,min=1,max=200"`
	ResetTOTP bool    `json:"reset_totp"`
}

// handlePatchAgent lets an admin deactivate or reactivate an agent, change
// their role or name, or turn off their two-factor sign-in (a lost phone).
// Deactivating raises the agent's session epoch, which voids every session
// and token they hold, and closes their live sockets at once.
func (s *Server) handlePatchAgent(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := requireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in agentPatch
	if !s.readInput(w, r, &in) {
		return
	}
	id := r.PathValue("id")
	if id == a.ID && ((in.Active != nil && !*in.Active) || (in.Role != nil && *in.Role != a.Role)) {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "admins cannot deactivate themselves or change their own role"))
		return
	}
	t, err := s.store.GetAgent(r.Context(), id)
	if ticketing.IsNotFound(err) {
		writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "agent %s not found", id))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	deactivated := false
	if in.Active != nil && *in.Active != t.Active {
		t.Active = *in.Active
		if !t.Active {
			t.SessionEpoch++
			deactivated = true
		}
	}
	if in.Role != nil {
		t.Role = *in.Role
	}
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if in.ResetTOTP {
		t.TOTPEnabled, t.TOTPSecret = false, ""
	}
	if err := s.store.UpdateAgent(r.Context(), t); err != nil {
		writeError(w, r, err)
		return
	}
	if deactivated {
		s.disconnectAgent(r.Context(), t.ID)
	}
	s.log.Info("agent changed", "agent_id", t.ID, "by", a.ID, "active", t.Active, "role", t.Role, "reset_totp", in.ResetTOTP)
	writeJSON(w, http.StatusOK, map[string]any{"agent": t})
}

type mePatch struct {
	Language        *string `json:"language" validate:"omitempty,oneof=en sv"`
	Name            *string `json:"name" validate:"omitempty,min=1,max=200"`
	Password        *string `json:"password" validate:"omitempty,max=1024"`
	CurrentPassword string  `json:"current_password" validate:"max=1024"`
}

// handlePatchMe changes the signed-in agent's language, name or password.
// A new password voids every other session and token of the agent; this
// request gets a fresh session cookie.
func (s *Server) handlePatchMe(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	var in mePatch
	if !s.readInput(w, r, &in) {
		return
	}
	var name, hash string
	if in.Name != nil {
		if name = strings.TrimSpace(*in.Name); name == "" {
			writeError(w, r, ticketing.FieldError("name", "is empty"))
			return
		}
	}
	if in.Password != nil {
		if !CheckPassword(me.PasswordHash, in.CurrentPassword) {
			writeError(w, r, ticketing.FieldError("current_password", "is wrong"))
			return
		}
		if len([]rune(*in.Password)) < minPasswordLen {
			writeError(w, r, ticketing.FieldError("password", "must be at least %d characters", minPasswordLen))
			return
		}
		var err error
		if hash, err = HashPassword(*in.Password); err != nil {
			writeError(w, r, err)
			return
		}
	}
	a, err := s.changeMe(r.Context(), me, func(a *ticketing.Agent) error {
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
		writeError(w, r, err)
		return
	}
	if hash != "" {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			_ = s.store.DeleteSession(r.Context(), sessionID(c.Value))
		}
		if err := s.startSession(r.Context(), w, a); err != nil {
			writeError(w, r, err)
			return
		}
		// Sockets of the old sessions close; this console checks its new
		// session and reconnects.
		s.disconnectAgent(r.Context(), a.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}

// changeMe applies fn to a fresh copy of the signed-in agent and stores
// it. The store replaces whole agents, so reading just before writing
// keeps an admin's change made meanwhile (a deactivation above all) from
// being written back over; an agent whose sessions ended meanwhile is
// refused.
func (s *Server) changeMe(ctx context.Context, me *ticketing.Agent, fn func(a *ticketing.Agent) error) (*ticketing.Agent, error) {
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
	return a, nil
}

// startSession stores a new console session for a and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, a *ticketing.Agent) error {
	now := s.now()
	secret := RandomSecret(32)
	sess := &ticketing.Session{ID: sessionID(secret), AgentID: a.ID, Epoch: a.SessionEpoch, Kind: "session",
		CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.store.InsertSession(ctx, sess); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt})
	return nil
}
