package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestAgentEditsCustomerContactsAndAttributes: PATCH /api/v1/customers/{id}
// takes emails and phones (national form normalized), typed attributes and
// their removal; a new email finds the customer at once, a removed one is
// released (its next mail starts a new customer), another customer's email
// is a 409 naming it, bad values are 422s naming them, and search finds the
// customer by the phone as a person types it.
func TestAgentEditsCustomerContactsAndAttributes(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()
	for _, e := range [][3]string{{"edit@example.se", "<e1@x>", "Hej"}, {"old@example.se", "<e2@x>", "Hej igen"}, {"other@example.se", "<e3@x>", "Hallå"}} {
		if err := m.Bus.PublishInbound(ctx, envelope(e[0], e[1], e[2])); err != nil {
			t.Fatal(err)
		}
	}
	id := customerByEmail(t, c, m, "edit@example.se")
	old := customerByEmail(t, c, m, "old@example.se")
	customerByEmail(t, c, m, "other@example.se")
	// "old@example.se" is its own customer; take it off there first, so
	// that it can be given to this one.
	if res := c.do("PATCH", "/api/v1/customers/"+old, map[string]any{"emails": []string{}}); res.status != http.StatusOK {
		t.Fatalf("release old@: %d %s", res.status, res.body)
	}
	if _, err := m.Service.CustomerByIdentity(ctx, "email:old@example.se"); !ticketing.IsNotFound(err) {
		t.Fatalf("old@ after its removal: %v, want not found", err)
	}

	res := c.do("PATCH", "/api/v1/customers/"+id, map[string]any{
		"name": "  Edit Eriksson ", "tier": "VIP",
		"emails":     []string{"edit@example.se", "Old@Example.se"},
		"phones":     []string{"070-123 45 67"},
		"attributes": map[string]any{"vip": true, "lifetime_value": 1200.5, "member_since": "2021-03-04", "city": "Luleå", "temp": "x"},
	})
	if res.status != http.StatusOK {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	var out struct{ Customer ticketing.Customer }
	res.decode(t, &out)
	cu := out.Customer
	if cu.Name != "Edit Eriksson" || cu.Tier != "vip" || cu.Attributes["vip"] != true || cu.Attributes["lifetime_value"] != 1200.5 ||
		cu.Attributes["member_since"] != "2021-03-04" || cu.Attributes["city"] != "Luleå" {
		t.Fatalf("patched = %+v", cu)
	}
	var emails, phones []string
	for _, i := range cu.Identities {
		switch i.Kind {
		case "email":
			emails = append(emails, i.Value)
		case "phone":
			phones = append(phones, i.Value)
		}
	}
	slices.Sort(emails)
	if strings.Join(emails, ",") != "edit@example.se,old@example.se" || strings.Join(phones, ",") != "+46701234567" {
		t.Fatalf("identities = %+v", cu.Identities)
	}
	// Remove one attribute, change another's type.
	res = c.do("PATCH", "/api/v1/customers/"+id, map[string]any{"remove_attributes": []string{"temp"}, "attributes": map[string]any{"city": 42}})
	out.Customer = ticketing.Customer{}
	res.decode(t, &out)
	if res.status != http.StatusOK || out.Customer.Attributes["temp"] != nil || out.Customer.Attributes["city"] != float64(42) {
		t.Fatalf("remove/retype: %d %s", res.status, res.body)
	}

	// The new email and the phone find this customer now.
	if err := m.Bus.PublishInbound(ctx, envelope("old@example.se", "<e4@x>", "Det är jag igen")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "old@'s mail on the edited customer", func() error {
		var cv customerJSON
		c.do("GET", "/api/v1/customers/"+id, nil).decode(t, &cv)
		for _, tk := range cv.Tickets {
			if strings.Contains(tk.Preview, "Det är jag igen") {
				return nil
			}
		}
		return fmt.Errorf("tickets %+v", cv.Tickets)
	})
	eventually(t, "search by the phone as typed", func() error {
		var page struct{ Customers []ticketing.Customer }
		c.do("GET", "/api/v1/customers?q="+url.QueryEscape("070-123 45 67"), nil).decode(t, &page)
		if len(page.Customers) != 1 || page.Customers[0].ID != id {
			return fmt.Errorf("customers %+v", page.Customers)
		}
		return nil
	})

	// Conflicts and bad values change nothing.
	for _, tc := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"emails": []string{"edit@example.se", "other@example.se"}}, http.StatusConflict, "emails[1]"},
		{map[string]any{"emails": []string{"not an address"}}, http.StatusUnprocessableEntity, "emails[0]"},
		{map[string]any{"emails": []string{"Anna <a@example.se>"}}, http.StatusUnprocessableEntity, "emails[0]"},
		{map[string]any{"phones": []string{"+46701234567", "hello"}}, http.StatusUnprocessableEntity, "phones[1]"},
		{map[string]any{"emails": make([]string, 11)}, http.StatusUnprocessableEntity, "emails"},
		{map[string]any{"remove_attributes": []string{"a.b"}}, http.StatusUnprocessableEntity, "remove_attributes[0]"},
		{map[string]any{"attributes": map[string]any{"x": []int{1}}}, http.StatusUnprocessableEntity, "attributes.x"},
		{map[string]any{"phones": "070"}, http.StatusBadRequest, "phones"},
	} {
		res := c.do("PATCH", "/api/v1/customers/"+id, tc.body)
		if res.status != tc.status || !strings.Contains(string(res.body), `"field":"`+tc.field+`"`) {
			t.Errorf("%v: %d %s, want %d naming %s", tc.body, res.status, res.body, tc.status, tc.field)
		}
	}
	var cv customerJSON
	c.do("GET", "/api/v1/customers/"+id, nil).decode(t, &cv)
	if len(cv.Customer.Identities) != len(cu.Identities) {
		t.Fatalf("a refused edit changed the identities: %+v", cv.Customer.Identities)
	}

	// A sender kept as it came (an SMS short code) does not stop an edit.
	sms := &ticketing.Envelope{Channel: ticketing.ChannelSMS, ExternalID: "sms-short-1",
		From: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "Klarna"}, Text: "Din kod", ReceivedAt: time.Now().UTC()}
	if err := m.Bus.PublishInbound(ctx, sms); err != nil {
		t.Fatal(err)
	}
	var short string
	eventually(t, "the short code's customer", func() error {
		cu, err := m.Service.CustomerByIdentity(ctx, "phone:Klarna")
		if err != nil {
			return err
		}
		short = cu.ID
		return nil
	})
	if res := c.do("PATCH", "/api/v1/customers/"+short, map[string]any{"name": "Klarna", "phones": []string{"Klarna", "070-765 43 21"}}); res.status != http.StatusOK ||
		!strings.Contains(string(res.body), `"value":"Klarna"`) || !strings.Contains(string(res.body), `"value":"+46707654321"`) {
		t.Errorf("edit a short code's customer: %d %s", res.status, res.body)
	}

	// Removing old@ releases it: its next mail is a new customer.
	if res := c.do("PATCH", "/api/v1/customers/"+id, map[string]any{"emails": []string{"edit@example.se"}}); res.status != http.StatusOK {
		t.Fatalf("remove old@: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(ctx, envelope("old@example.se", "<e5@x>", "Ny person")); err != nil {
		t.Fatal(err)
	}
	if fresh := customerByEmail(t, c, m, "old@example.se"); fresh == id {
		t.Fatalf("old@'s mail after its removal went to the customer it was taken from")
	}
}

