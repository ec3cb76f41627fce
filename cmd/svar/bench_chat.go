package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// connsPerSourceIP spreads the benchmark's sockets over loopback source
// addresses (127.1.x.y) so that the chat channel's per-address cap, which
// protects a real shop from one abusive client, does not refuse them: a
// shop's visitors come from many addresses too.
const connsPerSourceIP = 10

// benchSourceIP is the loopback address of the i-th benchmark socket.
func benchSourceIP(i int) net.IP {
	n := i / connsPerSourceIP
	return net.IPv4(127, byte(1+n/(250*250)), byte(n/250%250), byte(n%250+1))
}

// benchChat is one customer's websocket on /chat/ws.
type benchChat struct {
	ws    *websocket.Conn
	token string
}

// benchChatFrame is what the server sends a customer.
type benchChatFrame struct {
	Type         string             `json:"type"`
	VisitorToken string             `json:"visitor_token"`
	Message      *ticketing.Message `json:"message"`
	Error        *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// dialChat opens a customer's websocket from the i-th source address and
// says hello; it returns once the server's welcome has arrived.
func (b *bench) dialChat(ctx context.Context, i int) (*benchChat, error) {
	u, _ := url.Parse(b.node.httpURL)
	u.Scheme = "ws"
	u.Path = "/chat/ws"
	d := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		NetDialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: benchSourceIP(i)},
			Timeout:   30 * time.Second,
		}).DialContext,
	}
	h := http.Header{"Origin": {b.node.httpURL}}
	ws, res, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if res != nil && res.StatusCode == http.StatusNotFound {
			return nil, errNoChat
		}
		if res != nil {
			return nil, fmt.Errorf("open /chat/ws: %w (%d)", err, res.StatusCode)
		}
		return nil, fmt.Errorf("open /chat/ws: %w", err)
	}
	c := &benchChat{ws: ws}
	if err := ws.WriteJSON(map[string]string{"type": "hello"}); err != nil {
		ws.Close()
		return nil, fmt.Errorf("chat hello: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var f benchChatFrame
		if err := ws.ReadJSON(&f); err != nil {
			ws.Close()
			return nil, fmt.Errorf("chat welcome: %w", err)
		}
		switch f.Type {
		case "welcome":
			c.token = f.VisitorToken
			_ = ws.SetReadDeadline(time.Time{})
			return c, nil
		case "error":
			ws.Close()
			if f.Error != nil {
				return nil, fmt.Errorf("chat hello refused: %s: %s", f.Error.Code, f.Error.Message)
			}
			return nil, errors.New("chat hello refused")
		}
	}
}

// connsPhase opens Conns idle customer websockets and reports the node's
// RSS growth per socket.
func (b *bench) connsPhase(ctx context.Context) error {
	// The first socket tells whether the chat channel is served at all.
	first, err := b.dialChat(ctx, 0)
	if err != nil {
		return err
	}
	first.ws.Close()
	if err := benchSleep(ctx, 2*b.settle()); err != nil {
		return err
	}
	before, err := b.node.rssKiB()
	if err != nil {
		return err
	}
	statsBefore := b.agent.goStats(ctx)

	clients := make([]*benchChat, b.cfg.Conns)
	var opened atomic.Int64
	var firstErr error
	var errOnce sync.Once
	stop := b.progressEvery(func() string {
		return fmt.Sprintf("conns: %d/%d idle customer websockets open", opened.Load(), b.cfg.Conns)
	})
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := b.dialChat(ctx, i+1)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				clients[i] = c
				opened.Add(1)
			}
		}()
	}
	for i := range clients {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	stop()
	defer func() {
		b.progress.set("conns: closing %d sockets", opened.Load())
		for _, c := range clients {
			if c != nil {
				c.ws.Close()
			}
		}
	}()
	n := opened.Load()
	if n == 0 {
		return fmt.Errorf("no chat socket opened: %v", firstErr)
	}
	if firstErr != nil {
		b.logf("conns: %d of %d sockets failed; the first: %v", int64(len(clients))-n, len(clients), firstErr)
	}
	if err := benchSleep(ctx, 2*b.settle()); err != nil {
		return err
	}
	// Every socket must still be open: the server answers a ping on each.
	alive := 0
	for _, c := range clients {
		if c != nil && c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) == nil {
			alive++
		}
	}
	after, err := b.node.rssKiB()
	if err != nil {
		return err
	}
	if b.cfg.MemProfile != "" {
		// The node (bench -node) writes <memprofile>.usr1 on SIGUSR1.
		_ = b.node.cmd.Process.Signal(syscall.SIGUSR1)
		b.logf("conns: node heap profile with the sockets open: %s.usr1", b.cfg.MemProfile)
		_ = benchSleep(ctx, 2*time.Second)
	}
	per := float64(after-before) / float64(n)
	b.logf("conns: %d sockets open (%d answered a ping); node RSS %d → %d KiB; %s", n, alive, before, after,
		goStatsDelta(statsBefore, b.agent.goStats(ctx), int(n), "socket"))
	b.res.set("chat_conns", float64(min(int64(alive), n)))
	b.res.set("rss_per_conn_kib", per)
	return nil
}

