package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

type orderJSON struct {
	Number       string   `json:"number"`
	CustomerID   string   `json:"customer_id"`
	Status       string   `json:"status"`
	Total        float64  `json:"total"`
	Currency     string   `json:"currency"`
	TrackingURL  string   `json:"tracking_url"`
	TicketIDs    []string `json:"ticket_ids"`
	ReturnStatus string   `json:"return_status"`
}

type customerJSON struct {
	Customer ticketing.Customer  `json:"customer"`
	Tickets  []*ticketing.Ticket `json:"tickets"`
	Orders   []orderJSON         `json:"orders"`
}

func chatEnvelope(extCustomer, extID, text string) *ticketing.Envelope {
	return &ticketing.Envelope{Channel: ticketing.ChannelChat, ExternalID: extID,
		From: ticketing.Identity{Kind: ticketing.IdentityExternal, Value: extCustomer, Verified: true},
		Text: text, ReceivedAt: time.Now().UTC()}
}

func putOrder(t *testing.T, c *agentClient, number string, body map[string]any) orderJSON {
	t.Helper()
	res := c.do("PUT", "/api/v1/orders/"+number, body)
	if res.status != http.StatusOK {
		t.Fatalf("put order %s: %d %s", number, res.status, res.body)
	}
	var out struct{ Order orderJSON }
	res.decode(t, &out)
	return out.Order
}

// ticketOf polls until the customer has a ticket and returns it.
func orderCustomerTicket(t *testing.T, c *agentClient, customerID string, ok func(*ticketing.Ticket) bool) *ticketing.Ticket {
	t.Helper()
	var got *ticketing.Ticket
	eventually(t, "ticket of "+customerID, func() error {
		var cv customerJSON
		res := c.do("GET", "/api/v1/customers/"+customerID, nil)
		if res.status != http.StatusOK {
			return fmt.Errorf("customer: %d %s", res.status, res.body)
		}
		res.decode(t, &cv)
		for _, tk := range cv.Tickets {
			if ok(tk) {
				got = tk
				return nil
			}
		}
		return fmt.Errorf("tickets %+v", cv.Tickets)
	})
	return got
}

