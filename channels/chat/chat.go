package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/files"
)

// Outbound is the part of the bus the chat channel uses for agents'
// replies: it consumes the chat outbound stream and, for the email
// fallback, publishes to the email one.
type Outbound interface {
	// ConsumeOutbound runs the channel's durable consumer until ctx ends.
	ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error
	// PublishOutbound queues a message for another channel's adapter,
	// deduplicated by message id and fallback channel.
	PublishOutbound(ctx context.Context, o *ticketing.Outbound) error
}

// Service is the part of the ticketing core the chat channel reads and
// reports to; *ticketing.Service implements it.
type Service interface {
	// CustomerByIdentity returns the customer owning key (kind:value), or
	// an error for which ticketing.IsNotFound is true.
	CustomerByIdentity(ctx context.Context, key string) (*ticketing.Customer, error)
	// History returns up to limit of the customer's latest customer-visible
	// messages (never notes), oldest first.
	History(ctx context.Context, customerID string, limit int) ([]*ticketing.Message, error)
	// ReportDelivery records how far an outbound message got.
	ReportDelivery(ctx context.Context, messageID string, d ticketing.Delivery) (*ticketing.Message, error)
}

// Store is what the outbound consumer reads by _id.
type Store interface {
	GetMessage(ctx context.Context, id string) (*ticketing.Message, error)
	GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error)
}

// Options configure a Channel. Zero values are the documented defaults.
type Options struct {
	Publisher ticketing.InboundPublisher // required
	Outbound  Outbound                   // required for Run
	Relay     ticketing.Relay            // required
	Service   Service                    // required
	Store     Store                      // required for Run

	// IdentitySecret verifies signed identities (SVAR_CHAT_IDENTITY_SECRET).
	// Empty: no identity is ever verified; every visitor is anonymous.
	IdentitySecret string
	// AllowedOrigins may open /chat/ws ("scheme://host[:port]", or "*").
	// Empty: any origin in Demo mode, otherwise PublicURL's origin.
	AllowedOrigins []string
	// Demo serves the demo shop page at /demo.
	Demo bool
	// PublicURL is where customers reach Svar, e.g. https://support.shop.
	PublicURL string
	// Files signs the download links of agents' attachments; nil: the
	// widget shows no files.
	Files *files.Signer
	// EmailFallback says the email channel is configured: replies to a
	// customer who left the chat are mailed after FallbackGrace.
	EmailFallback bool
	// FallbackGrace is how long a reply waits for the customer to come back
	// before it is mailed. Default 10 minutes.
	FallbackGrace time.Duration

	// Hours, when set, tells whether the shop is open now and when it
	// next opens, for the welcome frame.
	Hours func(ctx context.Context) (open bool, next time.Time, err error)

	// MaxFrameBytes is the largest client frame; a bigger one closes that
	// connection with 1009. Default 16 KiB.
	MaxFrameBytes int64
	// MessagesPerMinute is each visitor's message rate (a token bucket with
	// as much burst). Default 20.
	MessagesPerMinute int
	// FramesPerSecond and FrameBurst limit every frame a socket sends,
	// whatever its type (a token bucket); past them the socket is closed
	// with 1008. Defaults 10 per second with a burst of 60, raised to twice
	// what MessagesPerMinute allows when that is more.
	FramesPerSecond float64
	FrameBurst      int
	// MaxConnsPerIP caps open sockets per client address
	// (SVAR_CHAT_MAX_PER_ADDRESS). Default 200: customers behind one
	// carrier-grade NAT, office or proxy share an address.
	MaxConnsPerIP int
	// MaxConnsPerVisitor caps open sockets per visitor token on this node
	// (SVAR_CHAT_MAX_PER_VISITOR); a hello past it is closed with 1008.
	// Default 5: a few tabs of one browser.
	MaxConnsPerVisitor int
	// PingInterval is how often sockets are pinged; a socket silent for
	// three intervals is closed. Default 25 seconds.
	PingInterval time.Duration
	// AgentsInterval is how often the node asks whether agents are online
	// and tells the visitors when that changes. Default 30 seconds.
	AgentsInterval time.Duration
	// ClientIP returns the client's address for the per-address cap.
	// Default: the TCP peer's address; behind a reverse proxy, pass one
	// that reads its header (web.ClientIP with SVAR_TRUSTED_PROXIES).
	ClientIP func(r *http.Request) string

	// CSAT records visitors' survey answers (csat frames); nil: surveys
	// are refused.
	CSAT CSATRecorder

	Logger *slog.Logger
}

// CSATRecorder records a survey answer given by its signed token.
// Errors are *ticketing.Error values the visitor may see (a bad token is
// ENotFound, a bad score or comment EInvalid).
type CSATRecorder interface {
	Answer(ctx context.Context, token string, score int, comment string, ch ticketing.Channel) error
}

// Defaults.
const (
	DefaultFallbackGrace      = 10 * time.Minute
	DefaultMaxFrameBytes      = 16 << 10
	DefaultMessagesPerMinute  = 20
	DefaultFramesPerSecond    = 10
	DefaultFrameBurst         = 60
	DefaultMaxConnsPerIP      = 200
	DefaultMaxConnsPerVisitor = 5
	DefaultPingInterval       = 25 * time.Second
	DefaultAgentsInterval     = 30 * time.Second

	historyLimit = 50
	writeTimeout = 10 * time.Second
	opTimeout    = 10 * time.Second
	sendBuffer   = 64
)

