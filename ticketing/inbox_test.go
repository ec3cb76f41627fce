package ticketing

import (
	"fmt"
	"testing"
	"time"
)

func TestInboxListsNewestFirstWithCursor(t *testing.T) {
	in := NewInbox()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 7; i++ {
		in.Apply(&Ticket{ID: fmt.Sprintf("t%d", i), Status: StatusOpen, LastMessageAt: base.Add(time.Duration(i) * time.Minute), Version: 1})
	}
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		p, err := in.List(System, TicketFilter{Status: StatusOpen, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range p.Tickets {
			got = append(got, tk.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if fmt.Sprint(got) != "[t6 t5 t4 t3 t2 t1 t0]" {
		t.Fatalf("pages gave %v", got)
	}
	if _, err := in.List(System, TicketFilter{Cursor: "garbage"}); ErrorCode(err) != EInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestInboxKeepsTheNewestVersionAndCounts(t *testing.T) {
	in := NewInbox()
	in.Apply(&Ticket{ID: "a", Status: StatusSolved, Version: 3})
	in.Apply(&Ticket{ID: "a", Status: StatusOpen, Version: 2}) // a late event
	in.Apply(&Ticket{ID: "b", Status: StatusOpen, AssigneeID: "me", Version: 1})
	in.Apply(&Ticket{ID: "c", Status: StatusOpen, Version: 1, Subject: "Retur av skor"})
	in.Apply(&Ticket{ID: "d", Status: StatusPending, Version: 1})
	if tk, _ := in.Get("a"); tk.Status != StatusSolved {
		t.Fatalf("a late event won: %s", tk.Status)
	}
	want := map[string]int{ViewOpen: 2, ViewMine: 1, ViewUnassigned: 1, ViewPending: 1, ViewSolved: 1, ViewAll: 4}
	got := in.Counts(Viewer{AgentID: "me", All: true})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count %s = %d, want %d", k, got[k], v)
		}
	}
	p, _ := in.List(System, TicketFilter{Query: "RETUR"})
	if len(p.Tickets) != 1 || p.Tickets[0].ID != "c" {
		t.Fatalf("search found %v", p.Tickets)
	}
	p, _ = in.List(System, TicketFilter{Status: StatusOpen, AssigneeID: AssigneeNone})
	if len(p.Tickets) != 1 || p.Tickets[0].ID != "c" {
		t.Fatalf("unassigned found %v", p.Tickets)
	}
}

func TestCleanSubject(t *testing.T) {
	cases := map[string]string{
		"Re: Var är mitt paket? [#1042]": "Var är mitt paket?",
		"SV: VB: Fwd: Retur":             "Retur",
		"RE[2]: Order 55":                "Order 55",
		"Plain":                          "Plain",
	}
	for in, want := range cases {
		if got := CleanSubject(in); got != want {
			t.Errorf("CleanSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkInboxList10k(b *testing.B) {
	in := NewInbox()
	base := time.Now()
	statuses := []string{StatusOpen, StatusPending, StatusSolved}
	for i := 0; i < 10000; i++ {
		in.Apply(&Ticket{ID: fmt.Sprint(i), Status: statuses[i%3], LastMessageAt: base.Add(time.Duration(i) * time.Second), Version: 1})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := in.List(System, TicketFilter{Status: StatusOpen}); err != nil {
			b.Fatal(err)
		}
	}
}
