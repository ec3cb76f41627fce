package email

import (
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Attributes the sanitized HTML carries instead of loading anything.
const (
	// attrRemoteSrc holds a remote image's URL. Remote images are blocked
	// (they tell the sender the mail was read, and from where); the console
	// loads them when an agent asks.
	attrRemoteSrc = "data-svar-src"
	// attrAttachment holds the blob key of an inline image (cid:) that was
	// stored as an attachment.
	attrAttachment = "data-svar-attachment"
)

// newPolicy returns the sanitizing policy for mail HTML: formatting,
// tables, links and inline data: images; no script, event handlers,
// forms, frames, objects, style sheets, javascript: URLs or anything that
// loads from elsewhere.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardURLs() // http, https, mailto; rel=nofollow on links
	p.AllowURLSchemes("tel")
	// A relative link in a mail would point into the console itself.
	p.AllowRelativeURLs(false)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowDataURIImages()

	p.AllowAttrs("dir").Matching(bluemonday.Direction).Globally()
	p.AllowAttrs("lang").Matching(regexp.MustCompile(`^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$`)).Globally()
	p.AllowAttrs("title").Matching(bluemonday.Paragraph).Globally()

	p.AllowElements("p", "br", "div", "span", "hr", "pre", "code", "blockquote", "center", "font",
		"b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "small", "big", "sub", "sup", "mark",
		"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
		"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "col", "colgroup",
		"abbr", "cite", "q", "address", "section", "article", "header", "footer", "figure", "figcaption", "wbr")
	p.AllowLists()
	p.AllowTables()
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("color").Matching(regexp.MustCompile(`^#?[0-9a-zA-Z]{1,20}$`)).OnElements("font")
	p.AllowAttrs("face").Matching(regexp.MustCompile(`^[\p{L}\p{N}\s,'"\-]{1,100}$`)).OnElements("font")
	p.AllowAttrs("size").Matching(regexp.MustCompile(`^[+-]?[1-7]$`)).OnElements("font")
	p.AllowAttrs("bgcolor").Matching(regexp.MustCompile(`^#?[0-9a-zA-Z]{1,20}$`)).OnElements("table", "tr", "td", "th")
	p.AllowAttrs("border", "cellpadding", "cellspacing").Matching(bluemonday.Integer).OnElements("table")
	p.AllowAttrs("align").Matching(bluemonday.CellAlign).OnElements("table", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6")

	// Images: only data: URLs load; remote and inline ones are placeholders.
	p.AllowAttrs("src").OnElements("img")
	p.AllowAttrs("alt").Matching(bluemonday.Paragraph).OnElements("img")
	p.AllowAttrs("height", "width").Matching(bluemonday.NumberOrPercent).OnElements("img")
	p.AllowAttrs(attrRemoteSrc).Matching(regexp.MustCompile(`^https?://[^\s"'<>\\]{1,1000}$`)).OnElements("img")
	p.AllowAttrs(attrAttachment).Matching(regexp.MustCompile(`^email/att/[0-9a-f]{32}$`)).OnElements("img")

	// Inline styles for layout and text; no property that takes url()
	// (background, background-image, list-style-image, content, cursor).
	p.AllowStyles("color", "background-color", "font-family", "font-size", "font-weight", "font-style",
		"font-variant", "text-align", "text-decoration", "text-transform", "text-indent", "line-height",
		"letter-spacing", "word-spacing", "white-space", "vertical-align", "direction",
		"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
		"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
		"border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
		"border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
		"width", "height", "max-width", "min-width", "max-height", "min-height").Globally()
	return p
}

// htmlDoc is the result of processing a mail's HTML.
type htmlDoc struct {
	HTML     string // folded, rewritten and sanitized
	Text     string // the text of the whole HTML, for mail without a text part
	TooLarge bool   // the sanitized HTML was over maxEnvHTML and is left out
}

// processHTML derives text from src, folds quoted history away (unless
// keepQuotes says so for the derived text), blocks remote images, points
// inline images at their blobs and sanitizes the result.
func (p *parser) processHTML(src string, cids map[string]string, keepQuotes func(text string) bool) htmlDoc {
	if strings.TrimSpace(src) == "" {
		return htmlDoc{}
	}
	root, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return htmlDoc{HTML: p.policy.Sanitize(src)}
	}
	var doc htmlDoc
	var tb textBuilder
	tb.node(root)
	doc.Text = tb.String()

	if !keepQuotes(doc.Text) {
		foldHTMLQuotes(root)
	}
	rewriteImages(root, cids)
	var sb strings.Builder
	if body := findBody(root); body != nil {
		for c := body.FirstChild; c != nil; c = c.NextSibling {
			_ = html.Render(&sb, c)
		}
	} else {
		_ = html.Render(&sb, root)
	}
	out := strings.TrimSpace(p.policy.Sanitize(sb.String()))
	if len(out) <= maxEnvHTML {
		doc.HTML = out
	} else {
		doc.TooLarge = true
	}
	return doc
}

