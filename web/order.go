package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/order"
	"github.com/svar-dev/svar/ticketing/staff"
)

// Orders is the shop's orders (package ticketing/order).
type Orders interface {
	Put(ctx context.Context, number string, in order.Input) (*order.Order, *ticketing.Customer, error)
	Get(ctx context.Context, number string) (*order.View, error)
	ForCustomer(ctx context.Context, customerID string) ([]*order.Order, error)
}

func (s *Server) orders(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Orders == nil {
		writeError(w, r, ticketing.Errorf(ticketing.EUnavailable, "orders are not available"))
		return false
	}
	return true
}

// handlePutOrder is the shop's backend creating or updating an order.
func (s *Server) handlePutOrder(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	if !s.orders(w, r) {
		return
	}
	if !mayPushOrders(r) {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "orders are pushed by the shop's backend with a token whose scopes name orders:write, or by an admin"))
		return
	}
	var in order.Input
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	o, _, err := s.opts.Orders.Put(r.Context(), r.PathValue("number"), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"order": o})
}

// mayPushOrders: an admin, or a token that names orders:write (or admin)
// itself. A token's scopes were checked against the route already; this
// keeps an agent's own session, which has every scope, from pushing orders
// for customers of teams they do not see.
func mayPushOrders(r *http.Request) bool {
	if ViewerFrom(r.Context()).All {
		return true
	}
	sess := sessionFrom(r.Context())
	return sess != nil && sess.Kind == "token" &&
		(slices.Contains(sess.Scopes, staff.ScopeOrdersWrite) || slices.Contains(sess.Scopes, staff.ScopeAdmin))
}

// handleGetOrder returns an order, its customer and its tickets; an agent
// who may see none of the customer's tickets does not find it.
func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request, _ *ticketing.Agent) {
	if !s.orders(w, r) {
		return
	}
	v, err := s.opts.Orders.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ViewerFrom(r.Context()).All {
		if v.Customer == nil {
			writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "order %s not found", r.PathValue("number")))
			return
		}
		_, tickets, err := s.svc.CustomerView(r.Context(), v.Customer.ID)
		if err == nil {
			_, err = s.visibleCustomer(r, v.Customer.ID, tickets)
		}
		if err != nil {
			writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "order %s not found", r.PathValue("number")))
			return
		}
		v.Tickets, _ = s.visibleCustomer(r, v.Customer.ID, v.Tickets)
		if v.Tickets == nil {
			v.Tickets = []*ticketing.Ticket{}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// customerOrders is the customer's latest orders, newest first (none
// without orders configured).
func (s *Server) customerOrders(r *http.Request, id string) ([]*order.Order, error) {
	if s.opts.Orders == nil {
		return []*order.Order{}, nil
	}
	return s.opts.Orders.ForCustomer(r.Context(), id)
}
