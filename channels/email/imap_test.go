package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/svar-dev/svar/ticketing"
)

// waitCheckpoint polls the store until the mailbox checkpoint is at uid.
func waitCheckpoint(t testing.TB, c *Channel, st Store, uid int64) checkpoint {
	t.Helper()
	var cp checkpoint
	checkFor(t, 10*time.Second, func() error {
		if err := st.GetState(context.Background(), c.checkpointKey(), &cp); err != nil {
			return err
		}
		if cp.LastUID != uid {
			return fmt.Errorf("checkpoint at UID %d, want %d", cp.LastUID, uid)
		}
		return nil
	})
	return cp
}

func TestIngestIdle(t *testing.T) {
	srv := startIMAP(t, true, nil)
	st, pub := newMemStore(), &recPublisher{}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	c.idleRecheck = time.Hour // only the server's EXISTS wakes the channel
	srv.appendMail(t, "INBOX", readCorpus(t, "gmail_reply.eml"))
	start(t, c)

	envs := pub.waitCount(t, 1)
	if envs[0].ExternalID != "<CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>" {
		t.Fatalf("first envelope %q", envs[0].ExternalID)
	}
	waitCheckpoint(t, c, st, 1)

	// A mail appended while the channel idles arrives without polling.
	srv.appendMail(t, "INBOX", readCorpus(t, "swedish_latin1.eml"))
	envs = pub.waitCount(t, 2)
	if envs[1].Subject != "Fråga om min beställning" || envs[1].Meta[MetaIMAPUID] == "" {
		t.Errorf("second envelope: %q %v", envs[1].Subject, envs[1].Meta)
	}
	cp := waitCheckpoint(t, c, st, 2)
	if cp.UIDValidity == 0 {
		t.Error("checkpoint without UIDVALIDITY")
	}
	// The raw mail was stored before it was published.
	for _, e := range envs {
		if _, err := st.GetBlob(context.Background(), e.Meta[MetaRawKey]); err != nil {
			t.Errorf("raw mail of %s: %v", e.ExternalID, err)
		}
	}
	checkFor(t, 5*time.Second, func() error {
		if seen := srv.seen(t, "INBOX"); !slices.Equal(seen, []imap.UID{1, 2}) {
			return fmt.Errorf("\\Seen on %v, want 1 and 2", seen)
		}
		return nil
	})
	if n := len(pub.all()); n != 2 {
		t.Errorf("%d envelopes published, want 2", n)
	}
}

func TestIngestPolling(t *testing.T) {
	srv := startIMAP(t, false, nil)
	st, pub := newMemStore(), &recPublisher{}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c)
	for i := 1; i <= 3; i++ {
		srv.appendMail(t, "INBOX", rawMail(fmt.Sprintf("customer%d@example.com", i), fmt.Sprintf("Question %d", i), fmt.Sprintf("<q%d@example.com>", i), "Hello"))
	}
	envs := pub.waitCount(t, 3)
	for i, e := range envs {
		if want := fmt.Sprintf("<q%d@example.com>", i+1); e.ExternalID != want {
			t.Errorf("envelope %d is %q, want %q (UID order)", i, e.ExternalID, want)
		}
	}
	waitCheckpoint(t, c, st, 3)
}

// TestIngestRestartMidFetch stops the channel after a mail was published
// but before its checkpoint was saved: the restarted channel publishes it
// again under the same external id (which the bus and the core drop) and
// loses nothing.
func TestIngestRestartMidFetch(t *testing.T) {
	srv := startIMAP(t, true, nil)
	for i := 1; i <= 4; i++ {
		srv.appendMail(t, "INBOX", rawMail("anna@example.com", fmt.Sprintf("Mail %d", i), fmt.Sprintf("<m%d@example.com>", i), "Hello"))
	}
	st, pub := newMemStore(), &recPublisher{}
	c1 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	ctx, cancel := context.WithCancel(context.Background())
	pub.hook = func(_ context.Context, e *ticketing.Envelope) error {
		if e.ExternalID == "<m2@example.com>" {
			cancel() // the process dies right after the bus stored mail 2
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c1.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	var cp checkpoint
	if err := st.GetState(context.Background(), c1.checkpointKey(), &cp); err != nil || cp.LastUID != 1 {
		t.Fatalf("checkpoint after the crash: %+v %v, want UID 1", cp, err)
	}

	pub.mu.Lock()
	pub.hook = nil
	pub.mu.Unlock()
	c2 := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c2)
	waitCheckpoint(t, c2, st, 4)
	ids := pub.distinct()
	want := []string{"<m1@example.com>", "<m2@example.com>", "<m3@example.com>", "<m4@example.com>"}
	if !slices.Equal(ids, want) {
		t.Errorf("published %q, want %q", ids, want)
	}
	var m2 int
	for _, e := range pub.all() {
		if e.ExternalID == "<m2@example.com>" {
			m2++
		}
	}
	if m2 != 2 || len(pub.all()) != 5 {
		t.Errorf("mail 2 published %d times and %d envelopes in all; want it twice (once before the crash) and 5", m2, len(pub.all()))
	}
}

// TestIngestUIDValidityChange recreates the mailbox: the channel rescans
// it, publishing the old mails under the same external ids and the new
// one once.
func TestIngestUIDValidityChange(t *testing.T) {
	srv := startIMAP(t, false, nil)
	old := [][]byte{readCorpus(t, "gmail_reply.eml"), readCorpus(t, "no_message_id.eml")}
	for _, raw := range old {
		srv.appendMail(t, "INBOX", raw)
	}
	st, pub := newMemStore(), &recPublisher{}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c)
	first := waitCheckpoint(t, c, st, 2)
	before := pub.distinct()

	admin := srv.client(t)
	if err := admin.Delete("INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, raw := range append(old, readCorpus(t, "windows1252.eml")) {
		srv.appendMail(t, "INBOX", raw)
	}
	var cp checkpoint
	checkFor(t, 10*time.Second, func() error {
		if err := st.GetState(context.Background(), c.checkpointKey(), &cp); err != nil {
			return err
		}
		if cp.UIDValidity == first.UIDValidity || cp.LastUID != 3 {
			return fmt.Errorf("checkpoint %+v, want a new UIDVALIDITY at UID 3", cp)
		}
		return nil
	})
	after := pub.distinct()
	if len(after) != 3 || !slices.Equal(after[:2], before) || after[2] != "<000601dab9a1$2c3d4e50$8596a7b8$@example.de>" {
		t.Errorf("external ids before %q, after %q; want the old two again and the new one", before, after)
	}
}

