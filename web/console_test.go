package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/staff"
)

// fakeLive records which agents were disconnected.
type fakeLive struct {
	mu   sync.Mutex
	gone []string
}

func (f *fakeLive) ServeAgent(w http.ResponseWriter, _ *http.Request, _ *ticketing.Agent, _ ticketing.Viewer) {
	w.WriteHeader(http.StatusNotImplemented)
}

func (f *fakeLive) DisconnectAgent(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = append(f.gone, id)
}

func (f *fakeLive) disconnected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gone)
}

type testEnv struct {
	t     *testing.T
	srv   *httptest.Server
	store ticketing.Store
	live  *fakeLive
	admin *client
}

const adminPassword = "admin password 123"

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	st := mongotest.New(t)
	live := &fakeLive{}
	s := New(Options{Store: st, Live: live})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if _, _, err := staff.EnsureAdmin(context.Background(), st, "admin@example.se", adminPassword); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, srv: srv, store: st, live: live}
	e.admin = e.login("admin@example.se", adminPassword, "")
	return e
}

type client struct {
	t    *testing.T
	base string
	http *http.Client
}

type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (e *testEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.srv.URL, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (e *testEnv) login(email, password, code string) *client {
	e.t.Helper()
	c := e.client()
	r := c.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password, "code": code})
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return c
}

func (c *client) do(method, path string, body any) reply {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, body: b, header: res.Header}
}

