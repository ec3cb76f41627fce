package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// Backlog gives the events a reconnecting console missed. natsbus.Bus
// satisfies it.
type Backlog interface {
	// EventsAfter returns up to max stored events with a sequence greater
	// than seq, oldest first. It may return fewer than max while more are
	// stored (the hub asks again after the last one); none means there are
	// no more. An error is reported to the console as a resync frame.
	EventsAfter(ctx context.Context, seq uint64, max int) ([]*ticketing.Event, error)
}

// Options configure a Hub. Zero values mean the documented defaults.
type Options struct {
	Logger *slog.Logger // default: slog.Default()
	// Backlog replays missed events to consoles that reconnect with
	// ?since=. nil: such consoles get a resync frame instead.
	Backlog Backlog
	// Relay carries presence between nodes and answers "agents.online".
	// nil: presence stays on this node (unit tests, a single process).
	Relay ticketing.Relay

	BufferSize      int           // frames waiting per session before it is a slow consumer; default 256
	WriteTimeout    time.Duration // one frame write; default 10s
	PingInterval    time.Duration // websocket pings; default 25s
	PongWait        time.Duration // read deadline, renewed by any frame or pong; default 60s
	MaxMessageBytes int64         // largest console frame; default 64 KiB (larger closes with 1009)
	MaxReplay       int           // most events replayed to one reconnecting console; default 10,000
	PresenceTTL     time.Duration // presence without a refresh expires; default 30s

	// Tickets finds the ticket of a message-only event (scope.go); nil:
	// such events reach only sessions that see everything.
	Tickets Tickets
	// Viewers recomputes a session's Viewer on RefreshViewers.
	Viewers ViewerFunc
	// OnAvailability is called on the node where an agent's first console
	// opened (online true) or, after ConsoleGrace, the last one closed
	// (false), when no other node holds a console of theirs
	// (availability.go).
	OnAvailability func(agentID string, online bool)
	// ConsoleGrace is how long an agent counts as online after their last
	// console closed (a reload, a flaky network); default 15s.
	ConsoleGrace time.Duration
	// ConsoleBeat is how often a node tells the others which agents have
	// consoles on it; default 5s. A node not heard from for 3 beats counts
	// as holding none.
	ConsoleBeat time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 60 * time.Second
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 64 << 10
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = 10_000
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 30 * time.Second
	}
	if o.ConsoleGrace <= 0 {
		o.ConsoleGrace = 15 * time.Second
	}
	if o.ConsoleBeat <= 0 {
		o.ConsoleBeat = 5 * time.Second
	}
	return o
}

// Relay topics.
const (
	topicPresence         = "presence"
	topicAgentsOnline     = "agents.online"
	topicAgentsDisconnect = "agents.disconnect"
	// topicAgentsChanged is published (empty) when this node gets its first
	// agent session or loses its last: the chat asks agents.online again
	// and tells open widgets at once.
	topicAgentsChanged = "agents.changed"
)

// relayTimeout bounds one relay publish.
const relayTimeout = 2 * time.Second

// Hub fans events out to the agent sessions connected to this node.
type Hub struct {
	log      *slog.Logger
	opts     Options
	upgrader websocket.Upgrader
	pong     *websocket.PreparedMessage
	presence *presenceBook
	consoles *consoleBook
	now      func() time.Time

	// ctx ends when Close has finished with the sessions; it bounds relay
	// publishes and is the parent of every session's context.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.RWMutex // guards sessions and closed; never held with presenceBook.mu
	sessions []*session
	closed   bool

	// relayed is true when presence goes through the relay: this node then
	// applies presence when the relay delivers it back, not before.
	relayed     bool
	unsubscribe []func()

	// onlineMu guards onlineCancel: this node answers agents.online only
	// while it holds a session, so that with no agent anywhere the
	// question has no responders and is answered at once. Lock order:
	// onlineMu before mu.
	onlineMu     sync.Mutex
	onlineCancel func()

	wg         sync.WaitGroup // session readers (ServeAgent calls) and writers
	consolesWG sync.WaitGroup // runConsoles
	closeOnce  sync.Once

	lastSeq   atomic.Uint64
	published atomic.Uint64
	pushed    atomic.Uint64
	replayed  atomic.Uint64
	slow      atomic.Uint64
	dropped   atomic.Uint64 // ephemeral frames not queued for a busy console
	typing    *typingGate
}

