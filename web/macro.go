package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/macro"
	"github.com/svar-dev/svar/ticketing/mailsettings"
)

// Macros is the macro service (package ticketing/macro).
type Macros interface {
	Create(ctx context.Context, a *ticketing.Agent, in macro.Input) (*macro.Macro, error)
	Get(ctx context.Context, a *ticketing.Agent, id string) (*macro.Macro, error)
	Update(ctx context.Context, a *ticketing.Agent, id string, in macro.Input) (*macro.Macro, error)
	Delete(ctx context.Context, a *ticketing.Agent, id string) error
	List(ctx context.Context, a *ticketing.Agent, q string, limit int) ([]*macro.Macro, error)
	Preview(ctx context.Context, a *ticketing.Agent, ticketID, id string) (string, error)
	Send(ctx context.Context, ticketID string, by *ticketing.Agent, in ticketing.ReplyInput, macroID string) (*ticketing.Message, error)
}

func (s *Server) composerRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/macros", s.authed(s.handleListMacros))
	mux.Handle("POST /api/v1/macros", s.authed(s.handleCreateMacro))
	mux.Handle("GET /api/v1/macros/{id}", s.authed(s.handleGetMacro))
	mux.Handle("PATCH /api/v1/macros/{id}", s.authed(s.handlePatchMacro))
	mux.Handle("DELETE /api/v1/macros/{id}", s.authed(s.handleDeleteMacro))
	mux.Handle("GET /api/v1/tickets/{id}/macros/{macro_id}/preview", s.authed(s.handlePreviewMacro))
	mux.Handle("GET /api/v1/settings/email", s.authed(s.handleGetEmailSettings))
	mux.Handle("PUT /api/v1/settings/email", s.authed(s.handlePutEmailSettings))
	mux.HandleFunc("GET /files/{key...}", s.handleSignedFile)
	mux.Handle("POST /api/v1/tickets/bulk", s.authed(s.handleBulk))
	mux.HandleFunc("GET /macros", s.page(""))
}

func (s *Server) macros(w http.ResponseWriter, r *http.Request) Macros {
	if s.opts.Macros == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "macros are not available on this node"))
		return nil
	}
	return s.opts.Macros
}

func (s *Server) handleListMacros(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > 200 {
		writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "q", Message: "q: must be at most 200 characters"})
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(w, r, &ticketing.Error{Code: codeBadRequest, Field: "limit", Message: "limit: must be a whole number from 1 to 200"})
			return
		}
		limit = n
	}
	list, err := ms.List(r.Context(), a, q, limit)
	respond(w, r, http.StatusOK, map[string]any{"macros": list, "placeholders": macro.Placeholders}, err)
}

// macroInput reads a macro's body and checks the team it names.
func (s *Server) macroInput(w http.ResponseWriter, r *http.Request) (macro.Input, bool) {
	in, ok := readBody[macro.Input](w, r)
	if !ok {
		return in, false
	}
	if err := s.checkMacroTeam(r, in); err != nil {
		writeError(w, r, err)
		return in, false
	}
	return in, true
}

func (s *Server) handleCreateMacro(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	in, ok := s.macroInput(w, r)
	if !ok {
		return
	}
	m, err := ms.Create(r.Context(), a, in)
	respond(w, r, http.StatusCreated, map[string]any{"macro": m}, err)
}

func (s *Server) handleGetMacro(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	m, err := ms.Get(r.Context(), a, r.PathValue("id"))
	respond(w, r, http.StatusOK, map[string]any{"macro": m}, err)
}

func (s *Server) handlePatchMacro(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	in, ok := s.macroInput(w, r)
	if !ok {
		return
	}
	m, err := ms.Update(r.Context(), a, r.PathValue("id"), in)
	respond(w, r, http.StatusOK, map[string]any{"macro": m}, err)
}

func (s *Server) handleDeleteMacro(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	respond(w, r, http.StatusNoContent, nil, ms.Delete(r.Context(), a, r.PathValue("id")))
}

func (s *Server) handlePreviewMacro(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ms := s.macros(w, r)
	if ms == nil {
		return
	}
	if _, err := s.visibleTicket(r, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	text, err := ms.Preview(r.Context(), a, r.PathValue("id"), r.PathValue("macro_id"))
	respond(w, r, http.StatusOK, map[string]any{"text": text}, err)
}

func (s *Server) handleGetEmailSettings(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if a.Role != ticketing.RoleAdmin {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "only admins read the email settings"))
		return
	}
	st, err := mailsettings.Get(r.Context(), s.store)
	respond(w, r, http.StatusOK, st, err)
}

func (s *Server) handlePutEmailSettings(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	in, ok := readBody[mailsettings.Settings](w, r)
	if !ok {
		return
	}
	st, err := mailsettings.Put(r.Context(), s.store, a, in, s.now())
	respond(w, r, http.StatusOK, st, err)
}

// bulkRequest is POST /api/v1/tickets/bulk: one change to several tickets.
type bulkRequest struct {
	IDs    []string               `json:"ids" validate:"required,min=1,max=200,dive,min=1,max=200"`
	Update ticketing.TicketUpdate `json:"update"`
	// TagsAdd and TagsRemove change each ticket's own tags.
	TagsAdd    []string `json:"tags_add" validate:"omitempty,max=20,dive,min=1,max=50"`
	TagsRemove []string `json:"tags_remove" validate:"omitempty,max=20,dive,min=1,max=50"`
}

type bulkResult struct {
	ID     string            `json:"id"`
	Ticket *ticketing.Ticket `json:"ticket,omitempty"`
	Error  *bulkError        `json:"error,omitempty"`
}

type bulkError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleBulk applies one change to each ticket in turn and reports each
// ticket's result: one bad id does not stop the others.
func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	var in bulkRequest
	if !s.readInput(w, r, &in) {
		return
	}
	if in.Update.AssigneeID != nil && *in.Update.AssigneeID == "me" {
		in.Update.AssigneeID = &a.ID
	}
	if in.Update.TeamID != nil && *in.Update.TeamID != "" {
		if err := s.staff.CheckTeams(r.Context(), "update.team_id", []string{*in.Update.TeamID}); err != nil {
			writeError(w, r, err)
			return
		}
	}
	out := make([]bulkResult, 0, len(in.IDs))
	for _, id := range in.IDs {
		u := in.Update
		res := bulkResult{ID: id}
		t, err := s.visibleTicket(r, id)
		if err == nil && (len(in.TagsAdd) > 0 || len(in.TagsRemove) > 0) {
			tags := macro.ApplyTags(t.Tags, in.TagsAdd, in.TagsRemove)
			u.Tags = &tags
		}
		if err == nil {
			res.Ticket, err = s.svc.UpdateTicket(r.Context(), id, a, u)
		}
		if err != nil {
			res.Error = &bulkError{Code: ticketing.ErrorCode(err), Message: ticketing.ErrorMessage(err)}
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// checkMacroTeam refuses a macro whose actions name a team that does not
// exist (teams are ticketing/staff's).
func (s *Server) checkMacroTeam(r *http.Request, in macro.Input) error {
	if in.Actions == nil || in.Actions.TeamID == "" {
		return nil
	}
	return s.staff.CheckTeams(r.Context(), "actions.team_id", []string{in.Actions.TeamID})
}
