package email

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// The benchmarks below run a baseline in the same process, so the cost of
// Svar's work reads as a ratio to it: compare the MB/s of the sub-benchmarks.

func loadCorpus(b *testing.B) (raws [][]byte, total int64) {
	b.Helper()
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		b.Fatalf("corpus: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
		total += int64(len(raw))
	}
	return raws, total
}

// BenchmarkParseCorpus parses the testdata corpus. baseline is a plain
// go-message read of the same bytes (every part's body decoded and read);
// svar adds charset repair, quote folding, HTML sanitizing, auto-reply and
// bounce detection and the content hash.
func BenchmarkParseCorpus(b *testing.B) {
	raws, total := loadCorpus(b)
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for _, raw := range raws {
				r, err := mail.CreateReader(bytes.NewReader(raw))
				if err != nil {
					b.Fatal(err)
				}
				for {
					p, err := r.NextPart()
					if err != nil {
						break
					}
					_, _ = io.Copy(io.Discard, p.Body)
				}
			}
		}
	})
	b.Run("svar", func(b *testing.B) {
		p := newParser("support@shop.example", defaultLimits())
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for _, raw := range raws {
				if _, err := p.parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// benchHTML is a mail-sized HTML document: the corpus newsletter's body,
// repeated to about 60 KiB.
func benchHTML(b *testing.B) string {
	b.Helper()
	raw, err := os.ReadFile("testdata/newsletter_html.eml")
	if err != nil {
		b.Fatal(err)
	}
	src, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body(raw))))
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for sb.Len() < 60<<10 {
		sb.Write(src)
	}
	return sb.String()
}

// BenchmarkSanitize processes one HTML body. baseline parses and renders
// it with x/net/html; ugc is bluemonday's stock UGC policy; svar is the
// whole processing (text derivation, quote folding, image blocking, the
// mail policy).
func BenchmarkSanitize(b *testing.B) {
	src := benchHTML(b)
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			n, err := html.Parse(strings.NewReader(src))
			if err != nil {
				b.Fatal(err)
			}
			if err := html.Render(io.Discard, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ugc", func(b *testing.B) {
		pol := bluemonday.UGCPolicy()
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			_ = pol.Sanitize(src)
		}
	})
	b.Run("svar", func(b *testing.B) {
		p := newParser("support@shop.example", defaultLimits())
		keep := func(string) bool { return false }
		b.SetBytes(int64(len(src)))
		b.ReportAllocs()
		for b.Loop() {
			_ = p.processHTML(src, nil, keep)
		}
	})
}

// BenchmarkIdleAppend measures how long a mail appended to an idling
// mailbox takes to be published: one op is one APPEND over IMAP until the
// envelope is on the (recording) bus.
func BenchmarkIdleAppend(b *testing.B) {
	srv := startIMAP(b, true, nil)
	st, pub := newMemStore(), &recPublisher{signal: make(chan struct{}, 1)}
	c := newChannel(b, testOptions(b, srv.addr, "127.0.0.1:2", st, pub, nil, st))
	c.idleRecheck = time.Second
	start(b, c)
	client := srv.client(b)
	i := 0
	for b.Loop() {
		// Let the channel go back to IDLE first: go-imap's test server
		// drops a mail that lands in the instant between a command and
		// IDLE until its next update (real servers report it when IDLE
		// starts), so back-to-back appends would measure that quirk.
		b.StopTimer()
		time.Sleep(20 * time.Millisecond)
		b.StartTimer()
		i++
		raw := rawMail("bench@example.com", "bench", fmt.Sprintf("<bench%d@example.com>", i), "hello")
		cmd := client.Append("INBOX", int64(len(raw)), nil)
		_, _ = cmd.Write(raw)
		_ = cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-pub.signal:
		case <-time.After(10 * time.Second):
			b.Fatalf("mail %d was not published", i)
		}
	}
}