// Channel is the chat channel of one node: the customers' websockets, the
// widget and demo page, and the consumer that delivers agents' replies.
//
// Lock order: Channel.mu before session.mu.
type Channel struct {
	o          Options
	log        *slog.Logger
	validator  *ticketing.Validator
	upgrader   websocket.Upgrader
	anyOrigin  bool
	origins    map[string]bool
	limiter    *rateLimiter
	perIP      *connCounter
	perVisitor *connCounter
	widget     asset
	demo       *template.Template

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // sessions' handlers and the node loops
	loops  sync.Once

	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
	topics   map[string]*topicSub
	agents   agentsState
	// agentsKick wakes agentsLoop when agents.changed arrives; made in
	// startLoops.
	agentsKick chan struct{}
	typing     map[string]*agentTyping // customer id -> agents typing to them
}

// New checks o and returns a Channel. Nothing runs until a visitor
// connects or Run is called.
func New(o Options) (*Channel, error) {
	if o.Publisher == nil || o.Relay == nil || o.Service == nil {
		return nil, errors.New("chat: Publisher, Relay and Service are required")
	}
	if o.FallbackGrace <= 0 {
		o.FallbackGrace = DefaultFallbackGrace
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.MessagesPerMinute <= 0 {
		o.MessagesPerMinute = DefaultMessagesPerMinute
	}
	if o.FramesPerSecond <= 0 {
		o.FramesPerSecond = DefaultFramesPerSecond
	}
	if o.FrameBurst <= 0 {
		o.FrameBurst = DefaultFrameBurst
	}
	// The frame limit never refuses what the message limit allows, with
	// room for a typing frame beside each message.
	o.FramesPerSecond = max(o.FramesPerSecond, 2*float64(o.MessagesPerMinute)/60)
	o.FrameBurst = max(o.FrameBurst, 2*o.MessagesPerMinute)
	if o.MaxConnsPerIP <= 0 {
		o.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if o.MaxConnsPerVisitor <= 0 {
		o.MaxConnsPerVisitor = DefaultMaxConnsPerVisitor
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.AgentsInterval <= 0 {
		o.AgentsInterval = DefaultAgentsInterval
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteIP
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		o:          o,
		log:        o.Logger.With("channel", "chat"),
		validator:  ticketing.NewValidator(),
		limiter:    newRateLimiter(o.MessagesPerMinute),
		perIP:      newConnCounter(o.MaxConnsPerIP),
		perVisitor: newConnCounter(o.MaxConnsPerVisitor),
		origins:    make(map[string]bool),
		sessions:   make(map[*session]struct{}),
		topics:     make(map[string]*topicSub),
	}
	allowed := o.AllowedOrigins
	if len(allowed) == 0 && !o.Demo {
		if o.PublicURL == "" {
			return nil, errors.New("chat: AllowedOrigins or PublicURL is required outside demo mode")
		}
		allowed = []string{o.PublicURL}
	}
	c.anyOrigin = len(allowed) == 0
	for _, a := range allowed {
		if strings.TrimSpace(a) == "*" {
			c.anyOrigin = true
			continue
		}
		origin, err := normalizeOrigin(a)
		if err != nil {
			return nil, fmt.Errorf("chat: allowed origin %q: %w", a, err)
		}
		c.origins[origin] = true
	}
	// The origin is checked before the upgrade, with a JSON error.
	c.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Idle sockets hold a small read buffer and no write buffer: frames
		// are small and writes rare, so write buffers are pooled.
		ReadBufferSize:  1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	var err error
	if c.widget, err = newAsset(widgetJS); err != nil {
		return nil, err
	}
	if c.demo, err = parseDemo(); err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Routes registers the chat's HTTP routes on mux: GET /widget.js,
// GET /chat/ws and, in demo mode, GET /demo.
func (c *Channel) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /widget.js", c.serveWidget)
	mux.HandleFunc("GET /chat/ws", c.serveWS)
	if c.o.Demo {
		mux.HandleFunc("GET /demo", c.serveDemo)
	}
}

// Run consumes the chat outbound stream, delivering agents' replies to the
// customers' sockets on whichever node holds them, until ctx ends.
func (c *Channel) Run(ctx context.Context) error {
	if c.o.Outbound == nil || c.o.Store == nil {
		return errors.New("chat: Run needs Outbound and Store")
	}
	return c.o.Outbound.ConsumeOutbound(ctx, ticketing.ChannelChat, c.handleOutbound)
}

// Close stops accepting sockets, closes every customer's socket with 1001
// (going away) and waits for the chat's goroutines. Replies not delivered
// stay in the outbound stream; messages not yet echoed are resent by the
// widget. Close is safe to call more than once.
func (c *Channel) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	sessions := make([]*session, 0, len(c.sessions))
	for s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()

	for _, s := range sessions {
		s.stop(websocket.CloseGoingAway, "server is shutting down")
	}
	c.cancel()
	c.wg.Wait()
	return nil
}

// goRun starts fn as a goroutine Close waits for, unless closed.
func (c *Channel) goRun(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

func normalizeOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want scheme://host[:port]")
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host, nil
}

// originAllowed reports whether a browser on origin may open a socket.
// Requests without an Origin header are not from a browser page, which is
// what the allowlist protects, so they pass.
func (c *Channel) originAllowed(origin string) bool {
	if origin == "" || c.anyOrigin {
		return true
	}
	o, err := normalizeOrigin(origin)
	return err == nil && c.origins[o]
}

// writeError writes the API's JSON error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]errorBody{"error": {Code: code, Message: msg}})
}
