package hours_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// countingState counts the reads that reach the store.
type countingState struct {
	ticketing.StateStore
	reads atomic.Int64
}

func (c *countingState) GetState(ctx context.Context, key string, v any) error {
	c.reads.Add(1)
	return c.StateStore.GetState(ctx, key, v)
}

// A team without hours of its own uses the shop's, and the node remembers
// that as it remembers a calendar it read: SLA clocks and auto-replies ask
// for it on every event.
func TestTeamWithoutHoursIsRememberedToo(t *testing.T) {
	st := &countingState{StateStore: mongotest.NewNodes(t, 1)[0]}
	now := time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := hours.NewService(st, clock)
	ctx := context.Background()
	shop, err := s.Calendar(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	before := st.reads.Load()
	for range 10 {
		cal, err := s.Calendar(ctx, "team-without-hours")
		if err != nil {
			t.Fatal(err)
		}
		if cal != shop {
			t.Fatal("a team without hours got another calendar than the shop's")
		}
	}
	if n := st.reads.Load() - before; n != 1 {
		t.Errorf("%d store reads for ten lookups of a team without hours, want 1", n)
	}
	// Once the cache is old, the shop's new hours apply to the team.
	in := hours.Default()
	in.Timezone = "Europe/Helsinki"
	if _, err := s.Put(ctx, "", in); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	cal, err := s.Calendar(ctx, "team-without-hours")
	if err != nil {
		t.Fatal(err)
	}
	if cal.Settings().Timezone != "Europe/Helsinki" {
		t.Errorf("team without hours has timezone %q after the shop's change, want Europe/Helsinki", cal.Settings().Timezone)
	}
}
