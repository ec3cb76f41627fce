package web

import (
	"net/http"

	"github.com/svar-dev/svar/ticketing"
)

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	v, err := s.svc.TicketView(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
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
	t, err := s.svc.UpdateTicket(r.Context(), r.PathValue("id"), a, u)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
}

func (s *Server) handlePostMessage(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	var in ticketing.ReplyInput
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	m, err := s.svc.Reply(r.Context(), r.PathValue("id"), a, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if m.Direction == ticketing.DirectionOutbound {
		s.metrics.Replies.WithLabelValues(string(m.Channel)).Inc()
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
}
