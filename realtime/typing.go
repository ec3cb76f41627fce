package realtime

import (
	"encoding/json"

	"github.com/gorilla/websocket"
)

// topicCustomerTyping is where the chat channel says a customer is typing
// (channels/chat.TopicTyping).
const topicCustomerTyping = "chat.typing"

// customerTypingFrame tells consoles that a chat customer is typing.
type customerTypingFrame struct {
	Type       string `json:"type"` // "customer.typing"
	CustomerID string `json:"customer_id"`
	Typing     bool   `json:"typing"`
}

// customerTyping forwards a chat customer's typing state to every console
// on this node; consoles show it on that customer's open ticket.
func (h *Hub) customerTyping(payload []byte) bool {
	var in struct {
		CustomerID string `json:"customer_id"`
		Typing     bool   `json:"typing"`
	}
	if err := json.Unmarshal(payload, &in); err != nil || !validID(in.CustomerID) {
		h.log.Debug("realtime: drop malformed typing from relay", "err", err)
		return false
	}
	data, err := json.Marshal(customerTypingFrame{Type: "customer.typing", CustomerID: in.CustomerID, Typing: in.Typing})
	if err != nil {
		return false
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return false
	}
	h.broadcast(frame{pm: pm})
	return false
}
