package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// waitFor is how long a test waits for something that should happen at
// once before it fails; it guards against hangs, it is not a timing
// assertion.
const waitFor = 10 * time.Second

// testNode is one Svar node: a hub behind an HTTP server.
type testNode struct {
	hub *Hub
	srv *httptest.Server
}

// newTestNode starts a hub behind an httptest server whose handler takes
// the agent from ?agent= (the web layer's authentication, in tests).
// wrap, when set, wraps the server's listener.
func newTestNode(t testing.TB, o Options, wrap func(net.Listener) net.Listener) *testNode {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	hub := New(o)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("agent")
		v := ticketing.System
		if team := r.URL.Query().Get("team"); team != "" { // an agent of one team
			v = ticketing.Viewer{AgentID: id, Role: ticketing.RoleAgent, TeamIDs: []string{team}}
		}
		hub.ServeAgent(w, r, &ticketing.Agent{ID: id, Name: "Agent " + id, Active: true}, v)
	}))
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	srv.Start()
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	return &testNode{hub: hub, srv: srv}
}

func (n *testNode) url(agent, query string) string {
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/live?agent=" + agent
	if query != "" {
		u += "&" + query
	}
	return u
}

// testFrame is any server frame, decoded loosely.
type testFrame struct {
	Type     string             `json:"type"`
	Seq      uint64             `json:"seq"`
	Ticket   *ticketing.Ticket  `json:"ticket"`
	Message  *ticketing.Message `json:"message"`
	TicketID string             `json:"ticket_id"`
	Agent    agentRef           `json:"agent"`
	State    string             `json:"state"`
	Error    errorBody          `json:"error"`
	// customer.typing
	CustomerID string `json:"customer_id"`
	Typing     bool   `json:"typing"`
}

type testClient struct {
	t    testing.TB
	conn *websocket.Conn
}

// mustDial connects an agent's console; dialer may be nil.
func mustDial(t testing.TB, n *testNode, agent, query string, dialer *websocket.Dialer) *testClient {
	t.Helper()
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	conn, resp, err := dialer.Dial(n.url(agent, query), nil)
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", agent, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &testClient{t: t, conn: conn}
}

// next reads one frame.
func (c *testClient) next() testFrame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(waitFor))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	var f testFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("decode frame %s: %v", data, err)
	}
	return f
}

// nextOf reads one frame and checks its type.
func (c *testClient) nextOf(typ string) testFrame {
	c.t.Helper()
	f := c.next()
	if f.Type != typ {
		c.t.Fatalf("frame type = %q (%+v), want %q", f.Type, f, typ)
	}
	return f
}

// expectEvents reads events and checks their sequences.
func (c *testClient) expectEvents(seqs ...uint64) {
	c.t.Helper()
	for _, want := range seqs {
		f := c.nextOf(ticketing.EventMessageCreated)
		if f.Seq != want || f.Message == nil || f.Message.ID != msgID(want) {
			c.t.Fatalf("event seq %d message %+v, want seq %d", f.Seq, f.Message, want)
		}
	}
}

// expectClose reads until the connection closes and checks the close code.
func (c *testClient) expectClose(code int) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(waitFor))
	for {
		_, data, err := c.conn.ReadMessage()
		if err == nil {
			c.t.Fatalf("frame %s, want close %d", data, code)
		}
		if !websocket.IsCloseError(err, code) {
			c.t.Fatalf("read: %v, want close %d", err, code)
		}
		return
	}
}

