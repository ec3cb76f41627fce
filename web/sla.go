package web

import (
	"net/http"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/autoreply"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/sla"
)

// Business hours, SLA policies and the out-of-hours auto-reply.

func (s *Server) slaRoutes(mux *http.ServeMux) {
	if s.opts.Hours != nil {
		mux.Handle("GET /api/v1/settings/business-hours", s.authed(s.handleGetHours))
		mux.Handle("PUT /api/v1/settings/business-hours", s.authed(s.handlePutHours))
		mux.Handle("GET /api/v1/settings/business-hours/status", s.authed(s.handleHoursStatus))
	}
	if s.opts.SLA != nil {
		mux.Handle("GET /api/v1/sla-policies", s.authed(s.handleListPolicies))
		mux.Handle("POST /api/v1/sla-policies", s.authed(s.handleCreatePolicy))
		mux.Handle("GET /api/v1/sla-policies/{id}", s.authed(s.handleGetPolicy))
		mux.Handle("PATCH /api/v1/sla-policies/{id}", s.authed(s.handlePatchPolicy))
		mux.Handle("DELETE /api/v1/sla-policies/{id}", s.authed(s.handleDeletePolicy))
	}
	if s.opts.AutoReply != nil {
		mux.Handle("GET /api/v1/settings/auto-reply", s.authed(s.handleGetAutoReply))
		mux.Handle("PUT /api/v1/settings/auto-reply", s.authed(s.handlePutAutoReply))
	}
}

func adminOnly(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) bool {
	if a.Role != ticketing.RoleAdmin {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "only admins may change these settings"))
		return false
	}
	return true
}

// hoursTeam is the team_id of a business-hours request: "" for the shop's,
// else a team that exists.
func (s *Server) hoursTeam(r *http.Request) (string, error) {
	id := r.URL.Query().Get("team_id")
	if id == "" {
		return "", nil
	}
	if _, err := s.staff.Team(r.Context(), id); err != nil {
		if ticketing.IsNotFound(err) {
			return "", ticketing.FieldError("team_id", "is not a team")
		}
		return "", err
	}
	return id, nil
}

func (s *Server) handleGetHours(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	team, err := s.hoursTeam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	cal, err := s.opts.Hours.Calendar(r.Context(), team)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cal.Settings())
}

func (s *Server) handlePutHours(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	team, err := s.hoursTeam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var in hours.Settings
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	cal, err := s.opts.Hours.Put(r.Context(), team, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cal.Settings())
}

func (s *Server) handleHoursStatus(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	team, err := s.hoursTeam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.opts.Hours.Status(r.Context(), team)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleListPolicies(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	l, err := s.opts.SLA.Policies(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": l})
}

func (s *Server) handleGetPolicy(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	p, err := s.opts.SLA.Policy(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": p})
}

func (s *Server) handleCreatePolicy(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	var in sla.Input
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.opts.SLA.CreatePolicy(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"policy": p})
}

func (s *Server) handlePatchPolicy(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	var in sla.Input
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.opts.SLA.UpdatePolicy(r.Context(), r.PathValue("id"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": p})
}

func (s *Server) handleDeletePolicy(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	if err := s.opts.SLA.DeletePolicy(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetAutoReply(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	st, err := s.opts.AutoReply.Settings(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handlePutAutoReply(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !adminOnly(w, r, a) {
		return
	}
	var in autoreply.Settings
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.opts.AutoReply.PutSettings(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
