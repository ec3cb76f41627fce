package chat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

func TestConversation(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	w := c.hello("", nil)
	if len(w.Messages) != 0 || w.Verified {
		t.Fatalf("a new visitor's welcome = %+v", w)
	}
	echo := c.say("Hej! Var är min beställning?", "c-1")
	if echo.Direction != ticketing.DirectionInbound || echo.ID != ticketing.InboundMessageID(ticketing.ChannelChat, w.VisitorID+":c-1") {
		t.Fatalf("echo = %+v", echo)
	}

	tk := n.ticketOf("chat:"+w.VisitorID, 1)
	if tk.Channel != ticketing.ChannelChat || tk.MessageIDs[0] != echo.ID {
		t.Fatalf("ticket = %+v", tk)
	}
	r := n.reply(tk.ID, "Den kommer i morgon.", false)
	got := c.next(frameMessage).Message
	if got.ID != r.ID || got.Text != "Den kommer i morgon." || got.Author.Kind != ticketing.AuthorAgent || got.Author.Name != "Alma" {
		t.Fatalf("reply on the socket = %+v", got)
	}
	n.waitDelivery(r.ID, ticketing.DeliveryDelivered, ticketing.ChannelChat)
}

func TestResentClientIDStoredOnce(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	w := c.hello("", nil)
	c.say("first", "dup-1")
	c.say("first", "dup-1") // the widget resends when it missed the echo

	// And again after a reconnect, as the offline queue does.
	c2 := n.dial()
	c2.hello(w.VisitorToken, nil)
	c2.say("first", "dup-1")
	c2.say("second", "dup-2")

	tk := n.ticketOf("chat:"+w.VisitorID, 2)
	msgs, err := n.store.GetMessages(context.Background(), tk.MessageIDs)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(viewsOf(msgs)); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("stored messages = %q, want first and second once each", got)
	}
}

func TestReconnectWithTokenReturnsHistory(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	w := c.hello("", nil)
	c.say("one", "a1")
	c.say("two", "a2")
	tk := n.ticketOf("chat:"+w.VisitorID, 2)
	r := n.reply(tk.ID, "three", false)
	c.next(frameMessage)
	n.waitDelivery(r.ID, ticketing.DeliveryDelivered, ticketing.ChannelChat)
	c.conn.Close()

	w2 := n.dial().hello(w.VisitorToken, nil)
	if w2.VisitorID != w.VisitorID || w2.VisitorToken != w.VisitorToken {
		t.Fatalf("reconnect got visitor %s, want %s", w2.VisitorID, w.VisitorID)
	}
	if got := texts(w2.Messages); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("history = %q", got)
	}
	if w2.Messages[0].ClientID != "a1" || w2.Messages[2].Author.Kind != ticketing.AuthorAgent {
		t.Fatalf("history messages = %+v", w2.Messages)
	}
}

func TestVisitorsAreSeparate(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	a := n.dial()
	wa := a.hello("", nil)
	a.say("anna's secret order 1234", "x1")
	tka := n.ticketOf("chat:"+wa.VisitorID, 1)

	b := n.dial()
	wb := b.hello("", nil)
	if wb.VisitorID == wa.VisitorID || wb.VisitorToken == wa.VisitorToken {
		t.Fatal("two visitors share an id")
	}
	if len(wb.Messages) != 0 {
		t.Fatalf("second visitor sees %q", texts(wb.Messages))
	}
	// A token Svar did not make gets a fresh visitor, not someone's history.
	c := n.dial()
	wc := c.hello(wa.VisitorID, nil)
	if wc.VisitorID == wa.VisitorID || len(wc.Messages) != 0 {
		t.Fatalf("a forged token got visitor %s with %d messages", wc.VisitorID, len(wc.Messages))
	}

	b.say("bertil here", "y1")
	tkb := n.ticketOf("chat:"+wb.VisitorID, 1)
	if tkb.ID == tka.ID {
		t.Fatal("two visitors share a ticket")
	}
	n.reply(tka.ID, "for anna", false)
	n.reply(tkb.ID, "for bertil", false)
	if got := b.next(frameMessage).Message.Text; got != "for bertil" {
		t.Fatalf("bertil received %q", got)
	}
	if got := a.next(frameMessage).Message.Text; got != "for anna" {
		t.Fatalf("anna received %q", got)
	}
}

