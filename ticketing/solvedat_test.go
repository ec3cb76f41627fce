package ticketing_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// TestSolvedAtOmittedOnOpenTickets: an open ticket's JSON has no solved_at
// (not 0001-01-01T00:00:00Z), in the API's view and in the events on the
// bus; a solved one has it, and reopening takes it away again.
func TestSolvedAtOmittedOnOpenTickets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.MustIngest(t, emailEnv("anna@example.se", "<solved-1@example.se>", "Var är mitt paket?"))
	v := f.customerTicket(t, "email:anna@example.se")
	id := v.Ticket.ID

	mustJSON := func(what string, x any, wantSolved bool) {
		t.Helper()
		raw, err := natsbus.Encode(x) // what the bus carries
		if err != nil {
			t.Fatal(err)
		}
		web, err := json.Marshal(x) // what the API writes
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{string(raw), string(web)} {
			if strings.Contains(b, "0001-01-01") {
				t.Fatalf("%s: a zero time in %s", what, b)
			}
			if has := strings.Contains(b, `"solved_at"`); has != wantSolved {
				t.Fatalf("%s: solved_at present=%v, want %v: %s", what, has, wantSolved, b)
			}
		}
	}
	mustJSON("open ticket", v.Ticket, false)
	mustJSON("open ticket view", v, false)

	solved := ticketing.StatusSolved
	st, err := f.svc.UpdateTicket(ctx, id, f.agent, ticketing.TicketUpdate{Status: &solved})
	if err != nil {
		t.Fatal(err)
	}
	mustJSON("solved ticket", st, true)

	f.advance(time.Hour)
	f.MustIngest(t, emailEnv("anna@example.se", "<solved-2@example.se>", "Det kom inte"))
	v = f.customerTicket(t, "email:anna@example.se")
	if v.Ticket.ID != id || v.Ticket.Status != ticketing.StatusOpen {
		t.Fatalf("not reopened: %+v", v.Ticket)
	}
	mustJSON("reopened ticket", v.Ticket, false)

	// The events the consoles and read models get say the same.
	var events []*ticketing.Event
	deadline := time.Now().Add(10 * time.Second)
	for len(events) < 3 && time.Now().Before(deadline) {
		events = events[:0]
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_ = f.bus.SubscribeEvents(sctx, 1, func(ev *ticketing.Event) {
			if ev.Ticket != nil && ev.Ticket.ID == id {
				events = append(events, ev)
			}
		})
		cancel()
	}
	if len(events) == 0 {
		t.Fatal("no ticket events")
	}
	for _, ev := range events {
		mustJSON("event "+ev.Type+" ("+ev.Ticket.Status+")", ev, ev.Ticket.Status == ticketing.StatusSolved)
	}
}
