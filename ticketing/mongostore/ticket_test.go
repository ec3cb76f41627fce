package mongostore_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func newTicket(id string, number int64, minute int) *ticketing.Ticket {
	return &ticketing.Ticket{
		ID: id, Number: number, Status: ticketing.StatusOpen, Priority: ticketing.PriorityNormal,
		Subject: "Order " + id, CustomerID: "c-" + id, Channel: ticketing.ChannelEmail,
		CreatedAt: at(minute), UpdatedAt: at(minute), LastMessageAt: at(minute), LastInboundAt: at(minute),
		LastInboundChannel: ticketing.ChannelEmail, MessageIDs: []string{"m-" + id}, Version: 1,
	}
}

func TestTicketNumbersAreSequential(t *testing.T) {
	s := mongotest.New(t)
	for want := int64(1001); want <= 1005; want++ {
		n, err := s.NextTicketNumber(t.Context())
		mustNil(t, err)
		equal(t, "number", n, want)
	}
}

// TestTicketNumbersTwoNodes checks that concurrent callers on two stores
// sharing one server never get the same number. The embedded server's
// findAndModify is a read then a write, so this fails without the shared
// document locks.
func TestTicketNumbersTwoNodes(t *testing.T) {
	nodes := mongotest.NewNodes(t, 2)
	const workers, each = 6, 15
	got := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				n, err := nodes[w%2].NextTicketNumber(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				got <- n
			}
		}()
	}
	wg.Wait()
	close(got)
	var all []int64
	for n := range got {
		all = append(all, n)
	}
	slices.Sort(all)
	for i, n := range all {
		if n != int64(1001+i) {
			t.Fatalf("numbers = %v, want 1001..%d each once", all, 1000+workers*each)
		}
	}
	equal(t, "count", len(all), workers*each)
}

func TestInsertTicket(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	in := newTicket("c1-1", 1001, 1)
	in.Tags = nil
	mustNil(t, s.InsertTicket(ctx, in))

	got, err := s.GetTicket(ctx, "c1-1")
	mustNil(t, err)
	equal(t, "number", got.Number, int64(1001))
	equal(t, "subject", got.Subject, in.Subject)
	equal(t, "last message", got.LastMessageAt, at(1))
	equal(t, "channel", got.LastInboundChannel, ticketing.ChannelEmail)
	equalSlice(t, "message ids", got.MessageIDs, []string{"m-c1-1"})
	equal(t, "message count", got.MessageCount, 1)
	if got.Tags == nil {
		t.Fatal("tags = nil, want empty")
	}
	if !got.SolvedAt.IsZero() || !got.LastOutboundAt.IsZero() {
		t.Fatalf("zero times came back as %v, %v", got.SolvedAt, got.LastOutboundAt)
	}

	byNumber, err := s.GetTicketByNumber(ctx, 1001)
	mustNil(t, err)
	equal(t, "ticket by number", byNumber.ID, "c1-1")
	_, err = s.GetTicketByNumber(ctx, 999)
	mustNotFound(t, err)
	_, err = s.GetTicket(ctx, "nope")
	mustNotFound(t, err)

	// The same insert again (a redelivered envelope) is a duplicate.
	mustDuplicate(t, s.InsertTicket(ctx, in))

	// A node that lost the race for c1-1 with its own number: duplicate,
	// and its number finds nothing.
	mustDuplicate(t, s.InsertTicket(ctx, newTicket("c1-1", 1002, 2)))
	_, err = s.GetTicketByNumber(ctx, 1002)
	mustNotFound(t, err)

	// A number that belongs to another ticket is an error, not a duplicate.
	err = s.InsertTicket(ctx, newTicket("c2-1", 1001, 3))
	if err == nil || errors.Is(err, ticketing.ErrDuplicate) {
		t.Fatalf("err = %v, want a number conflict", err)
	}
}

