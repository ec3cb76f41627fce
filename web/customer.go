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
	if tickets, err = s.visibleCustomer(r, r.PathValue("id"), tickets); err != nil {
		writeError(w, r, err)
		return
	}
	orders, err := s.customerOrders(r, c.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"customer": c, "tickets": tickets, "orders": orders})
}

// customerPatch is what a shop pushes about a customer.
type customerPatch struct {
	Name       *string              `json:"name" validate:"omitempty,max=200"`
	Attributes ticketing.Attributes `json:"attributes"`
	Tier       *string              `json:"tier" validate:"omitempty,max=50"`
	// RemoveAttributes deletes attributes by key.
	RemoveAttributes []string           `json:"remove_attributes"`
	Orders           *[]ticketing.Order `json:"orders" validate:"omitempty,max=100,dive"`
	// Emails and Phones replace the customer's email and phone identities
	// (ticketing.Contacts); absent leaves them alone.
	Emails *[]string `json:"emails"`
	Phones *[]string `json:"phones"`
}

// visibleCustomer keeps the tickets the request's agent may see; a
// customer none of whose tickets they may see is not found for them.
func (s *Server) visibleCustomer(r *http.Request, id string, tickets []*ticketing.Ticket) ([]*ticketing.Ticket, error) {
	v := ViewerFrom(r.Context())
	if v.All {
		return tickets, nil
	}
	out := make([]*ticketing.Ticket, 0, len(tickets))
	for _, t := range tickets {
		if v.CanSee(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "customer %s not found", id)
	}
	return out, nil
}

func (s *Server) handlePatchCustomer(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	var in customerPatch
	if !s.readInput(w, r, &in) {
		return
	}
	if !ViewerFrom(r.Context()).All {
		_, tickets, err := s.svc.CustomerView(r.Context(), r.PathValue("id"))
		if err == nil {
			_, err = s.visibleCustomer(r, r.PathValue("id"), tickets)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
	}
	c, err := s.svc.EditCustomer(r.Context(), r.PathValue("id"),
		ticketing.CustomerPatch{Name: in.Name, Attributes: in.Attributes, RemoveAttributes: in.RemoveAttributes, Tier: in.Tier, Orders: in.Orders},
		ticketing.Contacts{Emails: in.Emails, Phones: in.Phones})
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
//
// Who sees only some teams names the ticket (?ticket=<id>): the file must
// be on one of that ticket's messages and the ticket visible to them.
func (s *Server) handleAttachment(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	key := r.PathValue("key")
	if v := ViewerFrom(r.Context()); !v.All {
		if err := s.attachmentVisible(r, key); err != nil {
			writeError(w, r, err)
			return
		}
	}
	s.serveBlob(w, r, key)
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

// attachmentVisible checks that key is a file of a message on the
// ?ticket= the request's agent may see.
func (s *Server) attachmentVisible(r *http.Request, key string) error {
	missing := ticketing.Errorf(ticketing.ENotFound, "attachment not found")
	id := r.URL.Query().Get("ticket")
	if id == "" {
		return missing
	}
	tv, err := s.svc.TicketView(r.Context(), id)
	if ticketing.IsNotFound(err) {
		return missing
	}
	if err != nil {
		return err
	}
	if !ViewerFrom(r.Context()).CanSee(tv.Ticket) {
		return missing
	}
	for _, m := range tv.Messages {
		for _, f := range m.Attachments {
			if f.Key == key {
				return nil
			}
		}
	}
	return missing
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
	s.live.ServeAgent(w, r, a, ViewerFrom(r.Context()))
}

// handleCustomerTimeline is the customer's messages across every ticket
// the agent may see, newest first, paged (ticketing.Service.CustomerTimeline).
func (s *Server) handleCustomerTimeline(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	q := r.URL.Query()
	limit, err := limitParam(q, 50)
	if err != nil {
		writeError(w, r, err)
		return
	}
	tl, err := s.svc.CustomerTimeline(r.Context(), ViewerFrom(r.Context()), r.PathValue("id"), limit, q.Get("cursor"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tl)
}
