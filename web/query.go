package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
)

// Query is the node's query index as the web layer uses it.
type Query interface {
	Search(ctx context.Context, v ticketing.Viewer, q string, limit int) ([]*ticketing.SearchResult, error)
	Customers(ctx context.Context, v ticketing.Viewer, q string, limit int, cursor string) (*ticketing.CustomerPage, error)
}

// Views are saved list views (ticketing/query.Views).
type Views interface {
	Create(ctx context.Context, v ticketing.Viewer, in ticketing.ViewInput) (*ticketing.View, error)
	List(ctx context.Context, v ticketing.Viewer) ([]*ticketing.View, error)
	Get(ctx context.Context, v ticketing.Viewer, id string) (*ticketing.View, error)
	Delete(ctx context.Context, v ticketing.Viewer, id string) error
}

// viewer is who the request's agent is for read paths (set by authed).
func (s *Server) viewer(r *http.Request, _ *ticketing.Agent) ticketing.Viewer {
	return ViewerFrom(r.Context())
}

// handleListTickets serves GET /api/v1/tickets: the contract's filters
// and sorts, or a view (a built-in one: open, mine, ...; or a saved one by
// id) whose filters the request's own parameters refine.
func (s *Server) handleListTickets(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	v := s.viewer(r, a)
	q := r.URL.Query()
	if id := q.Get("view"); id != "" {
		base := url.Values{}
		if vf, ok := ticketing.ViewFilter(id, a.ID); ok {
			base = vf.Values(a.ID)
		} else {
			if s.opts.Views == nil {
				writeError(w, r, ticketing.ParamError("view", "is not a view"))
				return
			}
			view, err := s.opts.Views.Get(r.Context(), v, id)
			if ticketing.IsNotFound(err) {
				writeError(w, r, ticketing.ParamError("view", "is not a view you can use"))
				return
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
			for k, val := range view.Filters {
				base.Set(k, val)
			}
		}
		for k, vals := range q {
			if k != "view" && len(vals) > 0 && vals[0] != "" {
				base[k] = vals
			}
		}
		q = base
	}
	f, err := ticketing.ParseTicketFilter(q, a.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.svc.ListTickets(r.Context(), v, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	c, err := s.svc.Counts(r.Context(), s.viewer(r, a))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": c})
}

// limitParam reads limit (1..200, default def).
func limitParam(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > ticketing.MaxListLimit {
		return 0, ticketing.ParamError("limit", "must be a whole number from 1 to %d", ticketing.MaxListLimit)
	}
	return n, nil
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if s.opts.Query == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "search is not available"))
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(q, 20)
	if err != nil {
		writeError(w, r, err)
		return
	}
	text := q.Get("q")
	if len(text) > ticketing.MaxQueryLen {
		writeError(w, r, ticketing.ParamError("q", "must be at most %d bytes", ticketing.MaxQueryLen))
		return
	}
	res, err := s.opts.Query.Search(r.Context(), s.viewer(r, a), text, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
}

func (s *Server) handleListCustomers(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if s.opts.Query == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "the customer list is not available"))
		return
	}
	q := r.URL.Query()
	limit, err := limitParam(q, ticketing.DefaultListLimit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	text := q.Get("q")
	if len(text) > ticketing.MaxQueryLen {
		writeError(w, r, ticketing.ParamError("q", "must be at most %d bytes", ticketing.MaxQueryLen))
		return
	}
	cursor := q.Get("cursor")
	if len(cursor) > 1000 {
		writeError(w, r, ticketing.ParamError("cursor", "is not a cursor this list returned"))
		return
	}
	page, err := s.opts.Query.Customers(r.Context(), s.viewer(r, a), text, limit, cursor)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) views(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Views == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "views are not available"))
		return false
	}
	return true
}

func (s *Server) handleCreateView(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.views(w, r) {
		return
	}
	var in ticketing.ViewInput
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	view, err := s.opts.Views.Create(r.Context(), s.viewer(r, a), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"view": view})
}

func (s *Server) handleListViews(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.views(w, r) {
		return
	}
	views, err := s.opts.Views.List(r.Context(), s.viewer(r, a))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"views": views})
}

func (s *Server) handleGetView(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.views(w, r) {
		return
	}
	view, err := s.opts.Views.Get(r.Context(), s.viewer(r, a), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"view": view})
}

func (s *Server) handleDeleteView(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.views(w, r) {
		return
	}
	if err := s.opts.Views.Delete(r.Context(), s.viewer(r, a), r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// savedView reports whether id is a saved view a may use.
func (s *Server) savedView(r *http.Request, a *ticketing.Agent, id string) bool {
	if s.opts.Views == nil || len(id) > 64 {
		return false
	}
	_, err := s.opts.Views.Get(r.Context(), s.viewer(r, a), id)
	return err == nil
}