func TestApplyToTicket(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	mustNil(t, s.InsertTicket(ctx, newTicket("t1", 1001, 10)))

	steps := []struct {
		name   string
		change ticketing.TicketChange
		check  func(t *testing.T, got *ticketing.Ticket)
	}{
		{"add a message", ticketing.TicketChange{AddMessageID: "m2", Preview: ptr("Hej!"), LastMessage: at(20), LastInbound: at(20), UpdatedAt: at(20)},
			func(t *testing.T, got *ticketing.Ticket) {
				equalSlice(t, "message ids", got.MessageIDs, []string{"m-t1", "m2"})
				equal(t, "count", got.MessageCount, 2)
				equal(t, "preview", got.Preview, "Hej!")
				equal(t, "last message", got.LastMessageAt, at(20))
				equal(t, "version", got.Version, int64(2))
			}},
		{"the same message again lists it once", ticketing.TicketChange{AddMessageID: "m2", LastMessage: at(20), UpdatedAt: at(20)},
			func(t *testing.T, got *ticketing.Ticket) {
				equalSlice(t, "message ids", got.MessageIDs, []string{"m-t1", "m2"})
				equal(t, "count", got.MessageCount, 2)
				equal(t, "version", got.Version, int64(3))
			}},
		{"times only grow", ticketing.TicketChange{AddMessageID: "m0", LastMessage: at(5), LastInbound: at(5), LastOutbound: at(15), UpdatedAt: at(5)},
			func(t *testing.T, got *ticketing.Ticket) {
				equal(t, "last message", got.LastMessageAt, at(20))
				equal(t, "last inbound", got.LastInboundAt, at(20))
				equal(t, "last outbound (was unset)", got.LastOutboundAt, at(15))
				equal(t, "updated", got.UpdatedAt, at(20))
				equal(t, "count", got.MessageCount, 3)
			}},
		{"solve", ticketing.TicketChange{Status: ptr(ticketing.StatusSolved), SolvedAt: ptr(at(30)), AssigneeID: ptr("a1"),
			Priority: ptr(ticketing.PriorityHigh), Tags: ptr([]string{"return"}), Type: ptr("return"), CustomerName: ptr("Anna"),
			LastInboundChannel: ticketing.ChannelSMS},
			func(t *testing.T, got *ticketing.Ticket) {
				equal(t, "status", got.Status, ticketing.StatusSolved)
				equal(t, "solved at", got.SolvedAt, at(30))
				equal(t, "assignee", got.AssigneeID, "a1")
				equal(t, "priority", got.Priority, ticketing.PriorityHigh)
				equalSlice(t, "tags", got.Tags, []string{"return"})
				equal(t, "type", got.Type, "return")
				equal(t, "customer name", got.CustomerName, "Anna")
				equal(t, "last inbound channel", got.LastInboundChannel, ticketing.ChannelSMS)
				equal(t, "preview (left alone)", got.Preview, "Hej!")
				equal(t, "version", got.Version, int64(5))
			}},
		{"reopen clears solved_at", ticketing.TicketChange{Status: ptr(ticketing.StatusOpen), SolvedAt: ptr(time.Time{}), Tags: ptr([]string(nil))},
			func(t *testing.T, got *ticketing.Ticket) {
				equal(t, "status", got.Status, ticketing.StatusOpen)
				if !got.SolvedAt.IsZero() {
					t.Fatalf("solved at = %v, want cleared", got.SolvedAt)
				}
				equal(t, "tags", len(got.Tags), 0)
			}},
		{"remove a message", ticketing.TicketChange{RemoveMessageID: "m0"},
			func(t *testing.T, got *ticketing.Ticket) {
				equalSlice(t, "message ids", got.MessageIDs, []string{"m-t1", "m2"})
				equal(t, "count", got.MessageCount, 2)
				equal(t, "version", got.Version, int64(7))
			}},
		{"add and remove in one change", ticketing.TicketChange{AddMessageID: "m3", RemoveMessageID: "m2"},
			func(t *testing.T, got *ticketing.Ticket) {
				equalSlice(t, "message ids", got.MessageIDs, []string{"m-t1", "m3"})
				equal(t, "version grows by one", got.Version, int64(8))
			}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.ApplyToTicket(ctx, "t1", st.change)
			mustNil(t, err)
			st.check(t, got)
			stored, err := s.GetTicket(ctx, "t1")
			mustNil(t, err)
			equal(t, "stored version", stored.Version, got.Version)
			equalSlice(t, "stored message ids", stored.MessageIDs, got.MessageIDs)
		})
	}

	_, err := s.ApplyToTicket(ctx, "nope", ticketing.TicketChange{AddMessageID: "m"})
	mustNotFound(t, err)
	_, err = s.ApplyToTicket(ctx, "nope", ticketing.TicketChange{AddMessageID: "m", RemoveMessageID: "n"})
	mustNotFound(t, err)
}

