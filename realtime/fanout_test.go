package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// BenchmarkFanout1000 measures one event reaching 1,000 consoles; ns/op is
// per event, ns/delivery per event and console. Every variant is paced the
// same way (at most fanoutWindow events in flight, so nobody is a slow
// consumer) and counts an event once every consumer has it.
//
//   - hub-websocket: Publish to 1,000 real sessions over loopback, read by
//     1,000 gorilla clients in the same process (their reads are part of the
//     cost, as they are for the TCP baseline).
//   - baseline-tcp: the same bytes written by 1,000 writer goroutines to
//     1,000 raw loopback TCP connections: the floor of socket I/O with the
//     hub's goroutine layout, without encoding or websocket framing.
//   - hub-publish: Publish (encode once, prepare, 1,000 non-blocking offers)
//     to 1,000 sessions whose buffers are drained without sockets.
//   - baseline-chan: a raw send of the event pointer on 1,000 channels,
//     drained the same way: the floor of the hand-off.
//
// Compare hub-websocket with baseline-tcp, and hub-publish with
// baseline-chan.
func BenchmarkFanout1000(b *testing.B) {
	const consumers = 1000
	ev := testEvent(1, 600) // a typical message.created: about 1 KB of JSON
	for _, bc := range []struct {
		name  string
		setup func(b *testing.B, consumers int, ev *ticketing.Event) *fanoutFixture
	}{
		{"hub-websocket", setupHubWebsocket},
		{"baseline-tcp", setupBaselineTCP},
		{"hub-publish", setupHubPublish},
		{"baseline-chan", setupBaselineChan},
	} {
		f := bc.setup(b, consumers, ev)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				f.tr.begin(f.next)
				f.publish(f.next)
				f.next++
			}
			f.tr.finish(f.next)
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/consumers, "ns/delivery")
		})
		f.close()
	}
}

// BenchmarkPublishEncode is the share of hub-publish spent encoding the
// event and preparing the frame, which happens once per event.
func BenchmarkPublishEncode(b *testing.B) {
	ev := testEvent(1, 600)
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := websocket.NewPreparedMessage(websocket.TextMessage, data); err != nil {
			b.Fatal(err)
		}
	}
}

// fanoutWindow is how many events may be in flight; it is well under the
// hub's default buffer of 256.
const fanoutWindow = 32

// fanoutFixture is one way of fanning out, set up once per variant; the
// timed runs continue its event numbering.
type fanoutFixture struct {
	tr      *fanoutTracker
	publish func(i int) // send event i (0-based) to every consumer
	close   func()
	next    int
}

// fanoutTracker paces a publisher against its consumers: event i may be
// published once event i-window has reached every consumer.
type fanoutTracker struct {
	consumers int64
	window    int
	slots     []fanoutSlot
}

type fanoutSlot struct {
	count atomic.Int64
	done  atomic.Pointer[chan struct{}]
}

func newFanoutTracker(consumers int) *fanoutTracker {
	return &fanoutTracker{consumers: int64(consumers), window: fanoutWindow, slots: make([]fanoutSlot, 2*fanoutWindow)}
}

func (t *fanoutTracker) slot(i int) *fanoutSlot { return &t.slots[i%len(t.slots)] }

// begin readies event i; call it before publishing the event.
func (t *fanoutTracker) begin(i int) {
	if i >= t.window {
		t.wait(i - t.window)
	}
	s := t.slot(i)
	s.count.Store(0)
	done := make(chan struct{})
	s.done.Store(&done)
}

func (t *fanoutTracker) wait(i int) { <-*t.slot(i).done.Load() }

// delivered records that one consumer has event i.
func (t *fanoutTracker) delivered(i int) {
	s := t.slot(i)
	if s.count.Add(1) == t.consumers {
		close(*s.done.Load())
	}
}

// finish waits until events before n have reached every consumer.
func (t *fanoutTracker) finish(n int) {
	for i := max(0, n-t.window); i < n; i++ {
		t.wait(i)
	}
}

func benchLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func setupHubWebsocket(b *testing.B, consumers int, ev *ticketing.Event) *fanoutFixture {
	hub := New(Options{Logger: benchLogger()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeAgent(w, r, &ticketing.Agent{ID: r.URL.Query().Get("agent"), Active: true}, ticketing.System)
	}))
	tr := newFanoutTracker(consumers)
	base := "ws" + strings.TrimPrefix(srv.URL, "http") + "/live?agent="
	var conns []*websocket.Conn
	var wg sync.WaitGroup
	for i := range consumers {
		c, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%sa%d", base, i), nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // hello: the session is registered
			b.Fatalf("hello %d: %v", i, err)
		}
		conns = append(conns, c)
		wg.Go(func() {
			for k := 0; ; k++ {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
				tr.delivered(k)
			}
		})
	}
	return &fanoutFixture{
		tr: tr,
		publish: func(i int) {
			ev.Seq = uint64(i + 1)
			hub.Publish(ev)
		},
		close: func() {
			if st := hub.Stats(); st.SlowConsumers != 0 {
				b.Errorf("%d slow consumers: the pacing is wrong", st.SlowConsumers)
			}
			for _, c := range conns {
				c.Close()
			}
			wg.Wait()
			hub.Close()
			srv.Close()
		},
	}
}

func setupBaselineTCP(b *testing.B, consumers int, ev *ticketing.Event) *fanoutFixture {
	payload, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	payload = append(make([]byte, 4), payload...) // room for a websocket frame header
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	tr := newFanoutTracker(consumers)
	var wg sync.WaitGroup
	var clients, servers []net.Conn
	var queues []chan []byte
	for range consumers {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		clients, servers = append(clients, c), append(servers, s)
		q := make(chan []byte, 256)
		queues = append(queues, q)
		wg.Go(func() { // the writer, as a session's
			for p := range q {
				if _, err := s.Write(p); err != nil {
					return
				}
			}
		})
		wg.Go(func() { // the console
			buf := make([]byte, len(payload))
			for k := 0; ; k++ {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				tr.delivered(k)
			}
		})
	}
	ln.Close()
	return &fanoutFixture{
		tr: tr,
		publish: func(int) {
			for _, q := range queues {
				q <- payload
			}
		},
		close: func() {
			for i := range queues {
				close(queues[i])
				servers[i].Close()
				clients[i].Close()
			}
			wg.Wait()
		},
	}
}

func setupHubPublish(b *testing.B, consumers int, ev *ticketing.Event) *fanoutFixture {
	hub := New(Options{Logger: benchLogger()})
	tr := newFanoutTracker(consumers)
	var wg sync.WaitGroup
	var sessions []*session
	for i := range consumers {
		s := &session{hub: hub, agentID: fmt.Sprintf("a%d", i), send: make(chan frame, hub.opts.BufferSize), done: make(chan struct{})}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		sessions = append(sessions, s)
		wg.Go(func() {
			k := 0
			for f := range s.send {
				if f.pm != nil {
					tr.delivered(k)
					k++
				}
			}
		})
	}
	hub.mu.Lock()
	hub.sessions = append(hub.sessions, sessions...)
	hub.mu.Unlock()
	return &fanoutFixture{
		tr: tr,
		publish: func(i int) {
			ev.Seq = uint64(i + 1)
			hub.Publish(ev)
		},
		close: func() {
			if st := hub.Stats(); st.SlowConsumers != 0 {
				b.Errorf("%d slow consumers: the pacing is wrong", st.SlowConsumers)
			}
			hub.mu.Lock()
			hub.sessions = nil
			hub.mu.Unlock()
			for _, s := range sessions {
				s.cancel()
				close(s.send) // no Publish runs any more
			}
			wg.Wait()
			hub.Close()
		},
	}
}

func setupBaselineChan(_ *testing.B, consumers int, ev *ticketing.Event) *fanoutFixture {
	tr := newFanoutTracker(consumers)
	var wg sync.WaitGroup
	var queues []chan *ticketing.Event
	for range consumers {
		q := make(chan *ticketing.Event, 256)
		queues = append(queues, q)
		wg.Go(func() {
			k := 0
			for e := range q {
				if e != nil {
					tr.delivered(k)
					k++
				}
			}
		})
	}
	return &fanoutFixture{
		tr: tr,
		publish: func(int) {
			for _, q := range queues {
				q <- ev
			}
		},
		close: func() {
			for _, q := range queues {
				close(q)
			}
			wg.Wait()
		},
	}
}
