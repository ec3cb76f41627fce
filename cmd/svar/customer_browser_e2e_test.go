package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/svar-dev/svar/ticketing"
)

// inAside finds text in the ticket's customer sidebar.
func inAside(text string) string {
	return fmt.Sprintf(`(document.querySelector('aside.customer') || {textContent: ''}).textContent.includes(%s)`, jsString(text))
}

// TestCustomerSidebarEditInBrowser: an agent edits the customer in the
// sidebar with the keyboard: name, tier, a phone in national form, a
// yes/no detail, and removes a detail; a bad phone is refused naming it,
// with focus on it; the saved customer is in the store; the customer's
// timeline page lists their messages with links to their tickets.
func TestCustomerSidebarEditInBrowser(t *testing.T) {
	m := startNode(t, "", nil)
	admin := login(t, m)
	ctx := context.Background()
	if err := m.Bus.PublishInbound(ctx, envelope("sidebar@example.se", "<sb1@x>", "Hej, var är mitt paket?")); err != nil {
		t.Fatal(err)
	}
	id := customerByEmail(t, admin, m, "sidebar@example.se")
	if res := admin.do("PATCH", "/api/v1/customers/"+id, map[string]any{"attributes": map[string]any{"segment": "b2c", "orders_count": 3}}); res.status != 200 {
		t.Fatalf("seed attributes: %d %s", res.status, res.body)
	}
	tk := customerTicket(t, admin, "sidebar@example.se", 1).Ticket

	browser := newBrowser(t)
	b := newTab(t, browser, "sidebar")
	b.do("1280x800", chromedp.EmulateViewport(1280, 800))
	b.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	b.do("open the ticket", chromedp.Navigate(m.URL()+"/tickets/"+tk.ID))
	b.waitFor("the sidebar", buttonNamed("Edit customer")+` !== undefined`)
	b.do("edit", chromedp.Click(chromedp.JSPath(buttonNamed("Edit customer"))))
	b.waitFor("the form, focus on the name", `document.activeElement === `+byLabel("Name"))
	checkAccessible(t, b, "customer edit form")
	b.do("type name and tier",
		chromedp.Evaluate[chromedp.Void](byLabel("Name")+`.select()`),
		chromedp.SendKeys(chromedp.JSPath(byLabel("Name")), "Siv Sidebar"),
		chromedp.SendKeys(chromedp.JSPath(byLabel("Tier")), "VIP"))
	// Add a phone with the keyboard: the button, then type in the new row.
	b.do("add a phone", chromedp.Focus(chromedp.JSPath(buttonNamed("Add phone"))), chromedp.KeyEvent(kb.Enter))
	b.waitFor("focus in Phone 1", `document.activeElement === `+byLabel("Phone 1"))
	b.do("a bad phone, Enter", chromedp.SendKeys(chromedp.JSPath(byLabel("Phone 1")), "hello"), chromedp.KeyEvent(kb.Enter))
	b.waitFor("the error names the phone, focus on it", `(() => {
		const err = document.querySelector('.customer-edit [role=alert]');
		return err && err.textContent.includes('phones[0]') && document.activeElement === `+byLabel("Phone 1")+` && document.activeElement.getAttribute('aria-invalid') === 'true';
	})()`)
	b.do("a Swedish mobile number",
		chromedp.Evaluate[chromedp.Void](byLabel("Phone 1")+`.select()`),
		chromedp.SendKeys(chromedp.JSPath(byLabel("Phone 1")), "070-123 45 67"))
	// A yes/no detail, and remove "segment".
	b.do("add a detail", chromedp.Click(chromedp.JSPath(buttonNamed("Add detail"))))
	b.waitFor("focus in the new detail's name", `document.activeElement === `+byLabel("Name of detail 3"))
	b.do("name it vip, type yes/no",
		chromedp.SendKeys(chromedp.JSPath(byLabel("Name of detail 3")), "vip"),
		chromedp.SetValue(chromedp.JSPath(byLabel("Type of detail 3")), "boolean"),
		chromedp.Evaluate[chromedp.Void](byLabel("Type of detail 3")+`.dispatchEvent(new Event('change'))`))
	b.waitFor("a yes/no value", byLabel("Value of detail 3")+`.tagName === 'SELECT'`)
	b.do("yes", chromedp.SetValue(chromedp.JSPath(byLabel("Value of detail 3")), "true"))
	// Details are sorted by name: orders_count (1), segment (2).
	if v := evalIn[string](b, "detail 2", byLabel("Name of detail 2")+`.value`); v != "segment" {
		t.Fatalf("detail 2 is %q", v)
	}
	b.do("remove segment", chromedp.Click(chromedp.JSPath(buttonNamed("Remove detail 2"))))
	b.waitFor("renumbered", byLabel("Name of detail 2")+`.value === 'vip'`)
	b.screenshot(os.Getenv("SVAR_SCREENSHOTS"), "customer-edit.png")
	b.do("save", chromedp.Click(chromedp.JSPath(buttonNamed("Save customer"))))
	b.waitFor("the saved sidebar", inAside("Siv Sidebar")+` && `+inAside("+46701234567")+` && `+buttonNamed("Edit customer")+` !== undefined`)

	var cv customerJSON
	admin.do("GET", "/api/v1/customers/"+id, nil).decode(t, &cv)
	c := cv.Customer
	phone, _ := c.Identity(ticketing.IdentityPhone)
	if c.Name != "Siv Sidebar" || c.Tier != "vip" || phone.Value != "+46701234567" || c.Attributes["vip"] != true ||
		c.Attributes["segment"] != nil || c.Attributes["orders_count"] != float64(3) {
		t.Fatalf("saved customer = %+v", c)
	}
	if hasViolation(b.messages()) {
		t.Errorf("CSP violations: %v", b.messages())
	}

	// Escape closes the form without saving.
	b.do("edit again", chromedp.Click(chromedp.JSPath(buttonNamed("Edit customer"))))
	b.waitFor("the form", `document.activeElement === `+byLabel("Name"))
	b.do("type, then Escape", chromedp.SendKeys(chromedp.JSPath(byLabel("Name")), " Not saved"), chromedp.KeyEvent(kb.Escape))
	b.waitFor("back to the sidebar, focus on Edit", `document.activeElement === `+buttonNamed("Edit customer")+` && location.pathname.startsWith('/tickets/')`)

	// The customer's timeline.
	b.do("open the timeline", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('aside.customer a')].find(a => a.textContent.startsWith('Customer timeline'))`)))
	b.waitFor("the customer page", `location.pathname === '/customers/`+id+`' && document.querySelector('main h2').textContent === 'Customer: Siv Sidebar'`)
	b.waitFor("the message with a link to its ticket", `[...document.querySelectorAll('.cust-timeline li')].some(li => li.textContent.includes('var är mitt paket') && li.querySelector('a[href^="/tickets/`+tk.ID+`"]'))`)
	checkAccessible(t, b, "customer page")
	b.screenshot(os.Getenv("SVAR_SCREENSHOTS"), "customer-timeline.png")
}

// TestWebhooksPageInBrowser: an admin creates a webhook on the Webhooks
// page, sees its deliveries (event, status, attempt) once an event went
// out, and deletes it after confirming; the page is in Swedish for a
// Swedish admin and fits a phone.
func TestWebhooksPageInBrowser(t *testing.T) {
	m := startNode(t, "", func(m *Main) { m.Config.WebhookAllowPrivate = true })
	admin := login(t, m)
	var mu sync.Mutex
	var bodies []string
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(body))
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	browser := newBrowser(t)
	b := newTab(t, browser, "webhooks")
	b.do("1280x800", chromedp.EmulateViewport(1280, 800))
	b.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	b.do("open Webhooks from the header", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('nav.account a')].find(a => a.textContent === 'Webhooks')`)))
	b.waitFor("the page", `location.pathname === '/webhooks' && document.querySelector('main h2').textContent === 'Webhooks' && document.body.textContent.includes('No webhooks yet.')`)
	checkAccessible(t, b, "webhooks")
	// A bad URL is refused, naming it, focus on it.
	b.do("a bad URL", chromedp.SendKeys(chromedp.JSPath(byLabel("URL")), "ftp://x"), chromedp.Click(chromedp.JSPath(buttonNamed("Create webhook"))))
	b.waitFor("the error", `document.querySelector('#wh-err').textContent.includes('url') && document.activeElement === `+byLabel("URL"))
	b.do("the receiver's URL",
		chromedp.Evaluate[chromedp.Void](byLabel("URL")+`.select()`),
		chromedp.SendKeys(chromedp.JSPath(byLabel("URL")), srv.URL+"/hook"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Create webhook"))))
	b.waitFor("listed", `[...document.querySelectorAll('.webhook h3')].some(h => h.textContent === `+jsString(srv.URL+"/hook")+`)`)

	if err := m.Bus.PublishInbound(context.Background(), envelope("hooked@example.se", "<wh1@x>", "Hej webhook")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a delivery after one failure", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) < 2 {
			return fmt.Errorf("%d requests", len(bodies))
		}
		return nil
	})
	b.do("show deliveries", chromedp.Click(chromedp.JSPath(buttonNamed("Show deliveries "+srv.URL+"/hook"))))
	b.waitFor("a delivery log", `document.querySelectorAll('table.deliveries tbody tr').length >= 3`)
	// One event failed once (502, attempt 1), then went through (200,
	// attempt 2); the other went through at once.
	b.waitFor("the delivery log", `(() => {
		const rows = [...document.querySelectorAll('table.deliveries tbody tr')].map(r => [...r.children].map(c => c.textContent));
		const failed = rows.find(r => r[1].startsWith('502') && r[2] === '1' && r[4].includes('502'));
		return failed && rows.some(r => r[0] === failed[0] && r[1].startsWith('200') && r[2] === '2') &&
			rows.some(r => r[0] !== failed[0] && r[1].startsWith('200') && r[2] === '1');
	})()`)
	if got := evalIn[string](b, "expanded", buttonNamed("Show deliveries "+srv.URL+"/hook")+`.getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("aria-expanded = %q", got)
	}
	checkAccessible(t, b, "webhooks with deliveries")
	b.do("scroll to the log", chromedp.Evaluate[chromedp.Void](`document.querySelector('table.deliveries').scrollIntoView({block: 'center'})`))
	b.screenshot(os.Getenv("SVAR_SCREENSHOTS"), "webhooks.png")

	// Phone size: nothing scrolls sideways.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if w := evalIn[float64](b, "width", `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the Webhooks page is %v px wide on a 390 px phone: %s", w, evalIn[string](b, "wide", `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392).slice(0, 12).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`))
	}
	b.do("back to 1280x800", chromedp.EmulateViewport(1280, 800))

	b.do("delete", chromedp.Click(chromedp.JSPath(buttonNamed("Delete webhook "+srv.URL+"/hook"))))
	b.waitFor("the confirmation", `document.querySelector('dialog.confirm') && document.activeElement.id === 'confirm-cancel'`)
	b.do("confirm", chromedp.Click(chromedp.JSPath(`document.querySelector('#confirm-ok')`)))
	b.waitFor("gone", `document.body.textContent.includes('No webhooks yet.')`)
	var list struct{ Webhooks []any }
	admin.do("GET", "/api/v1/webhooks", nil).decode(t, &list)
	if len(list.Webhooks) != 0 {
		t.Fatalf("webhooks after delete: %+v", list.Webhooks)
	}

	// In Swedish.
	if res := admin.do("PATCH", "/api/v1/me", map[string]any{"language": "sv"}); res.status != 200 {
		t.Fatalf("language: %d %s", res.status, res.body)
	}
	b.do("reload", chromedp.Navigate(m.URL()+"/webhooks"))
	b.waitFor("Swedish", `document.documentElement.lang === 'sv' && `+buttonNamed("Skapa webhook")+` !== undefined && document.body.textContent.includes('Inga webhooks än.') && `+byLabel("Hemlighet")+` !== undefined`)
	if hasViolation(b.messages()) {
		t.Errorf("CSP violations: %v", b.messages())
	}
}
