package realtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/realtime"
	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// Compile-time check: the bus is the hub's backlog.
var _ realtime.Backlog = (*natsbus.Bus)(nil)

// natsNode is a Svar node wired the way cmd/svar wires it: its own bus
// connection, the events subscription feeding the hub, the bus as backlog
// and relay.
type natsNode struct {
	hub *realtime.Hub
	srv *httptest.Server
}

func startNATSNode(t *testing.T, bus *natsbus.Bus, from uint64) *natsNode {
	t.Helper()
	hub := realtime.New(realtime.Options{Logger: natstest.Logger(t), Backlog: bus, Relay: bus})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := bus.SubscribeEvents(ctx, from, hub.Publish); err != nil {
			t.Errorf("subscribe events: %v", err)
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("agent")
		hub.ServeAgent(w, r, &ticketing.Agent{ID: id, Name: "Agent " + id, Active: true}, ticketing.System)
	}))
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		hub.Close()
		srv.Close()
	})
	return &natsNode{hub: hub, srv: srv}
}

type natsFrame struct {
	Type     string              `json:"type"`
	Seq      uint64              `json:"seq"`
	Message  *ticketing.Message  `json:"message"`
	TicketID string              `json:"ticket_id"`
	Agent    struct{ ID string } `json:"agent"`
	State    string              `json:"state"`
}

func dialNode(t *testing.T, n *natsNode, agent, query string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/live?agent=" + agent
	if query != "" {
		u += "&" + query
	}
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", agent, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t *testing.T, c *websocket.Conn, typ string) natsFrame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f natsFrame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatalf("read %s frame: %v", typ, err)
	}
	if f.Type != typ {
		t.Fatalf("frame %+v, want type %s", f, typ)
	}
	return f
}

func publishEvents(t *testing.T, bus *natsbus.Bus, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		ev := &ticketing.Event{
			Type:    ticketing.EventMessageCreated,
			Ticket:  &ticketing.Ticket{ID: "t1"},
			Message: &ticketing.Message{ID: fmt.Sprintf("m%d", i), TicketID: "t1", Text: "Hej!"},
			At:      time.Now().UTC(),
		}
		seq, err := bus.PublishEventSync(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i) {
			t.Fatalf("event m%d stored as seq %d", i, seq)
		}
	}
}

func readEvents(t *testing.T, c *websocket.Conn, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		f := readFrame(t, c, ticketing.EventMessageCreated)
		if f.Seq != uint64(i) || f.Message == nil || f.Message.ID != fmt.Sprintf("m%d", i) {
			t.Fatalf("event seq %d message %+v, want seq %d", f.Seq, f.Message, i)
		}
	}
}

// TestNodesOverNATS runs two nodes on one NATS server: events reach
// consoles on both, presence crosses nodes, agents.online answers, and a
// console that reconnects catches up from the real stream.
func TestNodesOverNATS(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	busA, busB := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	ctx := context.Background()

	online, err := busA.Request(ctx, "agents.online", nil)
	if err != nil || online {
		t.Fatalf("agents.online before any node: %v, %v", online, err)
	}

	// Subscribing after a known seq leaves no window for missed events.
	publishEvents(t, busA, 1, 1)
	nodeA, nodeB := startNATSNode(t, busA, 1), startNATSNode(t, busB, 1)
	anna := dialNode(t, nodeA, "anna", "")
	bo := dialNode(t, nodeB, "bo", "")
	readFrame(t, anna, "hello")
	readFrame(t, bo, "hello")

	publishEvents(t, busA, 2, 4)
	readEvents(t, anna, 2, 4)
	readEvents(t, bo, 2, 4)

	if online, err := busA.Request(ctx, "agents.online", nil); err != nil || !online {
		t.Fatalf("agents.online with sessions: %v, %v", online, err)
	}

	if err := anna.WriteJSON(map[string]string{"type": "presence", "ticket_id": "t1", "state": "viewing"}); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, bo, "presence"); f.TicketID != "t1" || f.Agent.ID != "anna" || f.State != "viewing" {
		t.Fatalf("bo heard %+v", f)
	}

	// Bo drops off, misses three events, and comes back with since=4.
	bo.Close()
	publishEvents(t, busA, 5, 7)
	deadline := time.Now().Add(10 * time.Second)
	for nodeB.hub.Stats().LastSeq < 7 {
		if time.Now().After(deadline) {
			t.Fatal("node B never saw event 7")
		}
		time.Sleep(5 * time.Millisecond)
	}
	bo = dialNode(t, nodeB, "bo", "since=4")
	if f := readFrame(t, bo, "hello"); f.Seq != 7 {
		t.Fatalf("hello seq = %d, want 7", f.Seq)
	}
	readEvents(t, bo, 5, 7)
	publishEvents(t, busA, 8, 8)
	readEvents(t, bo, 8, 8)
	if st := nodeB.hub.Stats(); st.EventsReplayed != 3 {
		t.Fatalf("replayed = %d, want 3", st.EventsReplayed)
	}

	// Bo opens the ticket on node B and is told that Anna (node A) is there.
	if err := bo.WriteJSON(map[string]string{"type": "presence", "ticket_id": "t1", "state": "viewing"}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for range 2 {
		f := readFrame(t, bo, "presence")
		seen[f.Agent.ID] = f.State
	}
	if seen["anna"] != "viewing" || seen["bo"] != "viewing" {
		t.Fatalf("bo's presence frames: %v", seen)
	}

	// Bo is deactivated on node A; his console on node B is closed.
	nodeA.hub.DisconnectAgent("bo")
	_ = bo.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f natsFrame
		err := bo.ReadJSON(&f)
		if websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			break
		}
		if err != nil || f.Type == ticketing.EventMessageCreated {
			t.Fatalf("after the disconnect: frame %+v, err %v", f, err)
		}
	}
}
