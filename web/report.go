package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/report"
	"github.com/svar-dev/svar/ticketing/staff"
)

// Reports answers the Reports page from this node's report index.
type Reports interface {
	Summary(ctx context.Context, q report.Query) ([]*report.Row, error)
	Rebuild(ctx context.Context) (uint64, error)
	DefaultLocation(ctx context.Context) *time.Location
	// Backlog counts the open and pending tickets by age at now (group
	// none, team or channel; another is an EBadRequest naming group_by).
	Backlog(ctx context.Context, groupBy string, now time.Time) ([]*report.BacklogRow, error)
}

func (s *Server) reportRoutes(mux *http.ServeMux) {
	if s.opts.Reports == nil {
		return
	}
	mux.Handle("GET /api/v1/reports/summary", s.authed(s.handleReportSummary))
	mux.Handle("GET /api/v1/reports/backlog", s.authed(s.handleReportBacklog))
	mux.Handle("POST /api/v1/reports/rebuild", s.authed(s.handleReportRebuild))
	mux.HandleFunc("GET /reports", s.page(ticketing.RoleAdmin))
}

// handleReportSummary: admins' figures for a range, as JSON rows or, with
// Accept: text/csv (or ?format=csv), as CSV.
func (s *Server) handleReportSummary(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	q, err := report.ParseQuery(r.URL.Query().Get, s.opts.Reports.DefaultLocation(ctx), s.now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := s.opts.Reports.Summary(ctx, q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/csv") || r.URL.Query().Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="svar-report-`+q.GroupBy+`.csv"`)
		w.Header().Set("Cache-Control", "no-store")
		_ = report.WriteCSV(w, rows)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rows": rows, "from": q.From.UTC(), "to": q.To.UTC(),
		"group_by": q.GroupBy, "tz": q.Location.String()})
}

// handleReportRebuild recomputes this node's report index from the store
// (after a change of definition or of business hours).
func (s *Server) handleReportRebuild(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	seq, err := s.opts.Reports.Rebuild(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rebuilt": true, "events_seq": seq})
}
