package email

import (
	"regexp"
	"strings"

	"github.com/emersion/go-message/mail"
)

// Auto reasons recorded on envelopes (env.AutoReason).
const (
	AutoBounce    = "bounce"
	AutoOwnMail   = "own-mail"
	AutoSubmitted = "auto-submitted"
	AutoPrecedent = "precedence"
	AutoReplyHdr  = "auto-reply-header"
	AutoLoop      = "x-loop"
	AutoList      = "mailing-list"
)

// ownMessageID is the Message-ID header value of Svar's outbound message
// id: fixed per message, so a resent reply keeps it.
func ownMessageID(messageID, domain string) string {
	return "<svar." + messageID + "@" + domain + ">"
}

var ownIDRe = regexp.MustCompile(`^<svar\.([A-Za-z0-9_-]{1,64})@[^<>\s@]+>$`)

// decodeOwnMessageID returns the Svar message id in one of Svar's own
// Message-IDs (any domain: the support address may have changed since).
func decodeOwnMessageID(mid string) (string, bool) {
	m := ownIDRe.FindStringSubmatch(strings.TrimSpace(mid))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// autoReason returns why a mail is automatic, or "" for a person's mail.
func (p *parser) autoReason(h mail.Header, out *parsed) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		return AutoSubmitted + ": " + clip(v, 60)
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list", "auto_reply":
		return AutoPrecedent + ": " + strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"} {
		if h.Has(k) {
			return AutoReplyHdr + ": " + strings.ToLower(k)
		}
	}
	if strings.Contains(strings.ToLower(h.Get("X-Auto-Response-Suppress")), "oof") && strings.Contains(strings.ToLower(h.Get("Content-Class")), "autoreply") {
		return AutoReplyHdr + ": oof"
	}
	if h.Has("X-Loop") {
		return AutoLoop
	}
	if h.Has("List-Id") {
		return AutoList
	}
	if h.Has("X-Svar-Message-Id") || out.From == p.own {
		return AutoOwnMail
	}
	if _, ok := decodeOwnMessageID(out.MessageID); ok {
		return AutoOwnMail
	}
	return ""
}

// detectAuto marks automatic mail and bounces. A bounce names the Svar
// message it returns when one is found in the returned headers.
func (p *parser) detectAuto(h mail.Header, w *walker, raw []byte, out *parsed) {
	reason := p.autoReason(h, out)
	local := out.From
	if i := strings.IndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	daemon := local == "mailer-daemon" || local == "postmaster"
	nullSender := strings.TrimSpace(h.Get("Return-Path")) == "<>"
	// An empty Return-Path alone also marks auto-replies (RFC 3834 asks
	// them to use one); only without another reason is it a bounce.
	if !w.report && !daemon && !(nullSender && reason == "") {
		if reason != "" {
			out.Auto, out.AutoReason = true, reason
		}
		return
	}
	out.Auto, out.AutoReason = true, AutoBounce
	for _, hdrs := range w.origHdrs {
		if id := findOwnID(hdrs); id != "" {
			out.BounceOf = id
			break
		}
	}
	if out.BounceOf == "" && !w.report {
		out.BounceOf = findOwnID(string(body(raw)))
	}
	out.BounceReason = diagnostic(w.status)
	if out.BounceReason == "" {
		out.BounceReason = clip(firstLines(out.Text, 3), 500)
	}
}

var (
	svarHeaderRe = regexp.MustCompile(`(?im)^X-Svar-Message-Id:[ \t]*([A-Za-z0-9_-]{1,64})[ \t]*\r?$`)
	svarMidRe    = regexp.MustCompile(`(?i)<svar\.([A-Za-z0-9_-]{1,64})@[^<>\s@]+>`)
)

// findOwnID finds a Svar message id in returned headers: X-Svar-Message-Id
// first, then a Message-ID of Svar's own.
func findOwnID(s string) string {
	if m := svarHeaderRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Message-Id") {
			if m := svarMidRe.FindStringSubmatch(v); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

// diagnostic returns the reason a delivery-status report gives:
// Diagnostic-Code without its type, else the Status code with the action.
func diagnostic(status string) string {
	if status == "" {
		return ""
	}
	// Unfold continuation lines first.
	status = strings.ReplaceAll(strings.ReplaceAll(status, "\r\n", "\n"), "\n ", " ")
	status = strings.ReplaceAll(status, "\n\t", " ")
	var code, action string
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "diagnostic-code":
			if _, d, ok := strings.Cut(v, ";"); ok {
				v = strings.TrimSpace(d)
			}
			return clip(strings.Join(strings.Fields(v), " "), 1000)
		case "status":
			code = v
		case "action":
			action = v
		}
	}
	if code == "" {
		return ""
	}
	if action != "" {
		return clip(action+" "+code, 1000)
	}
	return code
}

func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " ")
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