func (c *testClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func msgID(seq uint64) string { return fmt.Sprintf("m%d", seq) }

// testEvent is a message.created event with a text of textLen bytes.
func testEvent(seq uint64, textLen int) *ticketing.Event {
	return &ticketing.Event{
		Type:   ticketing.EventMessageCreated,
		Ticket: &ticketing.Ticket{ID: "t1", Number: 1, Status: ticketing.StatusOpen, Subject: "Var är mitt paket?"},
		Message: &ticketing.Message{
			ID: msgID(seq), TicketID: "t1", Direction: ticketing.DirectionInbound, Channel: ticketing.ChannelEmail,
			Text: strings.Repeat("x", textLen), Author: ticketing.Author{Kind: ticketing.AuthorCustomer, ID: "c1", Name: "Anna"},
		},
		At:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Seq: seq,
	}
}

// poll waits until cond holds.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPublishReachesEverySession(t *testing.T) {
	n := newTestNode(t, Options{}, nil)
	n.hub.Publish(testEvent(7, 10)) // nobody listens yet; the hub remembers the seq
	a := mustDial(t, n, "anna", "", nil)
	b := mustDial(t, n, "bo", "", nil)
	for _, c := range []*testClient{a, b} {
		if f := c.nextOf("hello"); f.Seq != 7 {
			t.Fatalf("hello seq = %d, want 7", f.Seq)
		}
	}
	for seq := uint64(8); seq <= 10; seq++ {
		n.hub.Publish(testEvent(seq, 10))
	}
	unsequenced := testEvent(0, 10)
	unsequenced.Message.ID = "m-unsequenced"
	n.hub.Publish(unsequenced)
	for _, c := range []*testClient{a, b} {
		c.expectEvents(8, 9, 10)
		if f := c.nextOf(ticketing.EventMessageCreated); f.Seq != 0 || f.Message.ID != "m-unsequenced" {
			t.Fatalf("unsequenced event: %+v", f)
		}
	}
	// The counter moves just after the write the consoles have read.
	poll(t, "pushed events to be counted", func() bool { return n.hub.Stats().EventsPushed == 8 })
	st := n.hub.Stats()
	if st.Sessions != 2 || st.Agents != 2 || st.EventsPublished != 5 || st.EventsPushed != 8 || st.LastSeq != 10 {
		t.Fatalf("stats = %+v", st)
	}
}

// smallBuffers shrinks the kernel send buffer of accepted connections, so
// that a console that does not read blocks the server's writes quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

func TestSlowConsumerDisconnected(t *testing.T) {
	n := newTestNode(t, Options{BufferSize: 8}, func(l net.Listener) net.Listener { return smallBuffers{l} })
	slowDialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(8 << 10)
		}
		return c, err
	}}
	slow := mustDial(t, n, "slow", "", slowDialer) // never reads until it is cut off
	fast := mustDial(t, n, "fast", "", nil)
	fast.nextOf("hello")
	poll(t, "both sessions to register", func() bool { return n.hub.Stats().Sessions == 2 })

	// Publish in lock-step with the fast console, so that only the slow one
	// can fall behind.
	var seq uint64
	for n.hub.Stats().SlowConsumers == 0 {
		if seq++; seq > 5000 {
			t.Fatal("the console that never reads was not disconnected")
		}
		n.hub.Publish(testEvent(seq, 4<<10))
		fast.expectEvents(seq)
	}
	cutAt := seq
	t.Logf("the silent console was cut off at event %d", cutAt)
	for range 20 {
		seq++
		n.hub.Publish(testEvent(seq, 4<<10))
		fast.expectEvents(seq)
	}

	// The slow console got an unbroken prefix, then the reason, then 1008.
	slow.nextOf("hello")
	var got uint64
	for {
		f := slow.next()
		if f.Type == "error" {
			if f.Error.Code != "slow_consumer" || f.Error.Message == "" {
				t.Fatalf("error frame = %+v", f)
			}
			break
		}
		if f.Seq != got+1 {
			t.Fatalf("slow console got seq %d after %d", f.Seq, got)
		}
		got = f.Seq
	}
	// A writer that got no CPU time before its buffer filled has sent
	// nothing: that is a slow consumer too.
	if got > cutAt {
		t.Fatalf("slow console got events up to %d; cut off at %d", got, cutAt)
	}
	slow.expectClose(websocket.ClosePolicyViolation)
	poll(t, "the slow session to end", func() bool { return n.hub.Stats().Sessions == 1 })
	if st := n.hub.Stats(); st.SlowConsumers != 1 {
		t.Fatalf("slow consumers = %d, want 1", st.SlowConsumers)
	}
	seq++
	n.hub.Publish(testEvent(seq, 10))
	fast.expectEvents(seq)
}

