package email

import (
	"regexp"
	"strings"
)

// Quote headers that mail clients put above the quoted history, in the
// languages Svar's shops and their customers write in.
var (
	attributionRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)^on\s.{4,300}\swrote:$`),                            // Gmail, Apple Mail, Thunderbird
		regexp.MustCompile(`(?i)^(den\s.{4,300}|\d.{2,300})\sskrev(\s.{0,300})?:$`), // Swedish, Danish, Norwegian
		regexp.MustCompile(`(?i)^am\s.{4,300}\sschrieb(\s.{0,300})?:$`),             // German
		regexp.MustCompile(`(?i)^.{4,300}\skirjoitti:$`),                            // Finnish
		regexp.MustCompile(`(?i)^le\s.{4,300}\sa écrit\s?:$`),                       // French
	}
	separatorRe   = regexp.MustCompile(`(?i)^[-_=\s]*-{2,}\s*(original message|ursprungligt meddelande|originalmeddelande|oprindelig meddelelse|opprinnelig melding|ursprüngliche nachricht|message d'origine)\s*-{2,}[-_=\s]*$`)
	outlookFromRe = regexp.MustCompile(`(?i)^\*?(from|från|fra|von|de|lähettäjä):\*?\s`)
	outlookSentRe = regexp.MustCompile(`(?i)^\*?(sent|date|skickat|datum|sendt|dato|gesendet|envoyé|lähetetty):\*?\s`)
	outlookToRe   = regexp.MustCompile(`(?i)^\*?(to|till|til|an|à|vastaanottaja|subject|ämne|emne|betreff|objet|aihe):\*?\s`)
	underscoresRe = regexp.MustCompile(`^_{10,}$`)
	forwardSubjRe = regexp.MustCompile(`(?i)^\s*(fwd?|vb|wg|tr|vl)\s*:`)
	forwardMarks  = []string{
		"forwarded message", "begin forwarded message", "start of forwarded message",
		"vidarebefordrat meddelande", "vidarebefordrat brev", "videresendt meddelelse",
		"videresendt melding", "weitergeleitete nachricht", "message transféré",
	}
)

// quoteHeader reports whether line introduces quoted history.
func quoteHeader(line string) bool {
	line = strings.TrimSpace(line)
	if len(line) < 8 || len(line) > 400 {
		return false
	}
	// Every attribution ends with a colon and every separator has dashes:
	// skip the regular expressions for ordinary lines.
	if !strings.HasSuffix(line, ":") && !strings.Contains(line, "--") {
		return false
	}
	for i, re := range attributionRes {
		if !re.MatchString(line) {
			continue
		}
		// "Jag skrev till er igår:" is not a quote header: the Nordic
		// form needs a date or an address as well.
		if i == 1 && !strings.Contains(line, "@") && !strings.Contains(strings.ToLower(line), " kl") {
			continue
		}
		return true
	}
	return separatorRe.MatchString(line)
}

// isForward reports whether a mail forwards another one: then its quoted
// part is the point of the mail and is not folded away.
func isForward(subject, text string) bool {
	if forwardSubjRe.MatchString(subject) {
		return true
	}
	lower := strings.ToLower(text)
	for _, m := range forwardMarks {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// foldQuotes returns text without its quoted history: everything from the
// first quote header ("On … wrote:", "Den … skrev:", "-----Original
// Message-----", an Outlook "From: … Sent: …" block) on, and every line
// quoted with ">".
func foldQuotes(text string) string {
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if quoteHeader(l) {
			cut = i
			break
		}
		// Gmail wraps a long attribution over two or three lines.
		if joined := l; len(l) < 200 {
			found := false
			for j := i + 1; j < len(lines) && j <= i+2; j++ {
				next := strings.TrimSpace(lines[j])
				if next == "" {
					break
				}
				joined += " " + next
				if quoteHeader(joined) {
					found = true
					break
				}
			}
			if found {
				cut = i
				break
			}
		}
		if outlookBlock(lines, i) {
			cut = i
			if j := prevNonEmpty(lines, i); j >= 0 && underscoresRe.MatchString(strings.TrimSpace(lines[j])) {
				cut = j
			}
			break
		}
	}
	var out []string
	for _, l := range lines[:cut] {
		if strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") {
			continue
		}
		out = append(out, l)
	}
	return normalizeText(strings.Join(out, "\n"))
}

// outlookBlock reports whether lines[i] starts Outlook's reply header:
// From:, then Sent: (or Date:) and To: or Subject: within a few lines.
func outlookBlock(lines []string, i int) bool {
	if !outlookFromRe.MatchString(strings.TrimSpace(lines[i])) {
		return false
	}
	sent, to := false, false
	for j := i + 1; j < len(lines) && j <= i+6; j++ {
		l := strings.TrimSpace(lines[j])
		if outlookSentRe.MatchString(l) {
			sent = true
		}
		if outlookToRe.MatchString(l) {
			to = true
		}
	}
	return sent && to
}

func prevNonEmpty(lines []string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}
