package web

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"mime"
	"net/http"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/svar-dev/svar/ticketing"
)

// A customer's email HTML (sanitized when it was received) is shown in a
// sandboxed frame whose document comes from handleMessageHTML, not from
// srcdoc: a srcdoc document inherits the console's CSP, which rightly
// refuses the inline styles that mail is made of. This document has a CSP
// of its own that allows inline styles and data: images and nothing else:
// no script, no network, no forms, and a sandbox even when it is opened
// outside its frame.

// Attributes the email channel leaves on images instead of loading them.
const (
	attrRemoteSrc  = "data-svar-src"
	attrAttachment = "data-svar-attachment"
)

const (
	// maxInlineImage bounds one inline (cid:) image embedded as a data: URL.
	maxInlineImage = 2 << 20
	// maxInlineImages bounds how many inline images one mail shows.
	maxInlineImages = 20
)

// inlineImage reports whether an image type is shown inline (never SVG,
// which can carry script and links).
func inlineImage(ct string) bool {
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

var mailFrameTemplate = template.Must(template.New("mail").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><base target="_blank">
<style>
html{color-scheme:light}
body{margin:0;padding:12px 14px;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;background:#fff;overflow-wrap:anywhere}
img{max-width:100%;height:auto}
img[data-svar-src]{display:inline-block;min-width:24px;min-height:16px;background:#eef0f4;border:1px dashed #b6bcc8}
blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #d5d9e0;color:#555d6b}
pre{white-space:pre-wrap}
table{max-width:100%}
</style></head><body>{{.}}</body></html>`))

// handleMessageHTML serves one message's sanitized email HTML as a
// document for a sandboxed frame. ?images=remote also loads the remote
// images the email channel blocked, when the agent asks for them.
func (s *Server) handleMessageHTML(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.authenticate(r); err != nil {
		s.errorPage(w, r, err)
		return
	}
	m, err := s.store.GetMessage(r.Context(), r.PathValue("id"))
	if ticketing.IsNotFound(err) || (err == nil && m.HTML == "") {
		s.errorPage(w, r, ticketing.Errorf(ticketing.ENotFound, "no formatted email for this message"))
		return
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	remote := r.URL.Query().Get("images") == "remote"
	body, err := s.mailImages(r, m.HTML, remote)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var buf bytes.Buffer
	// body was sanitized on the way in; here only image sources changed,
	// to data: URLs of stored images or to the URLs the sanitizer kept.
	if err := mailFrameTemplate.Execute(&buf, template.HTML(body)); err != nil {
		s.errorPage(w, r, err)
		return
	}
	imgSrc := "data:"
	if remote {
		imgSrc = "data: https: http:"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src "+imgSrc+
		"; base-uri 'self'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// mailImages points inline images at data: URLs of their stored blobs and,
// when remote is set, remote images at their URLs.
func (s *Server) mailImages(r *http.Request, src string, remote bool) (string, error) {
	if !strings.Contains(src, attrAttachment) && !(remote && strings.Contains(src, attrRemoteSrc)) {
		return src, nil
	}
	ctxNode := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(src), ctxNode)
	if err != nil {
		return src, nil // show it as it was stored
	}
	inlined := 0
	var walk func(n *html.Node) error
	walk = func(n *html.Node) error {
		if n.Type == html.ElementNode && n.DataAtom == atom.Img {
			for _, a := range n.Attr {
				switch {
				case a.Key == attrAttachment && inlined < maxInlineImages:
					b, err := s.store.GetBlob(r.Context(), a.Val)
					if ticketing.IsNotFound(err) {
						continue
					}
					if err != nil {
						return err
					}
					ct, _, _ := mime.ParseMediaType(b.ContentType)
					if !inlineImage(ct) || len(b.Data) > maxInlineImage {
						continue
					}
					inlined++
					setAttr(n, "src", "data:"+ct+";base64,"+base64.StdEncoding.EncodeToString(b.Data))
				case a.Key == attrRemoteSrc && remote:
					setAttr(n, "src", a.Val)
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
	var out strings.Builder
	for _, n := range nodes {
		if err := walk(n); err != nil {
			return "", err
		}
		if err := html.Render(&out, n); err != nil {
			return src, nil
		}
	}
	return out.String(), nil
}

func setAttr(n *html.Node, key, val string) {
	for i := range n.Attr {
		if n.Attr[i].Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}
