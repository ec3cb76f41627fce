package natsbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// envelope returns a valid email envelope with the given external id.
func envelope(id string) *ticketing.Envelope {
	return &ticketing.Envelope{
		Channel:    ticketing.ChannelEmail,
		ExternalID: id,
		From:       ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "kund@example.se"},
		Name:       "Kund Kundsson",
		Subject:    "Var är mitt paket?",
		Text:       "Hej! Jag beställde för en vecka sedan. <order #1234> & inget har kommit.",
		HTML:       "<p>Hej! Jag beställde för en vecka sedan.</p><p>&lt;order #1234&gt;</p>",
		Thread:     ticketing.ThreadHints{InReplyTo: "<abc@example.se>", References: []string{"<abc@example.se>"}},
		ReceivedAt: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC),
		Meta:       map[string]string{"message_id": "<" + id + "@example.se>"},
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts fn on a goroutine owned by the test: the context is cancelled
// and fn awaited on cleanup, and its error checked.
func run(t testing.TB, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = fn(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err != nil {
			t.Errorf("consumer returned %v", err)
		}
	})
}

// recorder collects what handlers see, safely across goroutines.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	order []string
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}} }

func (r *recorder) add(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]++
	r.order = append(r.order, id)
	return r.calls[id]
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

func streamMsgs(t testing.TB, b *natsbus.Bus, base string) uint64 {
	t.Helper()
	ctx := ctxTimeout(t, 5*time.Second)
	s, err := b.JetStream().Stream(ctx, b.StreamName(base))
	if err != nil {
		t.Fatalf("stream %s: %v", base, err)
	}
	return s.CachedInfo().State.Msgs
}

// dlqMessages reads every dead letter stored so far.
func dlqMessages(t testing.TB, b *natsbus.Bus) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := ctxTimeout(t, 5*time.Second)
	s, err := b.JetStream().Stream(ctx, b.StreamName(natsbus.StreamDLQ))
	if err != nil {
		t.Fatalf("dlq stream: %v", err)
	}
	st := s.CachedInfo().State
	var out []*jetstream.RawStreamMsg
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dlq get %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func waitDLQ(t testing.TB, b *natsbus.Bus, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	eventually(t, 15*time.Second, fmt.Sprintf("%d dead letters", n), func() bool {
		return streamMsgs(t, b, natsbus.StreamDLQ) >= uint64(n)
	})
	return dlqMessages(t, b)
}

// serverAtLeast reports whether the connected server's version is at
// least major.minor.
func serverAtLeast(b *natsbus.Bus, major, minor int) bool {
	var maj, min int
	if _, err := fmt.Sscanf(b.Conn().ConnectedServerVersion(), "%d.%d", &maj, &min); err != nil {
		return false
	}
	return maj > major || maj == major && min >= minor
}
