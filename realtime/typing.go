package realtime

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// topicCustomerTyping is where the chat channel says a customer is typing
// (channels/chat.TopicTyping).
const topicCustomerTyping = "chat.typing"

// customerTypingEvery is the most often one customer's typing state
// reaches this node's consoles, however many sockets, tabs or nodes the
// customer types from.
const customerTypingEvery = time.Second

// customerTypingFrame tells consoles that a chat customer is typing.
type customerTypingFrame struct {
	Type       string `json:"type"` // "customer.typing"
	CustomerID string `json:"customer_id"`
	Typing     bool   `json:"typing"`
}

// customerTyping forwards a chat customer's typing state to every console
// on this node, coalesced per customer; consoles show it on that
// customer's open ticket.
func (h *Hub) customerTyping(payload []byte) bool {
	var in struct {
		CustomerID string `json:"customer_id"`
		Typing     bool   `json:"typing"`
	}
	if err := json.Unmarshal(payload, &in); err != nil || !validID(in.CustomerID) {
		h.log.Debug("realtime: drop malformed typing from relay", "err", err)
		return false
	}
	h.typing.offer(in.CustomerID, in.Typing)
	return false
}

// sendCustomerTyping pushes one customer.typing frame to every console
// that may see the customer's latest ticket.
func (h *Hub) sendCustomerTyping(customerID string, typing bool) {
	data, err := json.Marshal(customerTypingFrame{Type: "customer.typing", CustomerID: customerID, Typing: typing})
	if err != nil {
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return
	}
	var lookup func() (*ticketing.Ticket, bool)
	if ct, ok := h.opts.Tickets.(CustomerTickets); ok {
		lookup = func() (*ticketing.Ticket, bool) { return ct.LatestTicketOf(customerID) }
	}
	h.broadcastAbout(frame{pm: pm, ephemeral: true}, nil, lookup)
}

// typingGate lets at most one state per customer through each interval:
// the first at once, and the latest of those that came during the interval
// at its end, so the last word (typing or not) always arrives.
type typingGate struct {
	every time.Duration
	emit  func(customerID string, typing bool)

	mu     sync.Mutex
	slots  map[string]*typingSlot
	closed bool
}

type typingSlot struct {
	timer   *time.Timer
	pending bool // a state waits for the end of the interval
	typing  bool // the state that waits
}

func newTypingGate(every time.Duration, emit func(string, bool)) *typingGate {
	return &typingGate{every: every, emit: emit, slots: make(map[string]*typingSlot)}
}

func (g *typingGate) offer(customerID string, typing bool) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	if sl := g.slots[customerID]; sl != nil {
		sl.pending, sl.typing = true, typing
		g.mu.Unlock()
		return
	}
	sl := &typingSlot{}
	g.slots[customerID] = sl
	sl.timer = time.AfterFunc(g.every, func() { g.tick(customerID) })
	g.mu.Unlock()
	g.emit(customerID, typing)
}

// tick ends a customer's interval: the waiting state goes out and starts
// the next interval, or the customer is forgotten.
func (g *typingGate) tick(customerID string) {
	g.mu.Lock()
	sl := g.slots[customerID]
	if sl == nil || g.closed {
		g.mu.Unlock()
		return
	}
	if !sl.pending {
		delete(g.slots, customerID)
		g.mu.Unlock()
		return
	}
	typing := sl.typing
	sl.pending = false
	sl.timer.Reset(g.every)
	g.mu.Unlock()
	g.emit(customerID, typing)
}

// close stops every timer; nothing is emitted afterwards.
func (g *typingGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for id, sl := range g.slots {
		sl.timer.Stop()
		delete(g.slots, id)
	}
}