func TestSignedIdentity(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	id := &helloIdentity{ExternalID: "shop-customer-42", Email: "Anna@Example.se", Name: "Anna", Signature: Sign("shop-customer-42", testSecret)}

	laptop := n.dial()
	wl := laptop.hello("", id)
	if !wl.Verified {
		t.Fatal("a valid signature was not verified")
	}
	laptop.say("from my laptop", "l1")
	tk := n.ticketOf("external:shop-customer-42", 1)

	cust, err := n.svc.CustomerByIdentity(context.Background(), "external:shop-customer-42")
	if err != nil {
		t.Fatal(err)
	}
	if ext, _ := cust.Identity(ticketing.IdentityExternal); !ext.Verified || cust.Name != "Anna" {
		t.Fatalf("customer = %+v", cust)
	}
	// The unsigned email and the visitor id are claims on the same customer.
	for _, key := range []string{"email:anna@example.se", "chat:" + wl.VisitorID} {
		c, err := n.svc.CustomerByIdentity(context.Background(), key)
		if err != nil || c.ID != cust.ID {
			t.Fatalf("%s belongs to %v (%v), want %s", key, c, err, cust.ID)
		}
	}

	// Another device with the same signed identity is the same customer.
	phone := n.dial()
	wp := phone.hello("", id)
	if wp.VisitorID == wl.VisitorID || !slices.Equal(texts(wp.Messages), []string{"from my laptop"}) {
		t.Fatalf("second device: visitor %s history %q", wp.VisitorID, texts(wp.Messages))
	}
	r := n.reply(tk.ID, "to both devices", false)
	for _, c := range []*wsClient{laptop, phone} {
		if got := c.next(frameMessage).Message; got.ID != r.ID {
			t.Fatalf("device got %+v", got)
		}
	}

	// The laptop's token without the signature (logged out) is a new,
	// anonymous visitor: the customer's history stays theirs.
	out := n.dial().hello(wl.VisitorToken, nil)
	if out.Verified || out.VisitorID == wl.VisitorID || len(out.Messages) != 0 {
		t.Fatalf("logged-out reuse of the token: %+v", out)
	}
}

func TestBadSignature(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	good := &helloIdentity{ExternalID: "vip-7", Signature: Sign("vip-7", testSecret)}
	owner := n.dial()
	owner.hello("", good)
	owner.say("my address is Storgatan 1", "o1")
	n.ticketOf("external:vip-7", 1)

	for name, id := range map[string]*helloIdentity{
		"wrong":    {ExternalID: "vip-7", Signature: Sign("vip-7", "guessed-secret")},
		"missing":  {ExternalID: "vip-7", Email: "vip@example.se"},
		"not hex":  {ExternalID: "vip-7", Signature: "zz"},
		"other id": {ExternalID: "vip-7", Signature: Sign("vip-8", testSecret)},
	} {
		t.Run(name, func(t *testing.T) {
			c := n.dial()
			c.send(clientFrame{Type: frameHello, Identity: id})
			e := c.next(frameError, frameWelcome)
			if e.Type != frameError || e.Error.Code != codeInvalidSignature {
				t.Fatalf("first frame = %+v, want an invalid_signature error", e)
			}
			w := c.next(frameWelcome)
			if w.Verified || len(w.Messages) != 0 {
				t.Fatalf("welcome = verified %v with %q", w.Verified, texts(w.Messages))
			}
			c.say("am I vip-7?", "q1")
			n.ticketOf("chat:"+w.VisitorID, 1)
			vip, _ := n.svc.CustomerByIdentity(context.Background(), "external:vip-7")
			anon, _ := n.svc.CustomerByIdentity(context.Background(), "chat:"+w.VisitorID)
			if anon.ID == vip.ID {
				t.Fatal("an unsigned identity was linked to the customer it names")
			}
			if id.Email != "" {
				if c, err := n.svc.CustomerByIdentity(context.Background(), "email:vip@example.se"); err != nil || c.ID != anon.ID {
					t.Fatalf("the typed email is not an (unverified) claim of the visitor: %v %v", c, err)
				}
			}
		})
	}
}

func TestForeignOriginRefused(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	for _, origin := range []string{"https://evil.test", "http://shop.test", "https://shop.test.evil.test"} {
		_, resp, err := n.dialOrigin(origin)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %s: err %v, response %v; want 403", origin, err, resp)
		}
	}
	c, _, err := n.dialOrigin("https://SHOP.test:443")
	if err != nil {
		t.Fatalf("the allowed origin was refused: %v", err)
	}
	c.hello("", nil)
}

