package web

import (
	"context"
	_ "embed"
	"net/http"
	"time"
)

// Readiness tells /readyz whether the node should get traffic: it has
// started and caught up (its read models follow the events stream), and
// it is not shutting down. Ready returns nil when it is, or an error that
// says why not.
type Readiness interface {
	Ready(ctx context.Context) error
}

// openAPI is the OpenAPI 3.1 document of the HTTP API. TestOpenAPIMatchesRoutes
// keeps it and the registered routes in step.
//
//go:embed openapi/openapi.json
var openAPI []byte

func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /api/v1/openapi.json", s.handleOpenAPI)
}

// handleReady answers 200 {"status":"ready"} once the node is ready, and
// 503 {"status":"not_ready","reason"} before and while it shuts down, so a
// load balancer sends traffic only to nodes that serve current data.
// /healthz says whether the parts answer; a node can be healthy and not
// yet ready.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.opts.Ready.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPI)
}