// fakeBacklog is an in-memory events stream. When gate is set, the first
// EventsAfter call closes called and waits for gate.
type fakeBacklog struct {
	mu     sync.Mutex
	events []*ticketing.Event
	err    error
	short  int      // when set, no call returns more than this, whatever max is
	calls  []uint64 // the seq of each call
	gate   chan struct{}
	called chan struct{}
}

func (b *fakeBacklog) add(seqs ...uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range seqs {
		b.events = append(b.events, testEvent(s, 10))
	}
}

func (b *fakeBacklog) EventsAfter(ctx context.Context, seq uint64, max int) ([]*ticketing.Event, error) {
	b.mu.Lock()
	first := len(b.calls) == 0
	b.calls = append(b.calls, seq)
	b.mu.Unlock()
	if first && b.gate != nil {
		close(b.called)
		select {
		case <-b.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if max <= 0 {
		return nil, errors.New("fake backlog: max must be positive")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	var out []*ticketing.Event
	for _, ev := range b.events {
		if ev.Seq > seq && len(out) < max && (b.short == 0 || len(out) < b.short) {
			out = append(out, ev)
		}
	}
	return out, nil
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestResumeReplaysMissedEventsOnce(t *testing.T) {
	backlog := &fakeBacklog{gate: make(chan struct{}), called: make(chan struct{})}
	backlog.add(seqRange(1, 600)...)
	n := newTestNode(t, Options{Backlog: backlog}, nil)
	n.hub.Publish(testEvent(600, 10))

	c := mustDial(t, n, "anna", "since=100", nil)
	select {
	case <-backlog.called:
	case <-time.After(waitFor):
		t.Fatal("the backlog was never asked")
	}
	// Live events arrive while the replay is under way; they are in the
	// stream too, so the replay also returns them.
	backlog.add(601, 602)
	n.hub.Publish(testEvent(601, 10))
	n.hub.Publish(testEvent(602, 10))
	unsequenced := testEvent(0, 10)
	unsequenced.Message.ID = "m-unsequenced"
	n.hub.Publish(unsequenced)
	close(backlog.gate)

	if f := c.nextOf("hello"); f.Seq != 600 {
		t.Fatalf("hello seq = %d, want 600", f.Seq)
	}
	c.expectEvents(seqRange(101, 602)...)
	if f := c.nextOf(ticketing.EventMessageCreated); f.Seq != 0 || f.Message.ID != "m-unsequenced" {
		t.Fatalf("after the replay: %+v, want the unsequenced event", f)
	}
	n.hub.Publish(testEvent(603, 10))
	c.expectEvents(603) // 601 and 602 were not sent twice

	backlog.mu.Lock()
	calls := slices.Clone(backlog.calls)
	backlog.mu.Unlock()
	if want := []uint64{100, 356}; !slices.Equal(calls, want) {
		t.Fatalf("backlog calls after %v, want %v", calls, want)
	}
	if st := n.hub.Stats(); st.EventsReplayed != 502 {
		t.Fatalf("replayed = %d, want 502", st.EventsReplayed)
	}
}

func TestResumeEdges(t *testing.T) {
	tests := []struct {
		name       string
		backlog    Backlog
		maxReplay  int
		seen       uint64 // the newest seq the hub has seen before the console connects
		query      string
		wantEvents []uint64
		wantResync uint64 // 0: no resync frame
	}{
		{
			name: "short pages",
			backlog: func() Backlog {
				b := &fakeBacklog{short: 100}
				b.add(seqRange(1, 350)...)
				return b
			}(),
			query:      "since=0",
			wantEvents: seqRange(1, 350),
		},
		{
			name: "up to the seq the hub has seen",
			backlog: func() Backlog {
				b := &fakeBacklog{short: 100}
				b.add(seqRange(1, 350)...)
				return b
			}(),
			seen:       150,
			query:      "since=20",
			wantEvents: seqRange(21, 220), // the second page passes 150; the rest comes live
		},
		{
			name: "missed events expired",
			backlog: func() Backlog {
				b := &fakeBacklog{}
				b.add(seqRange(40, 60)...)
				return b
			}(),
			seen:       60,
			query:      "since=10",
			wantResync: 10,
		},
		{
			name:       "console ahead of the hub",
			backlog:    &fakeBacklog{},
			seen:       50,
			query:      "since=100",
			wantResync: 50,
		},
		{
			name:       "no backlog",
			query:      "since=5",
			wantResync: 5,
		},
		{
			name:       "backlog fails",
			backlog:    &fakeBacklog{err: errors.New("stream unavailable")},
			query:      "since=5",
			wantResync: 5,
		},
		{
			name: "too many missed",
			backlog: func() Backlog {
				b := &fakeBacklog{}
				b.add(seqRange(1, 1000)...)
				return b
			}(),
			maxReplay:  300,
			query:      "since=0",
			wantEvents: seqRange(1, 512),
			wantResync: 512,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, Options{Backlog: tt.backlog, MaxReplay: tt.maxReplay}, nil)
			if tt.seen > 0 {
				n.hub.Publish(testEvent(tt.seen, 10))
			}
			c := mustDial(t, n, "anna", tt.query, nil)
			if f := c.nextOf("hello"); f.Seq != tt.seen {
				t.Fatalf("hello seq = %d, want %d", f.Seq, tt.seen)
			}
			c.expectEvents(tt.wantEvents...)
			if tt.wantResync > 0 {
				if f := c.nextOf("resync"); f.Seq != tt.wantResync {
					t.Fatalf("resync seq = %d, want %d", f.Seq, tt.wantResync)
				}
			}
			n.hub.Publish(testEvent(2000, 10))
			c.expectEvents(2000)
		})
	}
}

func TestBadRequests(t *testing.T) {
	n := newTestNode(t, Options{}, nil)
	resp, err := http.Get(n.srv.URL + "/live?agent=anna&since=yesterday")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error errorBody }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body.Error.Code != ticketing.EInvalid ||
		!strings.HasPrefix(body.Error.Message, "since:") {
		t.Fatalf("status %d, body %+v", resp.StatusCode, body)
	}
}

func TestConsoleFrames(t *testing.T) {
	n := newTestNode(t, Options{MaxMessageBytes: 1024}, nil)
	c := mustDial(t, n, "anna", "", nil)
	c.nextOf("hello")

	c.send(map[string]string{"type": "ping"})
	c.nextOf("pong")
	for _, bad := range []any{
		"not an object",
		map[string]string{"type": "dance"},
		map[string]string{"type": "presence", "ticket_id": "t1", "state": "asleep"},
		map[string]string{"type": "presence", "ticket_id": "", "state": "viewing"},
		map[string]string{"type": "presence", "ticket_id": "t 1", "state": "viewing"},
	} {
		c.send(bad)
		if f := c.nextOf("error"); f.Error.Code != ticketing.EInvalid || f.Error.Message == "" {
			t.Fatalf("%v: error frame %+v", bad, f)
		}
	}
	c.send(map[string]string{"type": "ping"}) // still open
	c.nextOf("pong")

	c.send(map[string]string{"type": "ping", "pad": strings.Repeat("x", 2048)})
	c.expectClose(websocket.CloseMessageTooBig)
	poll(t, "the session to end", func() bool { return n.hub.Stats().Sessions == 0 })
}

// fakeRelay stands in for natsbus between nodes: every subscriber of a
// topic, on every node, gets each payload, in order.
type fakeRelay struct {
	mu   sync.Mutex
	next int
	subs map[string]map[int]func([]byte) bool
}

func newFakeRelay() *fakeRelay {
	return &fakeRelay{subs: make(map[string]map[int]func([]byte) bool)}
}

func (r *fakeRelay) handlers(topic string) []func([]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var fns []func([]byte) bool
	for _, fn := range r.subs[topic] {
		fns = append(fns, fn)
	}
	return fns
}

func (r *fakeRelay) Publish(_ context.Context, topic string, payload []byte) error {
	for _, fn := range r.handlers(topic) {
		fn(payload)
	}
	return nil
}

func (r *fakeRelay) Request(_ context.Context, topic string, payload []byte) (bool, error) {
	handled := false
	for _, fn := range r.handlers(topic) {
		handled = fn(payload) || handled
	}
	return handled, nil
}

func (r *fakeRelay) Subscribe(topic string, fn func([]byte) bool) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := r.next
	if r.subs[topic] == nil {
		r.subs[topic] = make(map[int]func([]byte) bool)
	}
	r.subs[topic][id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs[topic], id)
	}, nil
}

