package realtime

import "github.com/gorilla/websocket"

// PushToAgents offers every session on this node a frame made for its
// agent by build (nil: nothing for that agent), built once per agent.
// Frames such as {"type":"counts",...} are not events: they carry no seq
// and are not replayed. Like events, a session whose buffer is full is
// disconnected as a slow consumer.
func (h *Hub) PushToAgents(build func(agentID string) []byte) {
	h.mu.RLock()
	byAgent := map[string][]*session{}
	for _, s := range h.sessions {
		byAgent[s.agentID] = append(byAgent[s.agentID], s)
	}
	h.mu.RUnlock()
	for agentID, sessions := range byAgent {
		data := build(agentID)
		if data == nil {
			continue
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
		if err != nil {
			h.log.Error("realtime: prepare frame", "err", err)
			continue
		}
		h.mu.RLock()
		for _, s := range sessions {
			s.offer(frame{pm: pm})
		}
		h.mu.RUnlock()
	}
}
