package chat

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
)

// Frame types.
const (
	frameHello   = "hello"
	frameWelcome = "welcome"
	frameMessage = "message"
	frameTyping  = "typing"
	frameAgents  = "agents"
	frameError   = "error"
	// frameCSAT is a visitor's survey answer; frameCSATRequest asks for one.
	frameCSAT        = "csat"
	frameCSATRequest = "csat_request"
	frameCSATDone    = "csat_recorded"
)

// Limits on a client's frames.
const (
	maxTextRunes    = 4000
	maxClientID     = 100
	maxTokenLen     = 100
	maxExternalID   = 200
	maxSignatureLen = 128
	maxNameRunes    = 200
	maxEmailLen     = 320
)

// Error frame codes beyond ticketing's error codes.
const (
	codeInvalidSignature = "invalid_signature"
	codeRateLimited      = ticketing.ETooMany
	codeInvalid          = ticketing.EInvalid
	codeUnavailable      = ticketing.EUnavailable
)

// clientFrame is any frame a widget sends. Fields that do not belong to
// the frame's type are ignored.
type clientFrame struct {
	Type string `json:"type"`
	// hello
	VisitorToken string         `json:"visitor_token,omitempty"`
	Identity     *helloIdentity `json:"identity,omitempty"`
	// message
	Text     string `json:"text,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// Email, on a message, is an address the visitor typed for replies
	// when they are gone (an unverified claim).
	Email string `json:"email,omitempty"`
	// typing
	Typing bool `json:"typing,omitempty"`
	// csat
	Token   string `json:"token,omitempty"`
	Score   int    `json:"score,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// helloIdentity is what the shop knows about a logged-in customer. Only
// external_id is trusted, and only with a valid signature.
type helloIdentity struct {
	ExternalID string `json:"external_id,omitempty"`
	Email      string `json:"email,omitempty"`
	Name       string `json:"name,omitempty"`
	Signature  string `json:"signature,omitempty"`
}

// decodeFrame parses and checks one client frame. Its errors are
// *ticketing.Error values whose message may be shown to the visitor.
func decodeFrame(data []byte) (*clientFrame, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var f clientFrame
	if err := dec.Decode(&f); err != nil {
		return nil, ticketing.Errorf(codeInvalid, "frame is not a JSON object")
	}
	if dec.More() {
		return nil, ticketing.Errorf(codeInvalid, "one JSON object per frame")
	}
	switch f.Type {
	case frameHello:
		if len(f.VisitorToken) > maxTokenLen {
			return nil, ticketing.FieldError("visitor_token", "is too long")
		}
		if id := f.Identity; id != nil {
			id.ExternalID = strings.TrimSpace(id.ExternalID)
			id.Name = strings.TrimSpace(id.Name)
			id.Email = ticketing.NormalizeEmail(id.Email)
			switch {
			case len(id.ExternalID) > maxExternalID || hasControl(id.ExternalID):
				return nil, ticketing.FieldError("identity.external_id", "must be at most %d printable characters", maxExternalID)
			case len(id.Signature) > maxSignatureLen:
				return nil, ticketing.FieldError("identity.signature", "is too long")
			case utf8.RuneCountInString(id.Name) > maxNameRunes || hasControl(id.Name):
				return nil, ticketing.FieldError("identity.name", "must be at most %d printable characters", maxNameRunes)
			case id.Email != "" && !plausibleEmail(id.Email):
				return nil, ticketing.FieldError("identity.email", "must be an email address")
			}
		}
	case frameMessage:
		if f.ClientID == "" {
			return nil, ticketing.FieldError("client_id", "is required")
		}
		if len(f.ClientID) > maxClientID || hasControl(f.ClientID) {
			return nil, ticketing.FieldError("client_id", "must be at most %d printable characters", maxClientID)
		}
		if strings.TrimSpace(f.Text) == "" {
			return &f, ticketing.FieldError("text", "is empty")
		}
		if utf8.RuneCountInString(f.Text) > maxTextRunes {
			return &f, ticketing.FieldError("text", "must be at most %d characters", maxTextRunes)
		}
		f.Email = ticketing.NormalizeEmail(f.Email)
		if f.Email != "" && !plausibleEmail(f.Email) {
			return &f, ticketing.FieldError("email", "must be an email address")
		}
	case frameTyping:
	case frameCSAT:
		if f.Token == "" || len(f.Token) > 512 {
			return nil, ticketing.FieldError("token", "is required (at most 512 characters)")
		}
		if f.Score < 1 || f.Score > 5 {
			return nil, ticketing.FieldError("score", "must be a whole number from 1 to 5")
		}
		if utf8.RuneCountInString(f.Comment) > maxTextRunes {
			return nil, ticketing.FieldError("comment", "must be at most %d characters", maxTextRunes)
		}
	case "":
		return nil, ticketing.FieldError("type", "is required")
	default:
		return nil, ticketing.FieldError("type", "must be one of: hello message typing csat")
	}
	return &f, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// plausibleEmail accepts local@domain.tld without spaces; the address is a
// claim to reply to, not a verified identity, so this only keeps out typos
// and junk.
func plausibleEmail(s string) bool {
	if len(s) > maxEmailLen || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || strings.Count(s, "@") != 1 {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// Server frames.

type welcomeFrame struct {
	Type         string         `json:"type"`
	VisitorToken string         `json:"visitor_token"`
	VisitorID    string         `json:"visitor_id"`
	Verified     bool           `json:"verified"`
	Messages     []*messageView `json:"messages"`
	// AgentsOnline is left out until the node knows; an "agents" frame
	// follows then.
	AgentsOnline *bool `json:"agents_online,omitempty"`
	// Open and NextOpen are the shop's business hours, when known: the
	// widget says "closed, we open at …" and still takes messages.
	Open     *bool     `json:"open,omitempty"`
	NextOpen time.Time `json:"next_open,omitzero"`
}

type messageFrame struct {
	Type    string       `json:"type"`
	Message *messageView `json:"message"`
}

// csatRequestFrame asks the visitor to rate the help on a solved ticket.
type csatRequestFrame struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	Token    string `json:"token"`
}

type typingFrame struct {
	Type   string `json:"type"`
	Typing bool   `json:"typing"`
}

type agentsFrame struct {
	Type   string `json:"type"`
	Online bool   `json:"online"`
}

type errorFrame struct {
	Type  string    `json:"type"`
	Error errorBody `json:"error"`
	// ClientID names the message the error refers to, if any.
	ClientID string `json:"client_id,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func newErrorFrame(code, msg, clientID string) *errorFrame {
	return &errorFrame{Type: frameError, Error: errorBody{Code: code, Message: msg}, ClientID: clientID}
}

// messageView is a message as the customer sees it: the contract's
// message shape without the agent-only fields (meta, threading, notes).
type messageView struct {
	ID        string              `json:"id"`
	TicketID  string              `json:"ticket_id,omitempty"`
	Direction string              `json:"direction"`
	Channel   ticketing.Channel   `json:"channel"`
	Text      string              `json:"text"`
	HTML      string              `json:"html"`
	Author    ticketing.Author    `json:"author"`
	CreatedAt time.Time           `json:"created_at"`
	Delivery  *ticketing.Delivery `json:"delivery,omitempty"`
	ClientID  string              `json:"client_id,omitempty"`
	// csatToken is set on a survey: a csat_request frame follows it.
	csatToken string
	// Attachments are an agent's files, as signed download links.
	Attachments []fileView `json:"attachments,omitempty"`
}

// fileView is an attachment as the visitor sees it: a signed, expiring
// download link (package files), a path the widget resolves against the
// server it talks to.
type fileView struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// view is viewOf with the attachments' download links signed for the
// visitor; without a signer the files are left out.
func (c *Channel) view(m *ticketing.Message) *messageView {
	v := viewOf(m)
	if v == nil || c.o.Files == nil || m.Direction != ticketing.DirectionOutbound {
		return v
	}
	for _, a := range m.Attachments {
		v.Attachments = append(v.Attachments, fileView{Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, URL: c.o.Files.Path(a.Key)})
	}
	return v
}

// viewOf returns the customer's view of m, or nil when the customer may
// not see it (an internal note).
func viewOf(m *ticketing.Message) *messageView {
	if m == nil || m.Direction == ticketing.DirectionNote {
		return nil
	}
	v := &messageView{
		ID: m.ID, TicketID: m.TicketID, Direction: m.Direction, Channel: m.Channel,
		Text: m.Text, HTML: m.HTML, Author: m.Author, CreatedAt: m.CreatedAt, ClientID: m.ClientID,
	}
	if m.Delivery != nil {
		d := *m.Delivery
		d.ProviderID, d.Error = "", ""
		v.Delivery = &d
	}
	return v
}
