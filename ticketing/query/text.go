package query

import (
	"html"
	"regexp"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/swedish"
)

// Text handling. What is indexed per document:
//   - raw: the words as written (FTS5's unicode61 tokenizer lower-cases and
//     folds diacritics), plus extra forms: a phone's digit variants, joined
//     alphanumerics ("A-1042" also as "a1042");
//   - st: the Swedish and English Snowball stems of the words that differ
//     from the word itself.
//
// A query word w matches when a raw word starts with w, or a word's stem
// equals w's stem: "retur" finds "returnera" (prefix), "returns" finds
// "returned" (stem). Every token is quoted, so FTS5 syntax in q is text.

// maxIndexedText bounds how much of one message is indexed and kept for
// snippets.
const maxIndexedText = 16 << 10

// words splits s into lower-cased runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// stems returns the distinct Swedish and English stems of w that differ
// from w.
func stems(w string) []string {
	if len([]rune(w)) < 3 || isDigits(w) {
		return nil
	}
	var out []string
	sv := swedish.Stem(w, true)
	if sv != w && sv != "" {
		out = append(out, sv)
	}
	if en := english.Stem(w, true); en != w && en != sv && en != "" {
		out = append(out, en)
	}
	return out
}

// stemCache remembers the stems of words seen, for the writer: stemming
// is most of the cost of indexing a message, and words repeat. When full
// it starts over. Not safe for concurrent use.
type stemCache struct {
	m map[string]string
}

const stemCacheMax = 100_000

// column is the st column of a text.
func (c *stemCache) column(text string) string {
	if c.m == nil || len(c.m) > stemCacheMax {
		c.m = make(map[string]string, 1024)
	}
	var b strings.Builder
	for _, w := range words(text) {
		st, ok := c.m[w]
		if !ok {
			st = strings.Join(stems(w), " ")
			c.m[w] = st
		}
		if st != "" {
			b.WriteString(st)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// stemColumn is the st column of a text, without a cache.
func stemColumn(text string) string {
	var c stemCache
	return c.column(text)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// phoneForms are the forms a person may type a stored phone number in:
// +46701234567 is also 46701234567, 0701234567 (Swedish national form) and
// 701234567.
func phoneForms(p string) []string {
	d := digitsOf(p)
	if len(d) < 5 {
		return []string{p}
	}
	out := []string{d}
	if strings.HasPrefix(p, "+") {
		// Country codes are 1 to 3 digits; index the subscriber part for
		// each, and the trunk-prefixed national form for the likely ones.
		for cc := 1; cc <= 3 && cc < len(d)-4; cc++ {
			out = append(out, d[cc:], "0"+d[cc:])
		}
	}
	return out
}

// joinedForms adds the joined form of words written with separators
// ("A-1042" → "a1042", "#1042" is just "1042").
func joinedForms(text string) []string {
	var out []string
	for _, f := range strings.Fields(text) {
		if ws := words(f); len(ws) > 1 {
			out = append(out, strings.Join(ws, ""))
		}
	}
	return out
}

// phoneLike finds digit runs broken by spaces, dashes, dots or brackets,
// as people type phone numbers: "070-123 45 67", "+46 (0)70 123 45 67".
var phoneLike = regexp.MustCompile(`\+?\(?\d[\d\s\-.()]{4,}\d`)

// term is one group of a parsed query: a ticket matches a query when it
// matches every group.
type term struct {
	expr  string   // the FTS5 expression
	marks []string // lower-cased word prefixes to highlight
	stems []string // stems to highlight
	stop  bool     // a stop word ("och", "the"): left out when q has other words
}

// parseQuery turns what a person typed into FTS5 groups. It never
// returns syntax the engine could reject.
func parseQuery(q string) []term {
	var terms []term
	// A phone number as typed: digits broken by separators, standing
	// alone (not the digits inside "seed0001234" or an email).
	var rest strings.Builder
	last := 0
	for _, loc := range phoneLike.FindAllStringIndex(q, -1) {
		span := q[loc[0]:loc[1]]
		d := digitsOf(span)
		if len(d) < 7 || wordAt(q, loc[0]-1) || wordAt(q, loc[1]) {
			continue
		}
		rest.WriteString(q[last:loc[0]])
		rest.WriteByte(' ')
		last = loc[1]
		terms = append(terms, term{expr: "raw : " + quote(d) + "*", marks: append([]string{d}, words(span)...)})
	}
	rest.WriteString(q[last:])
	q = rest.String()
	for _, f := range strings.Fields(q) {
		ws := words(f)
		switch {
		case len(ws) == 0:
			continue
		case len(ws) > 1:
			// An email, a hyphenated word, an order "A-1042": documents
			// index such words joined too ("a1042"), which is cheaper to
			// find than the phrase of their parts ("kund" "test" are in
			// every customer's email). A phrase only for two parts.
			expr := quote(strings.Join(ws, "")) + "*"
			if len(ws) == 2 {
				expr = "(" + expr + " OR " + quote(strings.Join(ws, " ")) + ")"
			}
			terms = append(terms, term{expr: "raw : " + expr, marks: ws})
		default:
			w := ws[0]
			alts := []string{quote(w)}
			if len([]rune(w)) >= 2 {
				alts[0] += "*"
			}
			st := stems(w)
			for _, s := range st {
				alts = append(alts, quote(s))
			}
			terms = append(terms, term{expr: "{raw st} : (" + strings.Join(alts, " OR ") + ")", marks: []string{w}, stems: st,
				stop: swedish.IsStopWord(w) || english.IsStopWord(w)})
		}
		if len(terms) >= 16 {
			break
		}
	}
	// Stop words are in most documents: costly to match and they narrow
	// nothing down, unless they are all there is.
	kept := terms[:0:0]
	for _, t := range terms {
		if !t.stop {
			kept = append(kept, t)
		}
	}
	if len(kept) > 0 {
		return kept
	}
	return terms
}

// quote makes s one FTS5 string.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// matchAll is the FTS5 expression matching documents with every group.
func matchAll(ts []term) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "(" + t.expr + ")"
	}
	return strings.Join(parts, " AND ")
}

// matchAny matches documents with any group.
func matchAny(ts []term) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "(" + t.expr + ")"
	}
	return strings.Join(parts, " OR ")
}

