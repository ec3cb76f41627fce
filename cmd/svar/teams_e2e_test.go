package main

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/svar-dev/svar/ticketing"
)

// returnsAndSales makes two teams, Returns (auto-assigning) and Sales, and
// routes tickets that say "retur" to Returns and the rest to Sales.
func returnsAndSales(t *testing.T, admin *agentClient) (returns, sales ticketing.Team) {
	t.Helper()
	returns = createTeam(t, admin, "Returns", true)
	sales = createTeam(t, admin, "Sales", false)
	if res := admin.do("PUT", "/api/v1/routing", map[string]any{"rules": []map[string]any{{"words": []string{"retur"}, "team_id": returns.ID}},
		"default_team_id": sales.ID}); res.status != 200 {
		t.Fatalf("routing: %d %s", res.status, res.body)
	}
	return returns, sales
}

// Two agents in two teams see only their teams' tickets in the console,
// and the one a ticket is assigned to hears of it live (the tab title).
func TestTeamsInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping", chromiumPath)
	}
	m := startNode(t, "", nil)
	base := m.URL()
	admin := login(t, m)
	returns, sales := returnsAndSales(t, admin)
	anna := invite(t, admin, map[string]any{"email": "anna@shop.se", "name": "Anna", "team_ids": []string{returns.ID}})
	bo := invite(t, admin, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{sales.ID}})

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("lang", "en-US"))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	at, bt := newTab(t, browser, "anna"), newTab(t, browser, "bo")
	at.signIn(base, "anna@shop.se", anna.Password)
	bt.signIn(base, "bo@shop.se", bo.Password)
	eventually(t, "anna online", func() error {
		if !m.Hub.Online(anna.Agent.ID) {
			return context.DeadlineExceeded
		}
		return nil
	})

	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope("r@example.se", "<r1@x>", "Jag vill göra en retur")); err != nil {
		t.Fatal(err)
	}
	if err := m.Bus.PublishInbound(ctx, envelope("s@example.se", "<s1@x>", "Var är min leverans")); err != nil {
		t.Fatal(err)
	}
	at.waitFor("anna's returns ticket", rowLink("göra en retur")+` !== undefined`)
	at.waitFor("anna is told it is hers", `document.title.startsWith('(1) ')`)
	bt.waitFor("bo's sales ticket", rowLink("min leverans")+` !== undefined`)
	// A new ticket has no team until routing gives it one, and consoles
	// drop it then (ticket.removed): once both tickets have their teams,
	// neither list shows the other team's ticket.
	eventually(t, "both tickets routed", func() error {
		var page struct {
			Tickets []struct {
				TeamID string `json:"team_id"`
			}
		}
		admin.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		if len(page.Tickets) != 2 {
			return context.DeadlineExceeded
		}
		for _, tk := range page.Tickets {
			if tk.TeamID == "" {
				return context.DeadlineExceeded
			}
		}
		return nil
	})
	at.waitFor("anna's list without the sales ticket", rowLink("min leverans")+` === undefined`)
	bt.waitFor("bo's list without the returns ticket", rowLink("göra en retur")+` === undefined`)
	if evalIn[bool](at, "anna's list", rowLink("min leverans")+` !== undefined`) {
		t.Fatal("anna sees the sales ticket")
	}
	if evalIn[bool](bt, "bo's list", rowLink("göra en retur")+` !== undefined`) {
		t.Fatal("bo sees the returns ticket")
	}
	if evalIn[bool](bt, "bo's title", `document.title.startsWith('(')`) {
		t.Fatal("bo was notified of anna's ticket")
	}
}
