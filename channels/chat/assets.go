package chat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

//go:embed assets/widget.js
var widgetJS []byte

//go:embed assets/demo.html
var demoHTML string

// asset is a static file kept in memory, with its gzip form and an ETag.
type asset struct {
	raw, gz []byte
	etag    string
}

func newAsset(raw []byte) (asset, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return asset{}, fmt.Errorf("chat: gzip widget: %w", err)
	}
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return asset{}, fmt.Errorf("chat: gzip widget: %w", err)
	}
	sum := sha256.Sum256(raw)
	return asset{raw: raw, gz: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

// serveWidget is GET /widget.js. Its URL has no version in it (shops paste
// one script tag), so browsers keep it for a short while and then
// revalidate cheaply with the ETag.
func (c *Channel) serveWidget(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300, stale-while-revalidate=86400")
	h.Set("ETag", c.widget.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, c.widget.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := c.widget.raw
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = c.widget.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// acceptsGzip reports whether the client takes gzip (and did not refuse
// it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return !(strings.HasPrefix(q, "q=0") && strings.Trim(q[3:], ".0") == "")
	}
	return false
}

// demoText is the demo shop's copy in each language.
type demoText struct {
	Lang, Title, Tagline, Intro, Console, Add, Cart, Footer, Switch, SwitchLang string
	Products                                                                    []demoProduct
	// Items is the cart's count; the demo keeps it in the URL, not a session.
	Items, Next int
}

type demoProduct struct {
	Name, Desc, Price string
	Tone              string        // the picture's background: a class in demo.html
	Picture           template.HTML // a trusted constant (demo_pictures.go)
}

// demoCopy returns the demo shop's copy in lang (en or sv).
func demoCopy(lang string) (demoText, bool) {
	switch lang {
	case "en":
		return demoText{
			Lang: "en", Title: "Nordlys Outdoor — Svar demo shop", Tagline: "Warm gear for long Nordic winters",
			Intro:   "This is a demo shop. Open the chat in the corner and write as a customer, then answer from the agent console.",
			Console: "Open the agent console", Add: "Add to cart", Cart: "Cart", Switch: "På svenska", SwitchLang: "sv",
			Footer: "Nordlys Outdoor is not a real shop. Nothing here is for sale.",
			Products: []demoProduct{
				{"Wool sweater", "Merino, knitted in Dalarna", "899 kr", "tone-wool", pictureSweater},
				{"Down jacket", "Light, warm, packs into its pocket", "2 495 kr", "tone-down", pictureJacket},
				{"Thermos", "Keeps coffee hot for 24 hours", "349 kr", "tone-thermos", pictureThermos},
				{"Headlamp", "400 lumen, USB-C", "449 kr", "tone-lamp", pictureHeadlamp},
			},
		}, true
	case "sv":
		return demoText{
			Lang: "sv", Title: "Nordlys Outdoor — Svars demobutik", Tagline: "Varma kläder för långa nordiska vintrar",
			Intro:   "Det här är en demobutik. Öppna chatten i hörnet och skriv som kund, svara sedan från agentkonsolen.",
			Console: "Öppna agentkonsolen", Add: "Lägg i varukorgen", Cart: "Varukorg", Switch: "In English", SwitchLang: "en",
			Footer: "Nordlys Outdoor är ingen riktig butik. Inget här är till salu.",
			Products: []demoProduct{
				{"Ulltröja", "Merino, stickad i Dalarna", "899 kr", "tone-wool", pictureSweater},
				{"Dunjacka", "Lätt, varm och packas i egen ficka", "2 495 kr", "tone-down", pictureJacket},
				{"Termos", "Håller kaffet varmt i ett dygn", "349 kr", "tone-thermos", pictureThermos},
				{"Pannlampa", "400 lumen, USB-C", "449 kr", "tone-lamp", pictureHeadlamp},
			},
		}, true
	}
	return demoText{}, false
}

func parseDemo() (*template.Template, error) {
	t, err := template.New("demo").Parse(demoHTML)
	if err != nil {
		return nil, fmt.Errorf("chat: parse demo page: %w", err)
	}
	return t, nil
}

// serveDemo is GET /demo: the demo shop, in English or (with ?lang=sv or a
// Swedish browser) Swedish, embedding the widget with one script tag.
func (c *Channel) serveDemo(w http.ResponseWriter, r *http.Request) {
	text, ok := demoCopy(r.URL.Query().Get("lang"))
	if !ok {
		lang := "en"
		if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "sv") {
			lang = "sv"
		}
		text, _ = demoCopy(lang)
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("cart")); err == nil && n > 0 && n < 100 {
		text.Items = n
	}
	text.Next = text.Items + 1
	var buf bytes.Buffer
	if err := c.demo.Execute(&buf, text); err != nil {
		c.log.Error("chat: render demo page", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}