func TestCatalogsAreComplete(t *testing.T) {
	en, sv := catalogFor(langEnglish), catalogFor(langSwedish)
	for k := range en {
		if _, ok := sv[k]; !ok {
			t.Errorf("Swedish lacks %q", k)
		}
	}
	for k := range sv {
		if _, ok := en[k]; !ok {
			t.Errorf("English lacks %q", k)
		}
	}
	// Every key the modules and templates use exists.
	used := map[string]bool{}
	jsKey := regexp.MustCompile(`\bt\('([a-z_]+)'\s*[,)]`)
	tmplKey := regexp.MustCompile(`\.T "([a-z_]+)"`)
	err := fs.WalkDir(staticFS, "static/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		for _, m := range jsKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpls, _ := fs.Glob(templateFS, "templates/*.html")
	for _, p := range tmpls {
		b, _ := templateFS.ReadFile(p)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	// Keys built from a prefix and a value.
	for prefix, values := range map[string][]string{
		"status_":   {"open", "pending", "solved", "closed"},
		"priority_": {"low", "normal", "high", "urgent"},
		"channel_":  {"email", "chat", "sms", "unknown"},
		"delivery_": {"queued", "sent", "delivered", "failed"},
		"view_":     {"open", "mine", "unassigned", "pending", "solved", "all"},
		"conn_":     {"connecting", "live", "offline"},
		"role_":     {"admin", "agent"},
		"identity_": {"email", "phone", "chat", "external"},
		"presence_": {"viewing", "typing"},
		"drop_": {"too_many_attachments", "attachment_too_large", "attachments_too_large", "store_too_large", "too_deep",
			"too_many_parts", "not_scanned"},
		"": {"deactivated", "reactivated", "sign_in_title"},
	} {
		for _, v := range values {
			used[prefix+v] = true
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use; the scan is broken", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not translated", k)
		}
	}
	if en.get("reply") != "Reply" || en.get("send") != "Send" || en.get("add_note") != "Add note" ||
		en.get("email") != "Email" || en.get("password") != "Password" || en.get("sign_in") != "Sign in" {
		t.Error("the contract's accessible names changed")
	}
}

func TestLanguageChoice(t *testing.T) {
	for _, tc := range []struct {
		name, query, accept, want string
	}{
		{"default", "", "", "en"},
		{"browser Swedish", "", "sv-SE,sv;q=0.9,en;q=0.8", "sv"},
		{"browser English first", "", "en-GB,sv;q=0.5", "en"},
		{"unknown then Swedish", "", "de-DE, sv;q=0.4", "sv"},
		{"query wins", "?lang=en", "sv", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/login"+tc.query, nil)
			r.Header.Set("Accept-Language", tc.accept)
			if got := langFromRequest(r); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if langOf("sv") != "sv" || langOf("") != "en" || langOf("de") != "en" {
		t.Error("langOf")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "/",
		"/tickets/abc":     "/tickets/abc",
		"//evil.example":   "/",
		"/\\evil.example":  "/",
		"https://evil.com": "/",
		"/login?next=/":    "/",
		"/views/mine?x=1":  "/views/mine?x=1",
		"/a\r\nSet-Cookie": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkCSPSafe fails when a page has inline script or style that the
// console's CSP would refuse.
func checkCSPSafe(t *testing.T, page []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s> has an inline %s attribute", n.Data, a.Key)
				}
			}
			switch n.Data {
			case "style":
				t.Error("a <style> element")
			case "script":
				if attrs["src"] == "" && attrs["type"] != "application/json" {
					t.Errorf("an inline script of type %q", attrs["type"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

func TestConsolePages(t *testing.T) {
	e := newEnv(t)
	anon := e.client()

	r := anon.do("GET", "/tickets/abc", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=%2Ftickets%2Fabc" {
		t.Fatalf("signed out: %d %s", r.status, r.header.Get("Location"))
	}
	r = anon.do("GET", "/login", nil)
	if r.status != 200 {
		t.Fatalf("login page: %d", r.status)
	}
	csp := r.header.Get("Content-Security-Policy")
	if csp != consoleCSP || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	for _, want := range []string{`<label for="email">Email</label>`, `<label for="password">Password</label>`, `>Sign in</button>`, `id="code"`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("the login page lacks %s", want)
		}
	}
	checkCSPSafe(t, r.body)

	// Signed in: the login page sends the agent on; the shell renders.
	if r := e.admin.do("GET", "/login?next=%2Fviews%2Fmine", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/views/mine" {
		t.Fatalf("login page when signed in: %d %s", r.status, r.header.Get("Location"))
	}
	for _, p := range []string{"/", "/views/pending", "/tickets/whatever", "/settings", "/agents"} {
		r := e.admin.do("GET", p, nil)
		if r.status != 200 || r.header.Get("Content-Security-Policy") != consoleCSP {
			t.Fatalf("%s: %d", p, r.status)
		}
		checkCSPSafe(t, r.body)
		if !bytes.Contains(r.body, []byte(`"email":"admin@example.se"`)) || !bytes.Contains(r.body, []byte(`<html lang="en">`)) {
			t.Errorf("%s: no boot data for the agent", p)
		}
	}
	if r := e.admin.do("GET", "/views/everything", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown view: %d", r.status)
	}

	// Customer text never reaches the page unescaped; here the agent's own
	// name stands in for any string the shell prints.
	bad := `Eve</script><script>alert(1)</script>`
	if r := e.admin.do("PATCH", "/api/v1/me", map[string]string{"name": bad, "language": "sv"}); r.status != 200 {
		t.Fatalf("patch me: %d %s", r.status, r.body)
	}
	r = e.admin.do("GET", "/", nil)
	if bytes.Contains(r.body, []byte("<script>alert(1)")) {
		t.Fatal("the name was not escaped")
	}
	if !bytes.Contains(r.body, []byte(`<html lang="sv">`)) || !bytes.Contains(r.body, []byte("Logga ut")) || !bytes.Contains(r.body, []byte(`"send":"Skicka"`)) {
		t.Error("a Swedish agent does not get Swedish")
	}
	checkCSPSafe(t, r.body)

	// Static files: the right type, revalidated by ETag.
	r = anon.do("GET", "/static/js/app.js", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || r.header.Get("ETag") == "" {
		t.Fatalf("app.js: %d %v", r.status, r.header)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/static/js/app.js", nil)
	req.Header.Set("If-None-Match", r.header.Get("ETag"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", res.StatusCode)
	}
	if r := anon.do("GET", "/static/nope.js", nil); r.status != http.StatusNotFound {
		t.Errorf("missing static file: %d", r.status)
	}
	if r := anon.do("GET", "/static/console.css", nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Errorf("console.css: %d %s", r.status, r.header.Get("Content-Type"))
	}
	// No module writes customer data as HTML.
	err = fs.WalkDir(staticFS, "static/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFS.ReadFile(p)
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if bytes.Contains(b, []byte(sink)) {
				t.Errorf("%s uses %s", p, sink)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMessageHTMLFrame(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	png := []byte("\x89PNG\r\n\x1a\nfake")
	if err := e.store.PutBlob(ctx, &ticketing.Blob{Key: "email/att/0123456789abcdef0123456789abcdef", Filename: "logo.png", ContentType: "image/png", Data: png}); err != nil {
		t.Fatal(err)
	}
	m := &ticketing.Message{ID: "m-html", TicketID: "t1", CustomerID: "c1", Direction: ticketing.DirectionInbound,
		Channel: ticketing.ChannelEmail, Text: "Hello", CreatedAt: time.Now().UTC(),
		HTML: `<p style="color:red">Hello</p><img data-svar-attachment="email/att/0123456789abcdef0123456789abcdef" alt="logo"><img data-svar-src="https://tracker.example/p.gif" alt="">`}
	plain := &ticketing.Message{ID: "m-plain", TicketID: "t1", Direction: ticketing.DirectionInbound, Channel: ticketing.ChannelChat, Text: "hi", CreatedAt: time.Now().UTC()}
	if _, err := e.store.InsertMessages(ctx, []*ticketing.Message{m, plain}); err != nil {
		t.Fatal(err)
	}
	if r := e.client().do("GET", "/messages/m-html/html", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("signed out: %d", r.status)
	}
	r := e.admin.do("GET", "/messages/m-html/html", nil)
	if r.status != 200 {
		t.Fatalf("frame: %d %s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "sandbox", "img-src data:;", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("frame CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "allow-scripts") || strings.Contains(csp, "allow-same-origin") {
		t.Errorf("frame CSP %q allows scripts or the console's origin", csp)
	}
	body := string(r.body)
	if !strings.Contains(body, `<p style="color:red">Hello</p>`) || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Errorf("frame body = %s", body)
	}
	remoteSrc := regexp.MustCompile(`\ssrc="https://tracker\.example/p\.gif"`)
	if remoteSrc.MatchString(body) {
		t.Error("a remote image loads without the agent asking")
	}
	r = e.admin.do("GET", "/messages/m-html/html?images=remote", nil)
	if !remoteSrc.Match(r.body) || !strings.Contains(r.header.Get("Content-Security-Policy"), "img-src data: https:") {
		t.Errorf("remote images on request: %s / %s", r.body, r.header.Get("Content-Security-Policy"))
	}
	if r := e.admin.do("GET", "/messages/m-plain/html", nil); r.status != http.StatusNotFound {
		t.Errorf("a message without HTML: %d", r.status)
	}
	if r := e.admin.do("GET", "/messages/nope/html", nil); r.status != http.StatusNotFound {
		t.Errorf("no such message: %d", r.status)
	}
}
