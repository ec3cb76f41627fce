package web

import (
	"net/http"
	"strings"

	"github.com/svar-dev/svar/ticketing/staff"
)

// routeScopes is the one table of what scope a bearer token needs for each
// agents' route (keyed by the mux pattern). "" needs no particular scope.
// A route missing here needs staff.ScopeAdmin: new routes are closed to
// scoped tokens until they are listed. Sessions may do all their agent may;
// the agent's role is checked by the handlers as ever.
var routeScopes = map[string]string{
	"GET /api/v1/session": "",

	"POST /api/v1/tokens":        staff.ScopeAdmin,
	"GET /api/v1/tokens":         staff.ScopeAdmin,
	"DELETE /api/v1/tokens/{id}": staff.ScopeAdmin,
	"GET /api/v1/audit":          staff.ScopeAdmin,

	"GET /api/v1/tickets":                                staff.ScopeTicketsRead,
	"GET /api/v1/tickets/{id}":                           staff.ScopeTicketsRead,
	"GET /api/v1/counts":                                 staff.ScopeTicketsRead,
	"GET /api/v1/live":                                   staff.ScopeTicketsRead,
	"GET /api/v1/attachments/{key...}":                   staff.ScopeTicketsRead,
	"GET /api/v1/macros":                                 staff.ScopeTicketsRead,
	"GET /api/v1/macros/{id}":                            staff.ScopeTicketsRead,
	"GET /api/v1/tickets/{id}/macros/{macro_id}/preview": staff.ScopeTicketsRead,
	"GET /api/v1/views":                                  staff.ScopeTicketsRead,
	"GET /api/v1/search":                                 staff.ScopeTicketsRead,
	"PATCH /api/v1/tickets/{id}":                         staff.ScopeTicketsWrite,
	"POST /api/v1/tickets/{id}/messages":                 staff.ScopeTicketsWrite,
	"POST /api/v1/tickets/bulk":                          staff.ScopeTicketsWrite,
	"POST /api/v1/tickets/{id}/merge":                    staff.ScopeTicketsWrite,
	"POST /api/v1/tickets/{id}/split":                    staff.ScopeTicketsWrite,
	"POST /api/v1/macros":                                staff.ScopeTicketsWrite,
	"PATCH /api/v1/macros/{id}":                          staff.ScopeTicketsWrite,
	"DELETE /api/v1/macros/{id}":                         staff.ScopeTicketsWrite,
	"GET /api/v1/teams":                                  staff.ScopeTicketsRead,
	"GET /api/v1/teams/{id}":                             staff.ScopeTicketsRead,
	"GET /api/v1/agents":                                 staff.ScopeTicketsRead,
	"GET /api/v1/customers":                              staff.ScopeCustomersRead,
	"GET /api/v1/customers/{id}":                         staff.ScopeCustomersRead,
	"GET /api/v1/customers/{id}/timeline":                staff.ScopeTicketsRead,
	"POST /api/v1/customers":                             staff.ScopeCustomersWrite,
	"PATCH /api/v1/customers/{id}":                       staff.ScopeCustomersWrite,
	"POST /api/v1/customers/{id}/merge":                  staff.ScopeCustomersWrite,
	"POST /api/v1/orders":                                staff.ScopeOrdersWrite,
	"PUT /api/v1/orders/{number}":                        staff.ScopeOrdersWrite,
	"GET /api/v1/orders/{number}":                        staff.ScopeCustomersRead,
	"POST /api/v1/customers/{id}/orders":                 staff.ScopeOrdersWrite,
	"GET /api/v1/customers/{id}/export":                  staff.ScopeAdmin,
	"DELETE /api/v1/customers/{id}":                      staff.ScopeAdmin,
	"PUT /api/v1/settings/retention":                     staff.ScopeAdmin,
	"GET /api/v1/settings/retention":                     staff.ScopeAdmin,
	"GET /api/v1/settings/retention/preview":             staff.ScopeAdmin,
}

// scopeFor is the scope a request's route needs.
func scopeFor(pattern string) string {
	if sc, ok := routeScopes[pattern]; ok {
		return sc
	}
	_, path, _ := strings.Cut(pattern, " ")
	if strings.HasPrefix(path, "/api/v1/reports") && strings.HasPrefix(pattern, "GET ") {
		return staff.ScopeReportsRead
	}
	return staff.ScopeAdmin
}

// settingsRoute reports whether a request changes settings (audited as
// settings.changed by authed once it succeeds).
func settingsRoute(r *http.Request) bool {
	if !unsafeMethod(r.Method) {
		return false
	}
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/v1/settings/") || strings.HasPrefix(p, "/api/v1/sla-policies") ||
		p == "/api/v1/routing"
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
