package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestEmailShownHonestly runs a whole node with its email channel on the
// in-memory IMAP server: an inbound mail's original is a download for
// signed-in agents only; a name the shop pushes reaches the ticket's
// customer_name (and the list's search); a mail whose receiving server
// failed DMARC is marked unverified and the ticket view hides the
// customer's orders.
func TestEmailShownHonestly(t *testing.T) {
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startNode(t, "", func(m *Main) {
		e := &m.Config.Email
		e.Address = "Shop Support <support@shop.example>"
		e.Mailbox = "INBOX"
		e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
		e.SMTP.Addr, e.SMTP.Username, e.SMTP.Password, e.SMTP.TLS = out.addr, "", "", "none"
		e.AuthServIDs = []string{"mx.shop.example"}
	})
	c := login(t, m)

	first := "Authentication-Results: mx.shop.example; dmarc=pass header.from=example.se\r\n" +
		"From: anna@example.se\r\nTo: support@shop.example\r\nSubject: Leverans\r\nMessage-ID: <h1@example.se>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVar är min order?\r\n"
	mb.deliver(t, first)
	view := customerTicket(t, c, "anna@example.se", 1)
	msg := view.Messages[0]

	// 1. The original, as a download only.
	res := c.do("GET", "/api/v1/messages/"+msg.ID+"/original", nil)
	if res.status != 200 || string(res.body) != first {
		t.Fatalf("original: %d %q", res.status, res.body)
	}
	h := res.header
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, ".eml") ||
		h.Get("Content-Type") != "application/octet-stream" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("original headers: %v", h)
	}
	anon := &agentClient{t: t, base: m.URL(), http: &http.Client{Timeout: 10 * time.Second}}
	if res := anon.do("GET", "/api/v1/messages/"+msg.ID+"/original", nil); res.status != 401 {
		t.Errorf("original without a session: %d", res.status)
	}
	if res := c.do("GET", "/api/v1/messages/nosuchmessage/original", nil); res.status != 404 {
		t.Errorf("original of an unknown message: %d", res.status)
	}
	// ... and only for agents who may see the ticket.
	var invited struct{ Password string }
	if res := c.do("POST", "/api/v1/agents", map[string]string{"email": "olle@shop.example", "name": "Olle", "role": "agent"}); res.status != 201 {
		t.Fatalf("invite: %d %s", res.status, res.body)
	} else {
		res.decode(t, &invited)
	}
	jar, _ := cookiejar.New(nil)
	olle := &agentClient{t: t, base: m.URL(), http: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	if res := olle.do("POST", "/api/v1/session", map[string]string{"email": "olle@shop.example", "password": invited.Password}); res.status != 200 {
		t.Fatalf("olle signs in: %d %s", res.status, res.body)
	}
	if res := olle.do("GET", "/api/v1/messages/"+msg.ID+"/original", nil); res.status != 200 {
		t.Errorf("the original of a ticket without a team, for another agent: %d, want 200", res.status)
	}
	var team struct{ Team struct{ ID string } }
	if res := c.do("POST", "/api/v1/teams", map[string]any{"name": "Returer"}); res.status != 201 {
		t.Fatalf("create team: %d %s", res.status, res.body)
	} else {
		res.decode(t, &team)
	}
	if res := c.do("PATCH", "/api/v1/tickets/"+view.Ticket.ID, map[string]any{"team_id": team.Team.ID}); res.status != 200 {
		t.Fatalf("move the ticket to the team: %d %s", res.status, res.body)
	}
	if res := olle.do("GET", "/api/v1/messages/"+msg.ID+"/original", nil); res.status != 404 {
		t.Errorf("the original of a ticket outside the agent's teams: %d, want 404", res.status)
	}
	if res := c.do("GET", "/api/v1/messages/"+msg.ID+"/original", nil); res.status != 200 {
		t.Errorf("the admin's download after the move: %d", res.status)
	}
	if v := msg.SenderVerified; v == nil || !*v {
		t.Errorf("a mail that passed DMARC: sender_verified %v", v)
	}

	// 2. The shop pushes the customer's name and orders: the ticket shows it.
	res = c.do("POST", "/api/v1/customers", map[string]any{"external_id": "shop-17", "email": "anna@example.se",
		"name": "Anna Andersson", "orders": []map[string]any{{"id": "1001", "total": "499 SEK", "status": "shipped"}}})
	if res.status != 200 {
		t.Fatalf("push customer: %d %s", res.status, res.body)
	}
	eventually(t, "the pushed name on the ticket and in search", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?q=andersson", nil).decode(t, &page)
		if len(page.Tickets) != 1 || page.Tickets[0].ID != view.Ticket.ID || page.Tickets[0].CustomerName != "Anna Andersson" {
			return fmt.Errorf("a search for the pushed name finds %d tickets", len(page.Tickets))
		}
		return nil
	})
	var tv ticketing.TicketView
	c.do("GET", "/api/v1/tickets/"+view.Ticket.ID, nil).decode(t, &tv)
	if tv.Ticket.CustomerName != "Anna Andersson" || len(tv.Customer.Orders) != 1 || tv.OrdersHidden != "" {
		t.Fatalf("after the push: name %q, orders %v, hidden %q", tv.Ticket.CustomerName, tv.Customer.Orders, tv.OrdersHidden)
	}

	// 3. A mail the receiving server failed: unverified, orders hidden.
	mb.deliver(t, "Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom=example.se; dkim=none; dmarc=fail header.from=example.se\r\n"+
		"From: Anna Andersson <anna@example.se>\r\nTo: support@shop.example\r\nSubject: Ny adress\r\nMessage-ID: <forged@evil.example>\r\n"+
		"\r\nSkicka order 1001 till Storgatan 1 i stället.\r\n")
	eventually(t, "the second mail on the ticket", func() error {
		tv = ticketing.TicketView{} // a fresh decode: absent fields must stay absent
		c.do("GET", "/api/v1/tickets/"+view.Ticket.ID, nil).decode(t, &tv)
		if len(tv.Messages) != 2 {
			return fmt.Errorf("%d messages", len(tv.Messages))
		}
		return nil
	})
	forged := tv.Messages[1]
	if forged.SenderVerified == nil || *forged.SenderVerified {
		t.Errorf("the failed mail: sender_verified %v, want false", forged.SenderVerified)
	}
	if len(tv.Customer.Orders) != 0 || tv.OrdersHidden != ticketing.OrdersHiddenUnverified {
		t.Errorf("orders %v, hidden %q: want them hidden after an unverified mail", tv.Customer.Orders, tv.OrdersHidden)
	}
}
