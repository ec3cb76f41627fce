package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// elksAPI is a fake of 46elks' send API that counts what it is asked to
// send, by text.
type elksAPI struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent map[string]int
	n    int
}

func startElksAPI(t *testing.T) *elksAPI {
	e := &elksAPI{sent: map[string]int{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if r.Method != "POST" || r.URL.Path != "/a1/sms" || !ok || u != "elks-user" || p != "elks-pass" {
			http.Error(w, "bad request", 400)
			return
		}
		_ = r.ParseForm()
		if r.PostForm.Get("to") == "" || r.PostForm.Get("from") != "+46700000000" {
			http.Error(w, "bad from/to", 400)
			return
		}
		e.mu.Lock()
		e.n++
		e.sent[r.PostForm.Get("message")]++
		id := fmt.Sprintf("s%d", e.n)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"status":"created"}`, id)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *elksAPI) count(text string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sent[text]
}

// liveSeen counts the texts of message.created events an agent's live
// socket receives.
type liveSeen struct {
	mu         sync.Mutex
	texts      map[string]int
	reconnects []string // why the socket closed, each time
	gaveUp     error
}

func watchLive(c *agentClient, since uint64) *liveSeen {
	s := &liveSeen{texts: map[string]int{}}
	ws := c.live(fmt.Sprintf("since=%d", since))
	go func() {
		// As the console does: a socket the node closes (a slow consumer
		// on a loaded machine) reconnects with since=<last seq> and misses
		// nothing.
		last := since
		for {
			var ev ticketing.Event
			if err := ws.ReadJSON(&ev); err != nil {
				s.mu.Lock()
				s.reconnects = append(s.reconnects, fmt.Sprintf("after seq %d: %v", last, err))
				s.mu.Unlock()
				ws.Close()
				var derr error
				for range 50 {
					if ws, derr = c.dialLive(fmt.Sprintf("since=%d", last)); derr == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if derr != nil {
					s.mu.Lock()
					s.gaveUp = derr
					s.mu.Unlock()
					return
				}
				continue
			}
			if ev.Seq > last {
				last = ev.Seq
			}
			if ev.Type == ticketing.EventMessageCreated && ev.Message != nil {
				s.mu.Lock()
				s.texts[ev.Message.Text]++
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *liveSeen) missing(texts []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, x := range texts {
		if s.texts[x] == 0 {
			out = append(out, x)
		}
	}
	return out
}

func (s *liveSeen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d texts seen, reconnects %q, gave up: %v", len(s.texts), s.reconnects, s.gaveUp)
}

// clusterChat is a chat customer that tolerates its node dying.
type clusterChat struct {
	ws *websocket.Conn
}

func dialClusterChat(m *Main) (*clusterChat, error) {
	u := "ws" + strings.TrimPrefix(m.URL(), "http") + "/chat/ws"
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {m.URL()}})
	if err != nil {
		return nil, err
	}
	if err := ws.WriteJSON(map[string]string{"type": "hello"}); err != nil {
		ws.Close()
		return nil, err
	}
	return &clusterChat{ws: ws}, nil
}

// say sends text and reports whether the node acknowledged it (echoed it).
func (c *clusterChat) say(text string) bool {
	id := "cid-" + text
	if err := c.ws.WriteJSON(map[string]string{"type": "message", "text": text, "client_id": id}); err != nil {
		return false
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c.ws.SetReadDeadline(deadline)
		var f e2eChatFrame
		if err := c.ws.ReadJSON(&f); err != nil {
			return false
		}
		if f.Type == "message" && f.Message != nil && f.Message.ClientID == id {
			return true
		}
	}
}

// TestThreeNodeCluster: three nodes on a three-server NATS cluster with
// JetStream replicas 3 and one shared store process, under steady chat,
// SMS and email traffic; one node dies, then one NATS server; both come
// back. Every acknowledged message is stored exactly once, the agents on
// the surviving nodes see every one live, and replies go out once.
func TestThreeNodeCluster(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	srv := startSharedServers(t)
	mb, smtpOut, elks := startMailbox(t), startSMTPServer(t), startElksAPI(t)
	mod := func(m *Main) {
		m.Config.NATSURL = cluster.URLs()
		m.Config.NATSReplicas = 3
		m.StoreServer = srv.store
		demo := true // any chat origin
		m.Config.Demo = &demo
		m.Config.LeaseTTL = 2 * time.Second
		e := &m.Config.Email
		e.Address = "Shop Support <support@shop.example>"
		e.Mailbox = "INBOX"
		e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
		e.SMTP.Addr, e.SMTP.TLS = smtpOut.addr, "none"
		s := &m.Config.SMS
		s.Provider, s.From, s.ElksUsername, s.ElksPassword, s.ElksAPIBase, s.ElksWebhookSecret =
			"46elks", "+46700000000", "elks-user", "elks-pass", elks.srv.URL, "hook-secret"
	}
	nodes := make([]*Main, 3)
	for i := range nodes {
		nodes[i] = startNode(t, "", mod)
	}
	alive := []int{0, 1, 2}
	agent1, agent2 := login(t, nodes[1]), login(t, nodes[2])
	since, err := nodes[1].Bus.LastEventSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	live1, live2 := watchLive(agent1, since), watchLive(agent2, since)

	var (
		acked   []string
		unacked []string
		chats   = map[int]*clusterChat{}
		seq     int
	)
	tick := func() {
		seq++
		n := nodes[alive[seq%len(alive)]]
		// Chat: a customer socket per node, redialled when its node died.
		text := fmt.Sprintf("chat-%d", seq)
		cc := chats[alive[seq%len(alive)]]
		if cc == nil {
			if c, err := dialClusterChat(n); err == nil {
				cc = c
				chats[alive[seq%len(alive)]] = c
			}
		}
		if cc != nil && cc.say(text) {
			acked = append(acked, text)
		} else {
			unacked = append(unacked, text)
			delete(chats, alive[seq%len(alive)])
		}
		// SMS: the provider's webhook; a 200 is the acknowledgement.
		text = fmt.Sprintf("sms-%d", seq)
		form := url.Values{"id": {fmt.Sprintf("elks-in-%d", seq)}, "from": {fmt.Sprintf("+4670111000%d", seq%3)},
			"to": {"+46700000000"}, "message": {text}, "created": {time.Now().UTC().Format("2006-01-02 15:04:05.000000")}}
		req, _ := http.NewRequest("POST", n.URL()+"/webhooks/46elks/sms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("46elks", "hook-secret")
		if res, err := http.DefaultClient.Do(req); err == nil && res.StatusCode == 200 {
			res.Body.Close()
			acked = append(acked, text)
		} else {
			if res != nil {
				res.Body.Close()
			}
			unacked = append(unacked, text)
		}
		// Email: in the mailbox is acknowledged; some node reads it.
		text = fmt.Sprintf("mail-%d", seq)
		mb.deliver(t, fmt.Sprintf("From: Kund %d <kund%d@example.se>\r\nTo: support@shop.example\r\nSubject: Fråga\r\n"+
			"Message-ID: <cluster-%d@mail.example.se>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			seq%3, seq%3, seq, text))
		acked = append(acked, text)
	}
	traffic := func(n int) {
		for range n {
			tick()
		}
	}

	traffic(8)
	t.Log("cluster: killing node 1")
	kill(t, nodes[0])
	alive = []int{1, 2}
	traffic(8)
	t.Log("cluster: stopping NATS server n1")
	cluster.Stop(0)
	traffic(8)

	// Replies while a NATS server is down: one per channel.
	byChannel := map[ticketing.Channel]*ticketing.Ticket{}
	eventually(t, "a ticket on each channel", func() error {
		var page ticketing.TicketPage
		agent1.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &page)
		for _, tk := range page.Tickets {
			if byChannel[tk.Channel] == nil {
				byChannel[tk.Channel] = tk
			}
		}
		if len(byChannel) < 3 {
			return fmt.Errorf("tickets on %d channels", len(byChannel))
		}
		return nil
	})
	replies := map[ticketing.Channel]string{}
	for ch, tk := range byChannel {
		text := "reply-" + string(ch)
		if res := agent1.do("POST", "/api/v1/tickets/"+tk.ID+"/messages", map[string]any{"text": text}); res.status != 201 {
			t.Fatalf("reply on %s: %d %s", ch, res.status, res.body)
		}
		replies[ch] = text
	}

	t.Log("cluster: restarting NATS server n1 and node 1")
	cluster.Restart(0)
	nodes[0] = startNode(t, "", mod)
	alive = []int{0, 1, 2}
	traffic(8)

	// Every acknowledged message stored exactly once.
	var counts map[string]int
	// A message the killed node had taken but not acknowledged comes back
	// after the consumers' ack wait (30 s): wait longer than that.
	eventuallyWithin(t, 90*time.Second, "every acknowledged message stored", func() error {
		counts = messageTexts(t, agent1)
		var missing []string
		for _, x := range acked {
			if counts[x] == 0 {
				missing = append(missing, x)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d not stored yet, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
		}
		return nil
	})
	twice := 0
	for x, n := range counts {
		if n > 1 {
			t.Errorf("%q stored %d times", x, n)
			twice++
		}
	}
	// Live events reached the agents on the surviving nodes.
	eventuallyWithin(t, 30*time.Second, "live events on the surviving nodes", func() error {
		m1, m2 := live1.missing(acked), live2.missing(acked)
		if len(m1)+len(m2) > 0 {
			return fmt.Errorf("node 2's agent missed %v (%s); node 3's agent missed %v (%s)", m1, live1, m2, live2)
		}
		return nil
	})
	// Replies went out once.
	eventuallyWithin(t, 90*time.Second, "the SMS and email replies sent", func() error {
		if elks.count(replies[ticketing.ChannelSMS]) == 0 {
			return fmt.Errorf("no SMS reply yet")
		}
		for _, m := range smtpOut.received() {
			if strings.Contains(string(m), replies[ticketing.ChannelEmail]) {
				return nil
			}
		}
		return fmt.Errorf("no email reply yet")
	})
	mails := 0
	for _, m := range smtpOut.received() {
		if strings.Contains(string(m), replies[ticketing.ChannelEmail]) {
			mails++
		}
	}
	if n := elks.count(replies[ticketing.ChannelSMS]); n != 1 || mails != 1 {
		t.Errorf("replies sent: %d SMS, %d mails; want one each", n, mails)
	}
	for ch, text := range replies {
		if counts[text] != 1 {
			t.Errorf("reply on %s stored %d times", ch, counts[text])
		}
	}
	t.Logf("cluster counts: acknowledged %d, not acknowledged %d (refused while a part was down: the customer or provider sends again), stored twice %d, "+
		"live events missed on surviving nodes 0, replies %d (sms sent %d, mail sent %d)",
		len(acked), len(unacked), twice, len(replies), elks.count(replies[ticketing.ChannelSMS]), mails)
}

// messageTexts counts the texts of every message on every ticket.
func messageTexts(t *testing.T, c *agentClient) map[string]int {
	t.Helper()
	out := map[string]int{}
	cursor := ""
	for {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?limit=200&cursor="+url.QueryEscape(cursor), nil).decode(t, &page)
		for _, tk := range page.Tickets {
			var v ticketing.TicketView
			res := c.do("GET", "/api/v1/tickets/"+tk.ID, nil)
			if err := json.Unmarshal(res.body, &v); err != nil {
				t.Fatalf("ticket %s: %s", tk.ID, res.body)
			}
			for _, m := range v.Messages {
				out[m.Text]++
			}
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// dialLive opens the agent's live websocket, reporting failure instead of
// failing the test (for reconnects).
func (c *agentClient) dialLive(query string) (*websocket.Conn, error) {
	u, _ := url.Parse(c.base)
	u.Scheme, u.Path, u.RawQuery = "ws", "/api/v1/live", query
	h := http.Header{}
	for _, ck := range c.http.Jar.Cookies(&url.URL{Scheme: "http", Host: u.Host}) {
		h.Add("Cookie", ck.String())
	}
	ws, _, err := websocket.DefaultDialer.Dial(u.String(), h)
	return ws, err
}

// eventuallyWithin polls f until it returns nil or d has passed.
func eventuallyWithin(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}
