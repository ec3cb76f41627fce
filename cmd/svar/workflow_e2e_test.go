package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/svar-dev/svar/ticketing"
)

// TestTeamWorkflowInBrowser: the "My teams" view lists the tickets of the
// agent's teams with a live count and "Mine" their own; a ticket assigned
// to an agent whose tab is hidden raises the tab title and the favicon
// badge and shows a desktop notification (the agent turned them on);
// another agent's @ autocomplete in the composer inserts a mention that
// notifies the first; the Reports page draws the backlog chart.
func TestTeamWorkflowInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping", chromiumPath)
	}
	m := startNode(t, "", nil)
	base := m.URL()
	admin := login(t, m)
	returns, sales := returnsAndSales(t, admin)
	anna := invite(t, admin, map[string]any{"email": "anna@shop.se", "name": "Anna Berg", "team_ids": []string{returns.ID}})
	bo := invite(t, admin, map[string]any{"email": "bo@shop.se", "name": "Bo", "team_ids": []string{returns.ID}})
	invite(t, admin, map[string]any{"email": "cilla@shop.se", "name": "Cilla", "team_ids": []string{sales.ID}})

	browser := newBrowser(t)
	at, bt := newTab(t, browser, "anna"), newTab(t, browser, "bo")
	at.signIn(base, "anna@shop.se", anna.Password)
	bt.signIn(base, "bo@shop.se", bo.Password)
	// Bo is away, so the returns team's auto-assignment gives Anna the ticket.
	if res := signIn(t, m, "bo@shop.se", bo.Password).do("PUT", "/api/v1/me/availability", map[string]string{"status": "away"}); res.status != 200 {
		t.Fatalf("away: %d %s", res.status, res.body)
	}
	eventually(t, "anna online", func() error {
		if !m.Hub.Online(anna.Agent.ID) {
			return context.DeadlineExceeded
		}
		return nil
	})
	// Anna turned desktop notifications on (the browser's permission is
	// stood in for) and looks at another tab.
	evalIn[bool](at, "hide the tab", `(() => {
		window.__shown = [];
		window.Notification = class { constructor(title, o) { window.__shown.push(title + ' | ' + o.body); } static get permission() { return 'granted'; } };
		localStorage.setItem('svar.notify.desktop', 'on');
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		return true; })()`)

	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope("r@example.se", "<r1@x>", "Jag vill göra en retur")); err != nil {
		t.Fatal(err)
	}
	if err := m.Bus.PublishInbound(ctx, envelope("s@example.se", "<s1@x>", "Var är min leverans")); err != nil {
		t.Fatal(err)
	}
	ret, del := ticketOf(t, admin, "göra en retur"), ticketOf(t, admin, "min leverans")
	eventually(t, "both tickets routed", func() error {
		for _, id := range []string{ret.ID, del.ID} {
			if getTicket(t, admin, id).Ticket.TeamID == "" {
				return fmt.Errorf("%s has no team yet", id)
			}
		}
		return nil
	})

	at.waitFor("the title counts the notification", `document.title.startsWith('(1) ')`)
	at.waitFor("the favicon badge", `(() => { const l = document.querySelector('link[rel=icon]');
		return l.dataset.count === '1' && l.href.startsWith('data:image/png'); })()`)
	at.waitFor("a desktop notification", `window.__shown.length === 1 && window.__shown[0].startsWith('Svar: Assigned | ')`)
	evalIn[bool](at, "show the tab", `delete document.hidden; true`)
	if got := getTicket(t, admin, ret.ID).Ticket.AssigneeID; got != anna.Agent.ID {
		t.Fatalf("the returns ticket went to %q, want anna", got)
	}
	at.do("open My teams", chromedp.Click(chromedp.JSPath(viewLink("My teams"))))
	at.waitFor("the returns ticket in My teams", `location.pathname === '/views/my_teams' && `+rowLink("göra en retur")+` !== undefined`)
	at.waitFor("My teams counts one", `document.querySelector('[data-count=my_teams]').textContent === '1'`)
	if evalIn[bool](at, "the sales ticket", rowLink("min leverans")+` !== undefined`) {
		t.Fatal("anna's My teams lists the sales ticket")
	}
	at.do("open Mine", chromedp.Click(chromedp.JSPath(viewLink("Mine"))))
	at.waitFor("the ticket in Mine", `location.pathname === '/views/mine' && `+rowLink("göra en retur")+` !== undefined`)

	// Bo mentions Anna in a note, picking her from the list.
	bt.do("open the ticket", chromedp.Navigate(base+"/tickets/"+ret.ID))
	bt.waitFor("the composer", `document.querySelector('#reply') !== null`)
	bt.do("type a mention", chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "Kan du ta den här, @an"))
	bt.waitFor("the agents to mention", `(() => { const l = document.querySelector('[role=listbox][aria-label="Agents to mention"]');
		const ta = document.querySelector('#reply');
		return l && !l.hidden && l.querySelectorAll('[role=option]').length === 1 && l.textContent.includes('Anna Berg') &&
			ta.getAttribute('aria-activedescendant') === l.querySelector('[role=option]').id &&
			l.querySelector('[role=option]').getAttribute('aria-selected') === 'true'; })()`)
	checkAccessible(t, bt, "ticket with the mention list")
	bt.pressEnter("pick with Enter")
	bt.waitFor("the mention inserted", `document.querySelector('#reply').value === 'Kan du ta den här, @AnnaBerg ' &&
		document.querySelector('[role=listbox][aria-label="Agents to mention"]').hidden && !document.querySelector('#reply').hasAttribute('aria-activedescendant')`)
	bt.do("type @bo", chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "@bo"))
	bt.waitFor("Bo is not offered to himself", `document.querySelector('#reply').value.endsWith(' @bo') &&
		document.querySelector('[role=listbox][aria-label="Agents to mention"]').hidden`)
	bt.do("type @c", chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), kb.Backspace+kb.Backspace+"c"))
	bt.waitFor("Cilla offered", `!document.querySelector('[role=listbox][aria-label="Agents to mention"]').hidden`)
	bt.do("Escape", chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), kb.Escape))
	bt.waitFor("the list closed, the text kept", `document.querySelector('[role=listbox][aria-label="Agents to mention"]').hidden &&
		document.querySelector('#reply').value === 'Kan du ta den här, @AnnaBerg @c'`)
	bt.do("clear the last word", chromedp.Evaluate[chromedp.Void](`document.querySelector('#reply').value = 'Kan du ta den här, @AnnaBerg'`))
	bt.do("add the note", chromedp.Click(chromedp.JSPath(buttonNamed("Add note"))))
	at.waitFor("anna is told of the mention", `document.title.startsWith('(2) ') && document.querySelector('link[rel=icon]').dataset.count === '2'`)
	var notes struct {
		Notifications []ticketing.Notification `json:"notifications"`
	}
	c := signIn(t, m, "anna@shop.se", anna.Password)
	c.do("GET", "/api/v1/me/notifications", nil).decode(t, &notes)
	if len(notes.Notifications) != 2 || notes.Notifications[0].Kind != ticketing.NotifyMention || notes.Notifications[0].TicketID != ret.ID {
		t.Fatalf("anna's notifications = %+v", notes.Notifications)
	}

	// Anna's settings: her satisfaction figure and the notification choices.
	at.do("open Settings", chromedp.Navigate(base+"/settings"))
	at.waitFor("the notification settings", `document.querySelector('#set-desktop') !== null && document.querySelector('#set-sound') !== null &&
		document.querySelector('.agent-csat').textContent === 'Satisfaction (90 days): No answers yet'`)
	at.do("turn the sound on", chromedp.Click(chromedp.JSPath(byLabel("Play a sound for new notifications"))))
	at.waitFor("the sound is on", `localStorage.getItem('svar.notify.sound') === 'on' &&
		[...document.querySelectorAll('[role=status]')].some(s => s.textContent === 'The sound is on.')`)
	checkAccessible(t, at, "settings with notifications")

	// The backlog chart on the Reports page (both tickets are open).
	ad := newTab(t, browser, "admin")
	ad.signIn(base, m.Config.AdminEmail, testPassword)
	ad.do("open Reports", chromedp.Navigate(base+"/reports"))
	ad.waitFor("the backlog chart", `(() => { const s = document.querySelector('.backlog-svg svg[role=img]');
		return s && s.querySelector('title').textContent === 'Backlog by age' && s.querySelectorAll('rect.backlog-bar').length === 1 &&
			[...document.querySelectorAll('table.backlog tbody tr')].some(tr => tr.lastElementChild.textContent === '2'); })()`)
	ad.do("by team", chromedp.SetValue(chromedp.JSPath(byLabel("Group by")), "team"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#backlog-group').dispatchEvent(new Event('change'))`))
	ad.waitFor("one row per team", `document.querySelectorAll('table.backlog tbody tr').length === 2 &&
		[...document.querySelectorAll('.backlog-svg svg text')].some(x => x.textContent === 'Returns')`)
	checkAccessible(t, ad, "reports with the backlog")
	ad.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/reports"))
	ad.waitFor("the backlog chart on a phone", `(() => { const s = document.querySelector('.backlog-svg svg');
		return s && s.getBoundingClientRect().width <= 390 && s.getBoundingClientRect().width > 200; })()`)
	if w := evalIn[float64](ad, "width", `document.querySelector('.backlog-svg').scrollWidth`); w > 390 {
		t.Errorf("the backlog chart is %v px wide on a 390 px phone", w)
	}
	for _, tb := range []*tab{at, bt, ad} {
		if hasViolation(tb.messages()) {
			t.Errorf("CSP violations in %s: %v", tb.name, tb.messages())
		}
	}
}

// pressEnter presses Enter in the focused element as a keyboard does: a
// keydown that produces text, which the page may prevent (chromedp's
// SendKeys sends the text as a separate char event that inserts it
// whatever the keydown handler did).
func (b *tab) pressEnter(what string) {
	b.t.Helper()
	b.do(what, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for _, p := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, Text: "\r"},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13},
		} {
			if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, p); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	}))
}
