package email

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/svar-dev/svar/ticketing"
)

func TestFoldQuotes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"gmail", "Thanks!\n\nOn Mon, 3 Jun 2024 at 10:02, Support <s@x.example> wrote:\n> old", "Thanks!"},
		{"gmail wrapped attribution", "Thanks!\n\nOn Mon, 3 Jun 2024 at 10:02, A Very Long Name Support Team\n<support@shop.example> wrote:\n\n> old", "Thanks!"},
		{"swedish gmail", "Tack!\n\nDen mån 3 juni 2024 kl 10:02 skrev Svar Support <support@shop.example>:\n> gammalt", "Tack!"},
		{"swedish apple", "Tack!\n\n3 juni 2024 kl. 10:02 skrev Svar Support <support@shop.example>:\n\n> gammalt", "Tack!"},
		{"outlook original message", "Yes please.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nold text", "Yes please."},
		{"outlook swedish original", "Ja tack.\n\n-----Ursprungligt meddelande-----\nFrån: Support\nold", "Ja tack."},
		{"outlook block", "See below.\n\nFrom: Svar Support <support@shop.example>\nSent: Monday, June 3, 2024 10:02 AM\nTo: Anna <anna@example.com>\nSubject: Re: Order\n\nold", "See below."},
		{"outlook block with rule", "Hej\n\n________________________________\nFrån: Svar Support <support@shop.example>\nSkickat: den 3 juni 2024 10:02\nTill: Anna\nÄmne: Order\n\nold", "Hej"},
		{"quoted lines", "> your question\nmy answer\n> another\nmore", "my answer\nmore"},
		{"german", "Danke\n\nAm 03.06.2024 um 10:02 schrieb Svar Support <support@shop.example>:\n> alt", "Danke"},
		// Not quote headers: a customer's own words.
		{"i wrote", "Jag skrev till er igår:\nvar är paketet?", "Jag skrev till er igår:\nvar är paketet?"},
		{"from line alone", "From: the shop, I got a broken box.\nPlease help.", "From: the shop, I got a broken box.\nPlease help."},
		{"on without wrote", "On Monday I ordered shoes.\nThey are too small.", "On Monday I ordered shoes.\nThey are too small."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := foldQuotes(tc.in); got != tc.want {
				t.Errorf("foldQuotes =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	p := newParser("support@shop.example", defaultLimits())
	tests := []struct {
		name    string
		raw     string
		subject string
		text    string
	}{
		{
			name:    "invalid utf-8 bytes are replaced",
			raw:     "From: a@example.com\r\nSubject: Hej\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSå här \xff\xfe ser det ut\r\n",
			subject: "Hej", text: "Så här \uFFFD ser det ut",
		},
		{
			name:    "unlabelled 8-bit is read as windows-1252",
			raw:     "From: a@example.com\r\nSubject: Fr\xe5ga\r\n\r\nH\xe4lsningar \x80\r\n",
			subject: "Fråga", text: "Hälsningar €",
		},
		{
			name:    "unknown charset",
			raw:     "From: a@example.com\r\nSubject: =?x-unknown?Q?Hej_d=E5?=\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nHej d\xe5\r\n",
			subject: "Hej då", text: "Hej då",
		},
		{
			name:    "encoded words across charsets",
			raw:     "From: a@example.com\r\nSubject: =?UTF-8?B?w4Vsw6RuZ3Nrw6Ry?= =?ISO-8859-1?Q?_=E5t_dig?=\r\n\r\nx\r\n",
			subject: "Ålängskär åt dig", text: "x",
		},
		{
			name:    "text derived from html",
			raw:     "From: a@example.com\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p><ul><li>one</li><li>two</li></ul><p>bye<br>now</p>",
			subject: "s", text: "Hello there\n\n- one\n- two\nbye\nnow",
		},
		{
			name:    "format=flowed",
			raw:     "From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nThis is a long \r\nline that was \r\nwrapped.\r\nNext.\r\n",
			subject: "s", text: "This is a long line that was wrapped.\nNext.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := p.parse([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if out.Subject != tc.subject {
				t.Errorf("subject = %q, want %q", out.Subject, tc.subject)
			}
			if out.Text != tc.text {
				t.Errorf("text = %q, want %q", out.Text, tc.text)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	lim := defaultLimits()
	lim.MaxAttachmentBytes = 1 << 10
	lim.MaxTotalBytes = 3 << 10
	lim.MaxDepth = 5
	lim.MaxParts = 10
	lim.MaxHeaderBytes = 4 << 10
	p := newParser("support@shop.example", lim)

	part := func(name string, size int) string {
		return fmt.Sprintf("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=%q\r\n\r\n%s\r\n", name, strings.Repeat("x", size))
	}
	t.Run("attachment caps", func(t *testing.T) {
		raw := "From: a@example.com\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nsee files\r\n" +
			part("big.bin", 2<<10) + part("a.bin", 1000) + part("b.bin", 1000) + part("c.bin", 1000) + part("d.bin", 1000) + "--b--\r\n"
		out, err := p.parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range out.Files {
			names = append(names, f.Filename)
		}
		if strings.Join(names, ",") != "a.bin,b.bin,c.bin" {
			t.Errorf("files = %q, want a, b and c (big.bin over the per-file cap, d.bin over the per-mail cap)", names)
		}
		dr := out.Dropped.Dropped
		if len(dr) != 2 || dr[0].Filename != "big.bin" || dr[0].Reason != ticketing.DropFileTooLarge ||
			dr[1].Filename != "d.bin" || dr[1].Reason != ticketing.DropFilesTooLarge {
			t.Errorf("dropped = %+v, want big.bin (too large) and d.bin (over the total)", dr)
		}
	})
	t.Run("nesting depth", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&sb, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
		}
		sb.WriteString("--b50\r\nContent-Type: text/plain\r\n\r\ndeep inside\r\n")
		out, err := p.parse([]byte(sb.String()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(out.Problems, ";"), "too many parts or is nested too deeply") {
			t.Errorf("problems = %q, want the depth limit reported", out.Problems)
		}
		if strings.Contains(out.Text, "deep inside") {
			t.Errorf("text %q comes from below the depth limit", out.Text)
		}
		dr := out.Dropped.Dropped
		if len(dr) < 2 || dr[0].Reason != ticketing.DropTooDeep || dr[0].ContentType != "multipart/mixed" ||
			dr[len(dr)-1].ContentType != "text/plain" || dr[len(dr)-1].Reason != ticketing.DropTooDeep {
			t.Errorf("dropped = %+v, want the cut subtree and the text part inside it named", dr)
		}
	})
	t.Run("part count", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("From: a@example.com\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
		for i := 0; i < 30; i++ {
			fmt.Fprintf(&sb, "--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
		}
		sb.WriteString(part("late.pdf", 10) + "--b--\r\n")
		out, err := p.parse([]byte(sb.String()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.Text, "part 20") || !strings.Contains(out.Text, "part 3") {
			t.Errorf("text = %q, want the parts up to the limit only", out.Text)
		}
		dr := out.Dropped.Dropped
		if len(dr) != 22 || dr[len(dr)-1].Filename != "late.pdf" || dr[len(dr)-1].Reason != ticketing.DropTooManyParts || dr[len(dr)-1].Part != "31" {
			t.Errorf("dropped = %+v, want the 21 parts past the cap and late.pdf named", dr)
		}
	})
	t.Run("header size", func(t *testing.T) {
		raw := "From: a@example.com\r\nX-Junk: " + strings.Repeat("y", 8<<10) + "\r\nSubject: s\r\n\r\nbody\r\n"
		if _, err := p.parse([]byte(raw)); err == nil {
			t.Error("a header over the limit parsed")
		}
	})
}

func TestSanitize(t *testing.T) {
	p := newParser("support@shop.example", defaultLimits())
	vectors := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="JaVaScRiPt:alert(1)">x</a>`,
		`<a href="jav&#x09;ascript:alert(1)">x</a>`,
		`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`,
		`<iframe src="https://evil.example"></iframe>`,
		`<form action="https://evil.example"><input name=p></form>`,
		`<div style="background:url(https://evil.example/x.png)">x</div>`,
		`<div style="width: expression(alert(1))">x</div>`,
		`<link rel=stylesheet href="https://evil.example/s.css">`,
		`<style>@import "https://evil.example/s.css";</style>`,
		`<svg><script>alert(1)</script></svg>`,
		`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<body onload=alert(1)>`,
		`<img srcset="https://evil.example/a.png 1x">`,
		`<video poster="https://evil.example/p.png"></video>`,
		`<table background="https://evil.example/bg.png"><tr><td>x</td></tr></table>`,
		`<meta http-equiv="refresh" content="0;url=https://evil.example">`,
		`<base href="https://evil.example/">`,
		`<object data="https://evil.example/x"></object><embed src="https://evil.example/y">`,
		`<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
		`<a href="/api/v1/session">relative into the console</a><a href="//evil.example/x">protocol-relative</a>`,
	}
	bad := []string{"<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<input", "url(", "expression",
		"<link", "<style", "<svg", "<math", `src="https://`, " src=x", "srcset", "poster", "background=", "<meta", "<base", "<object", "<embed", "data:text",
		`href="/`}
	for i, v := range vectors {
		got := p.processHTML(v, nil, func(string) bool { return false }).HTML
		if err := checkSafeHTML(got); err != nil {
			t.Errorf("vector %d %q: %v in %q", i, v, err, got)
		}
		out := strings.ToLower(got)
		for _, b := range bad {
			if strings.Contains(out, b) {
				t.Errorf("vector %d %q: sanitized HTML %q contains %q", i, v, out, b)
			}
		}
	}
	// What is kept.
	keep := p.processHTML(`<p style="color:red">Hi <a href="https://shop.example/x">link</a> <img src="https://cdn.example/i.png" alt="pic"> <img src="data:image/png;base64,iVBORw0KGgo="></p>`, nil, func(string) bool { return false }).HTML
	for _, want := range []string{`style="color: red"`, `href="https://shop.example/x"`, `rel="nofollow noreferrer noopener"`,
		`data-svar-src="https://cdn.example/i.png"`, `alt="pic"`, `src="data:image/png;base64,iVBORw0KGgo="`} {
		if !strings.Contains(keep, want) {
			t.Errorf("sanitized HTML %q lacks %q", keep, want)
		}
	}
}

func TestAutoDetection(t *testing.T) {
	p := newParser("support@shop.example", defaultLimits())
	tests := []struct {
		name, headers string
		reason        string
	}{
		{"person", "", ""},
		{"auto-submitted no", "Auto-Submitted: no\r\n", ""},
		{"auto-submitted", "Auto-Submitted: auto-generated\r\n", "auto-submitted: auto-generated"},
		{"precedence bulk", "Precedence: bulk\r\n", "precedence: bulk"},
		{"precedence junk", "Precedence: junk\r\n", "precedence: junk"},
		{"precedence list", "Precedence: list\r\n", "precedence: list"},
		{"x-autoreply", "X-Autoreply: yes\r\n", "auto-reply-header: x-autoreply"},
		{"x-autorespond", "X-Autorespond: yes\r\n", "auto-reply-header: x-autorespond"},
		{"x-loop", "X-Loop: support@shop.example\r\n", AutoLoop},
		{"list-id", "List-Id: <news.example>\r\n", AutoList},
		{"own header", "X-Svar-Message-Id: r1\r\n", AutoOwnMail},
		{"own message-id", "Message-ID: <svar.r1@shop.example>\r\n", AutoOwnMail},
		{"null return-path", "Return-Path: <>\r\n", AutoBounce},
		{"null return-path auto-reply", "Return-Path: <>\r\nAuto-Submitted: auto-replied\r\n", "auto-submitted: auto-replied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := "From: Anna <anna@example.com>\r\nSubject: hi\r\n" + tc.headers + "\r\nhello\r\n"
			out, err := p.parse([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if out.AutoReason != tc.reason || out.Auto != (tc.reason != "") {
				t.Errorf("auto = %v %q, want %q", out.Auto, out.AutoReason, tc.reason)
			}
		})
	}
	t.Run("own address", func(t *testing.T) {
		out, _ := p.parse([]byte("From: Support <Support@Shop.example>\r\nSubject: x\r\n\r\nhi\r\n"))
		if out.AutoReason != AutoOwnMail {
			t.Errorf("reason = %q, want own mail", out.AutoReason)
		}
	})
	t.Run("plain-text bounce from mailer-daemon", func(t *testing.T) {
		raw := "From: MAILER-DAEMON <mailer-daemon@mx.example>\r\nSubject: failure notice\r\n\r\n" +
			"Hi. This is the qmail-send program.\r\n<x@y.example>:\r\nSorry, no mailbox here by that name.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\n" +
			"Message-ID: <svar.r0a1b2c3@shop.example>\r\nSubject: Re: x [#5]\r\n\r\nhello\r\n"
		out, _ := p.parse([]byte(raw))
		if !out.Auto || out.AutoReason != AutoBounce || out.BounceOf != "r0a1b2c3" {
			t.Errorf("auto %v %q bounce of %q, want a bounce of r0a1b2c3", out.Auto, out.AutoReason, out.BounceOf)
		}
	})
}

func TestExternalID(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
	a1, err := c.externalID(ctx, "<same@example.com>", "hashA")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.externalID(ctx, "<same@example.com>", "hashA")
	b, _ := c.externalID(ctx, "<same@example.com>", "hashB")
	none, _ := c.externalID(ctx, "", "hashC")
	if a1 != "<same@example.com>" || a2 != a1 {
		t.Errorf("same mail twice: %q, %q; want the Message-ID both times", a1, a2)
	}
	if b != "<same@example.com>#hashB" {
		t.Errorf("reused Message-ID: %q, want the id with #hash", b)
	}
	if none != "sha256:hashC" {
		t.Errorf("no Message-ID: %q", none)
	}
	// The content hash ignores trace headers added on the way.
	raw := rawMail("a@example.com", "s", "<m@example.com>", "body")
	p1, _ := c.parser.parse(raw)
	p2, _ := c.parser.parse(append([]byte("Received: from relay.example by mx.example; Mon, 3 Jun 2024\r\nDelivered-To: support@shop.example\r\n"), raw...))
	p3, _ := c.parser.parse(rawMail("a@example.com", "s", "<m@example.com>", "other body"))
	if p1.ContentHash != p2.ContentHash || p1.ContentHash == p3.ContentHash {
		t.Errorf("content hashes: %s %s %s; want the first two equal and the third different", p1.ContentHash, p2.ContentHash, p3.ContentHash)
	}
}

func TestUnreadableMail(t *testing.T) {
	st := newMemStore()
	c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
	tests := map[string][]byte{
		"no header":       []byte("\r\n\r\njust a body"),
		"binary":          {0, 1, 2, 3, 0xff, 0xfe, '\n', '\n'},
		"header too long": []byte("From: Anna <anna@example.com>\r\nSubject: help\r\nX-Junk: " + strings.Repeat("z", 300<<10) + "\r\n\r\nbody"),
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			key := rawKey(raw)
			env, err := c.buildEnvelope(context.Background(), raw, key, mailInfo{UIDValidity: 1, UID: 9})
			if err != nil {
				t.Fatal(err)
			}
			if err := ticketing.NewValidator().Validate(env); err != nil {
				t.Fatalf("invalid envelope: %v", err)
			}
			if !strings.Contains(env.Text, "could not be read") {
				t.Errorf("text = %q", env.Text)
			}
			if len(env.Attachments) != 1 || env.Attachments[0].Key != key || env.Attachments[0].ContentType != "message/rfc822" {
				t.Errorf("attachments = %+v, want the raw mail", env.Attachments)
			}
			if env.Meta[MetaProblems] == "" {
				t.Error("no problem recorded")
			}
			if name == "header too long" && env.From.Value != "anna@example.com" {
				t.Errorf("from = %q, want the address read leniently", env.From.Value)
			}
		})
	}
}

func TestLargeMailFitsTheBus(t *testing.T) {
	st := newMemStore()
	c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
	para := strings.Repeat("Lång rad med text om beställningen. ", 20) + "\r\n"
	html := strings.Repeat(`<p style="color:red">"quoted" &amp; <b>bold</b> text</p>`, 12000)
	raw := "From: a@example.com\r\nSubject: long\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat(para, 400) +
		"\r\nOn Mon, 3 Jun 2024 at 10:02, Support <s@x.example> wrote:\r\n" + strings.Repeat("> "+para, 400) +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n"
	env, err := c.buildEnvelope(context.Background(), []byte(raw), rawKey([]byte(raw)), mailInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ticketing.NewValidator().Validate(env); err != nil {
		t.Fatalf("invalid envelope: %v", err)
	}
	b, _ := json.Marshal(env)
	if len(b) > maxEnvelopeJSON+(maxEnvelopeJSON/4) { // json.Marshal escapes <, > and & that the bus does not
		t.Errorf("envelope is %d bytes of JSON", len(b))
	}
	if !strings.HasSuffix(env.Text, "[…]") || !utf8.ValidString(env.Text) || len(env.Text) > maxEnvText {
		t.Errorf("text: %d bytes, ends %q", len(env.Text), env.Text[max(0, len(env.Text)-20):])
	}
	if env.Meta[MetaProblems] == "" {
		t.Error("dropping content left no note")
	}
}

// FuzzParse feeds the parser mutations of the corpus: it must never panic,
// and what it returns must be valid UTF-8 with no active content in the
// HTML.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<img src=cid:a><script>x</script>\r\n--x--"))
	p := newParser("support@shop.example", defaultLimits())
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := p.parse(raw)
		if err != nil {
			if out != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		fields := map[string]string{"subject": out.Subject, "text": out.Text, "full": out.FullText, "html": out.HTML,
			"name": out.Name, "from": out.From, "to": out.To, "message-id": out.MessageID, "in-reply-to": out.InReplyTo,
			"references": strings.Join(out.References, " "), "bounce reason": out.BounceReason}
		for name, s := range fields {
			if !utf8.ValidString(s) {
				t.Fatalf("%s is not valid UTF-8: %q", name, s)
			}
		}
		if err := checkSafeHTML(out.HTML); err != nil {
			t.Fatalf("%v in %q", err, out.HTML)
		}
		if len(out.Files) > maxAttachments {
			t.Fatalf("%d files", len(out.Files))
		}
	})
}

// checkSafeHTML parses sanitized HTML as a browser would and reports
// active content: scripting elements, event handler attributes, URLs
// other than http(s), mailto, tel and data:image, and remote loads.
func checkSafeHTML(s string) error {
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return err
	}
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Script, atom.Iframe, atom.Object, atom.Embed, atom.Form, atom.Input, atom.Style, atom.Link,
				atom.Meta, atom.Base, atom.Svg, atom.Math, atom.Frame, atom.Frameset, atom.Video, atom.Audio:
				return fmt.Errorf("element <%s>", n.Data)
			}
			for _, a := range n.Attr {
				key, val := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(key, "on"):
					return fmt.Errorf("handler %s on <%s>", a.Key, n.Data)
				case key == "src" && !strings.HasPrefix(val, "data:image/"):
					return fmt.Errorf("src %q on <%s>", a.Val, n.Data)
				case key == "href":
					u, err := url.Parse(val)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto" && u.Scheme != "tel") {
						return fmt.Errorf("href %q", a.Val)
					}
				case key == "style" && strings.Contains(val, "url("):
					return fmt.Errorf("style %q", a.Val)
				case key == "srcset" || key == "background" || key == "poster" || key == "action" || key == "formaction":
					return fmt.Errorf("attribute %s", a.Key)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}
