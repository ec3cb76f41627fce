package web

import (
	"io"
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/gdpr"
	"github.com/svar-dev/svar/ticketing/staff"
)

func (s *Server) gdprRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/customers/{id}/export", s.authed(s.handleExportCustomer))
	mux.Handle("DELETE /api/v1/customers/{id}", s.authed(s.handleEraseCustomer))
	mux.Handle("GET /api/v1/settings/retention", s.authed(s.handleGetRetention))
	mux.Handle("PUT /api/v1/settings/retention", s.authed(s.handlePutRetention))
	mux.Handle("GET /api/v1/settings/retention/preview", s.authed(s.handleRetentionPreview))
}

// gdprFor checks that a is an admin and that GDPR is configured.
func (s *Server) gdprFor(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) bool {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return false
	}
	if s.opts.GDPR == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "export and erasure are not configured"))
		return false
	}
	return true
}

func (s *Server) handleExportCustomer(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.gdprFor(w, r, a) {
		return
	}
	id := r.PathValue("id")
	started := false
	err := s.opts.GDPR.Export(r.Context(), id, func() io.Writer {
		started = true
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Disposition", `attachment; filename="customer-`+safeHeader(id)+`.zip"`)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return w
	})
	if err != nil {
		if !started {
			writeError(w, r, err)
			return
		}
		s.log.Error("export a customer: the zip is cut short", "customer_id", id, "err", err)
	}
}

func (s *Server) handleEraseCustomer(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.gdprFor(w, r, a) {
		return
	}
	res, err := s.opts.GDPR.Erase(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"erased": res})
}

// safeHeader keeps the characters of an id that are safe in a header.
func safeHeader(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && i < 100; i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		}
	}
	return string(b)
}

func (s *Server) handleGetRetention(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.gdprFor(w, r, a) {
		return
	}
	ret, err := s.opts.GDPR.Retention(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ret)
}

type retentionInput struct {
	SolvedTicketDays *int `json:"solved_ticket_days"`
	AttachmentsDays  *int `json:"attachments_days"`
}

// handlePutRetention sets the retention; a field left out keeps its value.
func (s *Server) handlePutRetention(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.gdprFor(w, r, a) {
		return
	}
	var in retentionInput
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	if in.SolvedTicketDays == nil && in.AttachmentsDays == nil {
		writeError(w, r, ticketing.FieldError("solved_ticket_days", "is required (0 keeps everything), unless attachments_days is given"))
		return
	}
	ret, err := s.opts.GDPR.Retention(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if in.SolvedTicketDays != nil {
		ret.SolvedTicketDays = *in.SolvedTicketDays
	}
	if in.AttachmentsDays != nil {
		ret.AttachmentsDays = *in.AttachmentsDays
	}
	ret, err = s.opts.GDPR.SetRetention(r.Context(), ret)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ret)
}

// handleRetentionPreview counts what a setting would erase now; a
// parameter left out counts as 0 (nothing), but one of them is required.
func (s *Server) handleRetentionPreview(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.gdprFor(w, r, a) {
		return
	}
	q := r.URL.Query()
	if !q.Has("solved_ticket_days") && !q.Has("attachments_days") {
		writeError(w, r, ticketing.FieldError("solved_ticket_days", "is required (a whole number of days), unless attachments_days is given"))
		return
	}
	var ret gdpr.Retention
	for _, f := range []struct {
		name string
		v    *int
	}{{"solved_ticket_days", &ret.SolvedTicketDays}, {"attachments_days", &ret.AttachmentsDays}} {
		if !q.Has(f.name) {
			continue
		}
		n, err := strconv.Atoi(q.Get(f.name))
		if err != nil {
			writeError(w, r, ticketing.FieldError(f.name, "must be a whole number of days"))
			return
		}
		*f.v = n
	}
	p, err := s.opts.GDPR.PreviewRetention(r.Context(), ret)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
