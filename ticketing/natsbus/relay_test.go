package natsbus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// inbox collects relayed payloads.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *inbox) fn(answer bool) func([]byte) bool {
	return func(p []byte) bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.msgs = append(in.msgs, string(p))
		return answer
	}
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

func subscribe(t *testing.T, r ticketing.Relay, topic string, fn func([]byte) bool) func() {
	t.Helper()
	cancel, err := r.Subscribe(topic, fn)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	t.Cleanup(cancel)
	return cancel
}

// flush makes sure a node's subscriptions have reached the server.
func flush(t *testing.T, r interface{ Ping(context.Context) error }) {
	t.Helper()
	if err := r.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestRelay(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	a, b, c := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	ctx := ctxTimeout(t, 20*time.Second)
	const topic = "chat.visitor.v-123_x"

	t.Run("no subscriber", func(t *testing.T) {
		ok, err := c.Request(ctx, topic, []byte("hello"))
		if ok || err != nil {
			t.Fatalf("Request with no subscriber = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("publish reaches every node", func(t *testing.T) {
		var ia, ib inbox
		subscribe(t, a, "presence.agent", ia.fn(false))
		subscribe(t, b, "presence.agent", ib.fn(false))
		flush(t, a)
		flush(t, b)
		if err := c.Publish(ctx, "presence.agent", []byte("online")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "both nodes hear it", func() bool { return ia.len() == 1 && ib.len() == 1 })
		if ia.msgs[0] != "online" {
			t.Errorf("payload %q", ia.msgs[0])
		}
	})

	t.Run("only the node holding the socket answers", func(t *testing.T) {
		var ia, ib inbox
		subscribe(t, a, topic, ia.fn(false)) // not this node's visitor
		subscribe(t, b, topic, ib.fn(true))  // this one has the socket
		flush(t, a)
		flush(t, b)
		ok, err := c.Request(ctx, topic, []byte("reply"))
		if !ok || err != nil {
			t.Fatalf("Request = %v, %v; want true, nil", ok, err)
		}
		if ib.len() != 1 {
			t.Errorf("the answering node saw %d payloads", ib.len())
		}
	})

	t.Run("subscribers that decline time out as false", func(t *testing.T) {
		var ia inbox
		subscribe(t, a, "chat.visitor.gone", ia.fn(false))
		flush(t, a)
		rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		ok, err := c.Request(rctx, "chat.visitor.gone", []byte("reply"))
		if ok || err != nil {
			t.Fatalf("Request = %v, %v; want false, nil", ok, err)
		}
		if ia.len() != 1 {
			t.Errorf("the declining node saw %d payloads, want 1", ia.len())
		}
	})

	t.Run("cancel unsubscribes", func(t *testing.T) {
		var ia inbox
		cancel := subscribe(t, a, "typing.t1", ia.fn(true))
		flush(t, a)
		if ok, err := c.Request(ctx, "typing.t1", nil); !ok || err != nil {
			t.Fatalf("Request before cancel = %v, %v", ok, err)
		}
		cancel()
		flush(t, a)
		if ok, err := c.Request(ctx, "typing.t1", nil); ok || err != nil {
			t.Fatalf("Request after cancel = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("bad topics", func(t *testing.T) {
		for _, topic := range []string{"", "chat.>", "chat.*", "chat..x", "chat.x y", ".chat", "chat."} {
			if err := c.Publish(ctx, topic, nil); ticketing.ErrorCode(err) != ticketing.EInvalid {
				t.Errorf("Publish(%q) = %v, want invalid", topic, err)
			}
			if _, err := c.Request(ctx, topic, nil); ticketing.ErrorCode(err) != ticketing.EInvalid {
				t.Errorf("Request(%q) = %v, want invalid", topic, err)
			}
			if _, err := c.Subscribe(topic, func([]byte) bool { return true }); ticketing.ErrorCode(err) != ticketing.EInvalid {
				t.Errorf("Subscribe(%q) = %v, want invalid", topic, err)
			}
		}
	})
}
