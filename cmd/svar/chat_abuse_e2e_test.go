package main

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// TestChatTypingFloodClosesVisitorNotConsoles: a visitor sending typing
// frames as fast as the socket takes them is closed with 1008, while an
// agent's console stays connected and still gets the next real message.
func TestChatTypingFloodClosesVisitorNotConsoles(t *testing.T) {
	m := startNode(t, "", nil)
	agent := login(t, m)
	live := agent.live("")

	flooder := dialChat(t, m)
	flooder.send(map[string]string{"type": "hello"})
	flooder.next("welcome")
	flooder.say("hello, I will type a lot", "flood-1")
	waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "flood-1"
	})

	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for ; n < 200_000; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := flooder.ws.WriteJSON(map[string]any{"type": "typing", "typing": n%2 == 0}); err != nil {
				return
			}
		}
	}()
	var closeErr *websocket.CloseError
	flooder.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := flooder.ws.ReadMessage()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("the flooding visitor's socket ended with %v, want a close frame", err)
			}
			break
		}
	}
	close(stop)
	n := <-sent
	if closeErr.Code != websocket.ClosePolicyViolation || closeErr.Text == "" {
		t.Fatalf("the flooding visitor was closed with %d %q, want 1008 and a reason", closeErr.Code, closeErr.Text)
	}
	t.Logf("closed after %d typing frames: %d %q", n, closeErr.Code, closeErr.Text)

	// The console is still there and hears the next customer.
	other := dialChat(t, m)
	other.send(map[string]string{"type": "hello"})
	other.next("welcome")
	other.say("a real question", "real-1")
	waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "real-1"
	})
}
