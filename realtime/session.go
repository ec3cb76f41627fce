package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

const (
	// replayPage is how many events one Backlog read asks for.
	replayPage = 256
	// backlogTimeout bounds one Backlog read.
	backlogTimeout = 10 * time.Second
	// closeGrace is how long a closing session waits for the console to
	// answer its close frame before dropping the connection.
	closeGrace = 2 * time.Second
)

// frame is one server → console frame waiting in a session's buffer.
type frame struct {
	pm    *websocket.PreparedMessage
	seq   uint64 // the event's sequence; 0 for unsequenced events and other frames
	event bool   // counted in Stats.EventsPushed
	// ephemeral frames (typing, presence) say how things are now and are
	// repeated: a console whose buffer is filling misses them rather than
	// being disconnected, and they never count toward the slow-consumer cut.
	ephemeral bool
}

// ephemeralBuffer is how many ephemeral frames may wait per session, on
// top of Options.BufferSize durable ones.
const ephemeralBuffer = 32

// closeReason says how a session ends. code 0: the console is gone, send
// nothing. errCode set: an error frame precedes the close frame.
type closeReason struct {
	code       int
	text       string
	errCode    string
	errMessage string
}

// session is one agent websocket. The writer goroutine is the only writer
// of data frames; the reader runs in ServeAgent.
type session struct {
	hub       *Hub
	conn      *websocket.Conn
	agentID   string
	agentName string
	// viewer is what the agent may see; RefreshViewers replaces it.
	viewer atomic.Pointer[ticketing.Viewer]

	send chan frame
	// Frames waiting in send, by kind: durable ones up to
	// Options.BufferSize, ephemeral ones up to ephemeralBuffer.
	durable, ephemeral atomic.Int32

	ctx    context.Context // cancelled by stop: ends Backlog reads
	cancel context.CancelFunc

	stopOnce sync.Once
	stopped  atomic.Bool
	done     chan struct{} // closed by stop, after reason is set
	reason   closeReason

	readDone  chan struct{}
	writeDone chan struct{}

	// Reader-only state.
	onTickets map[string]presenceState // tickets this session reported presence on
}

type presenceState struct {
	state   string
	relayed time.Time
}

// ServeAgent upgrades the request to the agent's live websocket and serves
// it until the console leaves, the agent is disconnected or the hub closes.
//
// The caller has authenticated agent and checked that the request is
// same-origin (the hub's upgrader accepts any Origin). ?since=<seq> replays
// the events after seq before live ones. ServeAgent returns when the
// session's goroutines have ended.
//
// v is what the agent may see: the session gets only those events.
func (h *Hub) ServeAgent(w http.ResponseWriter, r *http.Request, agent *ticketing.Agent, v ticketing.Viewer) {
	if agent == nil || agent.ID == "" {
		writeHTTPError(w, http.StatusUnauthorized, ticketing.EUnauthorized, "not signed in")
		return
	}
	var since uint64
	resume := false
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeHTTPError(w, http.StatusBadRequest, ticketing.EInvalid, "since: must be an event sequence number")
			return
		}
		since, resume = n, true
	}
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		writeHTTPError(w, http.StatusServiceUnavailable, ticketing.EUnavailable, "server shutting down")
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered with an HTTP error.
		h.log.Debug("realtime: upgrade", "agent_id", agent.ID, "err", err)
		return
	}
	s := &session{
		hub:       h,
		conn:      conn,
		agentID:   agent.ID,
		agentName: agent.Name,
		send:      make(chan frame, h.opts.BufferSize+ephemeralBuffer),
		done:      make(chan struct{}),
		readDone:  make(chan struct{}),
		writeDone: make(chan struct{}),
		onTickets: make(map[string]presenceState),
	}
	s.viewer.Store(&v)
	s.ctx, s.cancel = context.WithCancel(h.ctx)
	defer s.cancel()
	hello, ok := h.register(s)
	if !ok {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(h.opts.WriteTimeout))
		_ = conn.Close()
		return
	}
	h.consoleOpened(agent.ID)
	defer func() {
		s.stop(closeReason{}) // the console is gone, if nothing else stopped the session
		<-s.writeDone
		h.unregister(s)
		h.consoleClosed(agent.ID)
		h.syncOnline()
		s.leaveAll()
		h.wg.Done()
	}()
	h.syncOnline()
	go s.writeLoop(hello, since, resume)
	s.readLoop()
}

// stop ends the session for reason; only the first reason counts. It never
// blocks, so the hub may call it while fanning out.
func (s *session) stop(reason closeReason) bool {
	first := false
	s.stopOnce.Do(func() {
		s.reason = reason
		s.stopped.Store(true)
		close(s.done)
		s.cancel()
		first = true
	})
	return first
}

