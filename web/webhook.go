package web

import (
	"context"
	"net/http"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/webhook"
)

// Webhooks registers webhooks and shows their deliveries (package
// ticketing/webhook).
type Webhooks interface {
	Create(ctx context.Context, by string, in webhook.Input) (*webhook.Webhook, error)
	List(ctx context.Context) ([]*webhook.Webhook, error)
	Delete(ctx context.Context, id string) error
	Deliveries(ctx context.Context, id string) ([]webhook.Attempt, error)
}

// webhooksFor answers for the admins only, with webhooks configured.
func (s *Server) webhooksFor(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) bool {
	if a == nil || a.Role != ticketing.RoleAdmin {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "webhooks are for admins"))
		return false
	}
	if s.opts.Webhooks == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "webhooks are not available"))
		return false
	}
	return true
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.webhooksFor(w, r, a) {
		return
	}
	var in webhook.Input
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	hook, err := s.opts.Webhooks.Create(r.Context(), a.ID, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": hook})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.webhooksFor(w, r, a) {
		return
	}
	hooks, err := s.opts.Webhooks.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks})
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.webhooksFor(w, r, a) {
		return
	}
	if err := s.opts.Webhooks.Delete(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if !s.webhooksFor(w, r, a) {
		return
	}
	attempts, err := s.opts.Webhooks.Deliveries(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": attempts})
}
