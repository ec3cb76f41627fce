package web

import (
	"net/http"

	"github.com/svar-dev/svar/ticketing"
)

func (s *Server) handleGetCustomer(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	c, tickets, err := s.svc.CustomerView(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c, "tickets": tickets})
}

// customerPatch is what a shop pushes about a customer.
type customerPatch struct {
	Name       *string            `json:"name" validate:"omitempty,max=200"`
	Attributes map[string]string  `json:"attributes" validate:"omitempty,max=50,dive,keys,min=1,max=50,endkeys,max=500"`
	Orders     *[]ticketing.Order `json:"orders" validate:"omitempty,max=100,dive"`
}

func (s *Server) handlePatchCustomer(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	var in customerPatch
	if !s.readInput(w, r, &in) {
		return
	}
	c, err := s.svc.PatchCustomer(r.Context(), r.PathValue("id"), ticketing.CustomerPatch{Name: in.Name, Attributes: in.Attributes, Orders: in.Orders})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c})
}

// handlePushCustomer is the shop's backend telling Svar about one of its
// customers: the shop's id, email, phone, name, tier and orders.
func (s *Server) handlePushCustomer(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	var in ticketing.ShopCustomer
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	c, conflicts, err := s.svc.PushCustomer(r.Context(), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if conflicts == nil {
		conflicts = []ticketing.Identity{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c, "conflicts": conflicts})
}

// handleAttachment serves a stored file only as a download, never
// rendered: a customer's file must not run in the console's origin.
func (s *Server) handleAttachment(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	s.serveBlob(w, r, r.PathValue("key"))
}

// serveBlob writes a stored file as a download.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, key string) {
	b, err := s.store.GetBlob(r.Context(), key)
	if ticketing.IsNotFound(err) {
		writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "attachment not found"))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := b.Filename
	if name == "" {
		name = "attachment"
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mimeAttachment(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	_, _ = w.Write(b.Data)
}

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "the live socket only accepts the console's own origin"))
		return
	}
	if s.live == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "live updates are not available"))
		return
	}
	s.live.ServeAgent(w, r, a)
}
