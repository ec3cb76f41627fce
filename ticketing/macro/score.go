package macro

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
)

func asDomain(err error, out **ticketing.Error) bool { return errors.As(err, out) }

// Score rates how well q (lower case) matches a macro: a substring of the
// name beats a subsequence of the name, which beats words of the text. 0
// is no match. Each word of q must match somewhere.
func Score(q string, m *Macro) int {
	name := strings.ToLower(m.Name)
	texts := strings.ToLower(m.Text)
	for _, t := range m.Texts {
		texts += "\n" + strings.ToLower(t)
	}
	total := 0
	for _, w := range strings.Fields(q) {
		switch {
		case strings.HasPrefix(name, w):
			total += 100
		case strings.Contains(name, w):
			total += 60
		case subsequence(w, name):
			total += 30 - min(20, utf8.RuneCountInString(name)-utf8.RuneCountInString(w))
		case strings.Contains(texts, w):
			total += 10
		default:
			return 0
		}
	}
	return max(total, 1)
}

// subsequence reports whether the runes of q appear in s in order.
func subsequence(q, s string) bool {
	for _, r := range q {
		i := strings.IndexRune(s, r)
		if i < 0 {
			return false
		}
		s = s[i+utf8.RuneLen(r):]
	}
	return true
}
