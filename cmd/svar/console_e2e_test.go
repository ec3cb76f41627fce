package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/svar-dev/svar/ticketing"
)

// The console's browser tests: one node and one chromium for all of them,
// driven the way a person (or a screen reader) finds things: by labels and
// accessible names. With SVAR_SCREENSHOTS=<absolute dir> they also save the
// pictures docs/console.md shows:
//
//	SVAR_SCREENSHOTS=$PWD/docs/img go test ./cmd/svar -run TestConsoleInBrowser

// tab is one browser tab with its console messages.
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	mu     sync.Mutex
	logged []chromedp.ConsoleMessage
}

func (b *tab) messages() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.logged...)
}

// newTab opens a tab in a browser context of its own (its own cookies) and
// records its console until the test ends.
func newTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		cancel()
		t.Fatalf("open tab %s: %v", name, err)
	}
	b := &tab{t: t, name: name, ctx: ctx}
	msgs := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logged = append(b.logged, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return b
}

// do runs actions with a deadline; on failure it saves a screenshot.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *tab) fail(what string, err error) {
	b.t.Helper()
	shot := ""
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(ctx, chromedp.CaptureScreenshot()); serr == nil {
		shot = filepath.Join(os.TempDir(), fmt.Sprintf("svar-console-%s-%d.png", b.name, time.Now().UnixNano()))
		if os.WriteFile(shot, png, 0o644) != nil {
			shot = ""
		}
	}
	var logs []string
	for _, m := range b.messages() {
		logs = append(logs, fmt.Sprintf("%s (%s:%d:%d)", m.String(), m.URL, m.Line+1, m.Column+1))
	}
	b.t.Fatalf("%s (tab %s): %v\nscreenshot: %s\nconsole:\n%s", what, b.name, err, shot, strings.Join(logs, "\n"))
}

// waitFor polls a JavaScript condition in the page.
func (b *tab) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithDeadline(b.ctx, deadline.Add(time.Second))
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		// A navigation ends the page the poll ran in: poll the new one.
		if time.Now().Before(deadline) && (strings.Contains(err.Error(), "navigated or closed") ||
			strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed")) {
			continue
		}
		b.fail(what, err)
	}
}

func evalIn[T any](b *tab, what, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func (b *tab) screenshot(dir, name string) {
	b.t.Helper()
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The page's elements, found by what a person reads.
func byLabel(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('label')].find(l => l.textContent.trim() === %s).control`, jsString(text))
}

func buttonNamed(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('button')].find(b => b.offsetParent !== null && (b.getAttribute('aria-label') || b.textContent).replace(/\s+/g, ' ').trim() === %s)`, jsString(name))
}

func rowLink(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#rows a')].find(a => a.textContent.includes(%s))`, jsString(text))
}