// offer queues f without blocking. Durable frames past Options.BufferSize
// make the session a slow consumer; an ephemeral frame is dropped when
// its share is full or the durable ones fill half the buffer, so no rate
// of typing or presence can cut a console off.
func (s *session) offer(f frame) {
	if s.stopped.Load() {
		return
	}
	if f.ephemeral {
		if int(s.durable.Load()) > s.hub.opts.BufferSize/2 || s.ephemeral.Add(1) > ephemeralBuffer {
			s.ephemeral.Add(-1)
			s.hub.dropped.Add(1)
			return
		}
		select {
		case s.send <- f:
		default:
			s.ephemeral.Add(-1)
			s.hub.dropped.Add(1)
		}
		return
	}
	if int(s.durable.Add(1)) <= s.hub.opts.BufferSize {
		select {
		case s.send <- f:
			return
		default:
		}
	}
	s.durable.Add(-1)
	if s.stop(closeReason{code: websocket.ClosePolicyViolation, text: "slow consumer",
		errCode: "slow_consumer", errMessage: "the console fell too far behind; reconnect with since=<last seq>"}) {
		s.hub.slow.Add(1)
		s.hub.log.Warn("realtime: slow consumer disconnected", "agent_id", s.agentID, "buffer", s.hub.opts.BufferSize)
	}
}

// offerJSON encodes v and queues it for this session only.
func (s *session) offerJSON(v any) { s.offerJSONFrame(v, false) }

// offerJSONFrame encodes v and queues it, ephemeral or not.
func (s *session) offerJSONFrame(v any, ephemeral bool) {
	data, err := json.Marshal(v)
	if err != nil {
		s.hub.log.Error("realtime: encode frame", "err", err)
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		s.hub.log.Error("realtime: prepare frame", "err", err)
		return
	}
	s.offer(frame{pm: pm, ephemeral: ephemeral})
}

func (s *session) offerError(code, message string) {
	s.offerJSON(errorFrame{Type: "error", Error: errorBody{Code: code, Message: message}})
}

// readLoop reads console frames until the connection fails or closes.
func (s *session) readLoop() {
	defer close(s.readDone)
	c := s.conn
	wait := s.hub.opts.PongWait
	c.SetReadLimit(s.hub.opts.MaxMessageBytes)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(wait)) })
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			// A frame over the limit has been answered with 1009 by
			// gorilla; a console's close has been answered too.
			if !errors.Is(err, websocket.ErrReadLimit) && !websocket.IsCloseError(err,
				websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				!s.stopped.Load() {
				s.hub.log.Debug("realtime: read", "agent_id", s.agentID, "err", err)
			}
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		s.handle(data)
	}
}

// handle acts on one console frame.
func (s *session) handle(data []byte) {
	var in clientFrame
	if err := json.Unmarshal(data, &in); err != nil {
		s.offerError(ticketing.EInvalid, "frame: not a JSON object")
		return
	}
	switch in.Type {
	case "ping":
		s.offer(frame{pm: s.hub.pong})
	case "presence":
		if err := s.hub.presenceFromSession(s, in); err != nil {
			s.offerError(ticketing.ErrorCode(err), ticketing.ErrorMessage(err))
		}
	default:
		s.offerError(ticketing.EInvalid, "type: unknown frame type")
	}
}

// writeLoop writes hello, the replay and then buffered frames until the
// session stops, then closes the connection.
func (s *session) writeLoop(hello, since uint64, resume bool) {
	defer s.hub.wg.Done()
	defer close(s.writeDone)
	err := s.run(hello, since, resume)
	if err != nil {
		// The connection is broken: nothing more can be said on it.
		s.stop(closeReason{})
		if !errors.Is(err, errStopped) {
			s.hub.log.Debug("realtime: write", "agent_id", s.agentID, "err", err)
			_ = s.conn.Close()
			return
		}
	}
	s.closeConn()
}

// errStopped ends run when the session stopped during the replay.
var errStopped = errors.New("realtime: session stopped")

