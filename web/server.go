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
	"github.com/svar-dev/svar/ticketing/assign"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/autoreply"
	"github.com/svar-dev/svar/ticketing/files"
	"github.com/svar-dev/svar/ticketing/gdpr"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/sla"
	"github.com/svar-dev/svar/ticketing/staff"
)

// Service is the ticketing core as the web layer uses it.
type Service interface {
	ListTickets(ctx context.Context, v ticketing.Viewer, f ticketing.TicketFilter) (*ticketing.TicketPage, error)
	Counts(ctx context.Context, v ticketing.Viewer) (map[string]int, error)
	TicketView(ctx context.Context, id string) (*ticketing.TicketView, error)
	Ticket(ctx context.Context, id string) (*ticketing.Ticket, error)
	Reply(ctx context.Context, ticketID string, by *ticketing.Agent, in ticketing.ReplyInput) (*ticketing.Message, error)
	UpdateTicket(ctx context.Context, id string, by *ticketing.Agent, u ticketing.TicketUpdate) (*ticketing.Ticket, error)
	CustomerView(ctx context.Context, id string) (*ticketing.Customer, []*ticketing.Ticket, error)
	PatchCustomer(ctx context.Context, id string, p ticketing.CustomerPatch) (*ticketing.Customer, error)
	CustomerTimeline(ctx context.Context, v ticketing.Viewer, id string, limit int, cursor string) (*ticketing.TimelinePage, error)
	EditCustomer(ctx context.Context, id string, p ticketing.CustomerPatch, c ticketing.Contacts) (*ticketing.Customer, error)
	PushCustomer(ctx context.Context, in ticketing.ShopCustomer) (*ticketing.Customer, []ticketing.Identity, error)
}

// Live serves agents' live websockets (package realtime). A session gets
// only the events of tickets its Viewer may see.
type Live interface {
	ServeAgent(w http.ResponseWriter, r *http.Request, agent *ticketing.Agent, v ticketing.Viewer)
	DisconnectAgent(agentID string)
}

// Routing reads and sets the rules that give new tickets a team.
type Routing interface {
	Routing(ctx context.Context) (*assign.Routing, error)
	SetRouting(ctx context.Context, by *ticketing.Agent, r assign.Routing) (*assign.Routing, error)
}

// Notifications lists an agent's notifications (ticketing/notify).
type Notifications interface {
	List(ctx context.Context, agentID string) ([]ticketing.Notification, int, error)
	MarkRead(ctx context.Context, agentID string, ids []string) error
}