// New returns a hub. When o.Relay is set it subscribes to the relay topics
// "presence", "agents.online" and "agents.disconnect"; a failed
// subscription is logged, and what it carries then stays on this node.
func New(o Options) *Hub {
	o = o.withDefaults()
	h := &Hub{
		log:      o.Logger,
		opts:     o,
		presence: newPresenceBook(o.PresenceTTL),
		consoles: newConsoleBook(),
		now:      time.Now,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			// Idle sessions hold no write buffer between frames.
			WriteBufferPool: &sync.Pool{},
			// The caller has authenticated the agent and checked that the
			// request is same-origin before calling ServeAgent.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.typing = newTypingGate(customerTypingEvery, h.sendCustomerTyping)
	pong, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
	if err != nil {
		panic("realtime: prepare pong: " + err.Error()) // a constant frame cannot fail
	}
	h.pong = pong
	if o.Relay != nil {
		h.subscribe(o.Relay)
	}
	h.consolesWG.Go(h.runConsoles)
	return h
}

func (h *Hub) subscribe(r ticketing.Relay) {
	cancelPresence, err := r.Subscribe(topicPresence, h.presenceFromRelay)
	if err != nil {
		h.log.Error("realtime: subscribe to presence; presence stays on this node", "err", err)
	} else {
		h.unsubscribe = append(h.unsubscribe, cancelPresence)
		h.relayed = true
	}
	cancelTyping, err := r.Subscribe(topicCustomerTyping, h.customerTyping)
	if err != nil {
		h.log.Error("realtime: subscribe to chat.typing", "err", err)
	} else {
		h.unsubscribe = append(h.unsubscribe, cancelTyping)
	}
	cancelConsoles, err := r.Subscribe(topicConsoles, h.consolesFromRelay)
	if err != nil {
		h.log.Error("realtime: subscribe to agents.consoles; availability counts this node's consoles only", "err", err)
	} else {
		h.unsubscribe = append(h.unsubscribe, cancelConsoles)
	}
	cancelDisconnect, err := r.Subscribe(topicAgentsDisconnect, func(payload []byte) bool {
		h.disconnectLocal(string(payload))
		return true
	})
	if err != nil {
		h.log.Error("realtime: subscribe to agents.disconnect; disconnects stay on their node", "err", err)
	} else {
		h.unsubscribe = append(h.unsubscribe, cancelDisconnect)
	}
}

// Publish pushes ev to every session on this node. It never blocks on a
// socket: a session whose buffer is full is disconnected as a slow consumer.
// Call it from one goroutine, in stream order. ev is encoded before Publish
// returns and not kept.
func (h *Hub) Publish(ev *ticketing.Event) {
	if ev == nil {
		return
	}
	data, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("realtime: encode event", "type", ev.Type, "seq", ev.Seq, "err", err)
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		h.log.Error("realtime: prepare event", "type", ev.Type, "seq", ev.Seq, "err", err)
		return
	}
	h.published.Add(1)
	f := frame{pm: pm, seq: ev.Seq, event: true}
	h.mu.RLock()
	defer h.mu.RUnlock()
	// lastSeq moves under the read lock, so a session registering (under
	// the write lock) sees either the event in its hello seq or in its
	// buffer, never both and never neither.
	for {
		last := h.lastSeq.Load()
		if ev.Seq <= last || h.lastSeq.CompareAndSwap(last, ev.Seq) {
			break
		}
	}
	var gone *frame // "ticket.removed", made when a session may not see ev's ticket
	for _, s := range h.sessions {
		if s.sees(ev) {
			s.offer(f)
			continue
		}
		if ev.Type == ticketing.EventTicketUpdated && ev.Ticket != nil {
			// The ticket may have been visible before (a new ticket has no
			// team until routing gives it one): the console drops it.
			if gone == nil {
				gone = removedFrame(ev)
			}
			if gone != nil {
				s.offer(*gone)
			}
		}
	}
}

// removedMsg tells a console that a ticket left what it may see; it
// carries the ticket's id and nothing else.
type removedMsg struct {
	Type     string `json:"type"` // "ticket.removed"
	TicketID string `json:"ticket_id"`
	Seq      uint64 `json:"seq,omitempty"`
}

// removedFrame is removedMsg of ev, prepared.
func removedFrame(ev *ticketing.Event) *frame {
	data, err := json.Marshal(removedMsg{"ticket.removed", ev.Ticket.ID, ev.Seq})
	if err != nil {
		return nil
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return nil
	}
	return &frame{pm: pm, seq: ev.Seq}
}

// broadcast offers a non-event frame to every session; typing and
// presence are marked ephemeral by their callers.
func (h *Hub) broadcast(f frame) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.sessions {
		s.offer(f)
	}
}

