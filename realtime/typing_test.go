package realtime

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

func TestCustomerTypingReachesConsoles(t *testing.T) {
	relay := newFakeRelay()
	node := newTestNode(t, Options{Relay: relay}, nil)
	anna := mustDial(t, node, "anna", "", nil)
	anna.nextOf("hello")
	if err := relay.Publish(context.Background(), topicCustomerTyping, []byte(`{"customer_id":"c1","typing":true}`)); err != nil {
		t.Fatal(err)
	}
	f := anna.nextOf("customer.typing")
	if f.CustomerID != "c1" || !f.Typing {
		t.Fatalf("frame = %+v", f)
	}
	// Malformed payloads are dropped, not forwarded.
	_ = relay.Publish(context.Background(), topicCustomerTyping, []byte(`{"customer_id":"bad id <script>","typing":true}`))
	_ = relay.Publish(context.Background(), topicCustomerTyping, []byte(`{"customer_id":"c1","typing":false}`))
	if f := anna.nextOf("customer.typing"); f.CustomerID != "c1" || f.Typing {
		t.Fatalf("frame = %+v", f)
	}
}

// TestCustomerTypingCoalesced: a customer flipping their typing state as
// fast as frames go reaches consoles at most once per customerTypingEvery,
// and the last state always arrives.
func TestCustomerTypingCoalesced(t *testing.T) {
	relay := newFakeRelay()
	node := newTestNode(t, Options{Relay: relay}, nil)
	anna := mustDial(t, node, "anna", "", nil)
	anna.nextOf("hello")
	start := time.Now()
	for i := range 2000 {
		p := fmt.Sprintf(`{"customer_id":"c1","typing":%t}`, i%2 == 0)
		if err := relay.Publish(context.Background(), topicCustomerTyping, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	// Another customer is not held up by the first.
	_ = relay.Publish(context.Background(), topicCustomerTyping, []byte(`{"customer_id":"c2","typing":true}`))
	frames, sawC2 := 0, false
	for {
		f := anna.nextOf("customer.typing")
		if f.CustomerID == "c2" {
			sawC2 = true
			continue
		}
		frames++
		if !f.Typing && frames > 1 {
			break // the flood's last word
		}
	}
	elapsed := time.Since(start)
	if max := 2 + int(elapsed/customerTypingEvery); frames > max {
		t.Fatalf("%d customer.typing frames for one customer in %v; want at most %d", frames, elapsed, max)
	}
	if !sawC2 {
		if f := anna.nextOf("customer.typing"); f.CustomerID != "c2" {
			t.Fatalf("frame = %+v, want c2", f)
		}
	}
}

// TestTypingFloodNeverCutsConsole: typing of many customers at once fills
// no console's buffer: a console that cannot keep up misses typing frames
// but stays connected and gets every event.
func TestTypingFloodNeverCutsConsole(t *testing.T) {
	relay := newFakeRelay()
	n := newTestNode(t, Options{Relay: relay, BufferSize: 8}, func(l net.Listener) net.Listener { return smallBuffers{l} })
	slowDialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(8 << 10)
		}
		return c, err
	}}
	slow := mustDial(t, n, "slow", "", slowDialer) // does not read during the flood
	poll(t, "the session to register", func() bool { return n.hub.Stats().Sessions == 1 })
	for i := range 5000 {
		p := fmt.Sprintf(`{"customer_id":"c%d","typing":true}`, i)
		_ = relay.Publish(context.Background(), topicCustomerTyping, []byte(p))
	}
	if st := n.hub.Stats(); st.SlowConsumers != 0 || st.EphemeralDropped == 0 {
		t.Fatalf("stats after the flood = %+v; want no slow consumer and dropped typing frames", st)
	}
	n.hub.Publish(testEvent(1, 10))
	slow.nextOf("hello")
	for {
		f := slow.next()
		if f.Type == "customer.typing" {
			continue
		}
		if f.Type != ticketing.EventMessageCreated || f.Seq != 1 {
			t.Fatalf("frame = %+v, want the event", f)
		}
		break
	}
	if st := n.hub.Stats(); st.SlowConsumers != 0 || st.Sessions != 1 {
		t.Fatalf("stats = %+v", st)
	}
}