func viewLink(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('nav.views a')].find(a => a.querySelector('.view-name').textContent.trim() === %s)`, jsString(name))
}

const timelineJS = `[...document.querySelectorAll('.timeline .msg')]`

func inTimeline(text string) string {
	return fmt.Sprintf(`%s.some(li => li.textContent.includes(%s))`, timelineJS, jsString(text))
}

// signIn signs in through the login form.
func (b *tab) signIn(base, email, password string) {
	b.t.Helper()
	b.do("open the console",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.JSPath(byLabel("Email"))))
	b.do("type the credentials",
		chromedp.SendKeys(chromedp.JSPath(byLabel("Email")), email),
		chromedp.SendKeys(chromedp.JSPath(byLabel("Password")), password),
		chromedp.Click(chromedp.JSPath(buttonNamed("Sign in"))))
	b.waitFor("the inbox after signing in", `location.pathname === '/' && document.querySelector('#rows') !== null && document.querySelector('#conn').dataset.state === 'live'`)
}

func TestConsoleInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (apt-get install chromium; .ci/run does): skipping the console browser tests", chromiumPath)
	}
	shots := os.Getenv("SVAR_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := startNode(t, "", nil)
	base := m.URL()
	admin := login(t, m)
	ctx := context.Background()

	// A second agent, who works in Swedish.
	var invited struct {
		Agent    ticketing.Agent
		Password string
	}
	res := admin.do("POST", "/api/v1/agents", map[string]string{"email": "bo@example.se", "name": "Bo Berg", "language": "sv"})
	if res.status != http.StatusCreated {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	res.decode(t, &invited)
	admin.do("PATCH", "/api/v1/me", map[string]string{"name": "Alva Admin"})

	// Some tickets on other channels, so the inbox is not empty.
	seedConsole(t, m, admin)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	alva := newTab(t, browser, "alva")

	var cust *chatCustomer
	var ticketID string
	top := t
	// The steps build on each other: stop at the first that fails.
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("sign in", func(t *testing.T) {
		alva.t = t
		alva.do("open the console",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.JSPath(byLabel("Email"))))
		if p := evalIn[string](alva, "path", `location.pathname`); p != "/login" {
			t.Fatalf("signed out, / went to %s, want /login", p)
		}
		// A wrong password is refused with a clear message.
		alva.do("wrong password",
			chromedp.SendKeys(chromedp.JSPath(byLabel("Email")), m.Config.AdminEmail),
			chromedp.SendKeys(chromedp.JSPath(byLabel("Password")), "not the password"),
			chromedp.Click(chromedp.JSPath(buttonNamed("Sign in"))))
		alva.waitFor("the error", `document.querySelector('#login-error:not([hidden])')?.textContent.includes('Wrong email or password')`)
		alva.do("right password",
			chromedp.Evaluate[chromedp.Void](byLabel("Password")+`.value = ''`),
			chromedp.SendKeys(chromedp.JSPath(byLabel("Password")), testPassword),
			chromedp.Click(chromedp.JSPath(buttonNamed("Sign in"))))
		alva.waitFor("the inbox", `location.pathname === '/' && document.querySelector('#list-h')?.textContent === 'Open'`)
		alva.waitFor("the live socket", `document.querySelector('#conn').dataset.state === 'live'`)
		alva.waitFor("the seeded tickets", rowLink("My parcel has not arrived"))
	})

	step("a new chat ticket appears without a reload", func(t *testing.T) {
		alva.t = t
		alva.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))
		before := evalIn[string](alva, "count", `document.querySelector('[data-count=open]').textContent`)
		cust = dialChat(top, m) // lives as long as the whole test
		cust.t = t
		cust.send(map[string]any{"type": "hello", "identity": map[string]string{"name": "Anna Svensson"}})
		cust.next("welcome")
		cust.say("Hej! Har ni tröjan i storlek M?", "c1")
		alva.waitFor("the chat ticket in Open", rowLink("Hej! Har ni tröjan i storlek M?"))
		alva.waitFor("the open count", fmt.Sprintf(`document.querySelector('[data-count=open]').textContent !== %s`, jsString(before)))
		row := evalIn[string](alva, "row text", rowLink("Hej! Har ni tröjan i storlek M?")+`.textContent`)
		for _, want := range []string{"Anna Svensson", "Chat", "Unread", "Unassigned"} {
			if !strings.Contains(row, want) {
				t.Errorf("row %q does not say %q", row, want)
			}
		}
		if !evalIn[bool](alva, "no reload", `window.__noReload === true`) {
			t.Fatal("the page was reloaded")
		}
	})

	step("open the ticket and reply; the customer's socket gets it", func(t *testing.T) {
		cust.t = t
		alva.t = t
		alva.do("open the ticket", chromedp.Click(chromedp.JSPath(rowLink("Hej! Har ni tröjan i storlek M?"))))
		alva.waitFor("the ticket view", `location.pathname.startsWith('/tickets/') && `+inTimeline("Hej! Har ni tröjan i storlek M?"))
		ticketID = evalIn[string](alva, "ticket id", `decodeURIComponent(location.pathname.split('/')[2])`)
		if got := evalIn[string](alva, "channel picker", byLabel("Send by")+`.value`); got != "chat" {
			t.Errorf("the channel picker defaults to %q, want chat", got)
		}
		if opts := evalIn[[]string](alva, "channels offered", `[...`+byLabel("Send by")+`.options].map(o => o.value)`); len(opts) != 1 || opts[0] != "chat" {
			t.Errorf("channels offered to an anonymous chat customer = %v, want [chat]", opts)
		}
		alva.do("type the reply",
			chromedp.Click(chromedp.JSPath(byLabel("Reply"))),
			chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "Ja, den finns i M!"),
			chromedp.Click(chromedp.JSPath(buttonNamed("Send"))))
		got := cust.next("message").Message
		if got.Text != "Ja, den finns i M!" || got.Author.Kind != ticketing.AuthorAgent {
			t.Fatalf("the customer got %+v, want the reply", got)
		}
		alva.waitFor("the reply delivered", fmt.Sprintf(`%s.some(li => li.textContent.includes('Ja, den finns i M!') && li.querySelector('.delivery')?.dataset.status === 'delivered')`, timelineJS))
		alva.waitFor("the reply box emptied for the next answer", byLabel("Reply")+`.value === ''`)
	})

	step("a new customer message appears in the open ticket", func(t *testing.T) {
		cust.t = t
		alva.t = t
		cust.say("Tack! Skickar ni till Umeå?", "c2")
		alva.waitFor("the new message in the timeline", inTimeline("Tack! Skickar ni till Umeå?"))
		alva.waitFor("the row's preview", rowLink("Tack! Skickar ni till Umeå?"))
	})

	step("a note never reaches the customer", func(t *testing.T) {
		cust.t = t
		alva.t = t
		alva.do("add a note",
			chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "Intern: kolla lagret i Umeå"),
			chromedp.Click(chromedp.JSPath(buttonNamed("Add note"))))
		alva.waitFor("the note in the timeline", fmt.Sprintf(`%s.some(li => li.classList.contains('msg-note') && li.textContent.includes('Internal note') && li.textContent.includes('Intern: kolla lagret'))`, timelineJS))
		alva.waitFor("the reply box emptied", byLabel("Reply")+`.value === ''`)
		alva.do("reply after the note",
			chromedp.SendKeys(chromedp.JSPath(byLabel("Reply")), "Ja, vi skickar till hela Sverige."),
			chromedp.Click(chromedp.JSPath(buttonNamed("Send"))))
		if got := cust.next("message").Message; got.Text != "Ja, vi skickar till hela Sverige." {
			t.Fatalf("the customer's next message is %q, want the reply (and never the note)", got.Text)
		}
	})

	bo := newTab(t, browser, "bo")
	step("a second agent's presence is shown", func(t *testing.T) {
		alva.t, bo.t = t, t
		bo.signIn(base, "bo@example.se", invited.Password)
		// Bo works in Swedish.
		bo.waitFor("Swedish views", `document.querySelector('#list-h').textContent === 'Öppna'`)
		bo.do("open the same ticket", chromedp.Navigate(base+"/tickets/"+ticketID))
		bo.waitFor("Bo's ticket view", `document.querySelector('#reply') !== null && `+inTimeline("Tack! Skickar ni till Umeå?"))
		alva.waitFor("Bo viewing", `document.querySelector('.presence')?.textContent.includes('Bo Berg is viewing')`)
		bo.do("Bo types", chromedp.SendKeys(chromedp.ID("reply"), "Vi kollar"))
		alva.waitFor("Bo typing", `document.querySelector('.presence')?.textContent.includes('Bo Berg is typing')`)
		bo.waitFor("Alva viewing, in Swedish", `document.querySelector('.presence')?.textContent.includes('Alva Admin tittar på ärendet')`)
	})

	step("sending after the ticket changed asks first", func(t *testing.T) {
		cust.t = t
		bo.t = t
		// Bo has been typing; now the customer writes again.
		cust.say("Eller kan jag hämta i butik?", "c3")
		bo.waitFor("the new message in Bo's view", inTimeline("Eller kan jag hämta i butik?"))
		bo.do("send", chromedp.SendKeys(chromedp.ID("reply"), " på det."), chromedp.Click(chromedp.JSPath(buttonNamed("Skicka"))))
		bo.waitFor("the warning", `document.querySelector('.stale:not([hidden])')?.textContent.includes('Eller kan jag hämta i butik?')`)
		bo.do("send anyway", chromedp.Click(chromedp.JSPath(buttonNamed("Skicka ändå"))))
		if got := cust.next("message").Message; got.Text != "Vi kollar på det." {
			t.Fatalf("the customer got %q", got.Text)
		}
	})

	step("the channel picker offers only configured channels", func(t *testing.T) {
		alva.t = t
		// This node has neither SMS nor email set up: Erik, who wrote by
		// SMS, cannot be answered, and the picker does not pretend he can.
		alva.do("open the SMS ticket", chromedp.Navigate(base+"/"))
		alva.waitFor("the SMS row", rowLink("Hej, kan jag byta storlek"))
		alva.do("open it", chromedp.Click(chromedp.JSPath(rowLink("Hej, kan jag byta storlek"))))
		alva.waitFor("its composer", `document.querySelector('#reply') !== null && `+inTimeline("Hej, kan jag byta storlek"))
		alva.waitFor("the customer loaded", `document.querySelector('.customer h3') !== null`)
		if opts := evalIn[[]string](alva, "channels offered", `[...`+byLabel("Send by")+`.options].map(o => o.value)`); len(opts) != 0 {
			t.Errorf("channels offered with SMS and email off = %v, want none", opts)
		}
		alva.waitFor("Send disabled and why", buttonNamed("Send")+`.disabled && document.querySelector('.composer-error:not([hidden])')?.textContent.includes('cannot be reached')`)
		alva.waitFor("a note is still possible", `!`+buttonNamed("Add note")+`.disabled`)

		// And the API refuses such a reply instead of queueing it forever.
		erik, err := m.Service.CustomerByIdentity(ctx, "phone:+46701234567")
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []map[string]any{{"text": "Hej Erik", "channel": "sms"}, {"text": "Hej Erik"}, {"text": "Hej Erik", "channel": "email"}} {
			res := admin.do("POST", "/api/v1/tickets/"+erik.CurrentTicketID+"/messages", body)
			var e struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			res.decode(t, &e)
			if res.status != http.StatusUnprocessableEntity || e.Error.Field != "channel" || !strings.HasPrefix(e.Error.Message, "channel:") {
				t.Errorf("reply %v: %d %s, want 422 naming channel", body, res.status, res.body)
			}
		}
		view := admin.do("GET", "/api/v1/tickets/"+erik.CurrentTicketID, nil)
		var v struct {
			ReplyChannels []string `json:"reply_channels"`
			Messages      []ticketing.Message
		}
		view.decode(t, &v)
		if len(v.ReplyChannels) != 1 || v.ReplyChannels[0] != "chat" {
			t.Errorf("reply_channels = %v, want [chat]", v.ReplyChannels)
		}
		for _, msg := range v.Messages {
			if msg.Direction == ticketing.DirectionOutbound {
				t.Errorf("a refused reply was stored: %+v", msg)
			}
		}
	})

	if shots != "" {
		step("screenshots", func(t *testing.T) {
			alva.t = t
			takeScreenshots(t, alva, base, ticketID, shots)
		})
	}

	step("changing the status moves the ticket between views", func(t *testing.T) {
		alva.t = t
		alva.do("open the chat ticket", chromedp.Navigate(base+"/tickets/"+ticketID))
		alva.waitFor("its view", fmt.Sprintf(`location.pathname === '/tickets/' + encodeURIComponent(%s) && document.querySelector('#t-status') !== null`, jsString(ticketID)))
		alva.do("set Pending", chromedp.Evaluate[chromedp.Void](`(() => { const s = `+byLabel("Status")+`; s.value = 'pending'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`))
		alva.waitFor("out of Open", `!(`+rowLink("Hej! Har ni tröjan i storlek M?")+`)`)
		alva.do("go to Pending", chromedp.Click(chromedp.JSPath(viewLink("Pending"))))
		alva.waitFor("in Pending", `document.querySelector('#list-h').textContent === 'Pending' && `+rowLink("Hej! Har ni tröjan i storlek M?"))
		alva.waitFor("the pending count", `document.querySelector('[data-count=pending]').textContent === '2'`)
		alva.do("back to Open", chromedp.Click(chromedp.JSPath(viewLink("Open"))))
		alva.waitFor("Open without it", `document.querySelector('#list-h').textContent === 'Open' && `+rowLink("My parcel has not arrived")+` && !(`+rowLink("Hej! Har ni tröjan i storlek M?")+`)`)
		// Another agent's change moves it back, live.
		if res := admin.do("PATCH", "/api/v1/tickets/"+ticketID, map[string]string{"status": "open"}); res.status != 200 {
			t.Fatalf("reopen: %d %s", res.status, res.body)
		}
		alva.waitFor("back in Open", rowLink("Hej! Har ni tröjan i storlek M?"))
	})

	step("after a dropped connection the console resumes with since= and misses nothing", func(t *testing.T) {
		alva.t = t
		alva.do("the inbox", chromedp.Click(chromedp.JSPath(viewLink("Open"))))
		alva.waitFor("Open", `document.querySelector('#list-h').textContent === 'Open' && document.querySelector('#conn').dataset.state === 'live'`)
		sockets := chromedp.Events(alva.ctx, network.WebSocketCreated)
		setOffline := func(off bool) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
					return err
				}
				_, err := cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{
					Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
				return err
			})
		}
		alva.do("go offline", setOffline(true))
		alva.waitFor("the console knows", `document.querySelector('#conn').dataset.state === 'offline'`)
		other := dialChat(top, m)
		other.t = t
		other.send(map[string]any{"type": "hello", "identity": map[string]string{"name": "Oskar Ohlsson"}})
		other.next("welcome")
		other.say("Skrev medan du var borta", "o1")
		eventually(t, "the ticket stored", func() error {
			var page ticketing.TicketPage
			admin.do("GET", "/api/v1/tickets?q=borta", nil).decode(t, &page)
			if len(page.Tickets) != 1 {
				return fmt.Errorf("%d tickets", len(page.Tickets))
			}
			return nil
		})
		alva.do("back online", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`), setOffline(false))
		alva.waitFor("the missed ticket", rowLink("Skrev medan du var borta"))
		if !evalIn[bool](alva, "no reload", `window.__noReload === true`) {
			t.Fatal("the page was reloaded")
		}
		resumed := false
		ctx, cancel := context.WithTimeout(alva.ctx, 5*time.Second)
		defer cancel()
		for ev, err := range sockets {
			if err != nil || ctx.Err() != nil {
				break
			}
			if strings.Contains(ev.URL, "/api/v1/live?since=") {
				resumed = true
				break
			}
		}
		if !resumed {
			t.Fatal("the console reconnected without ?since=")
		}
	})

	step("keyboard shortcuts", func(t *testing.T) {
		alva.t = t
		alva.do("? opens the overlay", chromedp.Click(chromedp.CSS("#list-h")), chromedp.KeyEvent("?"))
		alva.waitFor("the overlay", `document.querySelector('#help').open && document.querySelector('#help').textContent.includes('Mark the open ticket solved')`)
		alva.do("Escape closes it", chromedp.KeyEvent(kb.Escape))
		alva.waitFor("closed, focus back", `!document.querySelector('#help').open && document.activeElement.id === 'help-btn'`)
		alva.do("j moves into the list", chromedp.Click(chromedp.CSS("#list-h")), chromedp.KeyEvent("j"))
		alva.waitFor("a row focused", `document.activeElement.classList.contains('row')`)
		const rowIndex = `[...document.querySelectorAll('#rows a.row')].indexOf(document.activeElement)`
		at := evalIn[int](alva, "focused row", rowIndex)
		if evalIn[int](alva, "rows", `document.querySelectorAll('#rows a.row').length`) < 2 {
			t.Fatal("too few rows to move between")
		}
		down, up := "j", "k"
		if at > 0 {
			down, up = "k", "j" // move up first, so that both keys move
		}
		alva.do("move", chromedp.KeyEvent(down))
		alva.waitFor("moved", fmt.Sprintf(`%s !== %d && document.activeElement.classList.contains('row')`, rowIndex, at))
		alva.do("move back", chromedp.KeyEvent(up))
		alva.waitFor("back", fmt.Sprintf(`%s === %d`, rowIndex, at))
		first := evalIn[string](alva, "focused row", `document.activeElement.dataset.id`)
		alva.do("o opens it", chromedp.KeyEvent("o"))
		alva.waitFor("the ticket open, heading focused", fmt.Sprintf(`location.pathname === '/tickets/' + encodeURIComponent(%s) && document.activeElement.id === 'ticket-h'`, jsString(first)))
		alva.do("r focuses the reply box", chromedp.KeyEvent("r"))
		alva.waitFor("reply focused", `document.activeElement.id === 'reply'`)
		alva.do("Escape leaves it; u goes back", chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent("u"))
		alva.waitFor("the list again", `location.pathname === '/views/open' && document.activeElement.classList.contains('row')`)
	})

	step("accessibility: every field has a label and every button a name", func(t *testing.T) {
		alva.t = t
		pages := map[string]string{
			"inbox":    base + "/views/all",
			"ticket":   base + "/tickets/" + ticketID,
			"settings": base + "/settings",
			"agents":   base + "/agents",
			"teams":    base + "/teams",
			"routing":  base + "/routing",
			"macros":   base + "/macros",
		}
		for name, u := range pages {
			alva.do("open "+name, chromedp.Navigate(u))
			alva.waitFor(name+" rendered", `document.querySelector('#main').children.length > 0 && !document.querySelector('.loading')`)
			if name == "ticket" {
				alva.waitFor("the sidebar", `document.querySelector('.customer h3') !== null`)
			}
			alva.do("open the overlay", chromedp.Evaluate[chromedp.Void](`document.querySelector('#help').show()`))
			checkAccessible(t, alva, name)
			alva.do("close the overlay", chromedp.Evaluate[chromedp.Void](`document.querySelector('#help').close()`))
		}
		bo.t = t
		bo.do("log out", chromedp.Evaluate[chromedp.Void](`fetch('/api/v1/session', {method: 'DELETE'})`))
		bo.do("the login page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.JSPath(byLabel("Email"))))
		checkAccessible(t, bo, "login")
	})

	step("deactivating an agent signs them out at once", func(t *testing.T) {
		alva.t, bo.t = t, t
		bo.signIn(base, "bo@example.se", invited.Password)
		alva.do("agents page", chromedp.Navigate(base+"/agents"))
		alva.waitFor("Bo listed", buttonNamed("Deactivate Bo Berg"))
		alva.do("deactivate", chromedp.Click(chromedp.JSPath(buttonNamed("Deactivate Bo Berg"))))
		alva.waitFor("the confirmation dialog", `document.querySelector('dialog.confirm[open]') !== null && document.activeElement.id === 'confirm-cancel'`)
		alva.do("confirm", chromedp.Click(chromedp.JSPath(`document.querySelector("#confirm-ok")`)))
		bo.waitFor("Bo sent to the login page", `location.pathname === '/login'`)
		alva.waitFor("shown as deactivated", buttonNamed("Reactivate Bo Berg"))
	})

	step("two-factor sign-in: set up with the QR code, sign out, sign in with a code", func(t *testing.T) {
		alva.t = t
		alva.do("settings", chromedp.Navigate(base+"/settings"))
		alva.waitFor("the setup button", buttonNamed("Set up two-factor sign-in"))
		alva.do("set up", chromedp.Click(chromedp.JSPath(buttonNamed("Set up two-factor sign-in"))))
		alva.waitFor("the QR code", `document.querySelector('img.qr')?.complete && document.querySelector('img.qr').naturalWidth > 0`)
		secret := evalIn[string](alva, "secret", `document.querySelector('code.secret').textContent`)
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		alva.do("confirm", chromedp.SendKeys(chromedp.JSPath(byLabel("Code from the app")), code),
			chromedp.Click(chromedp.JSPath(buttonNamed("Turn on"))))
		alva.waitFor("on", `document.querySelector('#main').textContent.includes('Two-factor sign-in is on for your account.')`)
		alva.do("sign out", chromedp.Click(chromedp.JSPath(buttonNamed("Sign out"))))
		alva.waitFor("the login page", `location.pathname === '/login' && `+byLabel("Email"))
		alva.do("password only",
			chromedp.SendKeys(chromedp.JSPath(byLabel("Email")), m.Config.AdminEmail),
			chromedp.SendKeys(chromedp.JSPath(byLabel("Password")), testPassword),
			chromedp.Click(chromedp.JSPath(buttonNamed("Sign in"))))
		alva.waitFor("the code field", `!document.querySelector('#code-field').hidden && document.activeElement === `+byLabel("Two-factor code"))
		code, _ = totp.GenerateCode(secret, time.Now())
		alva.do("the code", chromedp.SendKeys(chromedp.JSPath(byLabel("Two-factor code")), code),
			chromedp.Click(chromedp.JSPath(buttonNamed("Sign in"))))
		alva.waitFor("signed in", `location.pathname === '/' && document.querySelector('#conn').dataset.state === 'live'`)
	})

	step("no CSP violations or script errors", func(t *testing.T) {
		alva.t = t
		seen := len(alva.messages())
		for _, b := range []*tab{alva, bo} {
			msgs := b.messages()
			if b == alva {
				msgs = msgs[:seen]
			}
			for _, msg := range msgs {
				if isViolation(msg) {
					t.Errorf("tab %s: CSP violation: %s", b.name, msg.String())
				}
				if msg.IsException() {
					t.Errorf("tab %s: script error: %s", b.name, msg.String())
				}
			}
		}
		// The check sees a violation: an inline script is refused, and
		// the refusal reaches the console.
		alva.do("an inline script", chromedp.Navigate(base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#main h2")),
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s); })()`))
		eventually(t, "the probe's CSP violation in the console", func() error {
			if !hasViolation(alva.messages()[seen:]) {
				return fmt.Errorf("no violation reported")
			}
			return nil
		})
		if evalIn[bool](alva, "inline ran", `window.__inline === 1`) {
			t.Fatal("an inline script ran: the CSP does not block it")
		}
	})
}

func isViolation(m chromedp.ConsoleMessage) bool {
	return strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy")
}

func hasViolation(msgs []chromedp.ConsoleMessage) bool {
	for _, m := range msgs {
		if isViolation(m) {
			return true
		}
	}
	return false
}

// checkAccessible fails when a form field has no label or a button or
// link has no accessible name, on the page the tab shows.
func checkAccessible(t *testing.T, b *tab, page string) {
	t.Helper()
	unlabelled := evalIn[[]string](b, "labels", `[...document.querySelectorAll('input, select, textarea')]
		.filter(el => el.type !== 'hidden')
		.filter(el => !(el.labels && el.labels.length && [...el.labels].some(l => l.textContent.trim())) && !el.getAttribute('aria-labelledby') && !(el.getAttribute('aria-label') || '').trim())
		.map(el => el.outerHTML.slice(0, 120))`)
	for _, el := range unlabelled {
		t.Errorf("%s: a field without a label: %s", page, el)
	}
	frames := evalIn[[]string](b, "frames", `[...document.querySelectorAll('iframe:not([title]), img:not([alt])')].map(el => el.outerHTML.slice(0, 120))`)
	for _, el := range frames {
		t.Errorf("%s: a frame without a title or an image without alt text: %s", page, el)
	}
	// The browser's own accessibility tree: what a screen reader announces.
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Action[[]*accessibility.Node](func(ctx context.Context, tg *chromedp.Target) ([]*accessibility.Node, error) {
		res, err := cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		if err != nil {
			return nil, err
		}
		return res.Nodes, nil
	}))
	if err != nil {
		b.fail("accessibility tree", err)
	}
	named := map[string]bool{"button": true, "link": true, "textbox": true, "combobox": true, "searchbox": true,
		"checkbox": true, "radio": true, "menuitem": true, "tab": true, "dialog": true}
	counted := 0
	for _, n := range nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var role string
		_ = json.Unmarshal(n.Role.Value, &role)
		if !named[role] {
			continue
		}
		counted++
		var name string
		if n.Name != nil {
			_ = json.Unmarshal(n.Name.Value, &name)
		}
		if strings.TrimSpace(name) == "" {
			t.Errorf("%s: a %s without an accessible name (DOM node %d)", page, role, n.BackendDOMNodeID)
		}
	}
	if counted == 0 {
		t.Errorf("%s: the accessibility tree has no controls at all", page)
	}
}

// seedConsole puts an email ticket from a VIP customer with orders, an SMS
// ticket and a solved one into the node.
func seedConsole(t *testing.T, m *Main, admin *agentClient) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	mail := &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: "<seed-1@example.se>",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "lisa.lind@example.se"}, Name: "Lisa Lind",
		Subject: "My parcel has not arrived", ReceivedAt: now.Add(-50 * time.Minute),
		Text: "Hi,\n\nI ordered a jacket last week (order 10442) and it has not arrived yet.\nCan you check where it is?\n\nLisa",
		HTML: `<p style="color:#333">Hi,</p><p>I ordered a <b>jacket</b> last week (order <span style="font-family:monospace">10442</span>) and it has not arrived yet.</p><p>Can you check where it is?</p><p>Lisa</p>`}
	sms := &ticketing.Envelope{Channel: ticketing.ChannelSMS, ExternalID: "SM-seed-2",
		From: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}, Name: "Erik Ek",
		Text: "Hej, kan jag byta storlek på skorna jag köpte?", ReceivedAt: now.Add(-3 * time.Hour)}
	old := &ticketing.Envelope{Channel: ticketing.ChannelEmail, ExternalID: "<seed-3@example.se>",
		From: ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "maja@example.se"}, Name: "Maja Holm",
		Subject: "Invoice copy", Text: "Could you send me a copy of my invoice?", ReceivedAt: now.Add(-26 * time.Hour)}
	for _, e := range []*ticketing.Envelope{mail, sms, old} {
		if err := m.Bus.PublishInbound(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var lisa, maja *ticketing.Customer
	eventually(t, "seeded tickets", func() error {
		var err error
		if lisa, err = m.Service.CustomerByIdentity(ctx, "email:lisa.lind@example.se"); err != nil {
			return err
		}
		if maja, err = m.Service.CustomerByIdentity(ctx, "email:maja@example.se"); err != nil {
			return err
		}
		erik, err := m.Service.CustomerByIdentity(ctx, "phone:+46701234567")
		if err != nil {
			return err
		}
		for _, c := range []*ticketing.Customer{lisa, maja, erik} {
			if c.CurrentTicketID == "" {
				return fmt.Errorf("%s has no ticket yet", c.Name)
			}
		}
		return nil
	})
	res := admin.do("PATCH", "/api/v1/customers/"+lisa.ID, map[string]any{
		"attributes": map[string]string{"tier": "Gold", "vip": "true", "lifetime_value": "18 450 kr", "city": "Umeå"},
		"orders": []map[string]any{
			{"id": "10442", "total": "1 299 kr", "status": "shipped", "created_at": now.Add(-7 * 24 * time.Hour)},
			{"id": "10118", "total": "649 kr", "status": "delivered", "created_at": now.Add(-60 * 24 * time.Hour)},
		},
	})
	if res.status != 200 {
		t.Fatalf("patch customer: %d %s", res.status, res.body)
	}
	if res := admin.do("PATCH", "/api/v1/tickets/"+lisa.CurrentTicketID, map[string]any{"assignee_id": "me", "priority": "high", "tags": []string{"delivery"}}); res.status != 200 {
		t.Fatalf("assign: %d %s", res.status, res.body)
	}
	if res := admin.do("PATCH", "/api/v1/tickets/"+maja.CurrentTicketID, map[string]any{"status": "pending"}); res.status != 200 {
		t.Fatalf("pending: %d %s", res.status, res.body)
	}
}

// takeScreenshots saves the pictures docs/console.md shows.
func takeScreenshots(t *testing.T, b *tab, base, chatTicket, dir string) {
	t.Helper()
	b.do("inbox", chromedp.Navigate(base+"/"))
	b.waitFor("rows", rowLink("My parcel has not arrived"))
	b.do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	b.screenshot(dir, "inbox.png")
	b.do("chat ticket", chromedp.Navigate(base+"/tickets/"+chatTicket))
	b.waitFor("timeline", inTimeline("Ja, den finns i M!")+` && document.querySelector('.customer h3') !== null`)
	b.do("draft", chromedp.SendKeys(chromedp.ID("reply"), "Vi har den i Umeå-butiken också"))
	b.screenshot(dir, "ticket.png")
	b.do("clear", chromedp.Evaluate[chromedp.Void](`document.querySelector('#reply').value = ''`))
	b.do("email ticket", chromedp.Click(chromedp.JSPath(rowLink("My parcel has not arrived"))))
	b.waitFor("email", `document.querySelector('iframe.mail-frame') !== null && document.querySelector('.customer .orders') !== null`)
	b.do("let the frame load", chromedp.Sleep(300*time.Millisecond))
	b.screenshot(dir, "ticket-email.png")
	b.do("shortcuts", chromedp.Evaluate[chromedp.Void](`document.querySelector('#help').showModal()`))
	b.screenshot(dir, "shortcuts.png")
	b.do("close", chromedp.Evaluate[chromedp.Void](`document.querySelector('#help').close()`))
	b.do("agents", chromedp.Navigate(base+"/agents"))
	b.waitFor("the agents", `document.querySelector('table.agents tbody tr') !== null`)
	b.screenshot(dir, "agents.png")
	b.do("settings", chromedp.Navigate(base+"/settings"))
	b.waitFor("the settings", `document.querySelector('#totp-h') !== null`)
	b.screenshot(dir, "settings.png")
}