func TestOriginDefaultsToPublicURL(t *testing.T) {
	n := newTestNode(t, nodeConfig{opts: func(o *Options) { o.AllowedOrigins = nil }})
	if _, resp, err := n.dialOrigin("https://shop.test"); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("shop.test without being allowed: %v", err)
	}
	c, _, err := n.dialOrigin("https://support.shop.test")
	if err != nil {
		t.Fatalf("PublicURL's origin refused: %v", err)
	}
	c.hello("", nil)
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	bad, good := n.dial(), n.dial()
	bad.hello("", nil)
	wg := good.hello("", nil)

	bad.send(clientFrame{Type: frameMessage, ClientID: "big", Text: strings.Repeat("x", 17<<10)})
	_, err := bad.read(20*time.Second, "none")
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}
	good.say("still here", "g1")
	n.ticketOf("chat:"+wg.VisitorID, 1)
}

func TestNoteNeverReachesCustomer(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	w := c.hello("", nil)
	c.say("help", "h1")
	tk := n.ticketOf("chat:"+w.VisitorID, 1)

	note := n.reply(tk.ID, "internal: customer is grumpy", true)
	// Even queued for the chat by mistake, a note is not sent.
	if err := n.bus.PublishOutbound(context.Background(), &ticketing.Outbound{
		MessageID: note.ID, TicketID: tk.ID, CustomerID: tk.CustomerID, Channel: ticketing.ChannelChat, Text: note.Text, CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	r := n.reply(tk.ID, "we are on it", false)
	if got := c.next(frameMessage).Message; got.ID != r.ID {
		t.Fatalf("first message after the note = %+v, want the reply", got)
	}
	w2 := n.dial().hello(w.VisitorToken, nil)
	for _, m := range w2.Messages {
		if m.ID == note.ID || strings.Contains(m.Text, "grumpy") {
			t.Fatalf("history shows the note: %+v", m)
		}
	}
	if len(w2.Messages) != 2 {
		t.Fatalf("history = %q", texts(w2.Messages))
	}
}

func TestRateLimit(t *testing.T) {
	n := newTestNode(t, nodeConfig{opts: func(o *Options) { o.MessagesPerMinute = 2 }})
	c := n.dial()
	c.hello("", nil)
	c.say("1", "r1")
	c.say("2", "r2")
	c.send(clientFrame{Type: frameMessage, Text: "3", ClientID: "r3"})
	f := c.next(frameMessage, frameError)
	if f.Type != frameError || f.Error.Code != "rate_limited" || f.ClientID != "r3" {
		t.Fatalf("third message = %+v, want a rate_limited error for r3", f)
	}
}

func TestInvalidFrames(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	c.hello("", nil)
	for _, tc := range []struct {
		name  string
		frame clientFrame
		field string
	}{
		{"empty text", clientFrame{Type: frameMessage, Text: "  ", ClientID: "e1"}, "text"},
		{"long text", clientFrame{Type: frameMessage, Text: strings.Repeat("å", 4001), ClientID: "e2"}, "text"},
		{"no client id", clientFrame{Type: frameMessage, Text: "hi"}, "client_id"},
		{"bad email", clientFrame{Type: frameMessage, Text: "hi", ClientID: "e3", Email: "not an email"}, "email"},
	} {
		c.send(tc.frame)
		f := c.next(frameMessage, frameError)
		if f.Type != frameError || f.Error.Code != ticketing.EInvalid || !strings.HasPrefix(f.Error.Message, tc.field) || f.ClientID != tc.frame.ClientID {
			t.Errorf("%s: got %+v", tc.name, f)
		}
	}
	// The connection survives refused input.
	c.say("fine", "ok")
}

func TestFirstFrameMustBeHello(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	c.send(clientFrame{Type: frameMessage, Text: "hi", ClientID: "x"})
	if f := c.next(frameError); f.Error.Code != ticketing.EInvalid {
		t.Fatalf("got %+v", f)
	}
	_, err := c.read(20*time.Second, "none")
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("got %v, want close 1008", err)
	}
}

func TestConnectionsPerIP(t *testing.T) {
	n := newTestNode(t, nodeConfig{opts: func(o *Options) { o.MaxConnsPerIP = 2 }})
	a := n.dial()
	n.dial()
	if _, resp, err := n.dialOrigin("https://shop.test"); err == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v", err)
	}
	a.conn.Close()
	eventually(t, "a freed connection slot", func() bool {
		c, _, err := n.dialOrigin("https://shop.test")
		if err == nil {
			c.conn.Close()
		}
		return err == nil
	})
}

