package email

import (
	"strings"

	"github.com/emersion/go-message/mail"
	"golang.org/x/net/publicsuffix"
)

// Meta keys of the sender check.
const (
	// MetaSenderAuth summarises the trusted results about the sender's
	// domain, such as "dmarc=fail spf=fail dkim=none".
	MetaSenderAuth = "sender_auth"
	// MetaSenderVia is "reply-to" when the sender was taken from Reply-To.
	MetaSenderVia = "sender_via"
)

// senderCheck is what the shop's own receiving server found about a
// mail's sender.
type senderCheck struct {
	// Verified is nil when nothing trusted speaks about the sender's
	// domain, false when it failed, true when DMARC, or an aligned SPF or
	// DKIM, passed.
	Verified *bool
	Summary  string
}

// checkSender reads the Authentication-Results fields that the shop's own
// receiving host added (authserv-id one of servIDs; a sender can write any
// header, but not the one its receiving server adds on top) and decides
// whether the From domain stands:
//
//   - unverified when DMARC failed for the From domain, or when SPF failed
//     (fail, softfail) for it and no DKIM signature of it passed and DMARC
//     did not pass;
//   - verified when DMARC passed, or SPF or DKIM passed for it, and nothing
//     failed as above;
//   - unknown otherwise (no trusted field, nothing about that domain).
//
// Every trusted field counts and a failure wins: a forged field with the
// shop's authserv-id that a receiving server failed to remove can make a
// mail look less trusted, never more.
func checkSender(h mail.Header, from string, servIDs []string) senderCheck {
	if len(servIDs) == 0 || from == "" {
		return senderCheck{}
	}
	at := strings.LastIndexByte(from, '@')
	if at < 0 || at == len(from)-1 {
		return senderCheck{}
	}
	domain := strings.ToLower(from[at+1:])
	var dmarcPass, dmarcFail, spfPass, spfFail, dkimPass bool
	var seen []string
	note := func(r authResult) {
		s := r.Method + "=" + r.Result
		for _, have := range seen {
			if have == s {
				return
			}
		}
		if len(seen) < 8 {
			seen = append(seen, s)
		}
	}
	fields := h.FieldsByKey("Authentication-Results")
	for n := 0; fields.Next() && n < 100; n++ {
		ar, _ := parseAuthResults(fields.Value()) // the results before a syntax error still count
		if ar == nil || !trustedServID(ar.ServID, servIDs) {
			continue
		}
		for _, r := range ar.Results {
			switch r.Method {
			case "dmarc":
				if d := r.Props["header.from"]; d != "" && !strings.EqualFold(d, domain) {
					continue
				}
				note(r)
				switch r.Result {
				case "pass":
					dmarcPass = true
				case "fail":
					dmarcFail = true
				}
			case "spf":
				d := domainOf(r.Props["smtp.mailfrom"])
				if d == "" {
					d = domainOf(r.Props["smtp.helo"])
				}
				if !aligned(d, domain) {
					continue
				}
				note(r)
				switch r.Result {
				case "pass":
					spfPass = true
				case "fail", "softfail":
					spfFail = true
				}
			case "dkim":
				d := r.Props["header.d"]
				if d == "" {
					d = domainOf(r.Props["header.i"])
				}
				if d != "" && !aligned(d, domain) {
					continue
				}
				note(r)
				if r.Result == "pass" && d != "" {
					dkimPass = true
				}
			}
		}
	}
	if len(seen) == 0 {
		return senderCheck{}
	}
	sc := senderCheck{Summary: strings.Join(seen, " ")}
	switch {
	case dmarcFail, spfFail && !dkimPass && !dmarcPass:
		sc.Verified = new(bool)
	case dmarcPass, spfPass, dkimPass:
		v := true
		sc.Verified = &v
	}
	return sc
}

// trustedServID reports whether id is one of the configured authserv-ids.
func trustedServID(id string, servIDs []string) bool {
	for _, s := range servIDs {
		if strings.EqualFold(id, s) {
			return true
		}
	}
	return false
}

// domainOf returns the domain of an address or a bare domain, lower-cased.
func domainOf(v string) string {
	v = strings.ToLower(strings.Trim(strings.TrimSpace(v), "<>"))
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		v = v[at+1:]
	}
	return strings.TrimSuffix(v, ".")
}

// aligned reports whether two domains share an organisational domain
// (DMARC's relaxed alignment: mail.shop.se and shop.se do; shop.co.uk and
// other.co.uk do not).
func aligned(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && oa == ob
}
