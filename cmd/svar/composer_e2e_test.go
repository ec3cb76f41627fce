package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/svar-dev/svar/ticketing"
)

// TestMacroPickerInBrowser: a customer writes in the demo shop's widget;
// the agent opens the ticket, types "/" in the reply box, finds the macro
// by a fuzzy query, sees its preview, picks it with the keyboard, edits
// nothing and sends. The widget shows the rendered text, and the macro's
// actions changed the ticket's tags and status.
func TestMacroPickerInBrowser(t *testing.T) {
	browser := newBrowser(t)
	m := startNode(t, "", nil)
	admin := login(t, m)
	live := admin.live("")
	res := admin.do("POST", "/api/v1/macros", map[string]any{
		"name":    "Orderstatus",
		"text":    "Hello {{customer.first_name | default: \"there\"}}! Your case is #{{ticket.number}}.",
		"texts":   map[string]string{"sv": "Hej {{customer.first_name | default: \"där\"}}! Ditt ärende är #{{ticket.number}}."},
		"actions": map[string]any{"tags_add": []string{"order"}, "status": "pending"},
		"shared":  true,
	})
	if res.status != http.StatusCreated {
		t.Fatalf("create macro: %d %s", res.status, res.body)
	}
	admin.do("POST", "/api/v1/macros", map[string]any{"name": "Returns", "text": "Send it back within 30 days.", "shared": true})

	// The customer, in the widget.
	widget := newTab(t, browser, "widget")
	const root = widgetRoot
	widget.do("open the demo shop",
		chromedp.Navigate(m.URL()+"/demo"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#svar-chat') && `+root+`.querySelector('button.launch')`))
	widget.do("write in the widget",
		chromedp.Click(chromedp.JSPath(root+`.querySelector('button.launch')`)),
		chromedp.WaitVisible(chromedp.JSPath(root+`.querySelector('#msg')`)),
		chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#msg')`), "Where is my order?"+kb.Enter))
	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.Text == "Where is my order?"
	})
	want := fmt.Sprintf("Hello there! Your case is #%d.", ev.Ticket.Number)

	// The agent, with the keyboard.
	agent := newTab(t, browser, "agent")
	agent.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	agent.do("open the ticket", chromedp.Navigate(m.URL()+"/tickets/"+ev.Ticket.ID))
	agent.waitFor("the reply box", `document.querySelector('#reply') !== null && `+inTimeline("Where is my order?"))
	agent.do("type / in the reply box", chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "/"))
	agent.waitFor("the macro picker has focus", `document.querySelector('.macro-picker:not([hidden])') && document.activeElement === `+byLabel("Search macros")+
		` && document.activeElement.getAttribute('role') === 'combobox'`)
	agent.do("search fuzzily", chromedp.SendKeys(chromedp.JSPath(byLabel("Search macros")), "ordst"))
	agent.waitFor("the macro listed first and previewed", fmt.Sprintf(
		`(() => { const o = document.querySelector('[role=listbox] [role=option][aria-selected=true]');
		  const p = document.querySelector('.macro-preview-text');
		  return o && o.textContent.includes('Orderstatus') && p && p.textContent === %s; })()`, jsString(want)))
	agent.do("pick it with Enter", chromedp.SendKeys(chromedp.JSPath(byLabel("Search macros")), kb.Enter))
	agent.waitFor("the rendered text in the reply box, the picker closed", fmt.Sprintf(
		`%s.value === %s && document.activeElement === %s && document.querySelector('.macro-picker').hidden`,
		byLabel("Reply"), jsString(want), byLabel("Reply")))
	agent.do("send", chromedp.Click(chromedp.JSPath(buttonNamed("Send"))))
	agent.waitFor("the reply in the timeline", inTimeline(want))

	widget.waitFor("the rendered reply in the widget", fmt.Sprintf(
		`[...%s.querySelectorAll('.log li.them .b')].some(b => b.textContent === %s)`, root, jsString(want)))
	eventually(t, "the macro's actions on the ticket", func() error {
		v, err := m.Service.TicketView(t.Context(), ev.Ticket.ID)
		if err != nil {
			return err
		}
		if strings.Join(v.Ticket.Tags, ",") != "order" || v.Ticket.Status != ticketing.StatusPending {
			return fmt.Errorf("tags %v, status %s", v.Ticket.Tags, v.Ticket.Status)
		}
		return nil
	})
	agent.waitFor("the new tags in the ticket's header", byLabel("Tags")+`.value === 'order'`)

	// The timeline says why the customer's message is on the ticket; the
	// chat customer's typing shows in the composer.
	agent.waitFor("the thread reason", `[...document.querySelectorAll('.timeline .thread-reason')].some(p => p.textContent.includes('Started this ticket'))`)
	// The widget says "typing" at most every 2 s while the customer types,
	// and the chat channel may drop a state while it looks the customer
	// up: keep typing until the console shows it.
	const typingShown = `(() => { const p = document.querySelector('.customer-typing'); return p && !p.hidden && p.textContent.includes('typing'); })()`
	shown := false
	for i := 0; i < 20 && !shown; i++ {
		widget.do("the customer types", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#msg')`), "k"))
		pctx, cancel := context.WithTimeout(agent.ctx, 1500*time.Millisecond)
		shown = chromedp.Do(pctx, chromedp.Poll[chromedp.Void](typingShown, chromedp.WithPollingTimeout(time.Second))) == nil
		cancel()
	}
	if !shown {
		agent.fail("the customer's typing indicator", fmt.Errorf("never shown"))
	}

	// A file picked in the composer reaches the widget as a download link.
	file := filepath.Join(t.TempDir(), "kvitto.pdf")
	if err := os.WriteFile(file, append([]byte("%PDF-1.4\n"), []byte(strings.Repeat("kvitto ", 200))...), 0o644); err != nil {
		t.Fatal(err)
	}
	agent.do("attach a file", chromedp.SetUploadFiles(chromedp.CSS("#reply-files"), []string{file}))
	agent.waitFor("the file listed", `[...document.querySelectorAll('.reply-files li')].some(li => li.textContent.includes('kvitto.pdf'))`)
	agent.do("send it", chromedp.Click(chromedp.JSPath(buttonNamed("Send"))))
	agent.waitFor("the file in the timeline", `[...document.querySelectorAll('.timeline .attachments a')].some(a => a.textContent === 'kvitto.pdf')`)
	widget.waitFor("a download link in the widget", `[...`+root+`.querySelectorAll('.log li.them .files a')].some(a =>
		a.textContent.includes('kvitto.pdf') && a.href.includes('/files/out/') && a.href.includes('sig='))`)

	// Single-key shortcuts rest for a second after typing in a field, even
	// when the focus has left it: "m" right after typing in the search box
	// does not open the picker; a moment later it does.
	agent.do("type in the search box, leave it, press m",
		chromedp.SendKeys(chromedp.JSPath(byLabel("Search tickets")), "a"),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
		chromedp.KeyEvent("m"))
	if open := evalIn[bool](agent, "picker", `!document.querySelector('.macro-picker').hidden`); open {
		t.Fatal("m opened the macro picker right after typing in the search box")
	}
	agent.waitFor("m works again after a second", `(() => {
		if (!document.querySelector('.macro-picker').hidden) return true;
		if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
		document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'm', bubbles: true}));
		return false; })()`)

	// Bulk actions: tick the ticket in the list, set a status for the
	// selection, apply.
	agent.do("close the picker", chromedp.KeyEvent(kb.Escape))
	agent.do("show every ticket", chromedp.Evaluate[chromedp.Void](`(() => { const q = document.querySelector('#q'); q.value = ''; q.dispatchEvent(new Event('input', {bubbles: true})); })()`),
		chromedp.Click(chromedp.JSPath(viewLink("All"))))
	agent.waitFor("the ticket in the list", fmt.Sprintf(`document.querySelector('#rows .row-check[data-id=%s]') !== null`, jsString(ev.Ticket.ID)))
	agent.do("tick the ticket", chromedp.Click(chromedp.JSPath(fmt.Sprintf(`document.querySelector('#rows .row-check[data-id=%s]')`, jsString(ev.Ticket.ID)))))
	agent.waitFor("the bulk toolbar", `!document.querySelector('#bulk').hidden && document.querySelector('.bulk-count').textContent === '1 selected'`)
	agent.do("choose Closed", chromedp.Evaluate[chromedp.Void](`(() => { const s = `+byLabel("Set status of selected")+`; s.value = 'closed'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
	agent.do("apply", chromedp.Click(chromedp.JSPath(buttonNamed("Apply"))))
	eventually(t, "the bulk change", func() error {
		v, err := m.Service.TicketView(t.Context(), ev.Ticket.ID)
		if err != nil {
			return err
		}
		if v.Ticket.Status != ticketing.StatusClosed {
			return fmt.Errorf("status %s", v.Ticket.Status)
		}
		return nil
	})

	// At 1280x800 the compact header leaves the timeline most of the
	// ticket's column; on a phone the status and assignee controls are
	// touch-sized and on the first screen of the ticket.
	agent.do("the ticket again on a laptop screen", chromedp.Navigate(m.URL()+"/tickets/"+ev.Ticket.ID), chromedp.EmulateViewport(1280, 800))
	agent.waitFor("the ticket", `document.querySelector('#reply') !== null && document.querySelector('.timeline .msg') !== null`)
	agent.waitFor("the timeline gets most of the height", `(() => {
		const tl = document.querySelector('.timeline').getBoundingClientRect();
		const head = document.querySelector('.ticket-head').getBoundingClientRect();
		return head.height < 150 && tl.height > 0.5 * innerHeight; })()`)
	agent.do("a phone", chromedp.EmulateViewport(390, 844))
	agent.waitFor("status and assignee on the first screen, touch-sized", `(() => {
		document.querySelector('#main').scrollTop = 0;
		window.scrollTo(0, 0);
		const ok = (el) => { const r = el.getBoundingClientRect(); return r.width > 120 && r.height >= 40 && r.top >= 0 && r.bottom <= innerHeight; };
		return ok(document.querySelector('#t-status')) && ok(document.querySelector('#t-assignee')) &&
		  document.querySelector('#reply').getBoundingClientRect().bottom <= innerHeight; })()`)
}
