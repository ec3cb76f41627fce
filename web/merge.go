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

// TicketMerges merges a customer's tickets and splits them (package
// ticketing/ticketmerge).
type TicketMerges interface {
	Merge(ctx context.Context, by *ticketing.Agent, intoID, fromID string) (*ticketing.Ticket, error)
	Split(ctx context.Context, by *ticketing.Agent, id string, messageIDs []string) (*ticketing.Ticket, error)
}

// ticketMergesFor checks that ticket merges are served.
func (s *Server) ticketMergesFor(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.TicketMerges == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "merging tickets is not available"))
		return false
	}
	return true
}

// handleMergeTicket merges ticket from_id into ticket {id}. The agent must
// see both: a merge shows one ticket's messages to those who see the other.
func (s *Server) handleMergeTicket(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.ticketMergesFor(w, r) {
		return
	}
	in, ok := readBody[struct {
		FromID string `json:"from_id"`
	}](w, r)
	if !ok {
		return
	}
	if _, err := s.visibleTicket(r, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	if in.FromID != "" {
		if _, err := s.visibleTicket(r, in.FromID); ticketing.IsNotFound(err) {
			writeError(w, r, &ticketing.Error{Code: ticketing.ENotFound, Field: "from_id", Message: "from_id: ticket " + clipID(in.FromID) + " not found"})
			return
		} else if err != nil {
			writeError(w, r, err)
			return
		}
	}
	t, err := s.opts.TicketMerges.Merge(r.Context(), a, r.PathValue("id"), in.FromID)
	respond(w, r, http.StatusOK, map[string]any{"ticket": t}, err)
}

// handleSplitTicket moves messages of ticket {id} into a new ticket.
func (s *Server) handleSplitTicket(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.ticketMergesFor(w, r) {
		return
	}
	in, ok := readBody[struct {
		MessageIDs []string `json:"message_ids"`
	}](w, r)
	if !ok {
		return
	}
	if _, err := s.visibleTicket(r, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.opts.TicketMerges.Split(r.Context(), a, r.PathValue("id"), in.MessageIDs)
	respond(w, r, http.StatusCreated, map[string]any{"ticket": t}, err)
}

func clipID(id string) string {
	if len(id) > 64 {
		return id[:64] + "…"
	}
	return id
}