// fold lower-cases and strips the diacritics the index folds, for
// highlighting.
func fold(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case 'å', 'ä', 'á', 'à', 'â', 'ã':
			return 'a'
		case 'ö', 'ó', 'ò', 'ô', 'õ', 'ø':
			return 'o'
		case 'é', 'è', 'ê', 'ë':
			return 'e'
		case 'ü', 'ú', 'ù', 'û':
			return 'u'
		case 'í', 'ì', 'î', 'ï':
			return 'i'
		case 'ç':
			return 'c'
		case 'ñ':
			return 'n'
		}
		return r
	}, s)
}

// snippet returns a window of text around the first matched word, HTML
// escaped, with matched words in <mark>.
func snippet(text string, ts []term) string {
	const before, total = 8, 30
	type tok struct {
		s      string
		isWord bool
	}
	var toks []tok
	start := 0
	rs := []rune(text)
	if len(rs) > maxIndexedText {
		rs = rs[:maxIndexedText]
	}
	inWord := false
	for i, r := range rs {
		w := unicode.IsLetter(r) || unicode.IsDigit(r)
		if i > 0 && w != inWord {
			toks = append(toks, tok{string(rs[start:i]), inWord})
			start = i
		}
		inWord = w
	}
	if len(rs) > 0 {
		toks = append(toks, tok{string(rs[start:]), inWord})
	}
	var marks, stemSet []string
	for _, t := range ts {
		for _, m := range t.marks {
			marks = append(marks, fold(m))
		}
		for _, s := range t.stems {
			stemSet = append(stemSet, fold(s))
		}
	}
	matched := func(w string) bool {
		f := fold(w)
		for _, m := range marks {
			if m != "" && strings.HasPrefix(f, m) {
				return true
			}
		}
		if isDigits(f) {
			for _, m := range marks {
				if len(m) >= 5 && isDigits(m) && strings.Contains(m, f) && len(f) >= 2 {
					return true
				}
			}
		}
		if len(stemSet) > 0 {
			for _, s := range stems(f) {
				for _, q := range stemSet {
					if s == q {
						return true
					}
				}
			}
		}
		return false
	}
	first, nwords := -1, 0
	hit := make([]bool, len(toks))
	for i, t := range toks {
		if t.isWord && matched(t.s) {
			hit[i] = true
			if first < 0 {
				first = i
			}
		}
	}
	from := 0
	if first > 0 {
		// back up over `before` words
		n := 0
		for from = first; from > 0 && n < before; from-- {
			if toks[from-1].isWord {
				n++
			}
		}
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	i := from
	for ; i < len(toks) && nwords < total; i++ {
		t := toks[i]
		s := t.s
		if !t.isWord {
			s = collapseSpace(s)
		}
		if t.isWord {
			nwords++
		}
		if hit[i] {
			b.WriteString("<mark>")
			b.WriteString(html.EscapeString(s))
			b.WriteString("</mark>")
		} else {
			b.WriteString(html.EscapeString(s))
		}
	}
	if i < len(toks) {
		b.WriteString("…")
	}
	return strings.TrimSpace(b.String())
}

// collapseSpace turns each run of white space into one space.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// wordAt reports whether the byte at i of s is part of a word (a letter,
// a digit, @ or _), so that a digit run there is not a phone number.
func wordAt(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '@' || c == '_' || c >= 0x80
}
