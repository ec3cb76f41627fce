package main

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/svar-dev/svar/ticketing"
)

// TestTicketMergeAndSplitInBrowser: an agent merges a customer's older
// ticket into their open one from the ticket view with the keyboard
// (Merge into…, the picker, the confirm dialog), lands on the merged
// timeline, then splits one message off into a new ticket; at 1280x800 the
// ticket head with both actions leaves the timeline most of the pane, and
// on a phone nothing scrolls sideways.
func TestTicketMergeAndSplitInBrowser(t *testing.T) {
	browser := newBrowser(t)
	shots := os.Getenv("SVAR_SCREENSHOTS") // e.g. $PWD/docs/img, for docs/console.md
	m := startNode(t, "", nil)
	c := login(t, m)
	a, b := twoTickets(t, m, c, "anna@example.se", "Var är mitt paket?", "Kvittot saknas helt")

	agent := newTab(t, browser, "merge")
	agent.do("a laptop's screen", chromedp.EmulateViewport(1280, 800))
	agent.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	agent.do("open the older ticket", chromedp.Navigate(m.URL()+"/tickets/"+a.ID))
	agent.waitFor("its timeline", inTimeline("Var är mitt paket?"))
	agent.waitFor("the customer's tickets loaded", fmt.Sprintf(`document.querySelector('.customer') && document.querySelector('.customer').textContent.includes('#%d')`, b.Number))
	// The actions sit in the status line: the head stays as compact as
	// TestMacroPickerInBrowser wants it.
	if h := evalIn[float64](agent, "head height", `document.querySelector('.ticket-head').getBoundingClientRect().height`); h >= 150 {
		t.Errorf("the ticket head is %.0f px high at 1280x800", h)
	}

	// Keyboard only: focus the button, Enter opens the picker, which has
	// focus; Tab, Tab reaches Merge; the confirm dialog starts on Cancel,
	// so Tab then Enter confirms.
	agent.do("Merge into… with the keyboard", chromedp.Focus(chromedp.JSPath(buttonNamed("Merge into…"))), chromedp.KeyEvent(kb.Enter))
	agent.waitFor("the picker dialog", `document.activeElement === `+byLabel("Ticket to merge into"))
	checkAccessible(t, agent, "merge dialog")
	agent.screenshot(shots, "ticket-merge.png")
	if v := evalIn[string](agent, "picked", byLabel("Ticket to merge into")+`.value`); v != b.ID {
		t.Fatalf("the picker offers %q, want %s", v, b.ID)
	}
	agent.do("Tab to Merge and press it", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	agent.waitFor("the confirm dialog", `document.activeElement && document.activeElement.id === 'confirm-cancel' &&
		document.querySelector('#confirm-text').textContent.includes('#`+fmt.Sprint(b.Number)+`')`)
	agent.do("confirm", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	agent.waitFor("the merged ticket with both timelines", fmt.Sprintf(`location.pathname === '/tickets/%s' && %s && %s`,
		b.ID, inTimeline("Var är mitt paket?"), inTimeline("Kvittot saknas helt")))
	if v := getTicket(t, c, a.ID); v.Ticket.MergedInto != b.ID || v.Ticket.Status != ticketing.StatusClosed {
		t.Fatalf("after the merge the older ticket is %+v", v.Ticket)
	}
	order := evalIn[[]string](agent, "timeline order", timelineJS+`.map(li => li.querySelector('.msg-text') ? li.querySelector('.msg-text').textContent : '')`)
	if !slices.Equal(order, []string{"Var är mitt paket?", "Vi tittar på det.", "Kvittot saknas helt"}) {
		t.Errorf("the merged timeline reads %q", order)
	}

	// The merged-away ticket says where its conversation went.
	agent.do("open the merged-away ticket", chromedp.Navigate(m.URL()+"/tickets/"+a.ID))
	agent.waitFor("the notice and its link", fmt.Sprintf(`[...document.querySelectorAll('.merge-notice a')].some(l => l.getAttribute('href') === '/tickets/%s') && %s === undefined`,
		b.ID, buttonNamed("Merge into…")))

	// Split the latest message off.
	agent.do("back to the merged ticket", chromedp.Navigate(m.URL()+"/tickets/"+b.ID))
	agent.waitFor("its timeline", inTimeline("Kvittot saknas helt"))
	agent.do("Split…", chromedp.Click(chromedp.JSPath(buttonNamed("Split…"))))
	agent.waitFor("a checkbox per message", `document.querySelectorAll('.timeline .split-pick input[type=checkbox]').length === 3`)
	checkAccessible(t, agent, "split mode")
	if !evalIn[bool](agent, "nothing chosen yet", buttonNamed("Move 0 to a new ticket")+`.disabled`) {
		t.Error("the split button works with no message chosen")
	}
	pick := `[...document.querySelectorAll('.timeline .msg')].find(li => li.textContent.includes('Kvittot saknas helt')).querySelector('.split-pick input')`
	agent.do("choose the message with the space bar", chromedp.Focus(chromedp.JSPath(pick)), chromedp.KeyEvent(" "))
	agent.waitFor("one chosen", buttonNamed("Move 1 to a new ticket")+` !== undefined`)
	agent.screenshot(shots, "ticket-split.png")
	agent.do("split", chromedp.Click(chromedp.JSPath(buttonNamed("Move 1 to a new ticket"))))
	agent.waitFor("the confirm dialog", `document.activeElement && document.activeElement.id === 'confirm-cancel'`)
	agent.do("confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	agent.waitFor("the new ticket", fmt.Sprintf(`location.pathname !== '/tickets/%s' && location.pathname.startsWith('/tickets/') && %s && !%s`,
		b.ID, inTimeline("Kvittot saknas helt"), inTimeline("Var är mitt paket?")))
	newID := evalIn[string](agent, "path", `decodeURIComponent(location.pathname.slice('/tickets/'.length))`)
	nv := getTicket(t, c, newID)
	if nv.Ticket.SplitFrom != b.ID || len(nv.Messages) != 1 || nv.Messages[0].Text != "Kvittot saknas helt" {
		t.Fatalf("the split ticket %+v with %d messages", nv.Ticket, len(nv.Messages))
	}
	if got := timelineTexts(getTicket(t, c, b.ID)); !slices.Equal(got, []string{"Var är mitt paket?", "Vi tittar på det."}) {
		t.Errorf("what stayed: %q", got)
	}
	if hasViolation(agent.messages()) {
		t.Errorf("CSP violations: %v", agent.messages())
	}

	// On a phone the ticket head with its actions fits the width.
	agent.do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(m.URL()+"/tickets/"+b.ID))
	agent.waitFor("the ticket on a phone", inTimeline("Var är mitt paket?"))
	if w := evalIn[bool](agent, "sideways", `document.documentElement.scrollWidth > window.innerWidth + 1`); w {
		t.Error("the ticket view scrolls sideways on a phone")
	}
}