type timelineJSON struct {
	Customer   ticketing.Customer   `json:"customer"`
	Tickets    []*ticketing.Ticket  `json:"tickets"`
	Messages   []*ticketing.Message `json:"messages"`
	NextCursor string               `json:"next_cursor"`
}

// TestCustomerTimelineAcrossTickets: a customer's messages from three
// tickets come newest first across tickets, a page at a time, none twice
// and none missing; an agent of another team sees only the tickets (and
// their messages) they may see, and a customer with none of those is 404.
func TestCustomerTimelineAcrossTickets(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	ctx := context.Background()
	const who = "timeline@example.se"
	var sent []string
	base := time.Now().UTC().Add(-time.Hour)
	var tickets []string
	for tk := 0; tk < 3; tk++ {
		for i := 0; i < 3; i++ {
			n := len(sent)
			text := fmt.Sprintf("message %d of ticket %d", i, tk)
			e := envelope(who, fmt.Sprintf("<tl%d@x>", n), text)
			e.ReceivedAt = base.Add(time.Duration(n) * time.Minute)
			if err := m.Bus.PublishInbound(ctx, e); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, text)
			customerTicket(t, c, who, i+1)
		}
		v := customerTicket(t, c, who, 3)
		tickets = append(tickets, v.Ticket.ID)
		setStatus(t, c, v.Ticket.ID, "closed")
		eventually(t, "closed in the list", func() error {
			var page ticketing.TicketPage
			c.do("GET", "/api/v1/tickets?status=open", nil).decode(t, &page)
			if len(page.Tickets) != 0 {
				return fmt.Errorf("open: %d", len(page.Tickets))
			}
			return nil
		})
	}
	id := customerByEmail(t, c, m, who)

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		var tl timelineJSON
		res := c.do("GET", "/api/v1/customers/"+id+"/timeline?limit=2&cursor="+url.QueryEscape(cursor), nil)
		if res.status != http.StatusOK {
			t.Fatalf("timeline: %d %s", res.status, res.body)
		}
		res.decode(t, &tl)
		if len(tl.Tickets) != 3 || tl.Customer.ID != id {
			t.Fatalf("timeline tickets = %d, customer %q", len(tl.Tickets), tl.Customer.ID)
		}
		for _, msg := range tl.Messages {
			got = append(got, msg.Text)
		}
		if tl.NextCursor == "" {
			break
		}
		if len(tl.Messages) != 2 {
			t.Fatalf("a page that is not the last has %d messages", len(tl.Messages))
		}
		cursor = tl.NextCursor
	}
	want := slices.Clone(sent)
	slices.Reverse(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("timeline =\n%v\nwant\n%v", got, want)
	}

	// An agent of another team: the second ticket belongs to Returns.
	returns := createTeam(t, c, "Returns", false)
	sales := createTeam(t, c, "Sales", false)
	if res := c.do("PATCH", "/api/v1/tickets/"+tickets[1], map[string]any{"team_id": returns.ID}); res.status != 200 {
		t.Fatalf("team: %d %s", res.status, res.body)
	}
	bo := invite(t, c, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{sales.ID}})
	cb := signIn(t, m, "bo@shop.se", bo.Password)
	eventually(t, "Bo's timeline without Returns' ticket", func() error {
		var tl timelineJSON
		res := cb.do("GET", "/api/v1/customers/"+id+"/timeline", nil)
		res.decode(t, &tl)
		if res.status != 200 || len(tl.Tickets) != 2 || len(tl.Messages) != 6 {
			return fmt.Errorf("%d: %d tickets, %d messages", res.status, len(tl.Tickets), len(tl.Messages))
		}
		for _, msg := range tl.Messages {
			if msg.TicketID == tickets[1] {
				return fmt.Errorf("a Returns message: %q", msg.Text)
			}
		}
		return nil
	})
	for _, tk := range []string{tickets[0], tickets[2]} {
		if res := c.do("PATCH", "/api/v1/tickets/"+tk, map[string]any{"team_id": returns.ID}); res.status != 200 {
			t.Fatalf("team: %d %s", res.status, res.body)
		}
	}
	eventually(t, "Bo sees no ticket of the customer", func() error {
		if res := cb.do("GET", "/api/v1/customers/"+id+"/timeline", nil); res.status != http.StatusNotFound {
			return fmt.Errorf("%d %s", res.status, res.body)
		}
		return nil
	})
	for _, q := range []string{"limit=0", "limit=500", "cursor=nonsense"} {
		if res := c.do("GET", "/api/v1/customers/"+id+"/timeline?"+q, nil); res.status/100 != 4 || !strings.Contains(string(res.body), strings.Split(q, "=")[0]) {
			t.Errorf("%s: %d %s", q, res.status, res.body)
		}
	}
	if res := c.do("GET", "/api/v1/customers/nobody/timeline", nil); res.status != http.StatusNotFound {
		t.Errorf("unknown customer: %d", res.status)
	}
}