func TestQueuedReplyShownOnNextVisit(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	w := c.hello("", nil)
	c.say("are you there?", "q1")
	tk := n.ticketOf("chat:"+w.VisitorID, 1)
	c.conn.Close()
	// The visitor's socket is gone on the server too before the reply.
	eventually(t, "the visitor to leave", func() bool {
		n.chat.mu.Lock()
		defer n.chat.mu.Unlock()
		return len(n.chat.sessions) == 0
	})

	r := n.reply(tk.ID, "yes, sorry for the wait", false)
	// No email, no socket: the reply stays queued (not failed, no retry).
	if err := n.waitHandled(r.ID); err != nil {
		t.Fatalf("handler: %v", err)
	}
	if m, _ := n.store.GetMessage(context.Background(), r.ID); m.Delivery.Status != ticketing.DeliveryQueued {
		t.Fatalf("delivery = %+v, want queued", m.Delivery)
	}
	w2 := n.dial().hello(w.VisitorToken, nil)
	if got := texts(w2.Messages); !slices.Equal(got, []string{"are you there?", "yes, sorry for the wait"}) {
		t.Fatalf("history = %q", got)
	}
	n.waitDelivery(r.ID, ticketing.DeliveryDelivered, ticketing.ChannelChat)
}

func TestEmailFallback(t *testing.T) {
	n := newTestNode(t, nodeConfig{opts: func(o *Options) {
		o.EmailFallback = true
		o.FallbackGrace = time.Second
	}})
	mails := make(chan *ticketing.Outbound, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		n.bus.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(_ context.Context, o *ticketing.Outbound, _ int) error {
			mails <- o
			return nil
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })

	c := n.dial()
	w := c.hello("", nil)
	c.send(clientFrame{Type: frameMessage, Text: "Mail me: eva@example.se", ClientID: "m1", Email: "Eva@Example.se"})
	c.next(frameMessage)
	tk := n.ticketOf("chat:"+w.VisitorID, 1)
	c.conn.Close()
	eventually(t, "the visitor to leave", func() bool {
		n.chat.mu.Lock()
		defer n.chat.mu.Unlock()
		return len(n.chat.sessions) == 0
	})

	r1 := n.reply(tk.ID, "First answer.", false)
	r2 := n.reply(tk.ID, "Second answer.", false)
	var mail *ticketing.Outbound
	select {
	case mail = <-mails:
	case <-time.After(30 * time.Second):
		t.Fatal("no fallback mail")
	}
	if mail.Fallback != ticketing.ChannelChat || mail.To.Key() != "email:eva@example.se" || mail.MessageID != r1.ID {
		t.Fatalf("mail = %+v", mail)
	}
	if !strings.Contains(mail.Text, "First answer.") || !strings.Contains(mail.Text, "Second answer.") ||
		strings.Index(mail.Text, "First") > strings.Index(mail.Text, "Second") {
		t.Fatalf("mail text = %q, want both replies in order", mail.Text)
	}
	for _, id := range []string{r1.ID, r2.ID} {
		n.waitDelivery(id, ticketing.DeliveryQueued, ticketing.ChannelEmail)
	}
	// r2's own turn finds it carried: no second mail. A marker mail queued
	// after that turn must be the next one the mail consumer sees.
	for {
		if err := n.waitHandled(r2.ID); err == nil {
			break
		}
	}
	marker := &ticketing.Outbound{MessageID: "marker", Channel: ticketing.ChannelEmail, CreatedAt: time.Now()}
	if err := n.bus.PublishOutbound(context.Background(), marker); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-mails:
		if m.MessageID != "marker" {
			t.Fatalf("a second fallback mail: %+v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the marker mail did not arrive")
	}
}

func TestFallbackWaitsForTheGrace(t *testing.T) {
	// With a long grace, a visitor who comes back gets the reply in chat and
	// it is never mailed.
	n := newTestNode(t, nodeConfig{opts: func(o *Options) {
		o.EmailFallback = true
		o.FallbackGrace = time.Hour
	}})
	c := n.dial()
	w := c.hello("", &helloIdentity{Email: "olle@example.se"})
	c.say("hello", "f1")
	tk := n.ticketOf("chat:"+w.VisitorID, 1)
	c.conn.Close()
	eventually(t, "the visitor to leave", func() bool {
		n.chat.mu.Lock()
		defer n.chat.mu.Unlock()
		return len(n.chat.sessions) == 0
	})
	r := n.reply(tk.ID, "back soon?", false)
	if err := n.waitHandled(r.ID); !ticketing.IsRetry(err) {
		t.Fatalf("handler = %v, want a retry after the grace", err)
	}
	w2 := n.dial().hello(w.VisitorToken, nil)
	if !slices.Contains(texts(w2.Messages), "back soon?") {
		t.Fatalf("history = %q", texts(w2.Messages))
	}
	n.waitDelivery(r.ID, ticketing.DeliveryDelivered, ticketing.ChannelChat)
}

