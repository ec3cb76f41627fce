package web

import (
	"net/http"

	"github.com/svar-dev/svar/ticketing"
)

// notFound is what a reader gets for a ticket they may not see: the same
// answer as for one that does not exist.
func notFound(id string) error {
	return ticketing.Errorf(ticketing.ENotFound, "ticket %s not found", id)
}

// visibleTicket returns the ticket when the request's agent may see it.
func (s *Server) visibleTicket(r *http.Request, id string) (*ticketing.Ticket, error) {
	t, err := s.svc.Ticket(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !ViewerFrom(r.Context()).CanSee(t) {
		return nil, notFound(id)
	}
	return t, nil
}

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	v, err := s.svc.TicketView(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ViewerFrom(r.Context()).CanSee(v.Ticket) {
		writeError(w, r, notFound(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handlePatchTicket(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	var u ticketing.TicketUpdate
	if err := decodeJSON(w, r, &u); err != nil {
		writeError(w, r, err)
		return
	}
	if u.AssigneeID != nil && *u.AssigneeID == "me" {
		u.AssigneeID = &a.ID
	}
	if u.TeamID != nil && *u.TeamID != "" {
		if err := s.staff.CheckTeams(r.Context(), "team_id", []string{*u.TeamID}); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if _, err := s.visibleTicket(r, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.svc.UpdateTicket(r.Context(), r.PathValue("id"), a, u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
}
