package web

import (
	"context"
	"net/http"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/assign"
	"github.com/svar-dev/svar/ticketing/report"
	"github.com/svar-dev/svar/ticketing/staff"
)

// Agents: the list every agent sees (the assignee picker), the admin's
// invitations and changes, teams, and an agent's own settings. The
// staff service does the work; these handlers map HTTP to it.

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
	if s.ownStaff {
		s.staff.Close()
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

// withAvailability fills in each agent's availability.
func (s *Server) withAvailability(agents ...*ticketing.Agent) {
	for _, a := range agents {
		a.Availability = s.availability(a)
	}
}

// availability is the agent's chosen status, or offline without an open
// console anywhere.
func (s *Server) availability(a *ticketing.Agent) string {
	if a.Status == ticketing.AvailabilityOffline || !a.Active {
		return ticketing.AvailabilityOffline
	}
	if s.opts.Presence != nil && !s.opts.Presence.Online(a.ID) {
		return ticketing.AvailabilityOffline
	}
	if a.Status == ticketing.AvailabilityAway {
		return ticketing.AvailabilityAway
	}
	return ticketing.AvailabilityOnline
}

func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	include := r.URL.Query().Get("include")
	if include != "" && include != "csat" {
		writeError(w, r, ticketing.ParamError("include", "must be csat or empty"))
		return
	}
	agents, err := s.staff.Agents(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.withAvailability(agents...)
	if include != "csat" {
		writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
		return
	}
	scores, err := s.agentCSAT(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]agentWithCSAT, len(agents))
	for i, a := range agents {
		cs := scores[a.ID]
		if cs == nil {
			cs = &agentCSAT{Days: agentCSATDays}
		}
		out[i] = agentWithCSAT{Agent: a, CSAT: cs}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

// agentCSATDays is the window of an agent's satisfaction figure.
const agentCSATDays = 90

// agentCSAT is an agent's satisfaction over the last agentCSATDays days
// (the tickets assigned to them that were created then): the share of
// answers 4–5 (null with none) and how many answers.
type agentCSAT struct {
	Score     *float64 `json:"score"`
	Responses int      `json:"responses"`
	Days      int      `json:"days"`
}

type agentWithCSAT struct {
	*ticketing.Agent
	CSAT *agentCSAT `json:"csat"`
}

// agentCSAT reads every agent's satisfaction from the report index (a
// summary grouped by agent); none without one.
func (s *Server) agentCSAT(ctx context.Context) (map[string]*agentCSAT, error) {
	out := map[string]*agentCSAT{}
	if s.opts.Reports == nil {
		return out, nil
	}
	now := s.now().UTC()
	rows, err := s.opts.Reports.Summary(ctx, report.Query{From: now.AddDate(0, 0, -agentCSATDays), To: now, GroupBy: "agent", Location: time.UTC})
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row.Key != "" {
			out[row.Key] = &agentCSAT{Score: row.CSATScore, Responses: row.CSATResponses, Days: agentCSATDays}
		}
	}
	return out, nil
}

// handleInviteAgent creates an agent with a one-time password that the
// admin hands over; the agent changes it in their settings.
func (s *Server) handleInviteAgent(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in staff.AgentInput
	if !s.readInput(w, r, &in) {
		return
	}
	n, password, err := s.staff.Invite(r.Context(), a, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.withAvailability(n)
	writeJSON(w, http.StatusCreated, map[string]any{"agent": n, "password": password})
}

// handlePatchAgent: an admin changes an agent (staff.Service.PatchAgent);
// a deactivation closes the agent's live sockets at once.
func (s *Server) handlePatchAgent(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in staff.AgentInput
	if !s.readInput(w, r, &in) {
		return
	}
	res, err := s.staff.PatchAgent(r.Context(), a, r.PathValue("id"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if res.Deactivated {
		s.disconnectAgent(r.Context(), res.Agent.ID)
	}
	s.withAvailability(res.Agent)
	writeJSON(w, http.StatusOK, map[string]any{"agent": res.Agent})
}

// handlePatchMe changes the signed-in agent's language, name or password.
// A new password voids every other session and token of the agent; this
// request gets a fresh session cookie.
func (s *Server) handlePatchMe(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	var in staff.MeInput
	if !s.readInput(w, r, &in) {
		return
	}
	a, changed, err := s.staff.PatchMe(r.Context(), me, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if changed {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			_ = s.staff.EndSession(r.Context(), c.Value)
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

type availabilityRequest struct {
	Status string `json:"status"`
}

// handleAvailability sets the signed-in agent's chosen availability.
func (s *Server) handleAvailability(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	var in availabilityRequest
	if !s.readInput(w, r, &in) {
		return
	}
	a, err := s.staff.SetStatus(r.Context(), me, in.Status)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.opts.Presence != nil {
		s.opts.Presence.StatusChanged(r.Context(), a)
	}
	s.withAvailability(a)
	writeJSON(w, http.StatusOK, map[string]any{"agent": a, "availability": a.Availability})
}

func (s *Server) handleListTeams(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	teams, err := s.staff.Teams(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"teams": teams})
}

func (s *Server) handleGetTeam(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	t, err := s.staff.Team(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"team": t})
}

func (s *Server) handleCreateTeam(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in staff.TeamInput
	if !s.readInput(w, r, &in) {
		return
	}
	t, err := s.staff.CreateTeam(r.Context(), a, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"team": t})
}

func (s *Server) handlePatchTeam(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	var in staff.TeamInput
	if !s.readInput(w, r, &in) {
		return
	}
	t, err := s.staff.PatchTeam(r.Context(), a, r.PathValue("id"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"team": t})
}

func (s *Server) routing(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Routing == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "routing is not available"))
		return false
	}
	return true
}

func (s *Server) handleGetRouting(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	if !s.routing(w, r) {
		return
	}
	rt, err := s.opts.Routing.Routing(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

func (s *Server) handlePutRouting(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.routing(w, r) {
		return
	}
	var in assign.Routing
	if !s.readInput(w, r, &in) {
		return
	}
	rt, err := s.opts.Routing.SetRouting(r.Context(), a, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if s.opts.Notifications == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "notifications are not available"))
		return
	}
	list, unread, err := s.opts.Notifications.List(r.Context(), a.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": list, "unread": unread})
}

type readRequest struct {
	IDs []string `json:"ids" validate:"max=100,dive,max=64"`
}

// handleNotificationsRead marks notifications read (all without ids).
func (s *Server) handleNotificationsRead(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if s.opts.Notifications == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "notifications are not available"))
		return
	}
	var in readRequest
	if !s.readInput(w, r, &in) {
		return
	}
	if err := s.opts.Notifications.MarkRead(r.Context(), a.ID, in.IDs); err != nil {
		writeError(w, r, err)
		return
	}
	s.handleNotifications(w, r, a)
}
