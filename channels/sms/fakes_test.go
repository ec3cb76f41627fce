package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Credentials the fakes expect.
const (
	testSID         = "AC0123456789abcdef0123456789abcdef"
	testToken       = "twilio-auth-token"
	testElksUser    = "u0123456789abcdef"
	testElksPass    = "elks-api-password"
	testElksSecret  = "elks-webhook-secret"
	testFrom        = "+46766861004"
	testCustomerNum = "+46701234567"
)

// fakeAPI is a fake provider API on 127.0.0.1. It checks the path, basic
// auth and form fields of every send, can fail the next N sends with 500
// or refuse them with 400, and records the sends it accepted. For Twilio
// it also serves MMS media (with the same auth check).
type fakeAPI struct {
	t        testing.TB
	provider string
	srv      *httptest.Server

	mu       sync.Mutex
	fail5xx  int
	fail4xx  string
	attempts int
	accepted []url.Values
	media    map[string][]byte // path → content (Twilio)
	fetches  int
}

func newFakeAPI(t testing.TB, provider string) *fakeAPI {
	f := &fakeAPI{t: t, provider: provider, media: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) URL() string { return f.srv.URL }

// FailNext makes the next n sends answer 500.
func (f *fakeAPI) FailNext(n int) { f.mu.Lock(); f.fail5xx = n; f.mu.Unlock() }

// RefuseNext makes the next send answer 400 with msg.
func (f *fakeAPI) RefuseNext(msg string) { f.mu.Lock(); f.fail4xx = msg; f.mu.Unlock() }

func (f *fakeAPI) Accepted() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.accepted...)
}