func findBody(n *html.Node) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == atom.Body {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if b := findBody(c); b != nil {
			return b
		}
	}
	return nil
}

// rewriteImages blocks remote images and resolves cid: images.
func rewriteImages(n *html.Node, cids map[string]string) {
	if n.Type == html.ElementNode && n.DataAtom == atom.Img {
		var attrs []html.Attribute
		for _, a := range n.Attr {
			switch strings.ToLower(a.Key) {
			case "src":
				v := strings.TrimSpace(a.Val)
				lv := strings.ToLower(v)
				switch {
				case strings.HasPrefix(lv, "http://") || strings.HasPrefix(lv, "https://"):
					attrs = append(attrs, html.Attribute{Key: attrRemoteSrc, Val: v})
				case strings.HasPrefix(lv, "cid:"):
					if key, ok := cids[strings.Trim(v[4:], "<>")]; ok {
						attrs = append(attrs, html.Attribute{Key: attrAttachment, Val: key})
					}
				case strings.HasPrefix(lv, "data:"):
					attrs = append(attrs, a)
				}
			case "srcset", attrRemoteSrc, attrAttachment:
				// dropped: srcset loads remote images; the others are ours
			default:
				attrs = append(attrs, a)
			}
		}
		n.Attr = attrs
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		rewriteImages(c, cids)
	}
}

// foldHTMLQuotes removes quoted history: Gmail's gmail_quote, Apple Mail's
// and Thunderbird's blockquote type=cite (with the "On … wrote:" line
// before it), and Outlook's divRplyFwdMsg block with everything after it.
func foldHTMLQuotes(n *html.Node) {
	var next *html.Node
	for c := n.FirstChild; c != nil; c = next {
		next = c.NextSibling
		if c.Type != html.ElementNode {
			continue
		}
		switch {
		case hasClass(c, "gmail_quote") || hasClass(c, "gmail_quote_container") || hasClass(c, "yahoo_quoted"):
			n.RemoveChild(c)
			continue
		case c.DataAtom == atom.Blockquote && strings.EqualFold(attr(c, "type"), "cite"):
			if prev := c.PrevSibling; prev != nil && isAttribution(prev) {
				n.RemoveChild(prev)
			}
			n.RemoveChild(c)
			continue
		case hasClass(c, "moz-cite-prefix"):
			n.RemoveChild(c)
			continue
		case attr(c, "id") == "divRplyFwdMsg" || attr(c, "id") == "appendonsend":
			if prev := c.PrevSibling; prev != nil && prev.Type == html.ElementNode && prev.DataAtom == atom.Hr {
				n.RemoveChild(prev)
			}
			for d := c; d != nil; {
				nd := d.NextSibling
				n.RemoveChild(d)
				d = nd
			}
			return
		}
		foldHTMLQuotes(c)
	}
}

