package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/svar-dev/svar/ticketing"
)

// TestSearchInBrowser: an agent searches from the console's search box,
// sees the results with the matched word marked, opens one and lands on
// the message that matched, scrolled to, highlighted and focused.
func TestSearchInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping the search browser test", chromiumPath)
	}
	m := startNode(t, "", nil)
	ctx := context.Background()
	texts := []string{"Hej, jag har en fråga om min beställning.", "Den kom fram men lådan var blöt.",
		"Dessutom har cykeln en punktering på bakhjulet sedan leveransen.", "Tack på förhand!"}
	for i, text := range texts {
		if err := m.Bus.PublishInbound(ctx, envelope("sok@example.se", fmt.Sprintf("<sok%d@x>", i), text)); err != nil {
			t.Fatal(err)
		}
		// One at a time, so the messages keep their order on one ticket.
		eventually(t, "message stored", func() error {
			c, err := m.Service.CustomerByIdentity(ctx, "email:sok@example.se")
			if err != nil {
				return err
			}
			v, err := m.Service.TicketView(ctx, c.CurrentTicketID)
			if err != nil || len(v.Messages) != i+1 {
				return fmt.Errorf("messages not stored yet (%v)", err)
			}
			return nil
		})
	}
	want := ticketing.InboundMessageID(ticketing.ChannelEmail, "<sok2@x>")

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromiumPath), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("lang", "en-US"))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := newTab(t, browser, "search")
	b.signIn(m.URL(), m.Config.AdminEmail, testPassword)

	b.do("search from the search box",
		chromedp.Click(chromedp.JSPath(byLabel("Search tickets"))),
		chromedp.SendKeys(chromedp.JSPath(byLabel("Search tickets")), "punktering"+kb.Enter))
	b.waitFor("the results page with the matched word marked",
		`location.pathname === '/search' && [...document.querySelectorAll('.result mark')].some(m => m.textContent === 'punktering')`)
	if n := evalIn[int](b, "results", `document.querySelectorAll('.result').length`); n != 1 {
		t.Fatalf("%d results, want 1", n)
	}
	b.do("open the result", chromedp.Click(chromedp.JSPath(`document.querySelector('.result a')`)))
	b.waitFor("the ticket with the matching message highlighted and focused",
		fmt.Sprintf(`document.querySelector('.msg.hit') !== null && document.querySelector('.msg.hit').id === %s && document.activeElement === document.querySelector('.msg.hit')`,
			jsString("m-"+want)))
	inView := evalIn[bool](b, "in view", `(() => { const r = document.querySelector('.msg.hit').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight + 1; })()`)
	if !inView {
		t.Error("the matching message is not scrolled into view")
	}
	if hasViolation(b.messages()) {
		t.Errorf("console errors: %v", b.messages())
	}
}
