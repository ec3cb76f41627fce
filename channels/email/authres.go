package email

import (
	"errors"
	"strings"
)

// authResults is one Authentication-Results header field (RFC 8601): the
// host that checked the mail, and what each method found.
type authResults struct {
	// ServID is the authserv-id, lower-cased: who vouches for the results.
	ServID  string
	Results []authResult
}

// authResult is one method's result, such as dmarc=fail header.from=x.se.
type authResult struct {
	Method string // lower-cased: spf, dkim, dmarc, arc, ...
	Result string // lower-cased: pass, fail, softfail, none, neutral, ...
	Reason string
	// Props are the property values by "ptype.property", both lower-cased
	// (header.from, header.d, smtp.mailfrom); values keep their case.
	Props map[string]string
}

// Limits that keep a hostile header cheap.
const (
	maxAuthResLen     = 16 << 10
	maxAuthResResults = 50
	maxAuthResProps   = 20
	maxCommentDepth   = 10
)

var errAuthRes = errors.New("malformed Authentication-Results")

// parseAuthResults parses the value of an Authentication-Results field:
//
//	authserv-id [ version ] ( "; none" / 1*( ";" method[/version] "=" result
//	    [ "reason" "=" value ] *( ptype "." property "=" pvalue ) ) )
//
// with comments (nested, with quoted pairs) and folding white space
// anywhere between tokens. A result that breaks the grammar ends the
// parse with an error; the results before it are returned.
func parseAuthResults(v string) (*authResults, error) {
	if len(v) > maxAuthResLen {
		return nil, errAuthRes
	}
	lx := &authLexer{s: v}
	id, ok := lx.value()
	if !ok || id == "" {
		return nil, errAuthRes
	}
	out := &authResults{ServID: strings.ToLower(id)}
	// An optional version: digits after the authserv-id.
	if t, ok := lx.peekWord(); ok && isDigits(t) {
		lx.word()
	}
	for {
		lx.skipCFWS()
		if lx.done() {
			return out, nil
		}
		if !lx.take(';') {
			return out, errAuthRes
		}
		lx.skipCFWS()
		if lx.done() { // a trailing ";" is common and harmless
			return out, nil
		}
		method, ok := lx.word()
		if !ok {
			return out, errAuthRes
		}
		method = strings.ToLower(method)
		if lx.take('/') { // method-version
			if _, ok := lx.word(); !ok {
				return out, errAuthRes
			}
		}
		if method == "none" && len(out.Results) == 0 {
			// no-result: "; none". Nothing may follow.
			lx.skipCFWS()
			if lx.take(';') {
				lx.skipCFWS()
			}
			if !lx.done() {
				return out, errAuthRes
			}
			return out, nil
		}
		if !lx.take('=') {
			return out, errAuthRes
		}
		result, ok := lx.word()
		if !ok {
			return out, errAuthRes
		}
		r := authResult{Method: method, Result: strings.ToLower(result)}
		for {
			save := lx.i
			key, ok := lx.word()
			if !ok {
				lx.i = save
				break
			}
			key = strings.ToLower(key)
			if key == "reason" && lx.take('=') {
				val, ok := lx.value()
				if !ok {
					return out, errAuthRes
				}
				r.Reason = val
				continue
			}
			if !lx.take('.') {
				return out, errAuthRes
			}
			prop, ok := lx.word()
			if !ok || !lx.take('=') {
				return out, errAuthRes
			}
			val, ok := lx.pvalue()
			if !ok {
				return out, errAuthRes
			}
			if r.Props == nil {
				r.Props = map[string]string{}
			}
			if len(r.Props) < maxAuthResProps {
				r.Props[key+"."+strings.ToLower(prop)] = val
			}
		}
		if len(out.Results) >= maxAuthResResults {
			return out, errAuthRes
		}
		out.Results = append(out.Results, r)
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// authLexer reads the tokens of an Authentication-Results value.
type authLexer struct {
	s string
	i int
}

func (l *authLexer) done() bool { return l.i >= len(l.s) }

// skipCFWS skips white space and comments. An unclosed comment runs to the
// end.
func (l *authLexer) skipCFWS() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.i++
		case c == '(':
			l.skipComment()
		default:
			return
		}
	}
}

func (l *authLexer) skipComment() {
	depth := 0
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch c {
		case '\\':
			if l.i < len(l.s) {
				l.i++
			}
		case '(':
			depth++
			if depth > maxCommentDepth {
				l.i = len(l.s)
				return
			}
		case ')':
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

// take consumes c (after CFWS) if it comes next.
func (l *authLexer) take(c byte) bool {
	l.skipCFWS()
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

// isTokenChar reports whether c may appear in an RFC 2045 token. '/' and
// '.' are tspecials there but not here: they separate method versions and
// property types, so words stop at them; domain names are read by pvalue.
func isTokenChar(c byte) bool { return tokenChars[c] }

// tokenChars is isTokenChar as a table: printable ASCII but the specials,
// and UTF-8 bytes (RFC 6532 allows them in a word).
var tokenChars = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`()<>@,;:\"/[]?=.`, rune(c))
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

func (l *authLexer) peekWord() (string, bool) {
	save := l.i
	w, ok := l.word()
	l.i = save
	return w, ok
}

// word reads a token (after CFWS).
func (l *authLexer) word() (string, bool) {
	l.skipCFWS()
	start := l.i
	for l.i < len(l.s) && isTokenChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i], l.i > start
}

// value reads a token or a quoted string; tokens here may hold dots
// (authserv-ids and reasons are often host names).
func (l *authLexer) value() (string, bool) {
	l.skipCFWS()
	if l.i < len(l.s) && l.s[l.i] == '"' {
		return l.quoted()
	}
	start := l.i
	for l.i < len(l.s) && (isTokenChar(l.s[l.i]) || l.s[l.i] == '.' || l.s[l.i] == '/') {
		l.i++
	}
	return l.s[start:l.i], l.i > start
}

// pvalue reads a property value: a quoted string, or a run of token
// characters, dots, "@" and "/" (an address, a domain, a selector, a
// base64 fragment).
func (l *authLexer) pvalue() (string, bool) {
	l.skipCFWS()
	if l.i < len(l.s) && l.s[l.i] == '"' {
		return l.quoted()
	}
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if isTokenChar(c) || c == '.' || c == '@' || c == '/' || (c == '=' && l.i > start && l.trailingPad()) {
			l.i++
			continue
		}
		break
	}
	return l.s[start:l.i], l.i > start
}

// trailingPad reports whether the "=" at l.i is base64 padding (followed
// by more "=", white space, ";", "(" or the end) rather than a new
// assignment.
func (l *authLexer) trailingPad() bool {
	for j := l.i; j < len(l.s); j++ {
		switch l.s[j] {
		case '=':
			continue
		case ' ', '\t', '\r', '\n', ';', '(':
			return true
		default:
			return false
		}
	}
	return true
}

// quoted reads a quoted string at l.i, unescaping quoted pairs.
func (l *authLexer) quoted() (string, bool) {
	l.i++ // the opening quote
	var sb strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch c {
		case '"':
			return sb.String(), true
		case '\\':
			if l.i < len(l.s) {
				sb.WriteByte(l.s[l.i])
				l.i++
			}
		default:
			sb.WriteByte(c)
		}
	}
	return "", false
}
