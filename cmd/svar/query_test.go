package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

// TestSearchViewsAndCustomersOverHTTP drives the query endpoints of a
// whole node: search with snippets, a saved view with its count, the
// customer list, and counts pushed on the live socket.
func TestSearchViewsAndCustomersOverHTTP(t *testing.T) {
	m := startNode(t, "", nil)
	ctx := context.Background()
	c := login(t, m)
	ws := c.live("")
	for i, text := range []string{"Jag vill returnera jackan", "Cykeln har en punktering"} {
		env := envelope(fmt.Sprintf("s%d@example.se", i), fmt.Sprintf("<s%d@x>", i), text)
		if err := m.Bus.PublishInbound(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	var out struct {
		Results []struct {
			Ticket  ticketing.Ticket   `json:"ticket"`
			Message *ticketing.Message `json:"message"`
			Snippet string             `json:"snippet"`
		} `json:"results"`
	}
	eventually(t, "search finds the message", func() error {
		res := c.do("GET", "/api/v1/search?q="+url.QueryEscape("retur"), nil)
		if res.status != 200 {
			return fmt.Errorf("%d %s", res.status, res.body)
		}
		res.decode(t, &out)
		if len(out.Results) != 1 || out.Results[0].Message == nil {
			return fmt.Errorf("results %s", res.body)
		}
		return nil
	})
	if want := "Jag vill <mark>returnera</mark> jackan"; !strings.Contains(out.Results[0].Snippet, want) {
		t.Errorf("snippet %q, want %q", out.Results[0].Snippet, want)
	}

	// Counts arrive on the live socket without asking.
	deadline := 0
	for {
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		if f["type"] == "counts" {
			cs := f["counts"].(map[string]any)
			if cs["open"] == float64(2) {
				break
			}
		}
		if deadline++; deadline > 200 {
			t.Fatal("no counts frame with both tickets")
		}
	}

	var created struct {
		View ticketing.View `json:"view"`
	}
	res := c.do("POST", "/api/v1/views", map[string]any{"name": "Cyklar", "filters": map[string]string{"q": "cykel", "status": "open"}, "shared": true})
	if res.status != 201 {
		t.Fatalf("create view: %d %s", res.status, res.body)
	}
	res.decode(t, &created)
	var views struct {
		Views []ticketing.View `json:"views"`
	}
	c.do("GET", "/api/v1/views", nil).decode(t, &views)
	if len(views.Views) != 1 || views.Views[0].Count == nil || *views.Views[0].Count != 1 {
		t.Fatalf("views %+v", views)
	}
	var page ticketing.TicketPage
	c.do("GET", "/api/v1/tickets?view="+created.View.ID, nil).decode(t, &page)
	if len(page.Tickets) != 1 || !strings.Contains(page.Tickets[0].Preview, "Cykeln") {
		t.Fatalf("view's tickets %+v", page.Tickets)
	}
	var custs ticketing.CustomerPage
	c.do("GET", "/api/v1/customers?q=s1%40example.se", nil).decode(t, &custs)
	if len(custs.Customers) != 1 {
		t.Fatalf("customers %+v", custs)
	}
	c.do("GET", "/api/v1/customers?limit=1", nil).decode(t, &custs)
	if len(custs.Customers) != 1 || custs.NextCursor == "" {
		t.Fatalf("customers page %+v", custs)
	}
}
