package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// TestErasureWithMessagesInFlight: while a customer is erased, messages of
// theirs are published to SVAR_INBOUND (before and during the erasure).
// Afterwards nothing is half-made. Each message either went with the
// erased customer (it is gone) or made a new customer wholly: the message
// is on a live ticket of a customer who exists, owns the address and lists
// the ticket. The erased customer's tickets are all tombstones, and the
// erased id owns nothing. Several rounds, so that the messages meet the
// erasure at different steps.
func TestErasureWithMessagesInFlight(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()
	const rounds, inFlight = 4, 12
	outcomes := map[string]int{}
	for round := range rounds {
		email := fmt.Sprintf("inflight-%d@example.se", round)
		if err := m.Bus.PublishInbound(ctx, envelope(email, fmt.Sprintf("<r%d-first@example.se>", round), "The first message")); err != nil {
			t.Fatal(err)
		}
		var cid string
		eventually(t, "the customer's first ticket", func() error {
			cust, err := m.Service.CustomerByIdentity(ctx, ticketing.IdentityEmail+":"+email)
			if err != nil {
				return err
			}
			if len(cust.TicketIDs) == 0 {
				return fmt.Errorf("no ticket yet")
			}
			cid = cust.ID
			return nil
		})

		envs := make([]*ticketing.Envelope, inFlight)
		for i := range envs {
			envs[i] = envelope(email, fmt.Sprintf("<r%d-m%d@example.se>", round, i), fmt.Sprintf("In flight %d", i))
		}
		// A few before the erasure, the rest while it runs.
		before := 2 + round
		for _, e := range envs[:before] {
			if err := m.Bus.PublishInbound(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range envs[before:] {
				if err := m.Bus.PublishInbound(ctx, e); err != nil {
					t.Error(err)
				}
			}
		}()
		r := c.do("DELETE", "/api/v1/customers/"+cid, nil)
		wg.Wait()
		if r.status != 200 {
			t.Fatalf("erase: %d %s", r.status, r.body)
		}
		waitInboundDrained(t, m)

		// The erased customer owns nothing, and every message either went
		// or made a new customer wholly, once the nodes are done with them.
		var got map[string]int
		eventually(t, fmt.Sprintf("round %d: nothing half-made", round), func() error {
			var err error
			got, err = checkErased(ctx, m, cid, email, envs, inFlight+2)
			return err
		})
		for k, v := range got {
			outcomes[k] += v
		}
	}
	t.Logf("outcomes of %d messages in flight: %v", rounds*inFlight, outcomes)
}

// waitInboundDrained waits until SVAR_INBOUND holds nothing (every envelope
// processed and acknowledged, redeliveries included) and nothing went to
// the dead letters.
func waitInboundDrained(t *testing.T, m *Main) {
	t.Helper()
	ctx := t.Context()
	js := m.Bus.JetStream()
	eventually(t, "the inbound stream drained", func() error {
		st, err := js.Stream(ctx, m.Bus.StreamName(natsbus.StreamInbound))
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d envelopes left", info.State.Msgs)
		}
		// An envelope the erasure deleted from the stream may still be in
		// a node's hands: wait until the core's consumer has none.
		ci, err := st.Consumer(ctx, natsbus.CoreConsumer)
		if err != nil {
			return err
		}
		cinfo, err := ci.Info(ctx)
		if err != nil {
			return err
		}
		if cinfo.NumAckPending != 0 || cinfo.NumPending != 0 || cinfo.NumWaiting == 0 {
			return fmt.Errorf("consumer: %d unacknowledged, %d pending, %d pulls waiting", cinfo.NumAckPending, cinfo.NumPending, cinfo.NumWaiting)
		}
		return nil
	})
	st, err := js.Stream(ctx, m.Bus.StreamName(natsbus.StreamDLQ))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Fatalf("%d dead letters", info.State.Msgs)
	}
}

// checkErased checks what is left of erased customer cid (address email)
// and of the envelopes sent while erasing them; it says how each message
// fared.
func checkErased(ctx context.Context, m *Main, cid, email string, envs []*ticketing.Envelope, tickets int) (map[string]int, error) {
	if _, err := m.Store.GetCustomer(ctx, cid); !ticketing.IsNotFound(err) {
		return nil, fmt.Errorf("the erased customer: %v", err)
	}
	for n := 1; n <= tickets; n++ {
		tk, err := m.Store.GetTicket(ctx, fmt.Sprintf("%s-%d", cid, n))
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !tk.Erased || len(tk.MessageIDs) != 0 || tk.Subject != "" || tk.CustomerID != "" {
			return nil, fmt.Errorf("ticket %s of the erased customer is half-made: %+v", tk.ID, tk)
		}
	}
	owner, err := m.Store.LookupIdentity(ctx, ticketing.IdentityEmail+":"+email)
	switch {
	case ticketing.IsNotFound(err):
	case err != nil:
		return nil, err
	case owner == cid:
		return nil, fmt.Errorf("the address still belongs to the erased customer")
	}
	out := map[string]int{}
	for _, e := range envs {
		msg, err := m.Store.GetMessage(ctx, e.MessageID())
		if ticketing.IsNotFound(err) {
			out["erased with the customer"]++
			continue
		}
		if err != nil {
			return nil, err
		}
		out["a new customer"]++
		if msg.CustomerID == cid || msg.CustomerID != owner || msg.Author.ID != owner {
			return nil, fmt.Errorf("message %s is the erased customer's or nobody's: customer %q, author %q, address owner %q",
				msg.ID, msg.CustomerID, msg.Author.ID, owner)
		}
		nc, err := m.Store.GetCustomer(ctx, owner)
		if err != nil {
			return nil, fmt.Errorf("the new customer of message %s: %v", msg.ID, err)
		}
		tk, err := m.Store.GetTicket(ctx, msg.TicketID)
		if err != nil || tk.Erased || tk.CustomerID != nc.ID || !slices.Contains(tk.MessageIDs, msg.ID) || !slices.Contains(nc.TicketIDs, tk.ID) {
			return nil, fmt.Errorf("message %s is on a half-made ticket: %+v (%v)", msg.ID, tk, err)
		}
	}
	return out, nil
}