var _ ticketing.Relay = (*fakeRelay)(nil)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// expectPresence reads presence frames and checks them as a set.
func (c *testClient) expectPresence(want ...string) {
	c.t.Helper()
	var got []string
	for range want {
		f := c.nextOf("presence")
		if f.Agent.Name != "Agent "+f.Agent.ID {
			c.t.Fatalf("presence agent = %+v", f.Agent)
		}
		got = append(got, f.TicketID+" "+f.Agent.ID+" "+f.State)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		c.t.Fatalf("presence = %q, want %q", got, want)
	}
}

func TestPresence(t *testing.T) {
	tests := []struct {
		name  string
		nodes func(t *testing.T) (a, b *testNode)
	}{
		{"one node", func(t *testing.T) (a, b *testNode) {
			n := newTestNode(t, Options{}, nil)
			return n, n
		}},
		{"two nodes over a relay", func(t *testing.T) (a, b *testNode) {
			relay := newFakeRelay()
			return newTestNode(t, Options{Relay: relay}, nil), newTestNode(t, Options{Relay: relay}, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodeA, nodeB := tt.nodes(t)
			// A still clock: repeats fall inside presenceMinInterval until
			// the test moves it.
			clock := &fakeClock{t: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)}
			nodeA.hub.now, nodeB.hub.now = clock.Now, clock.Now
			anna := mustDial(t, nodeA, "anna", "", nil)
			bo := mustDial(t, nodeB, "bo", "", nil)
			anna.nextOf("hello")
			bo.nextOf("hello")

			anna.send(clientFrame{Type: "presence", TicketID: "t1", State: "viewing"})
			anna.expectPresence("t1 anna viewing") // every session hears it, the sender too
			bo.expectPresence("t1 anna viewing")

			// Bo opens the ticket and is told that Anna is there.
			bo.send(clientFrame{Type: "presence", TicketID: "t1", State: "viewing"})
			bo.expectPresence("t1 bo viewing", "t1 anna viewing")
			anna.expectPresence("t1 bo viewing")

			bo.send(clientFrame{Type: "presence", TicketID: "t1", State: "typing"})
			bo.send(clientFrame{Type: "presence", TicketID: "t1", State: "typing"}) // a repeat is not relayed
			bo.send(clientFrame{Type: "ping"})
			anna.expectPresence("t1 bo typing")
			bo.expectPresence("t1 bo typing")
			bo.nextOf("pong")

			// Bo's console goes away: the others hear that Bo left.
			bo.conn.Close()
			anna.expectPresence("t1 bo left")
			// A repeat is not relayed, and nobody else is there: only the pong.
			anna.send(clientFrame{Type: "presence", TicketID: "t1", State: "viewing"})
			anna.send(clientFrame{Type: "ping"})
			anna.nextOf("pong")
			// A refresh after presenceMinInterval is relayed.
			clock.Add(presenceMinInterval)
			anna.send(clientFrame{Type: "presence", TicketID: "t1", State: "viewing"})
			anna.expectPresence("t1 anna viewing")
		})
	}
}

