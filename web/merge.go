package web

import (
	"context"
	"net/http"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/merge"
)

// Merges merges customers and undoes merges (package ticketing/merge).
type Merges interface {
	Merge(ctx context.Context, by, intoID, fromID string) (*merge.Record, *ticketing.Customer, error)
	Undo(ctx context.Context, by, id string) (*merge.Record, error)
}

// mergesFor: merging moves tickets between customers, whose visibility
// differs per team; it is for those who see every ticket.
func (s *Server) mergesFor(w http.ResponseWriter, r *http.Request) bool {
	if !ViewerFrom(r.Context()).All {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "merging customers is for admins"))
		return false
	}
	if s.opts.Merges == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "merging is not available"))
		return false
	}
	return true
}

func (s *Server) handleMergeCustomer(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.mergesFor(w, r) {
		return
	}
	var in struct {
		FromID string `json:"from_id"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	rec, c, err := s.opts.Merges.Merge(r.Context(), agentID(a), r.PathValue("id"), in.FromID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c, "merge_id": rec.ID, "merge": rec})
}

func (s *Server) handleUndoMerge(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.mergesFor(w, r) {
		return
	}
	rec, err := s.opts.Merges.Undo(r.Context(), agentID(a), r.PathValue("merge_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"merge": rec})
}

func agentID(a *ticketing.Agent) string {
	if a == nil {
		return ""
	}
	return a.ID
}
