package natsbus_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// EraseMatching finds a customer's copies among many other messages in
// every stream: events over several direct-get batches, inbound
// envelopes waiting in a work queue, jobs due now and jobs waiting as
// scheduled messages; it deletes those and nothing else, with batched
// direct gets (the events read in four ranges at once) and with the older
// servers' way.
func TestEraseMatchingFindsEveryCopyAndNothingElse(t *testing.T) {
	old := natsbus.SetDirectPartMin(1000)
	t.Cleanup(func() { natsbus.SetDirectPartMin(old) })
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched direct gets %v", batch), func(t *testing.T) {
			bus := natstest.New(t)
			natsbus.SetBatchGet(bus, batch)
			ctx := ctxTimeout(t, 60*time.Second)
			needle := "erase-me-" + ticketing.NewID()
			const events = 4500 // three batches
			want := 0
			for i := range events {
				text := fmt.Sprintf("message %d of another customer", i)
				if i%97 == 0 {
					text, want = "mail from "+needle+"@example.se", want+1
				}
				ev := &ticketing.Event{Type: ticketing.EventMessageCreated, Message: &ticketing.Message{ID: fmt.Sprint("m", i), Text: text}}
				if err := bus.PublishEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			<-bus.JetStream().PublishAsyncComplete()
			for i := range 30 {
				env := envelope(fmt.Sprint("env-", i))
				if i%10 == 0 {
					env.From.Value, want = needle+"@example.se", want+1
				}
				if err := bus.PublishInbound(ctx, env); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 40 {
				at := time.Now().Add(time.Hour) // waits as a scheduled message
				if i%2 == 0 {
					at = time.Now() // due: on the jobs subject itself
				}
				payload := []byte(`{"ticket":"other"}`)
				if i%8 == 0 {
					payload, want = []byte(`{"ticket":"`+needle+`"}`), want+1
				}
				if err := bus.Schedule(ctx, "erasetest", fmt.Sprint("job-", i), at, payload); err != nil {
					t.Fatal(err)
				}
			}
			// Found by a header only: the job's key names the customer.
			if err := bus.Schedule(ctx, "erasetest", "job-"+needle, time.Now().Add(time.Hour), []byte(`{"ticket":"other"}`)); err != nil {
				t.Fatal(err)
			}
			want++
			js := bus.JetStream()
			count := func() (total, matching int) {
				for _, name := range []string{natsbus.StreamEvents, natsbus.StreamInbound, natsbus.StreamJobs} {
					st, err := js.Stream(ctx, bus.StreamName(name))
					if err != nil {
						t.Fatal(err)
					}
					s := st.CachedInfo().State
					for seq := s.FirstSeq; seq <= s.LastSeq && s.Msgs > 0; seq++ {
						m, err := st.GetMsg(ctx, seq)
						if err != nil {
							continue // deleted
						}
						total++
						if bytes.Contains(m.Data, []byte(needle)) {
							matching++
						}
					}
				}
				return total, matching
			}
			total, matching := count()
			if matching != want-1 { // the header-only job is not in a payload
				t.Fatalf("%d copies in the streams before, want %d", matching, want)
			}
			n, err := bus.EraseMatching(ctx, [][]byte{[]byte(needle)})
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("erased %d messages, want %d", n, want)
			}
			after, left := count()
			if left != 0 || after != total-want {
				t.Errorf("after the erasure %d messages (%d of the customer), want %d (0)", after, left, total-want)
			}
		})
	}
}
