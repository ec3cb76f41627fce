package web

import (
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
)

var ticketStatuses = map[string]bool{"": true, ticketing.StatusOpen: true, ticketing.StatusPending: true,
	ticketing.StatusSolved: true, ticketing.StatusClosed: true}

func (s *Server) handleListTickets(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	q := r.URL.Query()
	f := ticketing.TicketFilter{Status: q.Get("status"), CustomerID: q.Get("customer"), Query: q.Get("q"), Cursor: q.Get("cursor")}
	if !ticketStatuses[f.Status] {
		writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "status", Message: "status: must be open, pending, solved or closed"})
		return
	}
	switch as := q.Get("assignee"); as {
	case "":
	case "me":
		f.AssigneeID = a.ID
	case "none":
		f.AssigneeID = ticketing.AssigneeNone
	default:
		f.AssigneeID = as
	}
	if v := q.Get("view"); v != "" {
		vf, ok := ticketing.ViewFilter(v, a.ID)
		if !ok {
			writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "view", Message: "view: must be open, mine, unassigned, pending, solved or all"})
			return
		}
		vf.CustomerID, vf.Query, vf.Cursor = f.CustomerID, f.Query, f.Cursor
		f = vf
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "limit", Message: "limit: must be a whole number from 1 to 200"})
			return
		}
		f.Limit = n
	}
	if len(f.Query) > 200 {
		writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "q", Message: "q: must be at most 200 characters"})
		return
	}
	f.Viewer = ViewerFrom(r.Context())
	page, err := s.svc.ListTickets(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	writeJSON(w, http.StatusOK, map[string]any{"counts": s.svc.Counts(ViewerFrom(r.Context()))})
}

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