func TestOrdersLinkToTheirCustomerAndTheirTickets(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()

	// The shop knows Anna by its id and her email; she wrote by mail.
	if err := m.Bus.PublishInbound(ctx, envelope("anna@example.se", "<a1@x>", "Hej!")); err != nil {
		t.Fatal(err)
	}
	customerByEmail(t, c, m, "anna@example.se")
	res := c.do("POST", "/api/v1/customers", map[string]any{"external_id": "shop-7", "email": "anna@example.se", "name": "Anna"})
	if res.status != http.StatusOK {
		t.Fatalf("push customer: %d %s", res.status, res.body)
	}
	var pushed struct{ Customer ticketing.Customer }
	res.decode(t, &pushed)
	anna := pushed.Customer.ID

	// The order names her by email only.
	o := putOrder(t, c, "1042", map[string]any{
		"customer": map[string]any{"email": "Anna@Example.se"}, "status": "shipped",
		"placed_at": "2026-11-30T10:00:00Z", "total": 249.5, "currency": "sek",
		"items":   []map[string]any{{"sku": "MUG-1", "name": "Mugg", "quantity": 2, "price": "124.75"}},
		"carrier": "PostNord", "tracking_url": "https://tracking.example/1042", "admin_url": "https://shop.example/admin/1042",
	})
	if o.CustomerID != anna || o.Currency != "SEK" || o.Total != 249.5 {
		t.Fatalf("order = %+v, want Anna's (%s) in SEK", o, anna)
	}
	putOrder(t, c, "1001", map[string]any{"customer": map[string]any{"external_id": "shop-7"}, "status": "delivered",
		"placed_at": "2026-10-01T10:00:00Z"})
	// Berit's order, and Berit herself (created by the order: nobody owned her email).
	b := putOrder(t, c, "2001", map[string]any{"customer": map[string]any{"email": "berit@example.se"}, "status": "new"})
	berit := b.CustomerID
	if berit == "" || berit == anna {
		t.Fatalf("berit's order = %+v", b)
	}

	// Anna now writes by chat, signed in: she is the same customer, and
	// sees her orders, newest first.
	if err := m.Bus.PublishInbound(ctx, chatEnvelope("shop-7", "chat-1", "Hej, var är min beställning 1042? Och #2001?")); err != nil {
		t.Fatal(err)
	}
	tk := orderCustomerTicket(t, c, anna, func(tk *ticketing.Ticket) bool { return slices.Contains(tk.OrderNumbers, "1042") })
	if slices.Contains(tk.OrderNumbers, "2001") {
		t.Fatalf("Anna's ticket links Berit's order: %v", tk.OrderNumbers)
	}
	var cv customerJSON
	c.do("GET", "/api/v1/customers/"+anna, nil).decode(t, &cv)
	if len(cv.Orders) != 2 || cv.Orders[0].Number != "1042" || cv.Orders[1].Number != "1001" {
		t.Fatalf("Anna's orders = %+v, want 1042 then 1001", cv.Orders)
	}
	if cv.Orders[0].TrackingURL != "https://tracking.example/1042" || cv.Orders[0].Status != "shipped" {
		t.Fatalf("order 1042 = %+v", cv.Orders[0])
	}

	// Berit writes about Anna's order and her own: only hers links.
	if err := m.Bus.PublishInbound(ctx, envelope("berit@example.se", "<b1@x>", "Min beställning 1042, ordernummer: 2001")); err != nil {
		t.Fatal(err)
	}
	bt := orderCustomerTicket(t, c, berit, func(tk *ticketing.Ticket) bool { return slices.Contains(tk.OrderNumbers, "2001") })
	if slices.Contains(bt.OrderNumbers, "1042") {
		t.Fatalf("Berit's ticket links Anna's order: %v", bt.OrderNumbers)
	}

	// GET the order: its customer and its tickets.
	var ov struct {
		Order    orderJSON
		Customer ticketing.Customer
		Tickets  []*ticketing.Ticket
	}
	c.do("GET", "/api/v1/orders/1042", nil).decode(t, &ov)
	if ov.Customer.ID != anna || len(ov.Tickets) != 1 || ov.Tickets[0].ID != tk.ID {
		t.Fatalf("order view = %+v", ov)
	}
	// An update keeps the link and changes the fields.
	putOrder(t, c, "1042", map[string]any{"customer": map[string]any{"email": "anna@example.se"}, "status": "returned", "return_status": "received"})
	c.do("GET", "/api/v1/orders/1042", nil).decode(t, &ov)
	if ov.Order.Status != "returned" || ov.Order.ReturnStatus != "received" || len(ov.Tickets) != 1 {
		t.Fatalf("updated order view = %+v", ov)
	}
	if res := c.do("GET", "/api/v1/orders/9999", nil); res.status != http.StatusNotFound {
		t.Fatalf("unknown order: %d %s", res.status, res.body)
	}
}