// DisconnectAgent closes every socket of the agent at once, with an
// "unauthorized" error frame and 1008: on this node, and through the relay
// on every other node. Use it when an agent is deactivated or signed out
// everywhere.
func (h *Hub) DisconnectAgent(agentID string) {
	h.disconnectLocal(agentID)
	if h.opts.Relay != nil {
		ctx, cancel := context.WithTimeout(h.ctx, relayTimeout)
		defer cancel()
		if err := h.opts.Relay.Publish(ctx, topicAgentsDisconnect, []byte(agentID)); err != nil {
			h.log.Error("realtime: relay disconnect; other nodes keep the agent's sessions", "agent_id", agentID, "err", err)
		}
	}
}

func (h *Hub) disconnectLocal(agentID string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.sessions {
		if s.agentID == agentID {
			s.stop(closeReason{code: websocket.ClosePolicyViolation, text: "signed out",
				errCode: ticketing.EUnauthorized, errMessage: "the agent was signed out"})
		}
	}
}

// Close closes every session's websocket with 1001 (going away), waits for
// their goroutines, and stops listening to the relay. Sessions that arrive
// later are refused. Close is safe to call more than once.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		list := slices.Clone(h.sessions)
		h.mu.Unlock()
		for _, s := range list {
			s.stop(closeReason{code: websocket.CloseGoingAway, text: "server shutting down"})
		}
		h.wg.Wait()
		h.syncOnline() // closed: no longer answers agents.online
		for _, cancel := range h.unsubscribe {
			cancel()
		}
		h.typing.close()
		h.cancel()
		h.consolesWG.Wait()
	})
}

// Stats are counters for metrics.
type Stats struct {
	Sessions      int    // open agent sessions on this node
	Agents        int    // distinct agents among them
	SlowConsumers uint64 // sessions disconnected because their buffer was full
	// EphemeralDropped counts typing and presence frames not queued for a
	// console whose buffer was filling (they are repeated; nothing is lost).
	EphemeralDropped uint64
	EventsPublished  uint64 // events handed to Publish
	EventsPushed     uint64 // event frames written to sockets, live and replayed
	EventsReplayed   uint64 // of which replayed after a reconnect
	LastSeq          uint64 // the newest event sequence this node has seen
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	n := len(h.sessions)
	agents := make(map[string]struct{}, n)
	for _, s := range h.sessions {
		agents[s.agentID] = struct{}{}
	}
	h.mu.RUnlock()
	return Stats{
		Sessions:         n,
		Agents:           len(agents),
		SlowConsumers:    h.slow.Load(),
		EphemeralDropped: h.dropped.Load(),
		EventsPublished:  h.published.Load(),
		EventsPushed:     h.pushed.Load(),
		EventsReplayed:   h.replayed.Load(),
		LastSeq:          h.lastSeq.Load(),
	}
}

// syncOnline answers agents.online while this node holds a session and
// tells every node when that changes. Callers call it after each register
// and unregister; it looks at the current count, so concurrent calls end
// in the right state.
func (h *Hub) syncOnline() {
	r := h.opts.Relay
	if r == nil {
		return
	}
	h.onlineMu.Lock()
	defer h.onlineMu.Unlock()
	h.mu.RLock()
	online := len(h.sessions) > 0 && !h.closed
	h.mu.RUnlock()
	switch {
	case online && h.onlineCancel == nil:
		cancel, err := r.Subscribe(topicAgentsOnline, func([]byte) bool { return h.online() })
		if err != nil {
			h.log.Error("realtime: subscribe to agents.online; widgets say nobody is online", "err", err)
			return
		}
		h.onlineCancel = cancel
	case !online && h.onlineCancel != nil:
		h.onlineCancel()
		h.onlineCancel = nil
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), relayTimeout)
	defer cancel()
	if err := r.Publish(ctx, topicAgentsChanged, nil); err != nil {
		h.log.Warn("realtime: relay agents.changed; widgets learn it within a poll", "err", err)
	}
}

// online reports whether this node holds at least one agent session.
func (h *Hub) online() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.sessions) > 0
}

// register adds s and counts its two goroutines. It returns the hello seq,
// or false when the hub is closed.
func (h *Hub) register(s *session) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, false
	}
	h.sessions = append(h.sessions, s)
	h.wg.Add(2)
	return h.lastSeq.Load(), true
}

func (h *Hub) unregister(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.sessions, s); i >= 0 {
		last := len(h.sessions) - 1
		h.sessions[i] = h.sessions[last]
		h.sessions[last] = nil
		h.sessions = h.sessions[:last]
	}
}