// TestPoisonMail: a mail that fails to import every time (here: the
// store refuses its attachment) is published as a stub after a few
// attempts, and the mail behind it is imported.
func TestPoisonMail(t *testing.T) {
	srv := startIMAP(t, true, nil)
	srv.appendMail(t, "INBOX", readCorpus(t, "gmail_reply.eml")) // has a PDF
	srv.appendMail(t, "INBOX", rawMail("next@example.com", "Next", "<next@example.com>", "I am next"))
	st, pub := newMemStore(), &recPublisher{}
	var refused atomic.Int32
	st.putBlob = func(b *ticketing.Blob) error {
		if b.Filename == "receipt-1001.pdf" {
			refused.Add(1)
			return errors.New("the store cannot take this")
		}
		return nil
	}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c)
	envs := pub.waitCount(t, 2)
	stub := envs[0]
	if !strings.Contains(stub.Text, "could not be imported") || stub.From.Value != "anna.lindqvist@gmail.com" || !strings.Contains(stub.Text, "UID 1") {
		t.Errorf("stub: from %q text %q", stub.From.Value, stub.Text)
	}
	if err := ticketing.NewValidator().Validate(stub); err != nil {
		t.Errorf("invalid stub: %v", err)
	}
	if envs[1].ExternalID != "<next@example.com>" {
		t.Errorf("second envelope %q, want the next mail", envs[1].ExternalID)
	}
	if n := refused.Load(); n != int32(c.maxAttempts) {
		t.Errorf("attachment refused %d times, want %d attempts", n, c.maxAttempts)
	}
	waitCheckpoint(t, c, st, 2)
}

// TestBusDownIsNotPoison: while the publisher fails, the mail is retried
// and never replaced by a stub.
func TestBusDownIsNotPoison(t *testing.T) {
	srv := startIMAP(t, true, nil)
	srv.appendMail(t, "INBOX", readCorpus(t, "outlook_reply.eml"))
	st, pub := newMemStore(), &recPublisher{}
	var fails atomic.Int32
	pub.hook = func(context.Context, *ticketing.Envelope) error {
		if fails.Add(1) <= 6 {
			return errors.New("nats: no responders")
		}
		return nil
	}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c)
	waitCheckpoint(t, c, st, 1)
	for _, e := range pub.all() {
		if strings.Contains(e.Text, "could not be imported") {
			t.Fatalf("a stub was published while the bus was down: %q", e.Text)
		}
	}
	if got := pub.distinct(); len(got) != 1 {
		t.Errorf("external ids %q, want one", got)
	}
}

func TestIngestTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startIMAPOn(t, true, serverTLS, mode == TLSImplicit)
			if mode == TLSImplicit {
				srv.tls = clientTLS
			}
			srv.appendMail(t, "INBOX", readCorpus(t, "apple_reply.eml"))
			st, pub := newMemStore(), &recPublisher{}
			o := testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st)
			o.IMAP.TLS, o.IMAP.TLSConfig = mode, clientTLS
			c := newChannel(t, o)
			start(t, c)
			if envs := pub.waitCount(t, 1); envs[0].From.Value != "chris.berg@icloud.com" {
				t.Errorf("from %q", envs[0].From.Value)
			}
		})
	}
}

func TestIngestBadPasswordRetries(t *testing.T) {
	srv := startIMAP(t, true, nil)
	srv.appendMail(t, "INBOX", rawMail("a@example.com", "s", "<a@example.com>", "x"))
	st, pub := newMemStore(), &recPublisher{}
	o := testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st)
	o.IMAP.Password = "wrong"
	logs := &syncBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	c := newChannel(t, o)
	stop := start(t, c)
	checkFor(t, 10*time.Second, func() error {
		if n := strings.Count(logs.String(), "IMAP login as "+testUser); n < 3 {
			return fmt.Errorf("%d failed logins logged, want 3 (retrying with backoff)", n)
		}
		return nil
	})
	stop()
	if n := len(pub.all()); n != 0 {
		t.Errorf("%d envelopes published with a wrong password", n)
	}
}

func TestIngestReconnect(t *testing.T) {
	srv := startIMAP(t, false, nil) // behind the proxy, whose connections we drop
	srv.appendMail(t, "INBOX", rawMail("a@example.com", "one", "<one@example.com>", "x"))
	st, pub := newMemStore(), &recPublisher{}
	c := newChannel(t, testOptions(t, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	start(t, c)
	pub.waitCount(t, 1)
	srv.proxy.drop()
	srv.appendMail(t, "INBOX", rawMail("b@example.com", "two", "<two@example.com>", "y"))
	waitCheckpoint(t, c, st, 2)
	if ids := pub.distinct(); !slices.Equal(ids, []string{"<one@example.com>", "<two@example.com>"}) {
		t.Errorf("published %q", ids)
	}
}
