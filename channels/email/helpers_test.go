package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/svar-dev/svar/ticketing"
)

const (
	testAddress  = "Svar Support <support@shop.example>"
	testUser     = "support@shop.example"
	testPassword = "secret-app-password"
)

// checkFor polls cond until it returns nil or the timeout passes.
func checkFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogger writes the channel's log to the test log (warnings and up,
// or everything with -v).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func (w *testWriter) Printf(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
func (w *testWriter) Println(args ...any)               { _, _ = fmt.Fprintln(w, args...) }

// syncBuffer is a buffer that goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readCorpus reads testdata/name.
func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memStore is an in-memory Store for unit tests. State values go through
// BSON as in the real store, and every call honours ctx.
type memStore struct {
	mu    sync.Mutex
	state map[string][]byte
	blobs map[string]*ticketing.Blob
	msgs  map[string]*ticketing.Message
	// putBlob, when set, can fail a PutBlob.
	putBlob func(b *ticketing.Blob) error
	puts    int
}

func newMemStore() *memStore {
	return &memStore{state: map[string][]byte{}, blobs: map[string]*ticketing.Blob{}, msgs: map[string]*ticketing.Message{}}
}

type stateDoc struct {
	V any `bson:"v"`
}

func (s *memStore) GetState(ctx context.Context, key string, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	b, ok := s.state[key]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("memstore: get state %s: %w", key, ticketing.ErrNotFound)
	}
	raw := bson.Raw(b)
	return raw.Lookup("v").Unmarshal(v)
}

func (s *memStore) PutState(ctx context.Context, key string, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := bson.Marshal(stateDoc{V: v})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.state[key] = b
	s.mu.Unlock()
	return nil
}

func (s *memStore) InsertState(ctx context.Context, key string, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := bson.Marshal(stateDoc{V: v})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.state[key]; ok {
		return fmt.Errorf("memstore: insert state %s: %w", key, ticketing.ErrDuplicate)
	}
	s.state[key] = b
	return nil
}

func (s *memStore) DeleteState(ctx context.Context, key string) error {
	s.mu.Lock()
	delete(s.state, key)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *memStore) IncCounters(ctx context.Context, key string, inc map[string]int64) error {
	return errors.New("memstore: IncCounters is not used by the email channel")
}

func (s *memStore) PutBlob(ctx context.Context, b *ticketing.Blob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.putBlob != nil {
		if err := s.putBlob(b); err != nil {
			return err
		}
	}
	cp := *b
	cp.Data = bytes.Clone(b.Data)
	s.blobs[b.Key] = &cp
	return nil
}

func (s *memStore) GetBlob(ctx context.Context, key string) (*ticketing.Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[key]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	return b, ctx.Err()
}

func (s *memStore) GetMessage(ctx context.Context, id string) (*ticketing.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return nil, fmt.Errorf("memstore: message %s: %w", id, ticketing.ErrNotFound)
	}
	cp := *m
	return &cp, ctx.Err()
}

// ReportDelivery lets memStore stand in for the Service's delivery
// reports: it records them on the message.
func (s *memStore) ReportDelivery(ctx context.Context, id string, d ticketing.Delivery) (*ticketing.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return nil, ticketing.Errorf(ticketing.ENotFound, "message %s not found", id)
	}
	dd := d
	m.Delivery = &dd
	cp := *m
	return &cp, nil
}

func (s *memStore) putMessage(m *ticketing.Message) {
	s.mu.Lock()
	s.msgs[m.ID] = m
	s.mu.Unlock()
}

func (s *memStore) delivery(id string) *ticketing.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.msgs[id]; ok && m.Delivery != nil {
		d := *m.Delivery
		return &d
	}
	return nil
}

// recPublisher records published envelopes. hook, when set, runs after
// recording and its error is returned.
type recPublisher struct {
	mu   sync.Mutex
	envs []*ticketing.Envelope
	hook func(ctx context.Context, e *ticketing.Envelope) error
	// signal, when set, gets a value for every envelope published.
	signal chan struct{}
}

func (p *recPublisher) PublishInbound(ctx context.Context, e *ticketing.Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	p.envs = append(p.envs, e)
	hook := p.hook
	p.mu.Unlock()
	if p.signal != nil {
		p.signal <- struct{}{}
	}
	if hook != nil {
		return hook(ctx, e)
	}
	return nil
}

func (p *recPublisher) all() []*ticketing.Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*ticketing.Envelope(nil), p.envs...)
}

// distinct returns the envelopes' external ids, first occurrences in order.
func (p *recPublisher) distinct() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range p.all() {
		if !seen[e.ExternalID] {
			seen[e.ExternalID] = true
			out = append(out, e.ExternalID)
		}
	}
	return out
}

func (p *recPublisher) waitCount(t testing.TB, n int) []*ticketing.Envelope {
	t.Helper()
	checkFor(t, 10*time.Second, func() error {
		if got := len(p.all()); got < n {
			return fmt.Errorf("published %d envelopes, want %d", got, n)
		}
		return nil
	})
	return p.all()
}

// noOutbound is an outbound consumer with nothing to deliver.
type noOutbound struct{}

func (noOutbound) ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error {
	<-ctx.Done()
	return nil
}

// queueOutbound hands queued messages to the handler one at a time,
// redelivering after a short pause when the handler asks for a retry, as
// the bus does.
type queueOutbound struct {
	q       chan *ticketing.Outbound
	mu      sync.Mutex
	results []error
}

func newQueueOutbound() *queueOutbound { return &queueOutbound{q: make(chan *ticketing.Outbound, 16)} }

func (b *queueOutbound) ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error {
	if ch != ticketing.ChannelEmail {
		return fmt.Errorf("consumer for %q, want email", ch)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case o := <-b.q:
			for attempt := 1; ; attempt++ {
				err := h(ctx, o, attempt)
				b.mu.Lock()
				b.results = append(b.results, err)
				b.mu.Unlock()
				if !ticketing.IsRetry(err) || ctx.Err() != nil {
					break
				}
				if !sleep(ctx, 20*time.Millisecond) {
					return nil
				}
			}
		}
	}
}

func (b *queueOutbound) outcomes() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.results...)
}

// testOptions returns channel options for the servers, with the given
// collaborators; nil ones get test doubles.
func testOptions(t testing.TB, imapAddr, smtpAddr string, st Store, pub ticketing.InboundPublisher, out OutboundConsumer, dl DeliveryReporter) Options {
	if out == nil {
		out = noOutbound{}
	}
	return Options{
		Address:   testAddress,
		IMAP:      IMAPOptions{Addr: imapAddr, Username: testUser, Password: testPassword, TLS: TLSNone},
		SMTP:      SMTPOptions{Addr: smtpAddr, TLS: TLSNone},
		Publisher: pub, Outbound: out, Store: st, Deliveries: dl,
		Logger: testLogger(t), PollInterval: 50 * time.Millisecond,
	}
}

// newChannel returns a channel with test timings.
func newChannel(t testing.TB, o Options) *Channel {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.backoffMin, c.backoffMax = 10*time.Millisecond, 200*time.Millisecond
	c.idleRecheck = time.Second
	return c
}

// start runs c until the returned stop is called (or the test ends);
// stop waits for Run to return.
func start(t testing.TB, c *Channel) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// rawMail returns a small raw mail.
func rawMail(from, subject, messageID, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: support@shop.example\r\nSubject: %s\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\n", from, subject)
	if messageID != "" {
		fmt.Fprintf(&b, "Message-ID: %s\r\n", messageID)
	}
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body)
	return []byte(b.String())
}