// benchLiveEvent is the part of an agent's live frame the benchmark reads.
type benchLiveEvent struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Message *struct {
		ClientID string `json:"client_id"`
	} `json:"message"`
}

// livePhase sends chat messages from LiveVisitors customers at a steady
// LiveRate for LiveDuration and measures each one from the customer's send
// to the agent's live event.
func (b *bench) livePhase(ctx context.Context) error {
	agentWS, err := b.agent.live(ctx, "")
	if err != nil {
		return err
	}
	var (
		mu         sync.Mutex
		sentAt     = map[string]time.Time{}
		latency    []time.Duration
		received   atomic.Int64
		warm       atomic.Int64
		reconnects atomic.Int64
		wsMu       sync.Mutex // guards cur
		cur        = agentWS
	)
	cctx, cancel := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { // the agent's console
		defer close(readerDone)
		ws, last := agentWS, uint64(0)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				// A console that fell behind (the node disconnects slow
				// consumers) reconnects and asks for what it missed, as
				// the real console does; those messages arrive late.
				ws.Close()
				if cctx.Err() != nil {
					return
				}
				reconnects.Add(1)
				nws, err := b.agent.live(cctx, fmt.Sprintf("since=%d", last))
				if err != nil {
					return
				}
				wsMu.Lock()
				if cctx.Err() != nil {
					wsMu.Unlock()
					nws.Close()
					return
				}
				cur, ws = nws, nws
				wsMu.Unlock()
				continue
			}
			now := time.Now()
			var ev benchLiveEvent
			if json.Unmarshal(data, &ev) != nil {
				continue
			}
			last = max(last, ev.Seq)
			if ev.Type != ticketing.EventMessageCreated || ev.Message == nil {
				continue
			}
			id := ev.Message.ClientID
			mu.Lock()
			t0, ok := sentAt[id]
			if ok {
				delete(sentAt, id)
				if len(id) > 5 && id[:5] == "warm-" {
					warm.Add(1)
				} else {
					latency = append(latency, now.Sub(t0))
					received.Add(1)
				}
			}
			mu.Unlock()
		}
	}()
	defer func() {
		cancel()
		wsMu.Lock()
		cur.Close()
		wsMu.Unlock()
		<-readerDone
		if n := reconnects.Load(); n > 0 {
			b.logf("live: the agent's console was disconnected as a slow consumer %d times and caught up with since=<seq>", n)
		}
	}()

	visitors := make([]*benchChat, b.cfg.LiveVisitors)
	for i := range visitors {
		b.progress.set("live: connecting visitor %d/%d", i+1, len(visitors))
		c, err := b.dialChat(ctx, b.cfg.Conns+connsPerSourceIP+i)
		if err != nil {
			return err
		}
		visitors[i] = c
	}
	var refused atomic.Int64
	var refusal atomic.Value
	var rwg sync.WaitGroup
	for _, v := range visitors {
		rwg.Add(1)
		go func() { // reads the customer's echoes and errors
			defer rwg.Done()
			for {
				var f benchChatFrame
				if err := v.ws.ReadJSON(&f); err != nil {
					return
				}
				if f.Type == "error" && f.Error != nil {
					refused.Add(1)
					refusal.Store(f.Error.Code + ": " + f.Error.Message)
				}
			}
		}()
	}
	defer func() {
		for _, v := range visitors {
			v.ws.Close()
		}
		rwg.Wait()
	}()
	send := func(v *benchChat, id string) error {
		frame, _ := json.Marshal(map[string]string{"type": "message", "client_id": id,
			"text": "Hej! Har ni regnjackan i storlek M? Fråga " + id})
		mu.Lock()
		sentAt[id] = time.Now()
		mu.Unlock()
		return v.ws.WriteMessage(websocket.TextMessage, frame)
	}

	// Warm up: each visitor's first message makes their customer and
	// ticket; the steady state is what agents live with.
	for i, v := range visitors {
		if err := send(v, fmt.Sprintf("warm-%d", i)); err != nil {
			return fmt.Errorf("chat send: %w", err)
		}
	}
	if err := b.waitFor(ctx, 30*time.Second, func() (bool, string) {
		return warm.Load() >= int64(len(visitors)), fmt.Sprintf("live: warming up, %d/%d first messages seen by the agent", warm.Load(), len(visitors))
	}); err != nil {
		return fmt.Errorf("warm-up: %w (refused: %d %v)", err, refused.Load(), refusal.Load())
	}

	cpu := b.node.meterCPU()
	total := int(float64(b.cfg.LiveRate) * b.cfg.LiveDuration.Seconds())
	if total <= 0 {
		return errors.New("-live-duration is too short for one message at -live-rate")
	}
	interval := time.Second / time.Duration(b.cfg.LiveRate)
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			if err := benchSleep(ctx, d); err != nil {
				return err
			}
		}
		if i%b.cfg.LiveRate == 0 {
			b.progress.set("live: %d/%d chat messages sent at %d/s, %d seen by the agent", i, total, b.cfg.LiveRate, received.Load())
		}
		if err := send(visitors[i%len(visitors)], fmt.Sprintf("live-%d", i)); err != nil {
			return fmt.Errorf("chat send: %w", err)
		}
	}
	sendTime := time.Since(start)
	_ = b.waitFor(ctx, 10*time.Second, func() (bool, string) {
		return received.Load()+refused.Load() >= int64(total),
			fmt.Sprintf("live: %d/%d chat messages seen by the agent", received.Load(), total)
	})

	mu.Lock()
	lat := benchSorted(latency)
	mu.Unlock()
	if n := refused.Load(); n > 0 {
		return fmt.Errorf("the chat channel refused %d of %d messages (%v): raise its per-visitor rate limit for this workload", n, total, refusal.Load())
	}
	if lost := total - len(lat); lost > 0 {
		return fmt.Errorf("%d of %d chat messages never reached the agent's live socket", lost, total)
	}
	b.logf("live: %d messages from %d visitors in %s (%.0f/s); %s", total, len(visitors),
		sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), cpu.per(total, "message"))
	b.logf("live: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
		benchMS(benchPercentile(lat, 0.5)), benchMS(benchPercentile(lat, 0.9)), benchMS(benchPercentile(lat, 0.99)), benchMS(lat[len(lat)-1]))
	b.res.set("live_p50_ms", benchMS(benchPercentile(lat, 0.5)))
	b.res.set("live_p99_ms", benchMS(benchPercentile(lat, 0.99)))
	return nil
}

// waitFor polls cond until it holds, showing its message, or fails after
// timeout.
func (b *bench) waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		b.progress.set("%s", msg)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s: %s", timeout, msg)
		}
		if err := b.node.alive(); err != nil {
			return err
		}
		if err := benchSleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}