func (s *session) run(hello, since uint64, resume bool) error {
	if err := s.writeJSON(helloFrame{Type: "hello", Seq: hello}); err != nil {
		return err
	}
	var skip uint64 // live events up to skip were replayed
	if resume {
		last, err := s.replay(hello, since)
		if err != nil {
			return err
		}
		skip = last
	}
	ping := time.NewTicker(s.hub.opts.PingInterval)
	defer ping.Stop()
	for {
		// A stopped session says goodbye before anything else it has queued.
		select {
		case <-s.done:
			return nil
		default:
		}
		select {
		case <-s.done:
			return nil
		case f := <-s.send:
			if f.ephemeral {
				s.ephemeral.Add(-1)
			} else {
				s.durable.Add(-1)
			}
			if f.seq != 0 && f.seq <= skip {
				continue
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.hub.opts.WriteTimeout))
			if err := s.conn.WritePreparedMessage(f.pm); err != nil {
				return err
			}
			if f.event {
				s.hub.pushed.Add(1)
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.hub.opts.WriteTimeout)); err != nil {
				return err
			}
		}
	}
}

// replay writes the stored events after since and returns the last seq
// written (since when none). Events after hello, the newest seq the hub had
// seen when the session registered, also arrive live, so the replay stops
// there; when the hub has seen nothing yet, it stops when the backlog has
// nothing more. It tells the console to resync when the backlog fails or
// holds more than MaxReplay events.
func (s *session) replay(hello, since uint64) (uint64, error) {
	h := s.hub
	if hello > 0 && since > hello {
		// The console saw events this node has not: another node is
		// ahead, or the stream was recreated. Everything after hello
		// arrives live; a reload makes sure nothing is missing.
		h.log.Info("realtime: console ahead of this node; told to resync", "agent_id", s.agentID, "since", since, "seen", hello)
		return hello, s.writeJSON(resyncFrame{Type: "resync", Seq: hello})
	}
	last := since
	if h.opts.Backlog == nil {
		return last, s.writeJSON(resyncFrame{Type: "resync", Seq: last})
	}
	total := 0
	for hello == 0 || last < hello {
		ctx, cancel := context.WithTimeout(s.ctx, backlogTimeout)
		evs, err := h.opts.Backlog.EventsAfter(ctx, last, replayPage)
		cancel()
		if s.stopped.Load() {
			return last, errStopped
		}
		if err != nil {
			h.log.Warn("realtime: replay missed events", "agent_id", s.agentID, "after", last, "err", err)
			return last, s.writeJSON(resyncFrame{Type: "resync", Seq: last})
		}
		before := last
		for _, ev := range evs {
			if ev == nil || ev.Seq <= last {
				continue // unsequenced or already sent: the backlog is in order
			}
			if ev.Seq > last+1 {
				// Events the console missed are gone from the stream.
				h.log.Info("realtime: missed events expired; console told to resync", "agent_id", s.agentID, "after", last, "next", ev.Seq)
				return last, s.writeJSON(resyncFrame{Type: "resync", Seq: last})
			}
			if !s.sees(ev) {
				// As live: a ticket that may have left what the console
				// may see is dropped from it.
				if ev.Type == ticketing.EventTicketUpdated && ev.Ticket != nil {
					if err := s.writeJSON(removedMsg{Type: "ticket.removed", TicketID: ev.Ticket.ID, Seq: ev.Seq}); err != nil {
						return last, err
					}
				}
				last = ev.Seq
				continue
			}
			if err := s.writeJSON(ev); err != nil {
				return last, err
			}
			last = ev.Seq
			h.pushed.Add(1)
			h.replayed.Add(1)
		}
		if last == before {
			break // caught up
		}
		if total += len(evs); total >= h.opts.MaxReplay {
			h.log.Info("realtime: too many missed events; console told to resync", "agent_id", s.agentID, "since", since)
			return last, s.writeJSON(resyncFrame{Type: "resync", Seq: last})
		}
	}
	return last, nil
}

// writeJSON writes one frame outside the buffer (hello and the replay).
func (s *session) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.hub.opts.WriteTimeout))
	return s.conn.WriteMessage(websocket.TextMessage, data)
}

// closeConn says goodbye with the stop reason, waits briefly for the
// console's close frame and closes the connection.
func (s *session) closeConn() {
	r := s.reason // set before done was closed
	if r.code != 0 {
		deadline := time.Now().Add(s.hub.opts.WriteTimeout)
		if r.errCode != "" {
			_ = s.writeJSON(errorFrame{Type: "error", Error: errorBody{Code: r.errCode, Message: r.errMessage}})
		}
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text), deadline)
		grace := min(closeGrace, s.hub.opts.WriteTimeout)
		t := time.NewTimer(grace)
		select {
		case <-s.readDone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = s.conn.Close()
}

// writeHTTPError answers a request that was not upgraded, in the API's
// error shape.
func writeHTTPError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error errorBody `json:"error"`
	}{errorBody{Code: code, Message: message}})
}