func (f *fakeAPI) Attempts() int { f.mu.Lock(); defer f.mu.Unlock(); return f.attempts }

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	wantUser, wantPass := testSID, testToken
	if f.provider == ProviderElks {
		wantUser, wantPass = testElksUser, testElksPass
	}
	if !ok || user != wantUser || pass != wantPass {
		f.t.Errorf("fake %s: %s %s: basic auth %q:%q (ok %v), want %q:%q", f.provider, r.Method, r.URL.Path, user, pass, ok, wantUser, wantPass)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet {
		f.mu.Lock()
		data, ok := f.media[r.URL.Path]
		f.fetches++
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(data)
		return
	}
	var wantPath string
	var required []string
	switch f.provider {
	case ProviderTwilio:
		wantPath = "/2010-04-01/Accounts/" + testSID + "/Messages.json"
		required = []string{"To", "From", "Body", "StatusCallback"}
	case ProviderElks:
		wantPath = "/a1/sms"
		required = []string{"from", "to", "message", "whendelivered"}
	}
	if r.Method != http.MethodPost || r.URL.Path != wantPath {
		f.t.Errorf("fake %s: %s %s, want POST %s", f.provider, r.Method, r.URL.Path, wantPath)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.t.Errorf("fake %s: Content-Type %q", f.provider, ct)
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake %s: form: %v", f.provider, err)
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	for _, k := range required {
		if r.PostForm.Get(k) == "" {
			f.t.Errorf("fake %s: form field %s missing in %v", f.provider, k, r.PostForm)
			http.Error(w, "missing "+k, http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	f.attempts++
	fail5xx, fail4xx := f.fail5xx > 0, f.fail4xx
	if fail5xx {
		f.fail5xx--
	}
	f.fail4xx = ""
	if !fail5xx && fail4xx == "" {
		f.accepted = append(f.accepted, r.PostForm)
	}
	f.mu.Unlock()
	switch {
	case fail5xx:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case fail4xx != "" && f.provider == ProviderTwilio:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code": 21211, "message": %q, "status": 400}`, fail4xx)
	case fail4xx != "":
		http.Error(w, fail4xx, http.StatusForbidden)
	case f.provider == ProviderTwilio:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid": "SM%s", "status": "queued"}`, randHex(16))
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": "s%s", "status": "created", "direction": "outgoing"}`, randHex(16))
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// memStore is an in-memory Store for unit tests that need to break it.
type memStore struct {
	mu       sync.Mutex
	messages map[string]*ticketing.Message
	state    map[string][]byte
	blobs    map[string]*ticketing.Blob
	failPut  int // fail the next n PutState calls
	failGet  error
}

func newMemStore() *memStore {
	return &memStore{messages: map[string]*ticketing.Message{}, state: map[string][]byte{}, blobs: map[string]*ticketing.Blob{}}
}

func (s *memStore) GetMessage(_ context.Context, id string) (*ticketing.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	cp := *m
	if m.Delivery != nil {
		d := *m.Delivery
		cp.Delivery = &d
	}
	return &cp, nil
}

func (s *memStore) GetState(_ context.Context, key string, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		return s.failGet
	}
	b, ok := s.state[key]
	if !ok {
		return fmt.Errorf("memstore: get %s: %w", key, ticketing.ErrNotFound)
	}
	return json.Unmarshal(b, v)
}

func (s *memStore) PutState(_ context.Context, key string, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPut > 0 {
		s.failPut--
		return fmt.Errorf("memstore: put %s: disk on fire", key)
	}
	b, err := json.Marshal(v)
	s.state[key] = b
	return err
}

func (s *memStore) InsertState(ctx context.Context, key string, v any) error {
	s.mu.Lock()
	_, ok := s.state[key]
	s.mu.Unlock()
	if ok {
		return fmt.Errorf("memstore: insert %s: %w", key, ticketing.ErrDuplicate)
	}
	return s.PutState(ctx, key, v)
}

func (s *memStore) DeleteState(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.state, key)
	return nil
}

func (s *memStore) IncCounters(context.Context, string, map[string]int64) error { return nil }

func (s *memStore) PutBlob(_ context.Context, b *ticketing.Blob) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[b.Key] = b
	return nil
}

func (s *memStore) GetBlob(_ context.Context, key string) (*ticketing.Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[key]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	return b, nil
}

func (s *memStore) hasState(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.state[key]
	return ok
}

// memService is a Service over memStore's messages and a customer map.
type memService struct {
	store      *memStore
	mu         sync.Mutex
	customers  map[string]*ticketing.Customer // by identity key
	reports    []ticketing.Delivery
	failReport int // fail the next n ReportDelivery calls
}

func newMemService(st *memStore) *memService {
	return &memService{store: st, customers: map[string]*ticketing.Customer{}}
}

func (s *memService) ReportDelivery(_ context.Context, id string, d ticketing.Delivery) (*ticketing.Message, error) {
	s.mu.Lock()
	if s.failReport > 0 {
		s.failReport--
		s.mu.Unlock()
		return nil, fmt.Errorf("memservice: report: store is down")
	}
	s.reports = append(s.reports, d)
	s.mu.Unlock()
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	m, ok := s.store.messages[id]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	m.Delivery = &d
	return m, nil
}

func (s *memService) Reports() []ticketing.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ticketing.Delivery(nil), s.reports...)
}

func (s *memService) CustomerByIdentity(_ context.Context, key string) (*ticketing.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[key]
	if !ok {
		return nil, ticketing.ErrNotFound
	}
	cp := *c
	return &cp, nil
}

func (s *memService) PatchCustomer(_ context.Context, id string, p ticketing.CustomerPatch) (*ticketing.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.customers {
		if c.ID != id {
			continue
		}
		out := map[string]string{}
		for k, v := range c.OptOuts {
			out[k] = v
		}
		for k, v := range p.OptOut {
			if v == "" {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		c.OptOuts = out
		cp := *c
		return &cp, nil
	}
	return nil, ticketing.ErrNotFound
}

// recordingPublisher deduplicates by DedupeID, as JetStream does.
type recordingPublisher struct {
	mu    sync.Mutex
	envs  []*ticketing.Envelope
	seen  map[string]bool
	fail  error
	calls int
}

func (p *recordingPublisher) PublishInbound(_ context.Context, e *ticketing.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.fail != nil {
		return p.fail
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if !p.seen[e.DedupeID()] {
		p.seen[e.DedupeID()] = true
		p.envs = append(p.envs, e)
	}
	return nil
}

func (p *recordingPublisher) Envelopes() []*ticketing.Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*ticketing.Envelope(nil), p.envs...)
}

type noOutbound struct{}

func (noOutbound) ConsumeOutbound(ctx context.Context, _ ticketing.Channel, _ ticketing.OutboundHandler) error {
	<-ctx.Done()
	return nil
}

// unit is a channel on in-memory fakes and a fake provider API.
type unit struct {
	ch    *Channel
	api   *fakeAPI
	mux   *http.ServeMux
	store *memStore
	svc   *memService
	pub   *recordingPublisher
	logs  *syncBuffer
	now   time.Time
}

const testPublicURL = "https://support.example.se"

func newUnit(t testing.TB, provider string) *unit {
	t.Helper()
	u := &unit{api: newFakeAPI(t, provider), store: newMemStore(), pub: &recordingPublisher{},
		logs: &syncBuffer{}, now: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)}
	u.svc = newMemService(u.store)
	ch, err := New(Options{
		Provider: provider, From: testFrom, PublicURL: testPublicURL,
		Twilio:    TwilioOptions{AccountSID: testSID, AuthToken: testToken, APIBase: u.api.URL()},
		Elks:      ElksOptions{Username: testElksUser, Password: testElksPass, APIBase: u.api.URL(), WebhookSecret: testElksSecret},
		Publisher: u.pub, Outbound: noOutbound{}, Store: u.store, Service: u.svc,
		Logger: testLogger(t, u.logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch.now = func() time.Time { return u.now }
	u.ch = ch
	u.mux = http.NewServeMux()
	ch.Routes(u.mux)
	return u
}

// post sends a webhook through the mux and returns the recorded answer.
func (u *unit) post(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	u.mux.ServeHTTP(w, req)
	return w
}

// outbound puts a queued reply in the store and returns its Outbound.
func (u *unit) outbound(id, text string) *ticketing.Outbound {
	u.store.mu.Lock()
	u.store.messages[id] = &ticketing.Message{ID: id, Direction: ticketing.DirectionOutbound, Channel: ticketing.ChannelSMS,
		Text: text, Delivery: &ticketing.Delivery{Status: ticketing.DeliveryQueued}}
	u.store.mu.Unlock()
	return &ticketing.Outbound{MessageID: id, Channel: ticketing.ChannelSMS, Text: text,
		To: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: testCustomerNum}}
}

// drive delivers o the way the bus does: again while the handler asks for
// a retry, up to max attempts. It returns the last error and the attempts.
func (u *unit) drive(o *ticketing.Outbound, max int) (int, error) {
	var err error
	for attempt := 1; attempt <= max; attempt++ {
		err = u.ch.deliver(context.Background(), o, attempt)
		if !ticketing.IsRetry(err) {
			return attempt, err
		}
	}
	return max, err
}

// readAll is io.ReadAll that fails the test on error.
func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer collects log output for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// tWriter sends log lines to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger logs to the test's output and, if buf is not nil, to buf.
func testLogger(t testing.TB, buf *syncBuffer) *slog.Logger {
	var w io.Writer = tWriter{t}
	if buf != nil {
		w = io.MultiWriter(w, buf)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rawBody replaces r's body with exactly body.
func rawBody(r *http.Request, body string) *http.Request {
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.PostForm, r.Form = nil, nil
	return r
}
