package realtime

import (
	"context"
	"testing"
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
