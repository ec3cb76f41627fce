package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/staff"
)

// Trust: scoped API tokens, the audit log, and (trust_gdpr.go) export,
// erasure and retention.

func (s *Server) trustRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/tokens", s.authed(s.handleCreateToken))
	mux.Handle("GET /api/v1/tokens", s.authed(s.handleListTokens))
	mux.Handle("DELETE /api/v1/tokens/{id}", s.authed(s.handleRevokeToken))
	mux.Handle("GET /api/v1/audit", s.authed(s.handleAudit))
	s.gdprRoutes(mux)
}

// audit records an action of the request's agent (settings changes and
// the like; the staff service records its own).
func (s *Server) audit(r *http.Request, action, target string) {
	if s.opts.Audit != nil {
		s.opts.Audit.Record(r.Context(), audit.Entry{Action: action, Target: target})
	}
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := staff.RequireAdmin(a); err != nil {
		writeError(w, r, err)
		return
	}
	if s.opts.Audit == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "the audit log is not configured"))
		return
	}
	q := r.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, ticketing.FieldError("limit", "must be a number from 1 to 200"))
			return
		}
		f.Limit = n
	}
	page, err := s.opts.Audit.List(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) metricsRoute(mux *http.ServeMux) {
	if s.opts.MetricsElsewhere {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "metrics are served on SVAR_METRICS_ADDR"))
		})
		return
	}
	mux.Handle("GET /metrics", s.MetricsHandler())
}

// MetricsHandler serves the Prometheus metrics, behind the bearer token
// when one is configured.
func (s *Server) MetricsHandler() http.Handler {
	h := s.metrics.Handler()
	token := s.opts.MetricsToken
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="svar-metrics"`)
			writeError(w, r, ticketing.Errorf(ticketing.EUnauthorized, "metrics need Authorization: Bearer <SVAR_METRICS_TOKEN>"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
