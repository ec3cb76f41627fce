package ticketing_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// refusingStore is the real store with one twist: a message whose text is
// "refuse me" gets a meta key the store does not take ("$where"), standing
// in for any document the store refuses that validation cannot foresee
// (real MongoDB's 16 MB limit, say). The refusal itself is the store's.
type refusingStore struct{ ticketing.Store }

func (s refusingStore) InsertMessages(ctx context.Context, msgs []*ticketing.Message) ([]bool, error) {
	for _, m := range msgs {
		if m.Text == "refuse me" {
			m.Meta = map[string]string{"$where": "1"}
		}
	}
	return s.Store.InsertMessages(ctx, msgs)
}

// TestIngestPoisonAlone: one envelope of a batch that the store refuses
// goes to the dead letters alone; every other envelope of the batch is
// stored and threaded exactly once, on the first delivery and after
// redeliveries alike.
func TestIngestPoisonAlone(t *testing.T) {
	store := mongotest.New(t)
	url := natstest.NewServer(t)
	bus := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: natstest.Namespace(t), MaxDeliver: 3})
	svc := ticketing.New(ticketing.Options{Store: refusingStore{store}, Bus: bus})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var envs []*ticketing.Envelope
	for i := range 6 {
		e := emailEnv(fmt.Sprintf("kund%d@example.se", i), fmt.Sprintf("<poison-%d@example.se>", i), fmt.Sprintf("Hej, fråga nummer %d", i))
		envs = append(envs, e)
	}
	envs[2].Text = "refuse me"                              // the store refuses it
	envs[4].Meta = map[string]string{"a.b": "a dotted key"} // validation refuses it
	for _, e := range envs {
		if err := bus.PublishInbound(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	handled := map[string]int{}
	var wg sync.WaitGroup
	cctx, stop := context.WithCancel(ctx)
	wg.Go(func() {
		_ = bus.ConsumeInbound(cctx, func(ctx context.Context, batch []*ticketing.Envelope) []error {
			mu.Lock()
			for _, e := range batch {
				handled[e.ExternalID]++
			}
			mu.Unlock()
			return svc.Ingest(ctx, batch)
		})
	})
	defer func() { stop(); wg.Wait() }()

	dlq := waitStream(t, bus, natsbus.StreamDLQ, 2)
	waitLag0(t, bus)
	if dlq != 2 {
		t.Fatalf("%d dead letters, want 2 (the refused and the invalid envelope)", dlq)
	}
	for i, e := range envs {
		c, err := svc.CustomerByIdentity(ctx, e.From.Key())
		if i == 2 || i == 4 {
			if err == nil && c.CurrentTicketID != "" {
				if v, err := svc.TicketView(ctx, c.CurrentTicketID); err == nil && len(v.Messages) > 0 {
					t.Errorf("envelope %d (dead-lettered) is on ticket %s", i, c.CurrentTicketID)
				}
			}
			continue
		}
		if err != nil || c.CurrentTicketID == "" {
			t.Fatalf("envelope %d: no customer or ticket: %v", i, err)
		}
		v, err := svc.TicketView(ctx, c.CurrentTicketID)
		if err != nil {
			t.Fatalf("envelope %d: ticket: %v", i, err)
		}
		id := e.MessageID()
		if n := count(v.Ticket.MessageIDs, id); n != 1 {
			t.Errorf("envelope %d is %d times on its ticket, want once (ids %v)", i, n, v.Ticket.MessageIDs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, e := range envs {
		if i != 2 && handled[e.ExternalID] != 1 {
			t.Errorf("good envelope %d handled %d times, want once", i, handled[e.ExternalID])
		}
	}
}

func count(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

func waitStream(t *testing.T, b *natsbus.Bus, base string, atLeast uint64) uint64 {
	t.Helper()
	var n uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := b.JetStream().Stream(context.Background(), b.StreamName(base))
		if err == nil {
			n = s.CachedInfo().State.Msgs
			if n >= atLeast {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages, want at least %d", base, n, atLeast)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitLag0(t *testing.T, b *natsbus.Bus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := b.ConsumerLag(context.Background())
		if err == nil && lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer lag %d (%v), want 0", lag, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestValidateMetaKeys(t *testing.T) {
	v := ticketing.NewValidator()
	for _, tc := range []struct {
		name string
		meta map[string]string
		ok   bool
	}{
		{"plain keys", map[string]string{"message_id": "<a@b>", "sms-segments": "2"}, true},
		{"dollar", map[string]string{"$where": "1"}, false},
		{"dot", map[string]string{"a.b": "1"}, false},
		{"nul", map[string]string{"a\x00b": "1"}, false},
		{"empty key", map[string]string{"": "1"}, false},
		{"bad utf-8 key", map[string]string{"a\xff": "1"}, false},
		{"long key", map[string]string{strings.Repeat("k", 65): "1"}, false},
		{"long value", map[string]string{"k": strings.Repeat("v", 128<<10+1)}, false},
		{"too many bytes in all", func() map[string]string {
			m := map[string]string{}
			for i := range 5 {
				m[fmt.Sprintf("k%d", i)] = strings.Repeat("å", 60<<10) // 120 KiB each
			}
			return m
		}(), false},
		{"too many", func() map[string]string {
			m := map[string]string{}
			for i := range 31 {
				m[fmt.Sprintf("k%d", i)] = "v"
			}
			return m
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := emailEnv("anna@example.se", "<m@example.se>", "Hej")
			e.Meta = tc.meta
			err := v.Validate(e)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(ticketing.ErrorMessage(err), "meta") {
				t.Fatalf("error %q does not name meta", err)
			}
		})
	}
}
