package mongostore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func newMessage(id string, minute int) *ticketing.Message {
	return &ticketing.Message{
		ID: id, TicketID: "t1", CustomerID: "c1", Direction: ticketing.DirectionInbound,
		Channel: ticketing.ChannelEmail, Subject: "Hej", Text: "Text of " + id, HTML: "<p>Text of " + id + "</p>",
		Author:    ticketing.Author{Kind: ticketing.AuthorCustomer, ID: "c1", Name: "Anna"},
		CreatedAt: at(minute), ExternalID: "<" + id + "@mail.example.se>",
		Meta: map[string]string{"message_id": "<" + id + "@mail.example.se>"},
	}
}

func TestInsertMessages(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()

	dup, err := s.InsertMessages(ctx, nil)
	mustNil(t, err)
	equal(t, "dups of nothing", len(dup), 0)

	dup, err = s.InsertMessages(ctx, []*ticketing.Message{newMessage("m1", 1), newMessage("m2", 2)})
	mustNil(t, err)
	equalSlice(t, "dup", dup, []bool{false, false})

	// A redelivered batch: the known messages are duplicates, the new
	// ones are stored.
	dup, err = s.InsertMessages(ctx, []*ticketing.Message{
		newMessage("m2", 2), newMessage("m3", 3), newMessage("m1", 1), newMessage("m4", 4),
	})
	mustNil(t, err)
	equalSlice(t, "dup", dup, []bool{true, false, true, false})

	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		m, err := s.GetMessage(ctx, id)
		mustNil(t, err)
		equal(t, "text", m.Text, "Text of "+id)
	}
	m, err := s.GetMessage(ctx, "m3")
	mustNil(t, err)
	want := newMessage("m3", 3)
	equal(t, "author", m.Author, want.Author)
	equal(t, "created", m.CreatedAt, want.CreatedAt)
	equal(t, "meta", m.Meta["message_id"], want.Meta["message_id"])
	equal(t, "html", m.HTML, want.HTML)
	if m.Delivery != nil {
		t.Fatalf("delivery = %+v, want nil", m.Delivery)
	}

	_, err = s.GetMessage(ctx, "nope")
	mustNotFound(t, err)
}

func TestGetMessages(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	var msgs []*ticketing.Message
	var ids, want []string
	for i := range 25 {
		id := fmt.Sprintf("m%02d", i)
		msgs = append(msgs, newMessage(id, i))
	}
	_, err := s.InsertMessages(ctx, msgs)
	mustNil(t, err)
	// Out of storage order, with gaps, more ids than workers.
	for i := 24; i >= 0; i -= 2 {
		ids = append(ids, fmt.Sprintf("m%02d", i), fmt.Sprintf("missing%d", i))
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	got, err := s.GetMessages(ctx, ids)
	mustNil(t, err)
	var gotIDs []string
	for _, m := range got {
		gotIDs = append(gotIDs, m.ID)
	}
	equalSlice(t, "messages", gotIDs, want)

	got, err = s.GetMessages(ctx, nil)
	mustNil(t, err)
	equal(t, "messages of no ids", len(got), 0)
}

func TestSetMessageThread(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	_, err := s.InsertMessages(ctx, []*ticketing.Message{newMessage("m1", 1)})
	mustNil(t, err)
	mustNil(t, s.SetMessageThread(ctx, "m1", "t2", "reopened"))
	m, err := s.GetMessage(ctx, "m1")
	mustNil(t, err)
	equal(t, "ticket", m.TicketID, "t2")
	equal(t, "reason", m.ThreadReason, "reopened")
	mustNotFound(t, s.SetMessageThread(ctx, "nope", "t2", "new"))
}

func TestSetDelivery(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	out := newMessage("r1", 1)
	out.Direction = ticketing.DirectionOutbound
	out.Delivery = &ticketing.Delivery{Status: ticketing.DeliveryQueued}
	_, err := s.InsertMessages(ctx, []*ticketing.Message{out})
	mustNil(t, err)

	for _, tc := range []struct {
		name      string
		report    ticketing.Delivery
		want      string
		wantError string
	}{
		{"sent", ticketing.Delivery{Status: ticketing.DeliverySent, ProviderID: "SM1", UpdatedAt: at(2)}, ticketing.DeliverySent, ""},
		{"delivered", ticketing.Delivery{Status: ticketing.DeliveryDelivered, UpdatedAt: at(3)}, ticketing.DeliveryDelivered, ""},
		{"late sent does not downgrade", ticketing.Delivery{Status: ticketing.DeliverySent, UpdatedAt: at(2)}, ticketing.DeliveryDelivered, ""},
		{"late queued does not downgrade", ticketing.Delivery{Status: ticketing.DeliveryQueued}, ticketing.DeliveryDelivered, ""},
		{"a final state replaces a final state", ticketing.Delivery{Status: ticketing.DeliveryFailed, Error: "mailbox full", UpdatedAt: at(4)}, ticketing.DeliveryFailed, "mailbox full"},
		{"still no downgrade from failed", ticketing.Delivery{Status: ticketing.DeliverySent}, ticketing.DeliveryFailed, "mailbox full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.SetDelivery(ctx, "r1", tc.report)
			mustNil(t, err)
			equal(t, "status", m.Delivery.Status, tc.want)
			equal(t, "error", m.Delivery.Error, tc.wantError)
			stored, err := s.GetMessage(ctx, "r1")
			mustNil(t, err)
			equal(t, "stored status", stored.Delivery.Status, tc.want)
			equal(t, "text", stored.Text, out.Text)
		})
	}
	_, err = s.SetDelivery(ctx, "nope", ticketing.Delivery{Status: ticketing.DeliverySent})
	mustNotFound(t, err)
	_, err = s.SetDelivery(ctx, "nope", ticketing.Delivery{Status: ticketing.DeliveryDelivered})
	mustNotFound(t, err)
}

