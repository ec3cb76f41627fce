package chat

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/svar-dev/svar/ticketing"
)

// newBareChannel is a Channel for the HTTP routes that need no bus.
func newBareChannel(t *testing.T, demo bool) (*Channel, *http.ServeMux) {
	t.Helper()
	c, err := New(Options{Publisher: nopBus{}, Relay: nopBus{}, Service: nopService{}, Demo: demo, PublicURL: "https://support.shop.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mux := http.NewServeMux()
	c.Routes(mux)
	return c, mux
}

func TestWidgetGzippedSize(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // default level, as a CDN or proxy would
	zw.Write(widgetJS)
	zw.Close()
	const limit = 20 << 10
	if buf.Len() >= limit {
		t.Fatalf("widget.js is %d bytes gzipped, want < %d", buf.Len(), limit)
	}
	t.Logf("widget.js: %d bytes, %d gzipped", len(widgetJS), buf.Len())
}

func TestServeWidget(t *testing.T) {
	_, mux := newBareChannel(t, false)
	get := func(h map[string]string) *http.Response {
		req := httptest.NewRequest("GET", "/widget.js", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Result()
	}
	resp := get(nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !bytes.Equal(body, widgetJS) {
		t.Fatalf("plain GET: %d %q (%d bytes)", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Fatalf("Cache-Control = %q", cc)
	}

	gz := get(map[string]string{"Accept-Encoding": "br, gzip"})
	if gz.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("gzip not served to a client that accepts it")
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if un, _ := io.ReadAll(zr); !bytes.Equal(un, widgetJS) {
		t.Fatal("gzipped widget differs")
	}
	if r := get(map[string]string{"Accept-Encoding": "gzip;q=0"}); r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip served although refused")
	}

	if r := get(map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation = %d, want 304", r.StatusCode)
	}
}

func TestDemoPage(t *testing.T) {
	_, mux := newBareChannel(t, true)
	for _, tc := range []struct{ query, lang, text string }{
		{"", "en", "Add to cart"},
		{"?lang=sv", "sv", "Lägg i varukorgen"},
		{"?lang=sv&cart=3", "sv", "Varukorg: 3"},
		{"?lang=xx", "en", "Wool sweater"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/demo"+tc.query, nil))
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", tc.query, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(body, `<html lang="`+tc.lang+`">`) || !strings.Contains(body, tc.text) {
			t.Errorf("%s: page lacks lang %s or %q", tc.query, tc.lang, tc.text)
		}
		if strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script src="/widget.js" async></script>`) {
			t.Errorf("%s: the page does not embed the widget with exactly one async script tag", tc.query)
		}
		// Pictures that render everywhere: inline SVG, no emoji (which need
		// an emoji font), no inline style (CSP), nothing fetched.
		if n := strings.Count(body, "<svg "); n != 4 {
			t.Errorf("%s: %d inline SVG pictures, want one per product", tc.query, n)
		}
		for _, r := range body {
			if r >= 0x2190 && unicode.Is(unicode.So, r) || r >= 0x1F000 {
				t.Errorf("%s: the page has the symbol %q, which needs an emoji font", tc.query, r)
				break
			}
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "url(") || strings.Contains(body, `src="http`) {
			t.Errorf("%s: inline style attributes or external resources on the page", tc.query)
		}
	}

	// Without demo mode there is no demo page.
	_, plain := newBareChannel(t, false)
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, httptest.NewRequest("GET", "/demo", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("/demo without demo mode = %d", rec.Code)
	}
}

func TestNewChecksOptions(t *testing.T) {
	base := Options{Publisher: nopBus{}, Relay: nopBus{}, Service: nopService{}}
	for name, o := range map[string]Options{
		"no publisher":           {Relay: nopBus{}, Service: nopService{}, Demo: true},
		"no origin outside demo": base,
		"bad origin":             {Publisher: nopBus{}, Relay: nopBus{}, Service: nopService{}, AllowedOrigins: []string{"shop.test"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOrigins(t *testing.T) {
	c, err := New(Options{Publisher: nopBus{}, Relay: nopBus{}, Service: nopService{},
		AllowedOrigins: []string{"https://shop.test", "http://localhost:8080", "https://SHOP2.test:443/path"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for origin, ok := range map[string]bool{
		"https://shop.test":         true,
		"https://shop.test:443":     true,
		"https://shop2.test":        true,
		"http://localhost:8080":     true,
		"":                          true, // not a browser page
		"http://shop.test":          false,
		"https://shop.test:8443":    false,
		"https://evil.shop.test":    false,
		"http://localhost:8081":     false,
		"null":                      false,
		"https://shop.test.evil.io": false,
	} {
		if got := c.originAllowed(origin); got != ok {
			t.Errorf("origin %q allowed = %v, want %v", origin, got, ok)
		}
	}
	demo, _ := newBareChannel(t, true)
	if !demo.originAllowed("https://anything.test") {
		t.Error("demo mode refuses an origin")
	}
}

// nopBus and nopService satisfy the options for tests of the plain HTTP
// routes, which never reach them.
type nopBus struct{ ticketing.Relay }

func (nopBus) PublishInbound(context.Context, *ticketing.Envelope) error { return nil }

type nopService struct{ Service }
