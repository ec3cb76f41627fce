package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestNodeSurvivesFullDisk fills the data dir's disk under a running node:
// while it is full the chat refuses messages with an error frame (no echo,
// so the widget keeps them) and /healthz names nats as failing; once space
// is freed the node repairs itself, without a restart: /healthz is ok, the
// customer's resent message is threaded once and the agent's reply reaches
// them. The disk is a 128 MiB tmpfs, so the test needs root; it is skipped
// otherwise.
func TestNodeSurvivesFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("filling a disk needs a tmpfs mount, which needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=128m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	m := startNode(t, filepath.Join(dir, "data"), nil)
	agent := login(t, m)
	live := agent.live("")

	cust := dialChat(t, m)
	cust.send(map[string]string{"type": "hello"})
	cust.next("welcome")
	cust.say("Hej! Före", "full-1")
	ticketID := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "full-1" && ev.Ticket != nil
	}).Ticket.ID

	health := func() (int, map[string]string) {
		t.Helper()
		res := agent.do("GET", "/healthz", nil)
		var out map[string]string
		res.decode(t, &out)
		return res.status, out
	}
	if code, out := health(); code != http.StatusOK {
		t.Fatalf("healthz before: %d %v", code, out)
	}

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for n := len(buf); n >= 512; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling the disk: %v", err)
				}
				break
			}
		}
	}
	f.Close()

	// The customer writes while the disk is full. What JetStream still
	// stores (a block's page with room) is acknowledged and echoed; the
	// first message it cannot store is refused with an error frame, never
	// echoed. Nothing echoed may be lost.
	long := strings.Repeat("Mitt paket har inte kommit. ", 130) // more than a page; under the chat's 4000
	var acked []string
	refused := ""
	for i := 0; i < 40 && refused == ""; i++ {
		id := "full-" + strconv.Itoa(i)
		cust.send(map[string]string{"type": "message", "text": long, "client_id": id})
		for {
			cust.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			var fr struct {
				e2eChatFrame
				ClientID string `json:"client_id"`
			}
			if err := cust.ws.ReadJSON(&fr); err != nil {
				t.Fatalf("waiting for %s's echo or refusal: %v", id, err)
			}
			if fr.Type == "message" && fr.Message != nil && fr.Message.ClientID == id {
				acked = append(acked, id)
				break
			}
			if fr.Type == "error" {
				if fr.Error.Code != "unavailable" {
					t.Fatalf("refused for another reason: %+v", fr.Error)
				}
				refused = id
				break
			}
		}
	}
	if refused == "" {
		t.Fatalf("40 messages to a full disk were all taken")
	}
	t.Logf("taken on the full disk: %d; refused: %s", len(acked), refused)
	if code, out := health(); code != http.StatusServiceUnavailable || !strings.HasPrefix(out["nats"], "error") {
		t.Fatalf("healthz on a full disk: %d %v, want 503 naming nats", code, out)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, out := health()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz after freeing space: %d %v", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The widget resends what was refused; now it is taken, and everything
	// is on the ticket exactly once.
	cust.say(long, refused)
	want := append([]string{"full-1", refused}, acked...)
	eventually(t, "every message on its ticket once", func() error {
		res := agent.do("GET", "/api/v1/tickets/"+ticketID, nil)
		var view struct{ Messages []ticketing.Message }
		res.decode(t, &view)
		for _, id := range want {
			n := 0
			for _, msg := range view.Messages {
				if msg.ClientID == id {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("%s is on the ticket %d times", id, n)
			}
		}
		return nil
	})
	res := agent.do("POST", "/api/v1/tickets/"+ticketID+"/messages", map[string]any{"text": "Vi kollar!"})
	if res.status != http.StatusCreated {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	if got := cust.next("message").Message; got.Text != "Vi kollar!" {
		t.Fatalf("the customer got %+v, want the reply", got)
	}
}
