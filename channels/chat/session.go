package chat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/svar-dev/svar/ticketing"
)

// session is one customer's socket. Its reader runs in the goroutine
// serveWS starts and owns the writer goroutine; relay callbacks only
// enqueue.
type session struct {
	c    *Channel
	conn *websocket.Conn
	ip   string

	ctx      context.Context // ends when the session ends
	frames   *rate.Limiter   // every frame the visitor sends, whatever its type
	send     chan []byte     // bounded: a visitor who cannot keep up is dropped
	quit     chan struct{}   // closed by stop
	stopOnce sync.Once
	// A writer goroutine runs only while frames wait in send: an idle
	// socket holds no goroutine but its reader. Pings come from the
	// channel's ping loop (WriteControl is safe beside other writes).
	writing    atomic.Bool
	writers    sync.WaitGroup
	wmu        sync.Mutex // orders starting writers against the final Wait
	ended      bool       // under wmu: no writer starts any more
	code       int        // close code the writer sends after the last frame; 0: none
	reason     string
	finishOnce sync.Once

	// Set by hello in the reader goroutine before anything else reads them.
	vid      string
	from     ticketing.Identity
	name     string
	claims   []ticketing.Identity
	verified bool
	topics   []string
	counted  bool // the visitor's socket is counted in Channel.perVisitor

	mu         sync.Mutex
	customerID string
	lookedUp   time.Time // last customer lookup, to throttle them
	welcomed   bool
	early      []*messageView // replies that arrived before the welcome
	seen       map[string]bool
	seenOrder  []string
	typingAt   time.Time // last typing frame forwarded
	typingOn   bool
	wrote      bool // the visitor has sent a message on this socket
}

const seenMax = 256

// errVisitorCap: the visitor has Options.MaxConnsPerVisitor sockets open.
var errVisitorCap = errors.New("chat: too many sockets for this visitor")

// serveWS is GET /chat/ws.
func (c *Channel) serveWS(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); !c.originAllowed(origin) {
		c.log.Info("chat socket refused: origin not allowed", "origin", origin)
		writeError(w, http.StatusForbidden, ticketing.EForbidden, "this origin may not open the chat")
		return
	}
	ip := c.o.ClientIP(r)
	if !c.perIP.acquire(ip) {
		writeError(w, http.StatusTooManyRequests, ticketing.ETooMany, "too many chat connections from this address")
		return
	}

	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if closed {
		c.perIP.release(ip)
		writeError(w, http.StatusServiceUnavailable, ticketing.EUnavailable, "the chat is shutting down")
		return
	}

	conn, err := c.upgrader.Upgrade(w, r, nil)
	if err != nil {
		c.perIP.release(ip)
		c.wg.Done()
		return // the upgrader has answered
	}
	// The session runs on a goroutine of its own (c.wg waits for it) and
	// the handler returns: a hijacked connection's handler would otherwise
	// keep net/http's per-connection buffers and its own deep stack for as
	// long as the socket is open, most of an idle socket's memory.
	go func() {
		defer c.wg.Done()
		defer c.perIP.release(ip)
		c.runSession(conn, ip)
	}()
}

// runSession serves one customer's socket until it closes.
func (c *Channel) runSession(conn *websocket.Conn, ip string) {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	s := &session{
		c: c, conn: conn, ip: ip, ctx: ctx,
		send:   make(chan []byte, sendBuffer),
		quit:   make(chan struct{}),
		seen:   make(map[string]bool),
		frames: rate.NewLimiter(rate.Limit(c.o.FramesPerSecond), c.o.FrameBurst),
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	c.sessions[s] = struct{}{}
	c.mu.Unlock()
	c.startLoops()

	s.readLoop()
	s.stop(0, "")
	s.wmu.Lock()
	s.ended = true
	s.wmu.Unlock()
	s.writers.Wait()

	c.mu.Lock()
	delete(c.sessions, s)
	c.mu.Unlock()
	if s.counted {
		c.perVisitor.release(s.vid)
	}
	for _, t := range s.topics {
		c.leave(s, t)
	}
}

// stop ends the session. A writer sends what is queued, then a close
// frame with code unless it is 0, then closes the socket, which ends the
// reader.
func (s *session) stop(code int, reason string) {
	s.stopOnce.Do(func() {
		s.code, s.reason = code, reason
		close(s.quit)
	})
	s.kick()
}

func (s *session) stopped() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// finish writes the close frame and closes the socket, once.
func (s *session) finish() {
	s.finishOnce.Do(func() {
		if s.code != 0 {
			msg := websocket.FormatCloseMessage(s.code, s.reason)
			_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		}
		_ = s.conn.Close()
	})
}

// kick starts a writer unless one runs.
func (s *session) kick() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.ended && s.writing.CompareAndSwap(false, true) {
		s.writers.Add(1)
		go s.flush()
	}
}