func TestTyping(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	typing := make(chan typingPayload, 10)
	cancel, err := n.bus.Subscribe(TopicTyping, func(p []byte) bool {
		var tp typingPayload
		json.Unmarshal(p, &tp)
		typing <- tp
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	c := n.dial()
	w := c.hello("", nil)
	c.say("hi", "t1")
	tk := n.ticketOf("chat:"+w.VisitorID, 1)

	// Customer → consoles.
	c.send(clientFrame{Type: frameTyping, Typing: true})
	select {
	case tp := <-typing:
		if tp.CustomerID != tk.CustomerID || !tp.Typing {
			t.Fatalf("typing payload = %+v", tp)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the consoles heard no typing")
	}

	// Agent → customer, from a console's presence report.
	presence := func(state string) {
		b, _ := json.Marshal(map[string]any{"type": "presence", "ticket_id": tk.ID, "agent": map[string]string{"id": "agent-1", "name": "Alma"}, "state": state})
		if err := n.bus.Publish(context.Background(), "presence", b); err != nil {
			t.Fatal(err)
		}
	}
	presence("typing")
	if f := c.next(frameTyping); !f.Typing {
		t.Fatalf("typing frame = %+v", f)
	}
	presence("viewing")
	if f := c.next(frameTyping); f.Typing {
		t.Fatalf("typing frame after the agent stopped = %+v", f)
	}
	// Another customer hears nothing: their next frame is their own echo.
	other := n.dial()
	other.hello("", nil)
	presence("typing")
	c.next(frameTyping)
	other.send(clientFrame{Type: frameMessage, Text: "me too", ClientID: "o1"})
	if f := other.next(frameTyping, frameMessage, frameError); f.Type != frameMessage {
		t.Fatal("another visitor saw the agent typing")
	}
}

func TestAgentsOnline(t *testing.T) {
	n := newTestNode(t, nodeConfig{opts: func(o *Options) { o.AgentsInterval = 50 * time.Millisecond }})
	c := n.dial()
	// No console anywhere: the node finds out and says so, in the welcome
	// or right after it.
	if w := c.hello("", nil); w.AgentsOnline {
		if f := c.next(frameAgents); f.Online {
			t.Fatalf("agents frame = %+v, want offline", f)
		}
	}
	// A later visitor is told in the welcome.
	if w := n.dial().hello("", nil); w.AgentsOnline {
		t.Fatal("welcome says agents are online")
	}
	cancel, err := n.bus.Subscribe(TopicAgentsOnline, func([]byte) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if f := c.next(frameAgents); !f.Online {
		t.Fatalf("agents frame = %+v", f)
	}
	cancel()
	if f := c.next(frameAgents); f.Online {
		t.Fatalf("agents frame after the console left = %+v", f)
	}
}

func TestCloseGoesAway(t *testing.T) {
	n := newTestNode(t, nodeConfig{})
	c := n.dial()
	c.hello("", nil)
	n.chat.Close()
	_, err := c.read(20*time.Second, "none")
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("after Close: %v, want 1001", err)
	}
	if _, resp, err := n.dialOrigin("https://shop.test"); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v", err)
	}
}

func TestTwoNodes(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	stores := mongotest.NewNodes(t, 2)
	// The visitor's socket is on node A, which does not consume the chat
	// stream; node B does, so every reply crosses between the nodes.
	a := startNode(t, natstest.Connect(t, url, ns), stores[0], nodeConfig{noRun: true})
	b := startNode(t, natstest.Connect(t, url, ns), stores[1], nodeConfig{noIngest: true})

	c := a.dial()
	w := c.hello("", nil)
	c.say("on node A", "n1")
	tk := b.ticketOf("chat:"+w.VisitorID, 1)
	r := b.reply(tk.ID, "from node B", false)
	if got := c.next(frameMessage).Message; got.ID != r.ID {
		t.Fatalf("visitor on A got %+v", got)
	}
	b.waitDelivery(r.ID, ticketing.DeliveryDelivered, ticketing.ChannelChat)
}

func viewsOf(ms []*ticketing.Message) []*messageView {
	out := make([]*messageView, 0, len(ms))
	for _, m := range ms {
		if v := viewOf(m); v != nil {
			out = append(out, v)
		}
	}
	return out
}
