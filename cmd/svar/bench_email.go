package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/svar-dev/svar/ticketing"
)

// benchIMAP is go-imap's in-memory IMAP server in the benchmark's process,
// the shop's support mailbox that the node reads with IDLE.
type benchIMAP struct {
	addr     string
	user     string
	password string
	srv      *imapserver.Server
	accepted atomic.Int64 // connections the server accepted
	done     chan struct{}
}

func startBenchIMAP() (*benchIMAP, error) {
	s := &benchIMAP{user: "support@bench.svar.test", password: "bench-" + benchRandomHex(8), done: make(chan struct{})}
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(s.user, s.password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, err
	}
	mem.AddUser(u)
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		// IMAP4rev2 includes IDLE.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(&countingListener{Listener: ln, n: &s.accepted})
	}()
	return s, nil
}

// env configures the node's email channel for this mailbox. Outbound
// mail is not part of the benchmark; its SMTP address is a closed port.
func (s *benchIMAP) env() map[string]string {
	return map[string]string{
		"SVAR_EMAIL_ADDRESS": s.user,
		"SVAR_IMAP_ADDR":     s.addr,
		"SVAR_IMAP_USERNAME": s.user,
		"SVAR_IMAP_PASSWORD": s.password,
		"SVAR_IMAP_TLS":      "none",
		"SVAR_IMAP_MAILBOX":  "INBOX",
		"SVAR_SMTP_ADDR":     "127.0.0.1:9",
		"SVAR_SMTP_TLS":      "none",
	}
}

func (s *benchIMAP) close() {
	_ = s.srv.Close()
	<-s.done
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// emailPhase appends Emails mails to the mailbox one at a time, over IMAP
// as a mail server delivering them would, and measures each until the
// agent's live API shows it.
func (b *bench) emailPhase(ctx context.Context) error {
	if b.imap == nil {
		return errors.New("the in-process IMAP server did not start")
	}
	// The node logs in and idles once its email channel runs.
	if err := b.waitFor(ctx, 15*time.Second, func() (bool, string) {
		return b.imap.accepted.Load() > 0, "email: waiting for the node to connect to the IMAP server"
	}); err != nil {
		return errors.New("the node never connected to the IMAP server: the email channel is not served by this build (SVAR_EMAIL_ADDRESS and SVAR_IMAP_* were set)")
	}
	agentWS, err := b.agent.live(ctx, "")
	if err != nil {
		return err
	}
	// arrived records when the agent saw each mail, by its token.
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for {
			_, data, err := agentWS.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			var ev struct {
				Type    string             `json:"type"`
				Message *ticketing.Message `json:"message"`
			}
			if json.Unmarshal(data, &ev) != nil || ev.Type != ticketing.EventMessageCreated || ev.Message == nil {
				continue
			}
			if i := strings.Index(ev.Message.Subject, "bench-mail-"); i >= 0 {
				mu.Lock()
				arrived[ev.Message.Subject[i:]] = now
				mu.Unlock()
			}
		}
	}()
	defer func() {
		agentWS.Close()
		rwg.Wait()
	}()
	seen := func(token string) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := arrived[token]
		return t, ok
	}

	client, err := imapclient.DialInsecure(b.imap.addr, nil)
	if err != nil {
		return fmt.Errorf("IMAP dial: %w", err)
	}
	defer client.Close()
	if err := client.Login(b.imap.user, b.imap.password).Wait(); err != nil {
		return fmt.Errorf("IMAP login: %w", err)
	}
	// Mails go one at a time: each is appended once the one before is
	// visible, or after wait, when it counts as late and the next is
	// appended anyway (its arrival may be what wakes the reader).
	wait := 5 * time.Second
	run := benchRandomHex(4)
	tokens := make([]string, b.cfg.Emails)
	sent := make([]time.Time, b.cfg.Emails)
	late := 0
	for i := range tokens {
		b.progress.set("email: mail %d/%d appended and waited for", i+1, b.cfg.Emails)
		tokens[i] = fmt.Sprintf("bench-mail-%s-%d", run, i)
		raw := benchMail(run, i, tokens[i])
		sent[i] = time.Now()
		cmd := client.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			return fmt.Errorf("IMAP append: %w", err)
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("IMAP append: %w", err)
		}
		if _, err := cmd.Wait(); err != nil {
			return fmt.Errorf("IMAP append: %w", err)
		}
		if err := b.waitFor(ctx, wait, func() (bool, string) {
			_, ok := seen(tokens[i])
			return ok, fmt.Sprintf("email: mail %d/%d appended, waiting for the API to show it", i+1, b.cfg.Emails)
		}); err != nil {
			if aerr := b.node.alive(); aerr != nil {
				return aerr
			}
			late++
		}
	}
	_ = b.waitFor(ctx, wait, func() (bool, string) {
		n := 0
		for _, t := range tokens {
			if _, ok := seen(t); ok {
				n++
			}
		}
		return n == len(tokens), fmt.Sprintf("email: %d/%d mails visible", n, len(tokens))
	})
	lat := make([]time.Duration, len(tokens))
	missing := 0
	for i, t := range tokens {
		at, ok := seen(t)
		if !ok {
			lat[i] = time.Duration(math.MaxInt64) // never: above every other
			missing++
			continue
		}
		lat[i] = at.Sub(sent[i])
	}
	s := benchSorted(lat)
	if late > 0 || missing > 0 {
		b.logf("email: %d of %d mails were not visible within %s (%d never were); a mail the IMAP server reports while "+
			"the reader is between commands can wait for the next mail or the reader's periodic re-check", late, len(tokens), wait, missing)
	}
	p50 := benchPercentile(s, 0.5)
	if p50 == time.Duration(math.MaxInt64) {
		return fmt.Errorf("%d of %d mails never became visible through the API", missing, len(tokens))
	}
	b.logf("email: %d mails: p50 %.3f s, p90 %.3f s", len(s), p50.Seconds(), benchPercentile(s, 0.9).Seconds())
	b.res.set("email_latency_p50_s", p50.Seconds())
	return nil
}

// benchMail is a plain customer mail.
func benchMail(run string, i int, token string) []byte {
	date := time.Now().Format(time.RFC1123Z)
	body := fmt.Sprintf("Hej!\r\n\r\nJag undrar om min order %d har skickats. (%s)\r\n\r\nMvh\r\nAnna\r\n", 5000+i, token)
	return []byte("From: Anna Andersson <anna." + run + "@kund.bench.svar.test>\r\n" +
		"To: support@bench.svar.test\r\n" +
		"Subject: Min order " + fmt.Sprint(5000+i) + " " + token + "\r\n" +
		"Date: " + date + "\r\n" +
		"Message-ID: <" + token + "@kund.bench.svar.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" + body)
}
