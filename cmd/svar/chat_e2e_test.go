package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// e2eChatFrame is any frame /chat/ws sends.
type e2eChatFrame struct {
	Type         string              `json:"type"`
	VisitorToken string              `json:"visitor_token"`
	Messages     []ticketing.Message `json:"messages"`
	Message      *ticketing.Message  `json:"message"`
	Error        struct {
		Code, Message string
	} `json:"error"`
}

// chatCustomer is a customer's websocket on a node's /chat/ws.
type chatCustomer struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialChat(t *testing.T, m *Main) *chatCustomer {
	t.Helper()
	u := "ws" + strings.TrimPrefix(m.URL(), "http") + "/chat/ws"
	ws, res, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {m.URL()}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("chat socket: %v (%d)", err, status)
	}
	t.Cleanup(func() { ws.Close() })
	return &chatCustomer{t: t, ws: ws}
}

func (c *chatCustomer) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("chat write: %v", err)
	}
}

// next reads frames until one of type typ.
func (c *chatCustomer) next(typ string) *e2eChatFrame {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.ws.SetReadDeadline(deadline)
		var f e2eChatFrame
		if err := c.ws.ReadJSON(&f); err != nil {
			c.t.Fatalf("chat socket, waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return &f
		}
		if f.Type == "error" {
			c.t.Fatalf("chat error frame: %+v", f.Error)
		}
	}
}

// say sends a message and waits for its echo.
func (c *chatCustomer) say(text, clientID string) {
	c.t.Helper()
	c.send(map[string]string{"type": "message", "text": text, "client_id": clientID})
	if e := c.next("message").Message; e.ClientID != clientID {
		c.t.Fatalf("echo = %+v", e)
	}
}

func TestChatCustomerAndAgentTalk(t *testing.T) {
	m := startNode(t, "", nil)
	agent := login(t, m)
	live := agent.live("")

	cust := dialChat(t, m)
	cust.send(map[string]string{"type": "hello"})
	w := cust.next("welcome")
	if w.VisitorToken == "" || len(w.Messages) != 0 {
		t.Fatalf("welcome = %+v", w)
	}
	cust.say("Hej! Har ni tröjan i storlek M?", "e2e-1")

	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "e2e-1"
	})
	if ev.Ticket == nil || ev.Message.Channel != ticketing.ChannelChat {
		t.Fatalf("agent's event = %+v", ev)
	}
	// A note first: it must never reach the customer.
	if res := agent.do("POST", "/api/v1/tickets/"+ev.Ticket.ID+"/messages", map[string]any{"text": "internal: check stock", "note": true}); res.status != http.StatusCreated {
		t.Fatalf("note: %d %s", res.status, res.body)
	}
	res := agent.do("POST", "/api/v1/tickets/"+ev.Ticket.ID+"/messages", map[string]any{"text": "Ja, den finns i M!"})
	if res.status != http.StatusCreated {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	var out struct{ Message ticketing.Message }
	res.decode(t, &out)
	if out.Message.Channel != ticketing.ChannelChat {
		t.Fatalf("the reply went out on %s, want chat", out.Message.Channel)
	}
	got := cust.next("message").Message
	if got.ID != out.Message.ID || got.Text != "Ja, den finns i M!" {
		t.Fatalf("the customer's next message is %+v, want the reply (and never the note)", got)
	}
	waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageUpdated && ev.Message.ID == out.Message.ID &&
			ev.Message.Delivery != nil && ev.Message.Delivery.Status == ticketing.DeliveryDelivered
	})

	// Back later with the token: the whole conversation, without the note.
	again := dialChat(t, m)
	again.send(map[string]string{"type": "hello", "visitor_token": w.VisitorToken})
	hist := again.next("welcome").Messages
	if len(hist) != 2 || hist[0].Text != "Hej! Har ni tröjan i storlek M?" || hist[1].Text != "Ja, den finns i M!" {
		t.Fatalf("history = %+v", hist)
	}
}

func TestChatCustomerOnNodeAAgentOnNodeB(t *testing.T) {
	a := startNode(t, "", nil)
	b := startNode(t, "", func(m *Main) {
		m.Config.NATSURL = a.embNATS.ClientURL()
		m.Config.MongoDBURI = a.embStore.URI()
	})
	agent := login(t, b)
	live := agent.live("")

	cust := dialChat(t, a)
	cust.send(map[string]string{"type": "hello"})
	cust.next("welcome")
	cust.say("Customer on node A", "ab-1")
	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "ab-1"
	})
	res := agent.do("POST", "/api/v1/tickets/"+ev.Ticket.ID+"/messages", map[string]any{"text": "Agent on node B"})
	if res.status != http.StatusCreated {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	if got := cust.next("message").Message; got.Text != "Agent on node B" {
		t.Fatalf("customer on A got %+v", got)
	}
}

const chromiumPath = "/usr/bin/chromium"

// widgetRoot is a JS expression for the widget's shadow root.
const widgetRoot = `document.querySelector('#svar-chat').shadowRoot`

