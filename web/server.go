// Package web is Svar's HTTP face: the agents' JSON API, the console pages,
// health and metrics, and the mount point for the channel adapters' routes
// (webhooks, the chat websocket and widget).
package web

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Service is the ticketing core as the web layer uses it.
type Service interface {
	ListTickets(ctx context.Context, v ticketing.Viewer, f ticketing.TicketFilter) (*ticketing.TicketPage, error)
	Counts(ctx context.Context, v ticketing.Viewer) (map[string]int, error)
	TicketView(ctx context.Context, id string) (*ticketing.TicketView, error)
	Reply(ctx context.Context, ticketID string, by *ticketing.Agent, in ticketing.ReplyInput) (*ticketing.Message, error)
	UpdateTicket(ctx context.Context, id string, by *ticketing.Agent, u ticketing.TicketUpdate) (*ticketing.Ticket, error)
	CustomerView(ctx context.Context, id string) (*ticketing.Customer, []*ticketing.Ticket, error)
	PatchCustomer(ctx context.Context, id string, p ticketing.CustomerPatch) (*ticketing.Customer, error)
	PushCustomer(ctx context.Context, in ticketing.ShopCustomer) (*ticketing.Customer, []ticketing.Identity, error)
}

// Live serves agents' live websockets (package realtime).
type Live interface {
	ServeAgent(w http.ResponseWriter, r *http.Request, agent *ticketing.Agent)
	DisconnectAgent(agentID string)
}

// Pinger checks a dependency for /healthz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Router is a channel adapter that serves HTTP routes of its own.
type Router interface {
	Routes(mux *http.ServeMux)
}

// Options configure a Server.
type Options struct {
	Service Service
	Store   ticketing.Store
	Live    Live
	// Health names the dependencies /healthz checks ("nats", "mongodb").
	Health  map[string]Pinger
	Metrics *Metrics
	Routers []Router
	// Query serves search and the customer list (ticketing/query); Views
	// saved views. Without them those endpoints answer 503.
	Query Query
	Views Views
	// Viewer says what an agent may see; default: admins everything,
	// others what Viewer.CanSee allows with no teams.
	Viewer func(ctx context.Context, a *ticketing.Agent) ticketing.Viewer
	// Relay, when set, tells every node to close the live sockets of an
	// agent who was deactivated or changed their password (agent.go); without
	// it only this node's sockets close at once. Call Server.Close to stop
	// listening.
	Relay     ticketing.Relay
	PublicURL string
	Logger    *slog.Logger
	// SecureCookies marks cookies Secure (on when PublicURL is https).
	SecureCookies bool
	// Now returns the time; default time.Now.
	Now func() time.Time
}

// Server is the HTTP handler of one node.
type Server struct {
	svc     Service
	store   ticketing.Store
	live    Live
	health  map[string]Pinger
	metrics *Metrics
	log     *slog.Logger
	opts    Options
	valid   *ticketing.Validator
	now     func() time.Time
	handler http.Handler
	console *console // the console's templates and static files (console.go)
}

// New returns a Server with every route registered.
func New(o Options) *Server {
	s := &Server{svc: o.Service, store: o.Store, live: o.Live, health: o.Health, metrics: o.Metrics,
		log: o.Logger, opts: o, valid: ticketing.NewValidator(), now: o.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	mux := http.NewServeMux()
	s.routes(mux)
	for _, r := range o.Routers {
		r.Routes(mux)
	}
	cop := http.NewCrossOriginProtection()
	s.handler = s.recoverer(securityHeaders(cop.Handler(mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /metrics", s.metrics.Handler())

	mux.HandleFunc("POST /api/v1/session", s.handleLogin)
	mux.HandleFunc("DELETE /api/v1/session", s.handleLogout)
	mux.Handle("GET /api/v1/session", s.authed(s.handleWhoAmI))
	mux.Handle("POST /api/v1/tokens", s.authed(s.handleCreateToken))

	mux.Handle("GET /api/v1/tickets", s.authed(s.handleListTickets))
	mux.Handle("GET /api/v1/tickets/{id}", s.authed(s.handleGetTicket))
	mux.Handle("PATCH /api/v1/tickets/{id}", s.authed(s.handlePatchTicket))
	mux.Handle("POST /api/v1/tickets/{id}/messages", s.authed(s.handlePostMessage))
	mux.Handle("GET /api/v1/counts", s.authed(s.handleCounts))
	mux.Handle("GET /api/v1/search", s.authed(s.handleSearch))
	mux.Handle("GET /api/v1/customers", s.authed(s.handleListCustomers))
	mux.Handle("POST /api/v1/views", s.authed(s.handleCreateView))
	mux.Handle("GET /api/v1/views", s.authed(s.handleListViews))
	mux.Handle("GET /api/v1/views/{id}", s.authed(s.handleGetView))
	mux.Handle("DELETE /api/v1/views/{id}", s.authed(s.handleDeleteView))
	mux.HandleFunc("GET /search", s.page(""))

	mux.Handle("POST /api/v1/customers", s.authed(s.handlePushCustomer))
	mux.Handle("GET /api/v1/customers/{id}", s.authed(s.handleGetCustomer))
	mux.Handle("PATCH /api/v1/customers/{id}", s.authed(s.handlePatchCustomer))

	mux.Handle("GET /api/v1/attachments/{key...}", s.authed(s.handleAttachment))
	mux.Handle("GET /api/v1/live", s.authed(s.handleLive))

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.consoleRoutes(mux)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic in a handler into a logged 500 with the
// contract's error shape, so one bad request never takes the node down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, r, ticketing.Errorf(ticketing.EInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	out := map[string]string{"status": "ok"}
	code := http.StatusOK
	for name, p := range s.health {
		if err := p.Ping(ctx); err != nil {
			out[name] = "error: " + err.Error()
			out["status"] = "degraded"
			code = http.StatusServiceUnavailable
			continue
		}
		out[name] = "ok"
	}
	writeJSON(w, code, out)
}