// flush writes what waits in send, finishes the socket if the session was
// stopped, and ends when there is nothing left to do.
func (s *session) flush() {
	defer s.writers.Done()
	for {
		select {
		case b := <-s.send:
			s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				s.stopOnce.Do(func() { close(s.quit) })
				s.finish()
				return
			}
			continue
		default:
		}
		if s.stopped() {
			s.finish()
			return
		}
		s.writing.Store(false)
		// A frame enqueued (or a stop) after the checks above saw a running
		// writer and did not start one: look once more.
		if (len(s.send) == 0 && !s.stopped()) || !s.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// ping sends a ping; the reader's pong handler extends its deadline.
func (s *session) ping() {
	if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
		s.stop(0, "")
	}
}

// enqueue sends v to the visitor without blocking. A visitor whose buffer
// is full is disconnected (and reconnects to catch up from the history):
// a slow socket never holds up the node.
func (s *session) enqueue(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.c.log.Error("chat: encode frame", "err", err)
		return
	}
	select {
	case <-s.quit:
	case s.send <- b:
		s.kick()
	default:
		s.c.log.Warn("chat: slow visitor disconnected", "visitor", s.vid)
		s.stop(websocket.ClosePolicyViolation, "slow consumer")
	}
}

func (s *session) sendError(err error, clientID string) {
	s.enqueue(newErrorFrame(ticketing.ErrorCode(err), ticketing.ErrorMessage(err), clientID))
}

func (s *session) readLoop() {
	pongWait := 3 * s.c.o.PingInterval
	s.conn.SetReadLimit(s.c.o.MaxFrameBytes)
	s.conn.SetReadDeadline(time.Now().Add(pongWait))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	hello := false
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.c.log.Info("chat: frame over the limit; connection closed", "visitor", s.vid, "ip", s.ip)
			}
			return
		}
		s.conn.SetReadDeadline(time.Now().Add(pongWait))
		if !s.frames.Allow() {
			// A flood of any frame (typing included) costs every console
			// something: the socket goes, the widget reconnects later.
			s.c.log.Info("chat: too many frames; connection closed", "visitor", s.vid, "ip", s.ip)
			s.enqueue(newErrorFrame(codeRateLimited, "too many frames; slow down", ""))
			s.stop(websocket.ClosePolicyViolation, "too many frames")
			return
		}
		if typ != websocket.TextMessage {
			s.stop(websocket.CloseUnsupportedData, "text frames only")
			return
		}
		f, err := decodeFrame(data)
		if err != nil {
			cid := ""
			if f != nil {
				cid = f.ClientID
			}
			s.sendError(err, cid)
			if !hello {
				s.stop(websocket.ClosePolicyViolation, "hello expected")
				return
			}
			continue
		}
		if !hello {
			if f.Type != frameHello {
				s.sendError(ticketing.FieldError("type", "the first frame must be hello"), "")
				s.stop(websocket.ClosePolicyViolation, "hello expected")
				return
			}
			var err error
			onOwnStack(func() { err = s.hello(f) })
			if errors.Is(err, errVisitorCap) {
				s.c.log.Info("chat: too many sockets for one visitor; connection closed", "visitor", s.vid, "ip", s.ip)
				s.sendError(ticketing.Errorf(ticketing.ETooMany, "too many chat windows are open; close one and try again"), "")
				s.stop(websocket.ClosePolicyViolation, "too many connections for this visitor")
				return
			} else if err != nil {
				s.c.log.Error("chat: hello", "err", err)
				s.sendError(ticketing.Errorf(codeUnavailable, "the chat is unavailable; try again soon"), "")
				s.stop(websocket.CloseTryAgainLater, "unavailable")
				return
			}
			hello = true
			continue
		}
		switch f.Type {
		case frameHello:
			s.sendError(ticketing.FieldError("type", "hello was already sent"), "")
		case frameMessage:
			onOwnStack(func() { s.message(f) })
		case frameTyping:
			onOwnStack(func() { s.typing(f.Typing) })
		case frameCSAT:
			onOwnStack(func() { s.csat(f) })
		}
	}
}