// TestApplyToTicketTwoNodes adds messages to one ticket from two stores at
// once: none may be lost and the version counts every change.
func TestApplyToTicketTwoNodes(t *testing.T) {
	nodes := mongotest.NewNodes(t, 2)
	ctx := t.Context()
	mustNil(t, nodes[0].InsertTicket(ctx, newTicket("t1", 1001, 0)))
	const workers, each = 6, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := nodes[w%2].ApplyToTicket(ctx, "t1", ticketing.TicketChange{
					AddMessageID: fmt.Sprintf("m-%d-%d", w, i), LastMessage: at(i),
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := nodes[1].GetTicket(ctx, "t1")
	mustNil(t, err)
	equal(t, "message count", got.MessageCount, 1+workers*each)
	equal(t, "version", got.Version, int64(1+workers*each))
	equal(t, "last message", got.LastMessageAt, at(each-1))
}

func TestListTickets(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	type spec struct {
		id, status, assignee, customer, subject string
		minute                                  int
	}
	specs := []spec{
		{"t1", ticketing.StatusOpen, "", "anna", "Var är mitt paket?", 1},
		{"t2", ticketing.StatusOpen, "a1", "anna", "Return of shoes", 2},
		{"t3", ticketing.StatusPending, "a1", "bo", "Invoice 2025.03", 3},
		{"t4", ticketing.StatusSolved, "a2", "bo", "Wrong size", 4},
		{"t5", ticketing.StatusOpen, "", "cia", "PAKET skadat", 4}, // same time as t4
		{"t6", ticketing.StatusClosed, "", "cia", "Thanks", 6},
		{"t7", ticketing.StatusOpen, "a2", "dan", "Invoice 2025-03", 7},
	}
	for i, sp := range specs {
		tk := newTicket(sp.id, int64(1001+i), sp.minute)
		tk.Status, tk.AssigneeID, tk.CustomerID, tk.Subject = sp.status, sp.assignee, sp.customer, sp.subject
		mustNil(t, s.InsertTicket(ctx, tk))
	}
	ids := func(p *ticketing.TicketPage) []string {
		var out []string
		for _, tk := range p.Tickets {
			out = append(out, tk.ID)
			if tk.MessageCount != len(tk.MessageIDs) {
				t.Fatalf("ticket %s message count %d, ids %v", tk.ID, tk.MessageCount, tk.MessageIDs)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		filter ticketing.TicketFilter
		want   []string
	}{
		{"all, newest first, ties by id descending", ticketing.TicketFilter{}, []string{"t7", "t6", "t5", "t4", "t3", "t2", "t1"}},
		{"status", ticketing.TicketFilter{Status: ticketing.StatusOpen}, []string{"t7", "t5", "t2", "t1"}},
		{"assignee", ticketing.TicketFilter{AssigneeID: "a1"}, []string{"t3", "t2"}},
		{"unassigned", ticketing.TicketFilter{AssigneeID: ticketing.AssigneeNone}, []string{"t6", "t5", "t1"}},
		{"unassigned open", ticketing.TicketFilter{AssigneeID: ticketing.AssigneeNone, Status: ticketing.StatusOpen}, []string{"t5", "t1"}},
		{"customer", ticketing.TicketFilter{CustomerID: "bo"}, []string{"t4", "t3"}},
		{"query is case-insensitive", ticketing.TicketFilter{Query: "paket"}, []string{"t5", "t1"}},
		{"query is literal, not a pattern", ticketing.TicketFilter{Query: "2025.03"}, []string{"t3"}},
		{"query by number", ticketing.TicketFilter{Query: "#1004"}, []string{"t4"}},
		{"query without matches", ticketing.TicketFilter{Query: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListTickets(ctx, tc.filter)
			mustNil(t, err)
			equalSlice(t, "tickets", ids(p), tc.want)
			equal(t, "next cursor", p.NextCursor, "")
		})
	}

	t.Run("pages", func(t *testing.T) {
		var all []string
		f := ticketing.TicketFilter{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("too many pages: %v", all)
			}
			p, err := s.ListTickets(ctx, f)
			mustNil(t, err)
			if len(p.Tickets) > 2 {
				t.Fatalf("page of %d, limit 2", len(p.Tickets))
			}
			all = append(all, ids(p)...)
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		equalSlice(t, "all pages", all, []string{"t7", "t6", "t5", "t4", "t3", "t2", "t1"})
	})

	t.Run("bad cursor", func(t *testing.T) {
		_, err := s.ListTickets(ctx, ticketing.TicketFilter{Cursor: "not-a-cursor"})
		mustCode(t, err, ticketing.EInvalid)
	})

	t.Run("customer name and preview", func(t *testing.T) {
		_, err := s.ApplyToTicket(ctx, "t6", ticketing.TicketChange{CustomerName: ptr("Cia Lund"), Preview: ptr("tack för hjälpen")})
		mustNil(t, err)
		for _, q := range []string{"lund", "HJÄLPEN"} {
			p, err := s.ListTickets(ctx, ticketing.TicketFilter{Query: q})
			mustNil(t, err)
			equalSlice(t, "tickets for "+q, ids(p), []string{"t6"})
		}
	})
}

func TestListTicketsLimits(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	for i := range 60 {
		mustNil(t, s.InsertTicket(ctx, newTicket(fmt.Sprintf("t%02d", i), 0, i)))
	}
	p, err := s.ListTickets(ctx, ticketing.TicketFilter{})
	mustNil(t, err)
	equal(t, "default page", len(p.Tickets), 50)
	if p.NextCursor == "" {
		t.Fatal("no next cursor after a full page")
	}
	p, err = s.ListTickets(ctx, ticketing.TicketFilter{Limit: 1000, Cursor: p.NextCursor})
	mustNil(t, err)
	equal(t, "rest", len(p.Tickets), 10)
	equal(t, "last page cursor", p.NextCursor, "")
}

func TestScanTickets(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	for i := range 5 {
		mustNil(t, s.InsertTicket(ctx, newTicket(fmt.Sprintf("t%d", i), int64(1001+i), i)))
	}
	_, err := s.ApplyToTicket(ctx, "t3", ticketing.TicketChange{AddMessageID: "extra"})
	mustNil(t, err)
	seen := map[string]int{}
	mustNil(t, s.ScanTickets(ctx, func(tk *ticketing.Ticket) error {
		seen[tk.ID] = tk.MessageCount
		return nil
	}))
	equal(t, "tickets seen", len(seen), 5)
	equal(t, "t3 count", seen["t3"], 2)

	stop := errors.New("stop")
	calls := 0
	err = s.ScanTickets(ctx, func(*ticketing.Ticket) error { calls++; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want fn's error", err)
	}
	equal(t, "calls after the error", calls, 1)
}

var _ ticketing.Store = (*mongostore.Store)(nil)
