package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/svar-dev/svar/ticketing"
)

// TestReportsPageAndSurveyInBrowser: the admin's Reports page draws its
// charts and offers a CSV that downloads; the customer's survey page
// works at a phone's size: a click records the score, the comment box
// saves a comment, and nothing scrolls sideways.
func TestReportsPageAndSurveyInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping", chromiumPath)
	}
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startEmailNode(t, mb, out)
	c := login(t, m)
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(context.Background(), envelope("mia@example.com", "<m1@x>", "Hello, where is my parcel?")); err != nil {
		t.Fatal(err)
	}
	tk := customerTicket(t, c, "mia@example.com", 1).Ticket
	if res := c.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": "It left today."}); res.status != 201 {
		t.Fatalf("reply: %d", res.status)
	}
	setStatus(t, c, tk.ID, "solved")
	link := surveyLink(t, out)

	browser := newBrowser(t)
	admin := newTab(t, browser, "reports")
	admin.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	admin.do("open Reports", chromedp.Navigate(m.URL()+"/reports"))
	admin.waitFor("the per-day chart", `(() => { const s = document.querySelector('svg.chart[role=img]');
		return s && s.querySelector('title') && s.querySelector('desc') && s.querySelectorAll('rect.bar-created').length >= 28; })()`)
	admin.waitFor("the overview counts the ticket", `[...document.querySelectorAll('table.kpis tbody tr')].some(tr => tr.textContent.startsWith('Created') && tr.children[1].textContent === '1')`)
	checkAccessible(t, admin, "reports")
	ctx, cancel := context.WithTimeout(admin.ctx, 15*time.Second)
	defer cancel()
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const a = [...document.querySelectorAll('a.csv')].find(a => a.download === 'svar-report-day.csv');
		if (!a) return 'no link';
		const r = await fetch(a.href);
		return r.headers.get('content-type') + '\n' + await r.text();
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		admin.fail("download the CSV", err)
	}
	if !strings.HasPrefix(csv, "text/csv") || !strings.Contains(csv, "\nkey,tickets_created,") {
		t.Fatalf("csv download = %.300s", csv)
	}
	if hasViolation(admin.messages()) {
		t.Errorf("CSP violations on the Reports page: %v", admin.messages())
	}

	phone := newTab(t, browser, "survey")
	phone.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	phone.do("open the survey", chromedp.Navigate(m.URL()+strings.Replace(link[strings.Index(link, "/csat/"):], "?score=", "?unused=", 1)))
	phone.waitFor("the five choices", `document.querySelectorAll('.csat-scores a').length === 5`)
	phone.do("pick 4", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('.csat-scores a')].find(a => a.textContent.startsWith('4'))`)))
	phone.waitFor("the comment box", `location.search === '?score=4' && [...document.querySelectorAll('label')].some(l => l.textContent.trim() === 'Anything you want to add? (optional)')`)
	waitCSAT(t, c, tk.ID, 4, ticketing.ChannelEmail)
	phone.do("write a comment",
		chromedp.SendKeys(chromedp.JSPath(byLabel("Anything you want to add? (optional)")), "Quick and kind"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Send"))))
	phone.waitFor("saved", `document.querySelector('[role=status]') && document.querySelector('[role=status]').textContent.includes('saved')`)
	if w := evalIn[float64](phone, "width", `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the survey page is %v px wide on a 390 px phone", w)
	}
	checkAccessible(t, phone, "survey")
	if cs := getTicket(t, c, tk.ID).Ticket.CSAT; cs == nil || cs.Comment != "Quick and kind" || cs.Score != 4 {
		t.Fatalf("csat after the phone = %+v", cs)
	}
}