// onOwnStack runs f on a goroutine of its own and waits for it. What a
// frame does (store lookups, JetStream publishes, JSON) grows a stack to
// tens of KiB; done on the reader's goroutine, an idle socket would keep
// that stack for as long as it stays open (most of its memory).
func onOwnStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// hello identifies the visitor, subscribes to their topics and sends the
// welcome with their history.
func (s *session) hello(f *clientFrame) error {
	c := s.c
	token := f.VisitorToken
	vid, ok := visitorID(token)
	if !ok {
		token = newVisitorToken()
		vid, _ = visitorID(token)
	}
	s.vid = vid
	s.from = ticketing.Identity{Kind: ticketing.IdentityChat, Value: vid}
	if id := f.Identity; id != nil {
		s.name = id.Name
		if id.ExternalID != "" {
			switch {
			case c.o.IdentitySecret == "":
				c.log.Debug("chat: identity ignored: no identity secret is set")
			case verifySignature(id.ExternalID, id.Signature, c.o.IdentitySecret):
				s.verified = true
				s.from = ticketing.Identity{Kind: ticketing.IdentityExternal, Value: id.ExternalID, Verified: true}
			default:
				c.log.Info("chat: identity with a bad signature; visitor stays anonymous", "visitor", vid)
				s.enqueue(newErrorFrame(codeInvalidSignature, "the identity's signature is not valid; you are chatting as a guest", ""))
			}
		}
		if id.Email != "" {
			s.addClaim(ticketing.Identity{Kind: ticketing.IdentityEmail, Value: id.Email})
		}
	}

	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	cust, err := s.lookupCustomer(ctx)
	if err != nil {
		return err
	}
	if !s.verified && cust != nil && isShopCustomer(cust) {
		// The token was used by a logged-in customer; someone without their
		// signature (logged out, another person on the same browser) gets a
		// fresh visitor instead of their history.
		token = newVisitorToken()
		vid, _ = visitorID(token)
		s.vid = vid
		s.from = ticketing.Identity{Kind: ticketing.IdentityChat, Value: vid}
		cust = nil
		s.setCustomer("")
	}
	if !c.perVisitor.acquire(s.vid) {
		return errVisitorCap
	}
	s.counted = true
	if s.verified {
		// Replies to the logged-in customer reach this browser's visitor
		// topic too; the claim attaches only if no one owns it.
		s.claims = append([]ticketing.Identity{{Kind: ticketing.IdentityChat, Value: vid}}, s.claims...)
		s.topics = append(s.topics, externalTopic(s.from.Value))
	}
	s.topics = append(s.topics, visitorTopic(vid))
	// Subscribe before reading the history, so that no reply falls between.
	for _, t := range s.topics {
		if err := c.join(s, t); err != nil {
			return err
		}
	}

	w := &welcomeFrame{Type: frameWelcome, VisitorToken: token, VisitorID: vid, Verified: s.verified, Messages: []*messageView{}}
	if c.o.Hours != nil {
		if open, next, err := c.o.Hours(ctx); err == nil {
			w.Open, w.NextOpen = &open, next
		}
	}
	var undelivered []string
	if cust != nil {
		hist, err := c.o.Service.History(ctx, cust.ID, historyLimit)
		if err != nil {
			return err
		}
		for _, m := range hist {
			v := s.c.view(m)
			if v == nil {
				continue
			}
			w.Messages = append(w.Messages, v)
			s.markSeen(v.ID)
			if waitingForVisit(m) {
				undelivered = append(undelivered, m.ID)
			}
		}
	}
	online, known := c.agentsOnline()
	if !known {
		// The node has not asked yet (its first visitor): ask now rather
		// than guess, so the widget never claims someone is there.
		online = c.refreshAgents(ctx)
	}
	w.AgentsOnline = &online
	s.enqueue(w)
	s.flushEarly()
	// An answer that came between the welcome and flushEarly was broadcast
	// to the welcomed sockets only: tell this one too.
	if now, ok := c.agentsOnline(); ok && (w.AgentsOnline == nil || now != *w.AgentsOnline) {
		s.enqueue(&agentsFrame{Type: frameAgents, Online: now})
	}

	// Replies left queued for this visit have now been shown.
	for _, id := range undelivered {
		d := ticketing.Delivery{Status: ticketing.DeliveryDelivered, Channel: ticketing.ChannelChat, UpdatedAt: time.Now()}
		if _, err := c.o.Service.ReportDelivery(ctx, id, d); err != nil {
			c.log.Warn("chat: report delivery on welcome", "message", id, "err", err)
		}
	}
	return nil
}