// newBrowser starts headless chromium for the test, or skips the test when
// the machine has none. The context it returns ends after 90 seconds.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s (apt-get install chromium; .ci/run does): skipping the widget browser test", chromiumPath)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // start the browser without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestChatWidgetInBrowser drives the demo shop in Debian's chromium: the
// page loads the widget, a message typed into it reaches the agents' API,
// and the agent's reply appears in the widget.
func TestChatWidgetInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	m := startNode(t, "", nil)
	agent := login(t, m)
	live := agent.live("")

	// The widget stays small for the shops' pages.
	req, _ := http.NewRequest("GET", m.URL()+"/widget.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || len(gz) >= 20<<10 {
		t.Fatalf("widget.js: %d, %s, %d bytes gzipped (want gzip < 20 KiB)", res.StatusCode, res.Header.Get("Content-Encoding"), len(gz))
	}

	const root = widgetRoot
	err = chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/demo?lang=sv"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#svar-chat') && `+root+`.querySelector('button.launch')`),
	)
	if err != nil {
		t.Fatalf("the demo page did not load the widget: %v", err)
	}
	// Swedish from the page's lang, with accessible names.
	label, err := chromedp.Run(ctx, chromedp.Evaluate[string](root+`.querySelector('button.launch').getAttribute('aria-label')`))
	if err != nil || !strings.HasPrefix(label, "Öppna chatten") {
		t.Fatalf("launcher's name = %q (%v)", label, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.JSPath(root+`.querySelector('button.launch')`)),
		chromedp.WaitVisible(chromedp.JSPath(root+`.querySelector('#msg')`)),
		chromedp.Poll[chromedp.Void](root+`.activeElement && `+root+`.activeElement.id === 'msg'`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#msg')`), "Hej från webbläsaren"+kb.Enter),
	)
	if err != nil {
		t.Fatalf("typing into the widget: %v", err)
	}
	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.Text == "Hej från webbläsaren"
	})
	if ev.Message.Channel != ticketing.ChannelChat || ev.Message.Direction != ticketing.DirectionInbound {
		t.Fatalf("event = %+v", ev.Message)
	}
	// The echo turned the pending bubble into a sent one.
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`[...%s.querySelectorAll('.log li.me')].some(li => li.textContent.startsWith('Hej från webbläsaren') && li.lastChild.textContent === 'Du')`, root),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the widget did not confirm the message: %v", err)
	}

	if res := agent.do("POST", "/api/v1/tickets/"+ev.Ticket.ID+"/messages", map[string]any{"text": "Hej! Vad kan jag hjälpa till med?"}); res.status != http.StatusCreated {
		t.Fatalf("reply: %d %s", res.status, res.body)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`[...%s.querySelectorAll('.log li.them .b')].some(b => b.textContent === 'Hej! Vad kan jag hjälpa till med?')`, root),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the agent's reply did not appear in the widget: %v", err)
	}

	// A message left in the offline queue (as if typed while the network
	// was down) goes out when the widget reconnects after a reload, once,
	// and the conversation is back from the visitor token.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => {
			const k = Object.keys(localStorage).find(k => k.startsWith('svar-chat:'));
			const st = JSON.parse(localStorage.getItem(k));
			st.q.push({c: 'offline-1', t: 'Skrivet offline'});
			localStorage.setItem(k, JSON.stringify(st));
		})()`),
		chromedp.Reload(),
		chromedp.Poll[chromedp.Void](`document.querySelector('#svar-chat') && `+root+`.querySelector('button.launch')`),
		chromedp.Click(chromedp.JSPath(root+`.querySelector('button.launch')`)),
	)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	queued := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "offline-1"
	})
	if queued.Ticket.ID != ev.Ticket.ID {
		t.Fatalf("the queued message went to ticket %s, want %s", queued.Ticket.ID, ev.Ticket.ID)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const t = [...%s.querySelectorAll('.log li .b')].map(b => b.textContent);
		  return t.includes('Hej från webbläsaren') && t.includes('Hej! Vad kan jag hjälpa till med?') && t.includes('Skrivet offline'); })()`, root),
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the conversation is not back after a reload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](
		`JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('svar-chat:')))).q.length === 0`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the echoed message is still queued: %v", err)
	}
	var view ticketing.TicketView
	agent.do("GET", "/api/v1/tickets/"+ev.Ticket.ID, nil).decode(t, &view)
	if n := len(view.Messages); n != 3 {
		t.Fatalf("the ticket has %d messages, want the two from the widget and the reply", n)
	}
}

// TestChatWidgetNoAgentOnline: with no agent signed in anywhere, the widget
// says so and offers to take an email address, which reaches the
// customer's profile.
func TestChatWidgetNoAgentOnline(t *testing.T) {
	ctx := newBrowser(t)
	m := startNode(t, "", nil)
	const root = widgetRoot
	err := chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/demo?lang=en"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#svar-chat') && `+root+`.querySelector('button.launch')`),
		chromedp.Click(chromedp.JSPath(root+`.querySelector('button.launch')`)),
		chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#msg')`), "Anyone there?"+kb.Enter),
		chromedp.Poll[chromedp.Void](`!`+root+`.querySelector('form.mail').hidden && `+
			root+`.querySelector('.status').textContent === 'No agent is online right now'`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Fatalf("the widget does not show the no-agent state: %v", err)
	}
	label, err := chromedp.Run(ctx, chromedp.Evaluate[string](root+`.querySelector('label[for=email]').textContent`))
	if err != nil || label != "Your email" {
		t.Fatalf("email field label = %q (%v)", label, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#email')`), "kim@example.se"+kb.Enter),
		chromedp.Poll[chromedp.Void](root+`.querySelector('form.mail').hidden`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatalf("leaving an email: %v", err)
	}
	eventually(t, "the email on the visitor's profile", func() error {
		c, err := m.Service.CustomerByIdentity(context.Background(), "email:kim@example.se")
		if err != nil {
			return err
		}
		if _, ok := c.Identity(ticketing.IdentityChat); !ok {
			return fmt.Errorf("the email belongs to %+v, not the chat visitor", c)
		}
		return nil
	})
}
