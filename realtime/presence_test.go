package realtime

import (
	"slices"
	"testing"
	"time"
)

func TestPresenceBookExpires(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	report := func(ticket, agent, name, state string) presenceFrame {
		return presenceFrame{Type: "presence", TicketID: ticket, Agent: agentRef{ID: agent, Name: name}, State: state, At: t0}
	}
	b := newPresenceBook(30 * time.Second)
	b.update(report("t1", "anna", "Anna", stateViewing), t0)
	b.update(report("t1", "bo", "Bo", stateTyping), t0.Add(10*time.Second))
	b.update(report("t1", "cleo", "Cleo", stateViewing), t0.Add(10*time.Second))
	b.update(report("t1", "cleo", "Cleo", stateLeft), t0.Add(11*time.Second))
	b.update(report("t2", "dan", "Dan", stateViewing), t0.Add(12*time.Second))

	tests := []struct {
		name   string
		ticket string
		at     time.Duration
		except string
		want   []string
	}{
		{"everyone there, by name", "t1", 20 * time.Second, "", []string{"anna viewing", "bo typing"}},
		{"not the asking agent", "t1", 20 * time.Second, "anna", []string{"bo typing"}},
		{"stale reports expire", "t1", 30 * time.Second, "", []string{"bo typing"}},
		{"all expired", "t1", 40 * time.Second, "", nil},
		{"another ticket", "t2", 20 * time.Second, "", []string{"dan viewing"}},
		{"unknown ticket", "t3", 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range b.snapshot(tt.ticket, t0.Add(tt.at), tt.except) {
				got = append(got, f.Agent.ID+" "+f.State)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("snapshot = %q, want %q", got, tt.want)
			}
		})
	}

	// A later update sweeps what expired, so idle tickets do not pile up.
	b.update(report("t4", "anna", "Anna", stateViewing), t0.Add(time.Minute))
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.tickets) != 1 || len(b.tickets["t4"]) != 1 {
		t.Fatalf("after the sweep: %v", b.tickets)
	}
}