// TestSetDeliveryConcurrentReports: reports that race (a provider's sent
// and delivered callbacks on two nodes) end with the final state whatever
// their order, on the same _id-only path both servers run.
func TestSetDeliveryConcurrentReports(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	for i := range 20 {
		id := fmt.Sprintf("race%d", i)
		out := newMessage(id, 1)
		out.Direction = ticketing.DirectionOutbound
		out.Delivery = &ticketing.Delivery{Status: ticketing.DeliveryQueued}
		_, err := s.InsertMessages(ctx, []*ticketing.Message{out})
		mustNil(t, err)
		var wg sync.WaitGroup
		for _, st := range []string{ticketing.DeliverySent, ticketing.DeliveryDelivered, ticketing.DeliveryQueued, ticketing.DeliverySent} {
			wg.Go(func() {
				if _, err := s.SetDelivery(ctx, id, ticketing.Delivery{Status: st}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		m, err := s.GetMessage(ctx, id)
		mustNil(t, err)
		equal(t, id+" status", m.Delivery.Status, ticketing.DeliveryDelivered)
	}
	if _, err := s.SetDelivery(ctx, "race0", ticketing.Delivery{Status: "sent.x"}); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Fatalf("a status with a dot: %v", err)
	}
}

// TestInsertMessagesRefusedAlone: a message the store refuses fails on its
// own, whether the server refuses it (a "$" key) or the driver cannot even
// encode it (a NUL in a key); the others are stored, and a redelivered
// batch finds them as duplicates.
func TestInsertMessagesRefusedAlone(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		meta map[string]string
	}{
		{"server refuses", map[string]string{"$where": "1"}},
		{"driver refuses", map[string]string{"a\x00b": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := newMessage("bad-"+tc.name, 2)
			bad.Meta = tc.meta
			batch := []*ticketing.Message{newMessage("a-"+tc.name, 1), bad, newMessage("c-"+tc.name, 3)}
			for attempt, wantDup := range []bool{false, true} {
				dup, err := s.InsertMessages(ctx, batch)
				var each *ticketing.InsertErrors
				if !errors.As(err, &each) || len(each.Errs) != 3 {
					t.Fatalf("attempt %d: err = %v, want *InsertErrors for 3", attempt, err)
				}
				if each.Errs[0] != nil || each.Errs[2] != nil || ticketing.ErrorCode(each.Errs[1]) != ticketing.EInvalid {
					t.Fatalf("attempt %d: errs = %v", attempt, each.Errs)
				}
				equalSlice(t, "dup", dup, []bool{wantDup, false, wantDup})
			}
			for _, m := range []*ticketing.Message{batch[0], batch[2]} {
				_, err := s.GetMessage(ctx, m.ID)
				mustNil(t, err)
			}
			_, err := s.GetMessage(ctx, bad.ID)
			mustNotFound(t, err)
		})
	}
}