func TestOrderBadInput(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	base := func() map[string]any {
		return map[string]any{"customer": map[string]any{"email": "x@example.se"}, "currency": "SEK",
			"items": []map[string]any{{"sku": "A", "quantity": 1, "price": 10}}}
	}
	many := make([]map[string]any, 10000)
	for i := range many {
		many[i] = map[string]any{"sku": "A", "quantity": 1}
	}
	for name, tc := range map[string]struct {
		number string
		mod    func(map[string]any)
		status int
		field  string
	}{
		"negative quantity": {"1", func(b map[string]any) { b["items"] = []map[string]any{{"quantity": -1}} }, 422, "items[0].quantity"},
		"zero quantity":     {"1", func(b map[string]any) { b["items"] = []map[string]any{{"quantity": 0}} }, 422, "items[0].quantity"},
		"unknown currency":  {"1", func(b map[string]any) { b["currency"] = "XYZ" }, 422, "currency"},
		"10k items":         {"1", func(b map[string]any) { b["items"] = many }, 422, "items"},
		"5 MB":              {"1", func(b map[string]any) { b["status"] = strings.Repeat("x", 5<<20) }, 413, "body"},
		"no identity":       {"1", func(b map[string]any) { b["customer"] = map[string]any{} }, 422, "customer"},
		"bad phone":         {"1", func(b map[string]any) { b["customer"] = map[string]any{"phone": "hello"} }, 422, "customer.phone"},
		"negative total":    {"1", func(b map[string]any) { b["total"] = -5 }, 422, "total"},
		"bad total":         {"1", func(b map[string]any) { b["total"] = "lots" }, 422, "total"},
		"bad tracking url":  {"1", func(b map[string]any) { b["tracking_url"] = "javascript:alert(1)" }, 422, "tracking_url"},
		"bad number":        {"a%20b", func(map[string]any) {}, 422, "number"},
	} {
		body := base()
		tc.mod(body)
		res := c.do("PUT", "/api/v1/orders/"+tc.number, body)
		if res.status != tc.status || !strings.Contains(string(res.body), tc.field) || !strings.Contains(string(res.body), `"error"`) {
			t.Errorf("%s: %d %.300s, want %d naming %s", name, res.status, res.body, tc.status, tc.field)
		}
	}
}

func TestCustomerProfileTypedAttributesTierAndNationalPhone(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	res := c.do("POST", "/api/v1/customers", map[string]any{"external_id": "shop-1", "phone": "070-123 45 67", "tier": "VIP",
		"attributes": map[string]any{"vip": true, "lifetime_value": 18450.5, "orders": 12, "member_since": "2021-03-04T10:00:00+01:00", "city": "Umeå"}})
	if res.status != http.StatusOK {
		t.Fatalf("push: %d %s", res.status, res.body)
	}
	var out struct{ Customer ticketing.Customer }
	res.decode(t, &out)
	cu := out.Customer
	if cu.Tier != "vip" || cu.Attributes["vip"] != true || cu.Attributes["lifetime_value"] != 18450.5 ||
		cu.Attributes["orders"] != float64(12) || cu.Attributes["member_since"] != "2021-03-04T09:00:00Z" || cu.Attributes["city"] != "Umeå" {
		t.Fatalf("customer = %+v", cu)
	}
	if id, ok := cu.Identity(ticketing.IdentityPhone); !ok || id.Value != "+46701234567" {
		t.Fatalf("phone identity = %+v", cu.Identities)
	}
	// Read back from the store, typed.
	var got customerJSON
	c.do("GET", "/api/v1/customers/"+cu.ID, nil).decode(t, &got)
	if got.Customer.Attributes["vip"] != true || got.Customer.Attributes["lifetime_value"] != 18450.5 || got.Customer.Tier != "vip" {
		t.Fatalf("stored = %+v", got.Customer)
	}
	res = c.do("PATCH", "/api/v1/customers/"+cu.ID, map[string]any{"tier": "", "attributes": map[string]any{"vip": false}})
	if res.status != http.StatusOK {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	out.Customer = ticketing.Customer{}
	res.decode(t, &out)
	if out.Customer.Tier != "" || out.Customer.Attributes["vip"] != false || out.Customer.Attributes["city"] != "Umeå" {
		t.Fatalf("patched = %+v", out.Customer)
	}
	for name, body := range map[string]map[string]any{
		"attributes.tags": {"attributes": map[string]any{"tags": []string{"a"}}},
		"attributes.x":    {"attributes": map[string]any{"x": nil}},
	} {
		res := c.do("PATCH", "/api/v1/customers/"+cu.ID, body)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), name) {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	res = c.do("POST", "/api/v1/customers", map[string]any{"external_id": "shop-2", "phone": "not a phone"})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "phone") {
		t.Errorf("bad phone: %d %s", res.status, res.body)
	}
}