func TestAgentsOnline(t *testing.T) {
	relay := newFakeRelay()
	n := newTestNode(t, Options{Relay: relay}, nil)
	online := func() bool {
		ok, err := relay.Request(context.Background(), "agents.online", nil)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	changed := make(chan struct{}, 10)
	if _, err := relay.Subscribe(topicAgentsChanged, func([]byte) bool { changed <- struct{}{}; return false }); err != nil {
		t.Fatal(err)
	}
	waitChanged := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(waitFor):
			t.Fatalf("no agents.changed when %s", what)
		}
	}
	if online() {
		t.Fatal("online with no sessions")
	}
	// With no session the node does not even listen: nobody online is
	// answered at once by "no responders" on a real bus.
	if len(relay.handlers(topicAgentsOnline)) != 0 {
		t.Fatal("the node answers agents.online with no session")
	}
	c := mustDial(t, n, "anna", "", nil)
	c.nextOf("hello")
	waitChanged("the first agent came")
	if !online() {
		t.Fatal("not online with a session")
	}
	c2 := mustDial(t, n, "bo", "", nil)
	c2.nextOf("hello")
	c2.conn.Close()
	c.conn.Close()
	waitChanged("the last agent left")
	if online() {
		t.Fatal("online after the last session left")
	}
	if len(relay.handlers(topicAgentsOnline)) != 0 {
		t.Fatal("the node still answers agents.online")
	}
	if len(changed) != 0 {
		t.Fatalf("%d more agents.changed; want one per first and last session", len(changed))
	}
}