// isAttribution reports whether n is the short "On … wrote:" line before
// a quote.
func isAttribution(n *html.Node) bool {
	var tb textBuilder
	tb.node(n)
	s := strings.TrimSpace(tb.String())
	if s == "" || len(s) > 300 {
		return false
	}
	return quoteHeader(strings.ReplaceAll(s, "\n", " "))
}

func hasClass(n *html.Node, class string) bool {
	for _, f := range strings.Fields(attr(n, "class")) {
		if f == class {
			return true
		}
	}
	return false
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// textBuilder renders HTML as plain text: blocks on their own lines,
// blockquotes prefixed with "> ", scripts and styles left out.
type textBuilder struct {
	sb    strings.Builder
	pre   int
	space bool // a space is pending
}

func (t *textBuilder) String() string { return normalizeText(t.sb.String()) }

func (t *textBuilder) newline() {
	t.space = false
	t.sb.WriteByte('\n')
}

// endLine starts a new line unless one was just started.
func (t *textBuilder) endLine() {
	t.space = false
	if s := t.sb.String(); s != "" && s[len(s)-1] != '\n' {
		t.sb.WriteByte('\n')
	}
}

// blankLine ends the line and leaves one empty line.
func (t *textBuilder) blankLine() {
	t.endLine()
	if s := t.sb.String(); s != "" && !strings.HasSuffix(s, "\n\n") {
		t.sb.WriteByte('\n')
	}
}

func (t *textBuilder) text(s string) {
	if t.pre > 0 {
		t.sb.WriteString(s)
		t.space = false
		return
	}
	if s == "" {
		return
	}
	if isHTMLSpace(rune(s[0])) {
		t.space = true
	}
	for i, f := range strings.FieldsFunc(s, isHTMLSpace) {
		if (i > 0 || t.space) && !t.atLineStart() {
			t.sb.WriteByte(' ')
		}
		t.sb.WriteString(f)
		t.space = false
	}
	t.space = isHTMLSpace(rune(s[len(s)-1]))
}

func (t *textBuilder) atLineStart() bool {
	s := t.sb.String()
	return s == "" || s[len(s)-1] == '\n' || strings.HasSuffix(s, "- ")
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
}

func (t *textBuilder) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		t.text(n.Data)
		return
	case html.ElementNode:
	case html.DocumentNode:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			t.node(c)
		}
		return
	default:
		return
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template, atom.Iframe, atom.Object, atom.Svg:
		return
	case atom.Br:
		t.newline()
		return
	case atom.Img:
		if alt := strings.TrimSpace(attr(n, "alt")); alt != "" && len(alt) < 100 {
			t.text("[" + alt + "] ")
		}
		return
	case atom.Blockquote:
		var inner textBuilder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			inner.node(c)
		}
		t.endLine()
		for _, l := range strings.Split(inner.String(), "\n") {
			t.sb.WriteString("> " + l)
			t.newline()
		}
		return
	case atom.Pre:
		t.pre++
		defer func() { t.pre-- }()
	}
	block := isBlock(n.DataAtom)
	if block {
		t.endLine()
	}
	if n.DataAtom == atom.Li {
		t.sb.WriteString("- ")
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		t.node(c)
	}
	switch {
	case n.DataAtom == atom.Td || n.DataAtom == atom.Th:
		t.space = true
	case n.DataAtom == atom.P || isHeading(n.DataAtom):
		t.blankLine()
	case block:
		t.endLine()
	}
}

func isHeading(a atom.Atom) bool {
	switch a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Table, atom.Tr, atom.Ul, atom.Ol, atom.Li, atom.Dl, atom.Dt, atom.Dd,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Hr, atom.Pre, atom.Section, atom.Article,
		atom.Header, atom.Footer, atom.Address, atom.Center, atom.Figure, atom.Form, atom.Fieldset, atom.Caption:
		return true
	}
	return false
}