// waitingForVisit reports whether m is an agent's chat reply that nobody
// has seen yet: queued for the next visit, or waiting for a fallback mail
// that is then skipped.
func waitingForVisit(m *ticketing.Message) bool {
	return m.Direction == ticketing.DirectionOutbound && m.Channel == ticketing.ChannelChat &&
		m.Delivery != nil && m.Delivery.Status == ticketing.DeliveryQueued
}

// isShopCustomer reports whether c is known to the shop by its own id:
// only a session signed for that id may see their history.
func isShopCustomer(c *ticketing.Customer) bool {
	if c.ExternalID != "" {
		return true
	}
	_, ok := c.Identity(ticketing.IdentityExternal)
	return ok
}

func (s *session) addClaim(id ticketing.Identity) {
	for _, c := range s.claims {
		if c.Key() == id.Key() {
			return
		}
	}
	if len(s.claims) < 5 {
		s.claims = append(s.claims, id)
	}
}

// lookupCustomer finds the customer behind the session's identity; nil
// when the visitor is new.
func (s *session) lookupCustomer(ctx context.Context) (*ticketing.Customer, error) {
	s.mu.Lock()
	s.lookedUp = time.Now()
	s.mu.Unlock()
	cust, err := s.c.o.Service.CustomerByIdentity(ctx, s.from.Key())
	if ticketing.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.setCustomer(cust.ID)
	return cust, nil
}

func (s *session) setCustomer(id string) {
	s.mu.Lock()
	s.customerID = id
	s.mu.Unlock()
}

func (s *session) customer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.customerID
}

