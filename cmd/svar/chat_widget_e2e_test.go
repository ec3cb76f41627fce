package main

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChatWidgetSaysWhoIsOnline drives the widget in chromium: it never
// claims an agent is online before the server said so, the "leave your
// email" box is shown only while nobody is online (really shown and really
// hidden, whatever the CSS), and the status follows agents coming and
// going without waiting for a poll.
func TestChatWidgetSaysWhoIsOnline(t *testing.T) {
	ctx := newBrowser(t)
	m := startNode(t, "", nil)
	const root = widgetRoot
	status := root + `.querySelector('.status').textContent`
	boxShown := `getComputedStyle(` + root + `.querySelector('form.mail')).display !== 'none'`
	// Every status text the widget shows, from before it connects.
	const record = `(() => {
		window.statuses = [];
		const el = ` + root + `.querySelector('.status');
		new MutationObserver(() => window.statuses.push(el.textContent)).observe(el, {childList: true, characterData: true, subtree: true});
	})()`
	err := chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/demo?lang=en"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#svar-chat') && `+root+`.querySelector('button.launch')`),
		chromedp.Evaluate[chromedp.Void](record),
		chromedp.Click(chromedp.JSPath(root+`.querySelector('button.launch')`)),
		chromedp.Poll[chromedp.Void](status+` === 'No agent is online right now' && `+boxShown, chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Fatalf("with nobody online the widget does not say so and show the email box: %v", err)
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.statuses`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seen {
		if s == "We are online" {
			t.Fatalf("the widget said %q with nobody online (statuses %q)", s, seen)
		}
	}

	// An agent opens the console: the widget says so and hides the box.
	agent := login(t, m)
	live := agent.live("")
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](status+` === 'We are online' && !(`+boxShown+`)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](status))
		t.Fatalf("with an agent online: status %q and the email box must be hidden: %v", got, err)
	}

	// The last agent leaves: at once, not at the next poll.
	live.Close()
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](status+` === 'No agent is online right now' && `+boxShown,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](status))
		t.Fatalf("after the last agent left: status %q, want nobody online and the email box: %v", got, err)
	}
}