func TestDisconnectAgent(t *testing.T) {
	relay := newFakeRelay()
	nodeA, nodeB := newTestNode(t, Options{Relay: relay}, nil), newTestNode(t, Options{Relay: relay}, nil)
	anna1 := mustDial(t, nodeA, "anna", "", nil)
	anna2 := mustDial(t, nodeA, "anna", "", nil)
	annaB := mustDial(t, nodeB, "anna", "", nil)
	bo := mustDial(t, nodeA, "bo", "", nil)
	for _, c := range []*testClient{anna1, anna2, annaB, bo} {
		c.nextOf("hello")
	}
	nodeA.hub.DisconnectAgent("anna")
	for _, c := range []*testClient{anna1, anna2, annaB} {
		if f := c.nextOf("error"); f.Error.Code != ticketing.EUnauthorized {
			t.Fatalf("error frame = %+v", f)
		}
		c.expectClose(websocket.ClosePolicyViolation)
	}
	poll(t, "anna's sessions to end", func() bool {
		return nodeA.hub.Stats().Sessions == 1 && nodeB.hub.Stats().Sessions == 0
	})
	nodeA.hub.Publish(testEvent(1, 10))
	bo.expectEvents(1)
}

func TestCloseClosesSockets(t *testing.T) {
	n := newTestNode(t, Options{}, nil)
	anna := mustDial(t, n, "anna", "", nil)
	bo := mustDial(t, n, "bo", "", nil)
	mute := mustDial(t, n, "mute", "", nil) // never answers the close
	for _, c := range []*testClient{anna, bo, mute} {
		c.nextOf("hello")
	}
	closed := make(chan struct{})
	go func() {
		n.hub.Close()
		close(closed)
	}()
	for _, c := range []*testClient{anna, bo} {
		c.expectClose(websocket.CloseGoingAway)
	}
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	if st := n.hub.Stats(); st.Sessions != 0 {
		t.Fatalf("sessions after Close = %d", st.Sessions)
	}
	_, resp, err := websocket.DefaultDialer.Dial(n.url("anna", ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v, %v", err, resp)
	}
	n.hub.Close() // twice is fine
}

// A console resuming with since= is told, as it would have been live, that
// a ticket moved to a team it may not see: ticket.removed, no more.
func TestResumeTellsOfTicketsThatLeftScope(t *testing.T) {
	backlog := &fakeBacklog{}
	backlog.add(1)
	moved := testEvent(2, 10)
	moved.Type, moved.Message = ticketing.EventTicketUpdated, nil
	moved.Ticket.TeamID = "sales"
	backlog.mu.Lock()
	backlog.events = append(backlog.events, moved)
	backlog.mu.Unlock()
	backlog.add(3) // a later message on it: not sent either
	backlog.events[2].Ticket.TeamID = "sales"
	n := newTestNode(t, Options{Backlog: backlog}, nil)
	n.hub.Publish(testEvent(3, 10))

	c := mustDial(t, n, "anna", "team=returns&since=0", nil)
	c.nextOf("hello")
	if f := c.next(); f.Type != ticketing.EventMessageCreated || f.Seq != 1 {
		t.Fatalf("first replayed frame %+v, want message 1", f)
	}
	if f := c.next(); f.Type != "ticket.removed" || f.TicketID != "t1" || f.Ticket != nil || f.Seq != 2 {
		t.Fatalf("second frame %+v, want ticket.removed of t1 with nothing else", f)
	}
	c.send(map[string]string{"type": "ping"})
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("after the replay: %+v, want only the pong (message 3 is the sales team's)", f)
	}
}
