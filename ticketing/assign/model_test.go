package assign

import (
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// The model holds the backlog only: a solved or closed ticket leaves it
// (its load with it), its older versions stay refused, and who held it is
// still known for a returning customer.
func TestModelHoldsTheBacklogOnly(t *testing.T) {
	m := NewModel()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tk := func(id, status, assignee string, v int64) *ticketing.Ticket {
		return &ticketing.Ticket{ID: id, Status: status, AssigneeID: assignee, TeamID: "support", Version: v, CreatedAt: at}
	}
	m.Apply(tk("a", ticketing.StatusOpen, "anna", 1), at)
	m.Apply(tk("b", ticketing.StatusPending, "anna", 1), at)
	m.Apply(tk("c", ticketing.StatusOpen, "", 1), at)
	if got := m.Load("anna"); got != 2 {
		t.Fatalf("anna's load = %d, want 2", got)
	}
	m.Apply(tk("a", ticketing.StatusSolved, "anna", 2), at)
	m.Apply(tk("b", ticketing.StatusClosed, "anna", 2), at)
	if got := m.Load("anna"); got != 0 {
		t.Fatalf("anna's load after solving = %d, want 0", got)
	}
	if len(m.tickets) != 1 {
		t.Fatalf("the model holds %d tickets, want only the open one", len(m.tickets))
	}
	m.Apply(tk("a", ticketing.StatusOpen, "anna", 1), at) // a late, older version
	if len(m.tickets) != 1 || m.Load("anna") != 0 {
		t.Fatalf("an older version came back: %d tickets, load %d", len(m.tickets), m.Load("anna"))
	}
	if id, known := m.lastAssignee("a"); !known || id != "anna" {
		t.Fatalf("last assignee of a = %q, %v; want anna", id, known)
	}
	if _, known := m.lastAssignee("never-seen"); known {
		t.Fatal("a ticket the model never saw is known")
	}
	m.Apply(tk("a", ticketing.StatusOpen, "bo", 3), at) // reopened
	if m.Load("bo") != 1 || len(m.tickets) != 2 {
		t.Fatalf("the reopened ticket: bo's load %d, %d tickets", m.Load("bo"), len(m.tickets))
	}
	// However many tickets are solved, the memory of them stays bounded.
	for i := range closedMax + 10 {
		id := "s" + string(rune('a'+i%26)) + time.Duration(i).String()
		m.Apply(tk(id, ticketing.StatusSolved, "anna", 1), at)
	}
	if len(m.closed) > closedMax || len(m.tickets) != 2 {
		t.Fatalf("after many solved tickets: %d remembered, %d held", len(m.closed), len(m.tickets))
	}
}
