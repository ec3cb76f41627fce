package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// fakeElks is 46elks' SMS API on loopback (the real one is on the
// internet): it checks credentials and form, and keeps each text.
type fakeElks struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []url.Values
}

func startFakeElks(t *testing.T) *fakeElks {
	f := &fakeElks{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.URL.Path != "/a1/sms" || user != "u-test" || pass != "api-pass" || r.ParseForm() != nil ||
			r.PostForm.Get("to") == "" || r.PostForm.Get("message") == "" {
			t.Errorf("46elks fake: unexpected %s %s (user %q)", r.Method, r.URL.Path, user)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.sent = append(f.sent, r.PostForm)
		n := len(f.sent)
		f.mu.Unlock()
		fmt.Fprintf(w, `{"id":"s%d","status":"created"}`, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeElks) texts() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.sent...)
}

// smsIn posts an inbound SMS to the node as 46elks does.
func smsIn(t *testing.T, m *Main, id, from, text string) {
	t.Helper()
	form := url.Values{"id": {id}, "from": {from}, "to": {"+46766860000"}, "message": {text}}
	req, _ := http.NewRequest("POST", m.URL()+"/webhooks/46elks/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("46elks", "hook-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("inbound sms: %d", res.StatusCode)
	}
}

func getTicket(t *testing.T, c *agentClient, id string) *ticketing.TicketView {
	t.Helper()
	var v ticketing.TicketView
	c.do("GET", "/api/v1/tickets/"+id, nil).decode(t, &v)
	return &v
}

func setStatus(t *testing.T, c *agentClient, id, status string) {
	t.Helper()
	if res := c.do("PATCH", "/api/v1/tickets/"+id, map[string]any{"status": status}); res.status != 200 {
		t.Fatalf("status %s: %d %s", status, res.status, res.body)
	}
}

func waitCSAT(t *testing.T, c *agentClient, id string, score int, ch ticketing.Channel) *ticketing.TicketView {
	t.Helper()
	var v *ticketing.TicketView
	eventually(t, fmt.Sprintf("ticket %s csat %d by %s", id, score, ch), func() error {
		v = getTicket(t, c, id)
		if cs := v.Ticket.CSAT; cs == nil || cs.Score != score || cs.Channel != ch {
			return fmt.Errorf("csat = %+v", v.Ticket.CSAT)
		}
		return nil
	})
	return v
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var csatLink = regexp.MustCompile(`https?://[^\s"<>]+/csat/([A-Za-z0-9_.-]+)\?score=([1-5])`)

// TestCSATOnEveryChannel: an email, an SMS and a chat ticket solved get one
// survey each on their channel; the answers land on the tickets; a second
// click replaces the first; an SMS "5" is a score and "5 thanks" a
// message; a reopened-then-solved ticket is not asked again; bad input
// gets clear errors.
func TestCSATOnEveryChannel(t *testing.T) {
	mb, out, elks := startMailbox(t), startSMTPServer(t), startFakeElks(t)
	port := freePort(t)
	m := startNode(t, "", func(m *Main) {
		m.Config.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
		m.Config.PublicURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		e := &m.Config.Email
		e.Address = "Shop Support <support@shop.example>"
		e.Mailbox = "INBOX"
		e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
		e.SMTP.Addr, e.SMTP.Username, e.SMTP.Password, e.SMTP.TLS = out.addr, "", "", "none"
		s := &m.Config.SMS
		s.Provider, s.From = "46elks", "+46766860000"
		s.ElksUsername, s.ElksPassword, s.ElksAPIBase, s.ElksWebhookSecret = "u-test", "api-pass", elks.srv.URL, "hook-secret"
	})
	c := login(t, m)

	// Settings: admins only, checked.
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true, "delay": "soon"}); res.status != 422 || !strings.Contains(string(res.body), "delay") {
		t.Fatalf("bad delay: %d %s", res.status, res.body)
	}
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true, "channels": []string{"fax"}}); res.status != 422 || !strings.Contains(string(res.body), "channels") {
		t.Fatalf("bad channel: %d %s", res.status, res.body)
	}
	if res := c.do("PUT", "/api/v1/settings/csat", map[string]any{"enabled": true, "delay": "0s", "channels": []string{"email", "chat", "sms"}}); res.status != 200 {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}

	// Email.
	mb.deliver(t, "From: Anna Lindqvist <anna@example.se>\r\nTo: support@shop.example\r\nSubject: Paketet\r\n"+
		"Message-ID: <csat-1@mail.example.se>\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nVar är mitt paket?\r\n")
	mailTicket := customerTicket(t, c, "anna@example.se", 1).Ticket
	setStatus(t, c, mailTicket.ID, "solved")
	var mail string
	eventually(t, "the survey mail", func() error {
		for _, raw := range out.received() {
			dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
			if strings.Contains(string(dec), "/csat/") {
				mail = string(dec)
				return nil
			}
		}
		return fmt.Errorf("%d mails, none a survey", len(out.received()))
	})
	links := csatLink.FindAllStringSubmatch(mail, -1)
	if len(links) != 10 { // five in the text, five in the HTML
		t.Fatalf("survey mail has %d links:\n%s", len(links), mail)
	}
	if !strings.Contains(mail, "Hur nöjd") {
		t.Errorf("a .se customer's survey is not in Swedish:\n%s", mail)
	}
	token := links[0][1]
	base := m.URL() + "/csat/" + token
	if st, body := httpGet(t, base+"?score=4"); st != 200 || !strings.Contains(body, `name="comment"`) {
		t.Fatalf("click 4: %d %s", st, body)
	}
	waitCSAT(t, c, mailTicket.ID, 4, ticketing.ChannelEmail)
	if st, _ := httpGet(t, base+"?score=2"); st != 200 {
		t.Fatalf("click 2: %d", st)
	}
	waitCSAT(t, c, mailTicket.ID, 2, ticketing.ChannelEmail)
	res, err := http.PostForm(base, url.Values{"score": {"2"}, "comment": {"Det tog för lång tid"}})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("comment: %v %v", err, res)
	}
	res.Body.Close()
	if cs := getTicket(t, c, mailTicket.ID).Ticket.CSAT; cs == nil || cs.Comment != "Det tog för lång tid" || cs.Score != 2 {
		t.Fatalf("after comment: %+v", cs)
	}
	// Bad input.
	for _, q := range []string{"0", "6", "x"} {
		if st, body := httpGet(t, base+"?score="+q); st != 400 || !strings.Contains(body, "1") {
			t.Errorf("score %s: %d", q, st)
		}
	}
	res, err = http.PostForm(base, url.Values{"score": {"3"}, "comment": {strings.Repeat("x", 100<<10)}})
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("100 KB comment: %v %v", err, res)
	}
	res.Body.Close()
	tampered := token[:len(token)-2] + flip(token[len(token)-2:])
	for _, bad := range []string{tampered, "nonsense", "eyJ0IjoieCJ9.AAAA"} {
		if st, _ := httpGet(t, m.URL()+"/csat/"+bad+"?score=5"); st != 404 {
			t.Errorf("token %q: %d, want 404", bad, st)
		}
	}
	if cs := getTicket(t, c, mailTicket.ID).Ticket.CSAT; cs.Score != 2 {
		t.Fatalf("bad input changed the answer: %+v", cs)
	}

	// SMS.
	const phone = "+46701234567"
	smsIn(t, m, "e1", phone, "Min order har inte kommit")
	var smsTicket *ticketing.Ticket
	eventually(t, "the SMS ticket", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		for _, tk := range page.Tickets {
			if tk.Channel == ticketing.ChannelSMS {
				smsTicket = tk
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	setStatus(t, c, smsTicket.ID, "solved")
	eventually(t, "the survey SMS", func() error {
		if n := len(elks.texts()); n != 1 {
			return fmt.Errorf("%d texts", n)
		}
		return nil
	})
	if got := elks.texts()[0]; got.Get("to") != phone || !strings.Contains(got.Get("message"), "1") || !strings.Contains(got.Get("message"), "5") {
		t.Fatalf("survey SMS = %v", got)
	}
	before := getTicket(t, c, smsTicket.ID)
	smsIn(t, m, "e2", phone, " 5 ")
	after := waitCSAT(t, c, smsTicket.ID, 5, ticketing.ChannelSMS)
	if after.Ticket.Status != ticketing.StatusSolved || len(after.Messages) != len(before.Messages) {
		t.Fatalf("the digit became a message or reopened: status %s, %d → %d messages", after.Ticket.Status, len(before.Messages), len(after.Messages))
	}
	smsIn(t, m, "e3", phone, "5 thanks")
	eventually(t, "'5 thanks' as a message", func() error {
		v := getTicket(t, c, smsTicket.ID)
		if len(v.Messages) != len(before.Messages)+1 || v.Messages[len(v.Messages)-1].Text != "5 thanks" {
			return fmt.Errorf("%d messages", len(v.Messages))
		}
		return nil
	})
	// Reopened (by "5 thanks") and solved again: not asked again.
	setStatus(t, c, smsTicket.ID, "open")
	setStatus(t, c, smsTicket.ID, "solved")

	// Chat, last: its survey is due after the SMS ticket's second solve.
	cc := dialChat(t, m)
	cc.send(map[string]any{"type": "hello"})
	cc.next("welcome")
	cc.say("Hur lång är leveranstiden?", "c1")
	var chatTicket *ticketing.Ticket
	eventually(t, "the chat ticket", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		for _, tk := range page.Tickets {
			if tk.Channel == ticketing.ChannelChat {
				chatTicket = tk
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	setStatus(t, c, chatTicket.ID, "solved")
	var req struct {
		Type     string `json:"type"`
		TicketID string `json:"ticket_id"`
		Token    string `json:"token"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for req.Type != "csat_request" {
		cc.ws.SetReadDeadline(deadline)
		if err := cc.ws.ReadJSON(&req); err != nil {
			t.Fatalf("waiting for csat_request: %v", err)
		}
	}
	if req.TicketID != chatTicket.ID || req.Token == "" {
		t.Fatalf("csat_request = %+v", req)
	}
	cc.send(map[string]any{"type": "csat", "token": req.Token, "score": 9})
	if f := cc.nextAny(); f.Type != "error" || !strings.Contains(f.Error.Message, "score") {
		t.Fatalf("score 9 answered %+v", f)
	}
	cc.send(map[string]any{"type": "csat", "token": req.Token, "score": 5, "comment": "Snabbt!"})
	cc.next("csat_recorded")
	if v := waitCSAT(t, c, chatTicket.ID, 5, ticketing.ChannelChat); v.Ticket.CSAT.Comment != "Snabbt!" {
		t.Fatalf("chat csat = %+v", v.Ticket.CSAT)
	}

	// Asked once each: one survey text, one survey mail.
	if n := len(elks.texts()); n != 1 {
		t.Errorf("%d survey texts, want 1 (a reopened-then-solved ticket is asked once)", n)
	}
	n := 0
	for _, raw := range out.received() {
		dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if bytes.Contains(dec, []byte("/csat/")) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d survey mails, want 1", n)
	}
}

// nextAny reads the next frame, whatever its type.
func (c *chatCustomer) nextAny() *e2eChatFrame {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var f e2eChatFrame
	if err := c.ws.ReadJSON(&f); err != nil {
		c.t.Fatalf("chat socket: %v", err)
	}
	return &f
}

// surveyLink waits for a survey mail among those sent and returns its
// first score link.
func surveyLink(t *testing.T, out *e2eSMTP) string {
	t.Helper()
	var link string
	eventually(t, "the survey mail", func() error {
		for _, raw := range out.received() {
			dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
			if l := csatLink.FindString(string(dec)); l != "" {
				link = l
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	return link
}
