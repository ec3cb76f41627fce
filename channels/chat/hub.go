package chat

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// topicSub is this node's one relay subscription to a topic, shared by the
// local sockets listening on it.
type topicSub struct {
	cancel   func()
	sessions map[*session]struct{}
}

// join adds s to topic's local listeners, subscribing the node to the
// topic for its first one.
func (c *Channel) join(s *session, topic string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.topics[topic]; t != nil {
		t.sessions[s] = struct{}{}
		return nil
	}
	cancel, err := c.o.Relay.Subscribe(topic, func(payload []byte) bool {
		return c.fanout(topic, payload)
	})
	if err != nil {
		return err
	}
	c.topics[topic] = &topicSub{cancel: cancel, sessions: map[*session]struct{}{s: {}}}
	return nil
}

// leave removes s from topic's listeners and unsubscribes the node after
// the last one.
func (c *Channel) leave(s *session, topic string) {
	c.mu.Lock()
	t := c.topics[topic]
	if t == nil {
		c.mu.Unlock()
		return
	}
	delete(t.sessions, s)
	if len(t.sessions) > 0 {
		c.mu.Unlock()
		return
	}
	delete(c.topics, topic)
	c.mu.Unlock()
	t.cancel()
}

// fanout hands a reply that came over the relay to the local sockets on
// topic. Its result answers the sender's Relay.Request: true when at least
// one socket took it.
func (c *Channel) fanout(topic string, payload []byte) bool {
	var r relayReply
	if err := json.Unmarshal(payload, &r); err != nil || r.Message == nil || r.Message.ID == "" {
		c.log.Warn("chat: bad relay payload", "topic", topic, "err", err)
		return false
	}
	c.mu.Lock()
	var targets []*session
	if t := c.topics[topic]; t != nil {
		targets = make([]*session, 0, len(t.sessions))
		for s := range t.sessions {
			targets = append(targets, s)
		}
	}
	c.mu.Unlock()
	ok := false
	r.Message.csatToken = r.CSATToken
	for _, s := range targets {
		if s.deliver(r.CustomerID, r.Message) {
			ok = true
		}
	}
	return ok
}

// relayReply is an agent's reply on its way to the nodes holding the
// customer's sockets.
type relayReply struct {
	CustomerID string       `json:"customer_id"`
	Message    *messageView `json:"message"`
	// CSATToken, on a survey, makes the widget show a rating prompt.
	CSATToken string `json:"csat_token,omitempty"`
}

// agentsState is the node's latest answer to whether any agent is online.
// Until the first answer nothing is claimed: the welcome leaves
// agents_online out and the widget says neither "online" nor "nobody".
type agentsState struct {
	known  bool
	online bool
}

// agentsOnline returns the node's latest answer without waiting; known is
// false before the first one.
func (c *Channel) agentsOnline() (online, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agents.online, c.agents.known
}

// agentsTimeout bounds the question. Consoles' nodes answer only while
// they hold a session, so "nobody" is normally answered at once (no
// responders); a node that stops answering makes it take this long.
const agentsTimeout = 3 * time.Second

// refreshAgents asks the relay whether agents are online and, when the
// answer is new or differs from what visitors were told, tells every
// welcomed local visitor.
func (c *Channel) refreshAgents(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, agentsTimeout)
	defer cancel()
	online, err := c.o.Relay.Request(ctx, TopicAgentsOnline, nil)
	if err != nil {
		c.log.Debug("chat: ask whether agents are online", "err", err)
		online = false
	}
	c.mu.Lock()
	changed := !c.agents.known || c.agents.online != online
	c.agents = agentsState{known: true, online: online}
	c.mu.Unlock()
	if changed {
		c.broadcast(&agentsFrame{Type: frameAgents, Online: online}, "")
	}
	return online
}

// startLoops starts the node's background loops with the first socket.
func (c *Channel) startLoops() {
	c.loops.Do(func() {
		c.agentsKick = make(chan struct{}, 1)
		if cancel, err := c.o.Relay.Subscribe(TopicAgentsChanged, func([]byte) bool {
			select {
			case c.agentsKick <- struct{}{}:
			default: // a refresh is already due
			}
			return false
		}); err != nil {
			c.log.Warn("chat: subscribe to agents.changed; widgets learn of agents every AgentsInterval", "err", err)
		} else {
			c.goRun(func() {
				<-c.ctx.Done()
				cancel()
			})
		}
		c.goRun(c.agentsLoop)
		c.goRun(c.pingLoop)
		cancel, err := c.o.Relay.Subscribe(topicPresence, c.presence)
		if err != nil {
			c.log.Warn("chat: subscribe to agents' presence; no typing indicator", "err", err)
			return
		}
		c.goRun(func() {
			<-c.ctx.Done()
			cancel()
		})
	})
}