// TestOrdersTokenMacrosAndSearchByOrder: a token an agent (not an admin)
// made with only orders:write pushes orders and cannot read tickets or
// customers; the macro placeholders {{order.*}} show the customer's latest
// order from PUT /api/v1/orders; search finds the ticket by the order
// number its customer wrote.
func TestOrdersTokenMacrosAndSearchByOrder(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope("shopper@example.se", "<o1@x>", "Var är beställning 5521?")); err != nil {
		t.Fatal(err)
	}
	cid := customerByEmail(t, admin, m, "shopper@example.se")
	tk := customerTicket(t, admin, "shopper@example.se", 1).Ticket

	clerk := invite(t, admin, map[string]any{"email": "clerk@shop.se", "name": "Clerk"})
	cc := signIn(t, m, "clerk@shop.se", clerk.Password)
	shop := createToken(t, cc, map[string]any{"name": "shop backend", "scopes": []string{"orders:write"}})
	for _, o := range []struct {
		number, status, placed, tracking string
	}{
		{"5520", "delivered", "2026-11-01T10:00:00Z", "https://track.example/5520"},
		{"5521", "shipped", "2026-11-28T10:00:00Z", "https://track.example/5521"},
	} {
		res := bearer(t, m.URL(), shop.Token, "PUT", "/api/v1/orders/"+o.number, map[string]any{
			"customer": map[string]any{"email": "shopper@example.se"}, "status": o.status, "placed_at": o.placed, "tracking_url": o.tracking})
		if res.status != http.StatusOK {
			t.Fatalf("orders:write token puts order %s: %d %s", o.number, res.status, res.body)
		}
	}
	for _, p := range []string{"/api/v1/tickets", "/api/v1/tickets/" + tk.ID, "/api/v1/customers/" + cid, "/api/v1/search?q=5521", "/api/v1/customers/" + cid + "/timeline"} {
		if res := bearer(t, m.URL(), shop.Token, "GET", p, nil); res.status != http.StatusForbidden {
			t.Errorf("orders:write token reads %s: %d %s", p, res.status, res.body)
		}
	}
	// The clerk's own session may not push orders (only admins and tokens
	// that name orders:write).
	if res := cc.do("PUT", "/api/v1/orders/9", map[string]any{"customer": map[string]any{"email": "x@example.se"}}); res.status != http.StatusForbidden {
		t.Errorf("an agent's session pushes an order: %d %s", res.status, res.body)
	}

	res := admin.do("POST", "/api/v1/macros", map[string]any{"name": "Where is it", "shared": true,
		"text": "Order {{order.number}} is {{order.status}}: {{order.tracking_url}}"})
	if res.status != http.StatusCreated {
		t.Fatalf("macro: %d %s", res.status, res.body)
	}
	var mc struct{ Macro struct{ ID string } }
	res.decode(t, &mc)
	const want = "Order 5521 is shipped: https://track.example/5521"
	var pv struct{ Text string }
	admin.do("GET", "/api/v1/tickets/"+tk.ID+"/macros/"+mc.Macro.ID+"/preview", nil).decode(t, &pv)
	if pv.Text != want {
		t.Fatalf("preview = %q, want %q", pv.Text, want)
	}
	res = admin.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"macro_id": mc.Macro.ID, "note": true})
	var sent struct{ Message ticketing.Message }
	res.decode(t, &sent)
	if res.status != http.StatusCreated || sent.Message.Text != want {
		t.Fatalf("macro reply: %d %q %s", res.status, sent.Message.Text, res.body)
	}
	// An update of the older order makes it no newer: still 5521.
	if res := bearer(t, m.URL(), shop.Token, "PUT", "/api/v1/orders/5521", map[string]any{
		"customer": map[string]any{"email": "shopper@example.se"}, "status": "delivered", "placed_at": "2026-11-28T10:00:00Z",
		"tracking_url": "https://track.example/5521"}); res.status != 200 {
		t.Fatalf("update: %d", res.status)
	}
	admin.do("GET", "/api/v1/tickets/"+tk.ID+"/macros/"+mc.Macro.ID+"/preview", nil).decode(t, &pv)
	if pv.Text != "Order 5521 is delivered: https://track.example/5521" {
		t.Fatalf("preview after the update = %q", pv.Text)
	}

	// A message naming order 5520 links it to the ticket, and search
	// finds the ticket by the number (ticketing/query's tests show the
	// ticket's own search document holds its order numbers).
	if err := m.Bus.PublishInbound(ctx, envelope("shopper@example.se", "<o2@x>", "Hej, ordernummer: 5520 också")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "search by order number", func() error {
		for _, q := range []string{"5520", "#5520"} {
			var page ticketing.TicketPage
			admin.do("GET", "/api/v1/tickets?q="+url.QueryEscape(q), nil).decode(t, &page)
			if len(page.Tickets) != 1 || page.Tickets[0].ID != tk.ID || !slices.Contains(page.Tickets[0].OrderNumbers, "5520") {
				return fmt.Errorf("q=%s: %+v", q, page.Tickets)
			}
		}
		return nil
	})
}
