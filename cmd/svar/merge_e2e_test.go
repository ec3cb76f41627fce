package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// snapshot is what a customer looks like from outside: the customer
// document, their ticket ids and their orders, as the API shows them.
func snapshot(t *testing.T, c *agentClient, id string) string {
	t.Helper()
	res := c.do("GET", "/api/v1/customers/"+id, nil)
	if res.status != http.StatusOK {
		t.Fatalf("customer %s: %d %s", id, res.status, res.body)
	}
	var v struct {
		Customer json.RawMessage
		Tickets  []struct{ ID string }
		Orders   json.RawMessage
	}
	res.decode(t, &v)
	ids := []string{}
	for _, tk := range v.Tickets {
		ids = append(ids, tk.ID)
	}
	b, _ := json.Marshal(ids)
	return string(v.Customer) + "\n" + string(b) + "\n" + string(v.Orders)
}

func customerByEmail(t *testing.T, c *agentClient, m *Main, email string) string {
	t.Helper()
	var id string
	eventually(t, "customer of "+email, func() error {
		cu, err := m.Service.CustomerByIdentity(context.Background(), "email:"+email)
		if err != nil {
			return err
		}
		if len(cu.TicketIDs) == 0 {
			return fmt.Errorf("no ticket yet")
		}
		id = cu.ID
		return nil
	})
	return id
}

func TestMergeThenUndoRestoresBothExactly(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()
	for _, e := range [][3]string{{"anna@example.se", "<m1@x>", "Hej"}, {"anna.work@example.se", "<m2@x>", "Hej igen"}, {"cecilia@example.se", "<m3@x>", "Hallå"}} {
		if err := m.Bus.PublishInbound(ctx, envelope(e[0], e[1], e[2])); err != nil {
			t.Fatal(err)
		}
	}
	a := customerByEmail(t, c, m, "anna@example.se")
	b := customerByEmail(t, c, m, "anna.work@example.se")
	cc := customerByEmail(t, c, m, "cecilia@example.se")
	putOrder(t, c, "1042", map[string]any{"customer": map[string]any{"email": "anna@example.se"}, "status": "shipped"})
	putOrder(t, c, "2002", map[string]any{"customer": map[string]any{"email": "anna.work@example.se"}, "status": "new"})
	beforeA, beforeB := snapshot(t, c, a), snapshot(t, c, b)

	// Into itself: a clear error.
	if res := c.do("POST", "/api/v1/customers/"+a+"/merge", map[string]any{"from_id": a}); res.status != http.StatusUnprocessableEntity || !bytes.Contains(res.body, []byte("from_id")) {
		t.Fatalf("merge into itself: %d %s", res.status, res.body)
	}

	merge := func(into, from string) string {
		t.Helper()
		res := c.do("POST", "/api/v1/customers/"+into+"/merge", map[string]any{"from_id": from})
		if res.status != http.StatusOK {
			t.Fatalf("merge %s into %s: %d %s", from, into, res.status, res.body)
		}
		var out struct {
			MergeID  string `json:"merge_id"`
			Customer struct {
				Identities []struct{ Value string }
			}
		}
		res.decode(t, &out)
		return out.MergeID
	}
	undo := func(id string, want int) []byte {
		t.Helper()
		res := c.do("POST", "/api/v1/merges/"+id+"/undo", nil)
		if res.status != want {
			t.Fatalf("undo %s: %d %s, want %d", id, res.status, res.body, want)
		}
		return res.body
	}

	m1 := merge(a, b)
	var merged customerJSON
	c.do("GET", "/api/v1/customers/"+a, nil).decode(t, &merged)
	if len(merged.Customer.Identities) != 2 || len(merged.Tickets) != 2 || len(merged.Orders) != 2 {
		t.Fatalf("merged = %+v", merged)
	}
	var gone customerJSON
	c.do("GET", "/api/v1/customers/"+b, nil).decode(t, &gone)
	if gone.Customer.MergedInto != a || len(gone.Customer.Identities) != 0 || len(gone.Orders) != 0 {
		t.Fatalf("merged-away customer = %+v", gone)
	}
	var ov struct{ Order orderJSON }
	c.do("GET", "/api/v1/orders/2002", nil).decode(t, &ov)
	if ov.Order.CustomerID != a {
		t.Fatalf("order 2002 is %s's", ov.Order.CustomerID)
	}

	// A merge of the merged customer into Cecilia; undoing the first one
	// now is out of order.
	m2 := merge(cc, a)
	if body := undo(m1, http.StatusConflict); !bytes.Contains(body, []byte(m2)) {
		t.Fatalf("out-of-order undo names %s", body)
	}
	undo(m2, http.StatusOK)
	undo(m2, http.StatusConflict) // twice
	undo(m1, http.StatusOK)
	if got := snapshot(t, c, a); got != beforeA {
		t.Fatalf("A after undo:\n%s\nbefore:\n%s", got, beforeA)
	}
	if got := snapshot(t, c, b); got != beforeB {
		t.Fatalf("B after undo:\n%s\nbefore:\n%s", got, beforeB)
	}
	// Undone, B's mail is B's again.
	if err := m.Bus.PublishInbound(ctx, envelope("anna.work@example.se", "<m4@x>", "Back to me")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B's mail on B", func() error {
		var v customerJSON
		c.do("GET", "/api/v1/customers/"+b, nil).decode(t, &v)
		for _, tk := range v.Tickets {
			if tk.MessageCount >= 2 {
				return nil
			}
		}
		return fmt.Errorf("B's tickets %+v", v.Tickets)
	})

	// Merged again, B's new mail lands on A.
	merge(a, b)
	if err := m.Bus.PublishInbound(ctx, envelope("anna.work@example.se", "<m5@x>", "Merged now")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B's mail on A", func() error {
		var v customerJSON
		c.do("GET", "/api/v1/customers/"+a, nil).decode(t, &v)
		for _, tk := range v.Tickets {
			var tv struct {
				Messages []struct{ Text string }
			}
			c.do("GET", "/api/v1/tickets/"+tk.ID, nil).decode(t, &tv)
			if slices.ContainsFunc(tv.Messages, func(m struct{ Text string }) bool { return m.Text == "Merged now" }) {
				if tk.CustomerID != a {
					return fmt.Errorf("ticket %s is %s's", tk.ID, tk.CustomerID)
				}
				return nil
			}
		}
		return fmt.Errorf("not on A's tickets")
	})
	if res := c.do("POST", "/api/v1/merges/nope/undo", nil); res.status != http.StatusNotFound {
		t.Fatalf("unknown merge: %d", res.status)
	}
}
