package realtime

import "time"

// The JSON frames of the live protocol (see the package comment). Events
// themselves are ticketing.Event, encoded as they are.

// clientFrame is anything a console sends.
type clientFrame struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	State    string `json:"state"`
}

type helloFrame struct {
	Type string `json:"type"` // "hello"
	Seq  uint64 `json:"seq"`
}

type resyncFrame struct {
	Type string `json:"type"` // "resync"
	Seq  uint64 `json:"seq"`
}

type errorFrame struct {
	Type  string    `json:"type"` // "error"
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// presenceFrame is both the relay payload and the frame pushed to consoles.
type presenceFrame struct {
	Type     string    `json:"type"` // "presence"
	TicketID string    `json:"ticket_id"`
	Agent    agentRef  `json:"agent"`
	State    string    `json:"state"`
	At       time.Time `json:"at"`
}

type agentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Presence states.
const (
	stateViewing = "viewing"
	stateTyping  = "typing"
	stateLeft    = "left"
)