// message publishes a visitor's message and echoes it once JetStream has
// stored it. A resent client_id has the same external id, so it is stored
// once however often the widget retries.
func (s *session) message(f *clientFrame) {
	c := s.c
	now := time.Now()
	if !c.limiter.allow(s.vid, now) {
		s.enqueue(newErrorFrame(codeRateLimited, "you are sending messages too fast; wait a moment", f.ClientID))
		return
	}
	if f.Email != "" {
		s.addClaim(ticketing.Identity{Kind: ticketing.IdentityEmail, Value: f.Email})
	}
	env := &ticketing.Envelope{
		Channel:    ticketing.ChannelChat,
		ExternalID: s.vid + ":" + f.ClientID,
		From:       s.from,
		Name:       s.name,
		Claims:     append([]ticketing.Identity(nil), s.claims...),
		Text:       f.Text,
		ClientID:   f.ClientID,
		ReceivedAt: now.UTC(),
	}
	if err := c.validator.Validate(env); err != nil {
		s.sendError(err, f.ClientID)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	if err := c.o.Publisher.PublishInbound(ctx, env); err != nil {
		c.log.Error("chat: publish inbound", "visitor", s.vid, "err", err)
		s.enqueue(newErrorFrame(codeUnavailable, "the message could not be sent yet; it will be retried", f.ClientID))
		return
	}
	s.mu.Lock()
	s.wrote = true
	if s.customerID == "" {
		s.lookedUp = time.Time{} // the customer exists soon: look again at once
	}
	s.mu.Unlock()
	s.enqueue(&messageFrame{Type: frameMessage, Message: &messageView{
		ID:        env.MessageID(),
		Direction: ticketing.DirectionInbound,
		Channel:   ticketing.ChannelChat,
		Text:      env.Text,
		Author:    ticketing.Author{Kind: ticketing.AuthorCustomer, Name: env.Name},
		CreatedAt: env.ReceivedAt,
		ClientID:  f.ClientID,
	}})
}

// deliver sends an agent's reply to this socket once; it reports whether
// the reply reached (or already reached) the visitor's socket.
func (s *session) deliver(customerID string, v *messageView) bool {
	select {
	case <-s.quit:
		return false
	default:
	}
	s.mu.Lock()
	if s.customerID == "" {
		s.customerID = customerID
	}
	if s.seen[v.ID] {
		s.mu.Unlock()
		return true
	}
	s.markSeenLocked(v.ID)
	if !s.welcomed {
		s.early = append(s.early, v)
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	s.enqueueView(v)
	return true
}

// enqueueView sends a message frame, and the rating prompt after a survey.
func (s *session) enqueueView(v *messageView) {
	s.enqueue(&messageFrame{Type: frameMessage, Message: v})
	if v.csatToken != "" {
		s.enqueue(&csatRequestFrame{Type: frameCSATRequest, TicketID: v.TicketID, Token: v.csatToken})
	}
}

// csat records a visitor's survey answer.
func (s *session) csat(f *clientFrame) {
	if s.c.o.CSAT == nil {
		s.sendError(ticketing.Errorf(ticketing.ENotFound, "surveys are not enabled"), "")
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	if err := s.c.o.CSAT.Answer(ctx, f.Token, f.Score, f.Comment, ticketing.ChannelChat); err != nil {
		if ticketing.ErrorCode(err) == ticketing.EInternal {
			s.c.log.Error("chat: record csat", "err", err)
		}
		s.sendError(err, "")
		return
	}
	s.enqueue(&csatRequestFrame{Type: frameCSATDone, Token: f.Token})
}

func (s *session) flushEarly() {
	s.mu.Lock()
	early := s.early
	s.early, s.welcomed = nil, true
	s.mu.Unlock()
	for _, v := range early {
		s.enqueueView(v)
	}
}

func (s *session) markSeen(id string) {
	s.mu.Lock()
	s.markSeenLocked(id)
	s.mu.Unlock()
}

func (s *session) markSeenLocked(id string) {
	if s.seen[id] {
		return
	}
	if len(s.seenOrder) >= seenMax {
		delete(s.seen, s.seenOrder[0])
		s.seenOrder = s.seenOrder[1:]
	}
	s.seen[id] = true
	s.seenOrder = append(s.seenOrder, id)
}

// typingPayload is what TopicTyping carries to the consoles.
type typingPayload struct {
	CustomerID string `json:"customer_id"`
	Typing     bool   `json:"typing"`
}

// typingEvery throttles repeated "still typing" frames.
const typingEvery = 2 * time.Second

// typing forwards the visitor's typing state to the consoles: changes at
// once, repeats at most every typingEvery.
func (s *session) typing(on bool) {
	now := time.Now()
	s.mu.Lock()
	if on == s.typingOn && now.Sub(s.typingAt) < typingEvery {
		s.mu.Unlock()
		return
	}
	s.typingOn, s.typingAt = on, now
	cid := s.customerID
	lookup := cid == "" && s.wrote && now.Sub(s.lookedUp) > time.Second
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
	defer cancel()
	if lookup {
		// A new visitor's customer exists once their first message is in.
		if cust, err := s.lookupCustomer(ctx); err == nil && cust != nil {
			cid = cust.ID
		}
	}
	if cid == "" {
		return // no ticket yet: no console shows this visitor
	}
	b, _ := json.Marshal(typingPayload{CustomerID: cid, Typing: on})
	if err := s.c.o.Relay.Publish(ctx, TopicTyping, b); err != nil {
		s.c.log.Warn("chat: publish typing", "err", err)
	}
}