// pingLoop pings every local socket each PingInterval, from one goroutine
// for the whole node rather than one per socket.
func (c *Channel) pingLoop() {
	t := time.NewTicker(c.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		all := make([]*session, 0, len(c.sessions))
		for s := range c.sessions {
			all = append(all, s)
		}
		c.mu.Unlock()
		for _, s := range all {
			s.ping()
		}
	}
}

// agentsLoop asks at once, whenever a consoles' node says its first agent
// came or its last left (agents.changed), and every AgentsInterval as a
// fallback, whether agents are online; refreshAgents tells the visitors.
func (c *Channel) agentsLoop() {
	t := time.NewTicker(c.o.AgentsInterval)
	defer t.Stop()
	for {
		c.refreshAgents(c.ctx)
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.agentsKick:
		}
	}
}

// broadcast enqueues f to the local sockets, or only to those of
// customerID when it is set.
func (c *Channel) broadcast(f any, customerID string) {
	c.mu.Lock()
	targets := make([]*session, 0, len(c.sessions))
	for s := range c.sessions {
		targets = append(targets, s)
	}
	c.mu.Unlock()
	for _, s := range targets {
		s.mu.Lock()
		ok := s.welcomed && (customerID == "" || s.customerID == customerID)
		s.mu.Unlock()
		if ok {
			s.enqueue(f)
		}
	}
}

// topicPresence is where the consoles' presence reports travel (package
// realtime): {"type":"presence","ticket_id","agent":{"id","name"},
// "state":"viewing"|"typing"|"left","at"}.
const topicPresence = "presence"

type presenceReport struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	Agent    struct {
		ID string `json:"id"`
	} `json:"agent"`
	State string `json:"state"`
}

// typingTTL: an agent who has not repeated "typing" for this long has
// stopped (the consoles repeat it while keys are pressed).
const typingTTL = 8 * time.Second

// agentTyping tracks which agents are typing to which customer.
type agentTyping struct {
	agents map[string]time.Time // agent id -> last "typing"
}

// presence turns the consoles' presence reports into typing frames for the
// customer of the ticket. A ticket's id is "<customer id>-<n>" (see
// ticketing.Customer.TicketCount), so no lookup is needed.
func (c *Channel) presence(payload []byte) bool {
	var p presenceReport
	if err := json.Unmarshal(payload, &p); err != nil || p.Type != "presence" || p.Agent.ID == "" {
		return false
	}
	dash := strings.LastIndexByte(p.TicketID, '-')
	if dash <= 0 {
		return false
	}
	customerID := p.TicketID[:dash]
	now := time.Now()

	c.mu.Lock()
	if c.typing == nil {
		c.typing = make(map[string]*agentTyping)
	}
	at := c.typing[customerID]
	wasTyping := at != nil && at.active(now)
	if p.State == stateTyping {
		if at == nil {
			at = &agentTyping{agents: make(map[string]time.Time)}
			c.typing[customerID] = at
		}
		at.agents[p.Agent.ID] = now
	} else if at != nil {
		delete(at.agents, p.Agent.ID)
	}
	isTyping := at != nil && at.active(now)
	if at != nil && !isTyping {
		delete(c.typing, customerID)
	}
	c.mu.Unlock()

	if isTyping || wasTyping {
		c.learnCustomers()
		c.broadcast(&typingFrame{Type: frameTyping, Typing: isTyping}, customerID)
	}
	return false
}

const stateTyping = "typing"

func (a *agentTyping) active(now time.Time) bool {
	for id, at := range a.agents {
		if now.Sub(at) >= typingTTL {
			delete(a.agents, id)
		}
	}
	return len(a.agents) > 0
}

// learnCustomers looks up the customer of sockets whose visitor has
// written but whose customer was not known yet (the first message of a
// new visitor is threaded after its echo), a few at a time.
func (c *Channel) learnCustomers() {
	c.mu.Lock()
	var pending []*session
	for s := range c.sessions {
		s.mu.Lock()
		if s.customerID == "" && s.wrote && time.Since(s.lookedUp) > typingEvery && len(pending) < 8 {
			pending = append(pending, s)
		}
		s.mu.Unlock()
	}
	c.mu.Unlock()
	for _, s := range pending {
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		if _, err := s.lookupCustomer(ctx); err != nil && !ticketing.IsNotFound(err) {
			c.log.Debug("chat: look up visitor's customer", "err", err)
		}
		cancel()
	}
}
