package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/svar-dev/svar/ticketing"
)

// TestRetentionPageInBrowser: an admin opens Retention from the header,
// is refused a negative value (the field is named and marked), sees the
// dry-run count of what the entered setting would erase, cancels the
// confirm dialog (nothing saved), then confirms (saved). The page reads at
// 1280x800 and on a phone, has labels and names for everything, and is
// in Swedish for an agent who speaks it.
func TestRetentionPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping", chromiumPath)
	}
	m := startNode(t, "", func(m *Main) {
		m.gdprNow = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
	})
	base := m.URL()
	admin := login(t, m)
	ctx := context.Background()
	// A solved ticket (retention would erase it and its customer) and an
	// open one with a file (retention would remove the file).
	if err := m.Bus.PublishInbound(ctx, envelope("anna@example.se", "<a1@x>", "Anna solvedthing")); err != nil {
		t.Fatal(err)
	}
	if err := m.Store.PutBlob(ctx, &ticketing.Blob{Key: "email/bo-file", Filename: "bild.jpg", ContentType: "image/jpeg", Data: []byte("jpeg")}); err != nil {
		t.Fatal(err)
	}
	e := envelope("bo@example.se", "<b1@x>", "Bo openthing")
	e.Attachments = []ticketing.Attachment{{Key: "email/bo-file", Filename: "bild.jpg", ContentType: "image/jpeg", Size: 4}}
	if err := m.Bus.PublishInbound(ctx, e); err != nil {
		t.Fatal(err)
	}
	var anna, bo ticketing.TicketPage
	eventually(t, "both tickets", func() error {
		admin.do("GET", "/api/v1/tickets?q="+url.QueryEscape("solvedthing"), nil).decode(t, &anna)
		admin.do("GET", "/api/v1/tickets?q="+url.QueryEscape("openthing"), nil).decode(t, &bo)
		if len(anna.Tickets) != 1 || len(bo.Tickets) != 1 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if r := admin.do("PATCH", "/api/v1/tickets/"+anna.Tickets[0].ID, map[string]string{"status": "solved"}); r.status != 200 {
		t.Fatalf("solve: %d %s", r.status, r.body)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("lang", "en-US"))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := newTab(t, browser, "admin")
	b.do("1280x800", chromedp.EmulateViewport(1280, 800))
	b.signIn(base, m.Config.AdminEmail, testPassword)

	const link = `[...document.querySelectorAll('nav.account a')].find(a => a.textContent.trim() === 'Retention')`
	b.waitFor("the Retention link", link+` !== undefined`)
	b.do("open Retention", chromedp.Click(chromedp.JSPath(link)))
	b.waitFor("the Retention page", `location.pathname === '/retention' && document.activeElement && document.activeElement.textContent === 'Retention'`)
	solved, atts := byLabel("Erase solved and closed tickets after (days)"), byLabel("Erase attachments after (days)")
	b.waitFor("the current setting", solved+`.value === '0' && `+atts+`.value === '0'`)
	checkAccessible(t, b, "retention")
	noOverflow := `document.documentElement.scrollWidth <= window.innerWidth`
	if !evalIn[bool](b, "width at 1280x800", noOverflow) {
		t.Error("the Retention page scrolls sideways at 1280x800")
	}

	// A negative value: refused, the field named and marked, nothing asked.
	retype(b, atts, "-1")
	b.do("save -1", chromedp.Click(chromedp.JSPath(buttonNamed("Save retention"))))
	b.waitFor("the refusal", `document.querySelector('#ret-status').textContent.includes('attachments_days') && `+atts+`.getAttribute('aria-invalid') === 'true'`)
	if evalIn[bool](b, "no dialog", `document.querySelector('dialog.confirm') !== null`) {
		t.Fatal("a refused setting still asked for confirmation")
	}

	// The dry-run count of the entered setting.
	retype(b, solved, "30")
	retype(b, atts, "30")
	b.do("ask what would be erased", chromedp.Click(chromedp.JSPath(buttonNamed("Show what would be erased"))))
	const want = "Now 1 tickets, 1 customers and 1 attachments would be erased."
	b.waitFor("the preview", `document.querySelector('#ret-preview').textContent === `+jsString(want))

	// Save asks first; Cancel saves nothing.
	b.do("save", chromedp.Click(chromedp.JSPath(buttonNamed("Save retention"))))
	b.waitFor("the confirm dialog", `document.querySelector('dialog.confirm[open]') !== null && document.querySelector('#confirm-text').textContent.includes(`+jsString(want)+`) && document.activeElement.id === 'confirm-cancel'`)
	b.do("cancel", chromedp.Click(chromedp.JSPath(`document.querySelector('#confirm-cancel')`)))
	b.waitFor("the dialog gone", `document.querySelector('dialog.confirm') === null`)
	var set struct {
		Solved      int `json:"solved_ticket_days"`
		Attachments int `json:"attachments_days"`
	}
	admin.do("GET", "/api/v1/settings/retention", nil).decode(t, &set)
	if set.Solved != 0 || set.Attachments != 0 {
		t.Fatalf("cancelled, yet saved: %+v", set)
	}
	b.do("save again", chromedp.Click(chromedp.JSPath(buttonNamed("Save retention"))))
	b.waitFor("the confirm dialog again", `document.querySelector('dialog.confirm[open]') !== null`)
	b.do("confirm", chromedp.Click(chromedp.JSPath(`document.querySelector('#confirm-ok')`)))
	b.waitFor("saved", `document.querySelector('#ret-preview').textContent === 'Retention saved.'`)
	admin.do("GET", "/api/v1/settings/retention", nil).decode(t, &set)
	if set.Solved != 30 || set.Attachments != 30 {
		t.Fatalf("confirmed, saved %+v", set)
	}
	// Saving erased nothing by itself: the daily sweep does.
	if r := admin.do("GET", "/api/v1/tickets/"+anna.Tickets[0].ID, nil); r.status != 200 {
		t.Fatalf("the solved ticket after saving: %d", r.status)
	}

	// The daily sweep; the file's entry in the timeline says where it went.
	if err := m.GDPR.HandleSweep(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b.do("open Bo's ticket", chromedp.Navigate(base+"/tickets/"+bo.Tickets[0].ID))
	b.waitFor("the placeholder", inTimeline("Bo openthing")+` && `+inTimeline("bild.jpg: removed by retention")+
		` && document.querySelector('.timeline a[href*="bo-file"]') === null`)
	b.do("back to Retention", chromedp.Navigate(base+"/retention"))
	b.waitFor("the Retention page again", `document.querySelector('#ret-save') !== null`)

	// On a phone.
	b.do("phone", chromedp.EmulateViewport(390, 844))
	b.waitFor("the page at phone width", `document.querySelector('#ret-save').getBoundingClientRect().right <= window.innerWidth`)
	if !evalIn[bool](b, "width on a phone", noOverflow) {
		t.Error("the Retention page scrolls sideways on a phone: " + evalIn[string](b, "what is too wide",
			`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className).join(', ')`))
	}

	// In Swedish.
	if r := admin.do("PATCH", "/api/v1/me", map[string]string{"language": "sv"}); r.status != 200 {
		t.Fatalf("language: %d %s", r.status, r.body)
	}
	b.do("reload in Swedish", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/retention"))
	b.waitFor("the Swedish page", `document.querySelector('h2#ret-h') && document.querySelector('h2#ret-h').textContent === 'Gallring'`)
	b.waitFor("the Swedish labels", byLabel("Radera bilagor efter (dagar)")+`.value === '30' && `+buttonNamed("Visa vad som skulle raderas")+` !== undefined`)
	b.do("preview in Swedish", chromedp.Click(chromedp.JSPath(buttonNamed("Visa vad som skulle raderas"))))
	b.waitFor("the Swedish preview", `document.querySelector('#ret-preview').textContent === 'Nu skulle 0 ärenden, 0 kunder och 0 bilagor raderas.'`)
	checkAccessible(t, b, "retention (sv)")
	if msgs := b.messages(); hasViolation(msgs) {
		var lines []string
		for _, m := range msgs {
			lines = append(lines, m.String())
		}
		t.Errorf("console errors:\n%s", strings.Join(lines, "\n"))
	}
}

// retype replaces what a text field holds by typing text over it, as a
// person selecting the old value would.
func retype(b *tab, field, text string) {
	b.t.Helper()
	evalIn[bool](b, "select "+field, `(el => { el.focus(); el.select(); return true })(`+field+`)`)
	b.do("type "+text, chromedp.SendKeys(chromedp.JSPath(field), text))
}
