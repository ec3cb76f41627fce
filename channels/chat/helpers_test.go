package chat

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

const testSecret = "shop-secret-for-tests"

var testAgent = &ticketing.Agent{ID: "agent-1", Name: "Alma"}

// testNode is one Svar node as far as chat needs one: a real bus, store
// and ticketing service, the ingest consumer, the chat channel on an HTTP
// server and (unless told otherwise) its outbound consumer.
type testNode struct {
	t     *testing.T
	bus   *natsbus.Bus
	store *mongostore.Store
	svc   *ticketing.Service
	chat  *Channel
	srv   *httptest.Server
	url   string // ws://host
	// handled hears each outcome of this node's chat outbound handler.
	handled chan handled
}

type handled struct {
	id      string
	attempt int
	err     error
}

// observedOutbound is the real bus whose chat consumer reports what the
// handler returned, so tests can wait for a reply to have been handled.
type observedOutbound struct {
	*natsbus.Bus
	handled chan handled
}

func (o *observedOutbound) ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error {
	return o.Bus.ConsumeOutbound(ctx, ch, func(ctx context.Context, out *ticketing.Outbound, attempt int) error {
		err := h(ctx, out, attempt)
		select {
		case o.handled <- handled{out.MessageID, attempt, err}:
		case <-ctx.Done():
		}
		return err
	})
}

// waitHandled waits for the handler to return for message id and returns
// its error.
func (n *testNode) waitHandled(id string) error {
	n.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case h := <-n.handled:
			if h.id == id {
				return h.err
			}
		case <-timeout:
			n.t.Fatalf("the outbound handler did not handle %s", id)
		}
	}
}

type nodeConfig struct {
	opts     func(*Options)
	noRun    bool // do not run this node's chat outbound consumer
	noIngest bool // do not run this node's inbound consumer
}

// newTestNode starts a node on a fresh embedded NATS and store.
func newTestNode(t *testing.T, cfg nodeConfig) *testNode {
	t.Helper()
	return startNode(t, natstest.New(t), mongotest.New(t), cfg)
}

func startNode(t *testing.T, bus *natsbus.Bus, store *mongostore.Store, cfg nodeConfig) *testNode {
	t.Helper()
	svc := ticketing.New(ticketing.Options{Store: store, Bus: bus, Logger: natstest.Logger(t)})
	obs := &observedOutbound{Bus: bus, handled: make(chan handled, 100)}
	o := Options{
		Publisher: bus, Outbound: obs, Relay: bus, Service: svc, Store: store,
		IdentitySecret: testSecret,
		PublicURL:      "https://support.shop.test",
		AllowedOrigins: []string{"https://shop.test"},
		Logger:         natstest.Logger(t),
	}
	if cfg.opts != nil {
		cfg.opts(&o)
	}
	ch, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	ch.Routes(mux)
	srv := httptest.NewServer(mux)
	n := &testNode{t: t, bus: bus, store: store, svc: svc, chat: ch, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http"), handled: obs.handled}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if !cfg.noIngest {
		wg.Go(func() {
			if err := bus.ConsumeInbound(ctx, svc.Ingest); err != nil && ctx.Err() == nil {
				t.Errorf("ConsumeInbound: %v", err)
			}
		})
	}
	if !cfg.noRun {
		wg.Go(func() {
			if err := ch.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("chat Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		ch.Close()
		srv.Close()
		wg.Wait()
	})
	return n
}

// serverFrame is any frame the server sends.
type serverFrame struct {
	Type         string         `json:"type"`
	VisitorToken string         `json:"visitor_token"`
	VisitorID    string         `json:"visitor_id"`
	Verified     bool           `json:"verified"`
	Messages     []*messageView `json:"messages"`
	AgentsOnline bool           `json:"agents_online"`
	Message      *messageView   `json:"message"`
	Typing       bool           `json:"typing"`
	Online       bool           `json:"online"`
	Error        errorBody      `json:"error"`
	ClientID     string         `json:"client_id"`
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial opens /chat/ws from the shop's allowed origin.
func (n *testNode) dial() *wsClient {
	n.t.Helper()
	c, resp, err := n.dialOrigin("https://shop.test")
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		n.t.Fatalf("dial: %v (status %d)", err, status)
	}
	return c
}

func (n *testNode) dialOrigin(origin string) (*wsClient, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(n.url+"/chat/ws", h)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: n.t, conn: conn}
	n.t.Cleanup(func() { conn.Close() })
	return c, resp, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame of one of the given types, skipping others
// (agents and typing frames come whenever they come).
func (c *wsClient) next(types ...string) *serverFrame {
	c.t.Helper()
	f, err := c.read(20*time.Second, types...)
	if err != nil {
		c.t.Fatalf("waiting for %v: %v", types, err)
	}
	return f
}

func (c *wsClient) read(wait time.Duration, types ...string) (*serverFrame, error) {
	deadline := time.Now().Add(wait)
	for {
		c.conn.SetReadDeadline(deadline)
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		var f serverFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Fatalf("bad server frame %s: %v", data, err)
		}
		for _, typ := range types {
			if f.Type == typ {
				return &f, nil
			}
		}
	}
}

// hello sends a hello and returns the welcome.
func (c *wsClient) hello(token string, id *helloIdentity) *serverFrame {
	c.t.Helper()
	c.send(clientFrame{Type: frameHello, VisitorToken: token, Identity: id})
	w := c.next(frameWelcome)
	if w.VisitorToken == "" || w.VisitorID == "" {
		c.t.Fatalf("welcome without a visitor: %+v", w)
	}
	return w
}

// say sends a message and returns its echo.
func (c *wsClient) say(text, clientID string) *messageView {
	c.t.Helper()
	c.send(clientFrame{Type: frameMessage, Text: text, ClientID: clientID})
	f := c.next(frameMessage, frameError)
	if f.Type == frameError {
		c.t.Fatalf("message %q refused: %+v", clientID, f.Error)
	}
	if f.Message.ClientID != clientID || f.Message.Text != text {
		c.t.Fatalf("echo = %+v, want client_id %q text %q", f.Message, clientID, text)
	}
	return f.Message
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ticketOf waits until the customer owning identity key has a ticket that
// holds at least n messages, and returns the ticket.
func (n *testNode) ticketOf(key string, messages int) *ticketing.Ticket {
	n.t.Helper()
	var tk *ticketing.Ticket
	eventually(n.t, "a ticket of "+key, func() bool {
		ctx := context.Background()
		c, err := n.svc.CustomerByIdentity(ctx, key)
		if err != nil || c.CurrentTicketID == "" {
			return false
		}
		tk, err = n.store.GetTicket(ctx, c.CurrentTicketID)
		return err == nil && len(tk.MessageIDs) >= messages
	})
	return tk
}

// reply answers the ticket as an agent.
func (n *testNode) reply(ticketID, text string, note bool) *ticketing.Message {
	n.t.Helper()
	m, err := n.svc.Reply(context.Background(), ticketID, testAgent, ticketing.ReplyInput{Text: text, Note: note})
	if err != nil {
		n.t.Fatalf("reply: %v", err)
	}
	return m
}

// delivery polls the message until its delivery matches.
func (n *testNode) waitDelivery(id, status string, ch ticketing.Channel) {
	n.t.Helper()
	eventually(n.t, "delivery "+status+" of "+id, func() bool {
		m, err := n.store.GetMessage(context.Background(), id)
		return err == nil && m.Delivery != nil && m.Delivery.Status == status && m.Delivery.Channel == ch
	})
}

func texts(ms []*messageView) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}