// Presence says whether an agent has a console open on any node, and
// hears when an agent chose another availability.
type Presence interface {
	Online(agentID string) bool
	StatusChanged(ctx context.Context, a *ticketing.Agent)
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
	// Staff is agents, sessions and teams; nil: one on Store.
	Staff *staff.Service
	// Presence, when set, makes availability follow open consoles.
	Presence Presence
	// Routing, when set, serves the routing rules (ticketing/assign).
	Routing Routing
	// Notifications, when set, serves the agent's notifications.
	Notifications Notifications
	Live          Live
	// Health names the dependencies /healthz checks ("nats", "mongodb").
	Health map[string]Pinger
	// HealthTimeout is how long /healthz waits for each part; default 3s.
	HealthTimeout time.Duration
	// Ready answers /readyz; nil: ready as soon as it serves.
	Ready   Readiness
	Metrics *Metrics
	Routers []Router
	// CSAT, when set, serves the survey settings and page (csat.go).
	CSAT CSAT
	// Reports, when set, serves the report API and page (report.go).
	Reports Reports
	// Query serves search and the customer list (ticketing/query); Views
	// saved views. Without them those endpoints answer 503.
	Query Query
	Views Views
	// Relay, when set, tells every node to close the live sockets of an
	// agent who was deactivated or changed their password (agent.go); without
	// it only this node's sockets close at once. Call Server.Close to stop
	// listening.
	Relay     ticketing.Relay
	PublicURL string
	Logger    *slog.Logger
	// SecureCookies marks cookies Secure (on when PublicURL is https).
	SecureCookies bool
	// Hours, SLA and AutoReply serve the business-hours, SLA-policy and
	// auto-reply settings (sla.go); nil leaves their routes out.
	Hours     *hours.Service
	SLA       *sla.Service
	AutoReply *autoreply.Service
	// Now returns the time; default time.Now.
	Now func() time.Time
	// Macros serves /api/v1/macros and replies with a macro_id (nil: 503).
	Macros Macros
	// Files checks the signed download links of agents' attachments
	// (/files/...); nil refuses every link.
	Files *files.Signer
	// ClientIP tells a request's client address for per-address limits;
	// default ClientIP(nil), the TCP peer. cmd/svar passes the one built
	// from SVAR_TRUSTED_PROXIES.
	ClientIP func(r *http.Request) string
	// Audit is the audit log (GET /api/v1/audit; settings changes are
	// recorded to it); nil: not kept.
	Audit *audit.Log
	// GDPR exports and erases customers and keeps the retention setting
	// (trust_gdpr.go); nil: those routes answer 503.
	GDPR *gdpr.Service
	// MetricsToken, when set, makes /metrics ask for this bearer token;
	// MetricsElsewhere leaves /metrics to another listener (MetricsHandler).
	MetricsToken     string
	MetricsElsewhere bool
	// Orders is the shop's orders; nil: the order routes answer 503.
	Orders Orders
	// Webhooks registers webhooks; nil: their routes answer 503.
	Webhooks Webhooks
	// Merges merges customers; nil: the merge routes answer 503.
	Merges Merges
	// TicketMerges merges and splits tickets; nil: those routes answer 503.
	TicketMerges TicketMerges
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
	staff   *staff.Service
	// ownStaff: New made staff, so Close closes it.
	ownStaff bool
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
	if s.opts.ClientIP == nil {
		s.opts.ClientIP = ClientIP(nil)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	s.staff = o.Staff
	if s.staff == nil {
		s.staff = staff.New(staff.Options{Store: o.Store, Logger: s.log, Relay: o.Relay, Now: o.Now})
		s.ownStaff = true
	}
	mux := http.NewServeMux()
	s.routes(mux)
	for _, r := range o.Routers {
		r.Routes(mux)
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "cross-origin request refused: %s %s may only come from Svar's own pages or a non-browser client", r.Method, r.URL.Path))
	}))
	s.handler = s.recoverer(securityHeaders(cop.Handler(mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.handleHealth)
	s.metricsRoute(mux)
	s.opsRoutes(mux)

	mux.HandleFunc("POST /api/v1/session", s.handleLogin)
	mux.HandleFunc("DELETE /api/v1/session", s.handleLogout)
	mux.Handle("GET /api/v1/session", s.authed(s.handleWhoAmI))
	s.trustRoutes(mux)

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
	mux.Handle("GET /api/v1/customers/{id}/timeline", s.authed(s.handleCustomerTimeline))
	mux.HandleFunc("GET /customers/{id}", s.page(""))

	mux.Handle("PUT /api/v1/orders/{number}", s.authed(s.handlePutOrder))
	mux.Handle("GET /api/v1/orders/{number}", s.authed(s.handleGetOrder))
	mux.Handle("POST /api/v1/customers/{id}/merge", s.authed(s.handleMergeCustomer))
	mux.Handle("POST /api/v1/merges/{merge_id}/undo", s.authed(s.handleUndoMerge))
	mux.Handle("POST /api/v1/tickets/{id}/merge", s.authed(s.handleMergeTicket))
	mux.Handle("POST /api/v1/tickets/{id}/split", s.authed(s.handleSplitTicket))
	mux.Handle("POST /api/v1/webhooks", s.authed(s.handleCreateWebhook))
	mux.Handle("GET /api/v1/webhooks", s.authed(s.handleListWebhooks))
	mux.Handle("DELETE /api/v1/webhooks/{id}", s.authed(s.handleDeleteWebhook))
	mux.Handle("GET /api/v1/webhooks/{id}/deliveries", s.authed(s.handleWebhookDeliveries))
	mux.HandleFunc("GET /webhooks", s.page(ticketing.RoleAdmin))

	mux.Handle("GET /api/v1/attachments/{key...}", s.authed(s.handleAttachment))
	mux.Handle("GET /api/v1/messages/{id}/original", s.authed(s.handleOriginal))
	mux.Handle("GET /api/v1/live", s.authed(s.handleLive))
	s.slaRoutes(mux)

	mux.Handle("GET /api/v1/teams", s.authed(s.handleListTeams))
	mux.Handle("POST /api/v1/teams", s.authed(s.handleCreateTeam))
	mux.Handle("GET /api/v1/teams/{id}", s.authed(s.handleGetTeam))
	mux.Handle("PATCH /api/v1/teams/{id}", s.authed(s.handlePatchTeam))
	mux.Handle("PUT /api/v1/me/availability", s.authed(s.handleAvailability))
	s.csatRoutes(mux)
	s.reportRoutes(mux)
	mux.Handle("GET /api/v1/me/notifications", s.authed(s.handleNotifications))
	mux.Handle("POST /api/v1/me/notifications/read", s.authed(s.handleNotificationsRead))
	mux.Handle("GET /api/v1/routing", s.authed(s.handleGetRouting))
	mux.Handle("PUT /api/v1/routing", s.authed(s.handlePutRouting))

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.composerRoutes(mux)
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
