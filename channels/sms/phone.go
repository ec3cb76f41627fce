package sms

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/svar-dev/svar/ticketing"
)

// Sender kinds: what an SMS address is.
const (
	KindNumber       = "number"       // a person's phone number, in E.164
	KindShortCode    = "shortcode"    // a 3–6 digit service number, kept as is
	KindAlphanumeric = "alphanumeric" // a named sender such as "Postnord", kept as is
)

// DefaultRegion is the region national numbers are read in when
// Options.DefaultRegion is empty.
const DefaultRegion = "SE"

// Number is a normalised SMS address.
type Number struct {
	// Value is the E.164 form of a phone number ("+46701234567"), or a
	// short code or alphanumeric sender exactly as received (trimmed).
	Value string
	// Kind is KindNumber, KindShortCode or KindAlphanumeric.
	Kind string
}

// Identity is the customer identity for the number. Short codes and
// alphanumeric senders keep their raw value, so they never share a key
// with a person's number.
func (n Number) Identity() ticketing.Identity {
	return ticketing.Identity{Kind: ticketing.IdentityPhone, Value: n.Value, Verified: true}
}

// NormalizeNumber reads raw as an SMS address. National numbers are read
// in region (an ISO 3166 code such as "SE"; empty means DefaultRegion), so
// "070-123 45 67", "0046701234567" and "+46 70 123 45 67" are all
// "+46701234567". Short codes (3–6 digits) and alphanumeric senders (up
// to 11 letters, digits and a few marks, with at least one letter) are
// kept as they are. Anything else is a ticketing.FieldError on "from".
func NormalizeNumber(raw, region string) (Number, error) {
	n, reason := normalizeNumber(raw, region)
	if reason != "" {
		return Number{}, ticketing.FieldError("from", "%s", reason)
	}
	return n, nil
}

// normalizeNumber returns the number or why it is not one.
func normalizeNumber(raw, region string) (Number, string) {
	if region == "" {
		region = DefaultRegion
	}
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return Number{}, "is empty"
	case len(s) > 40:
		return Number{}, "is too long for a phone number or sender name"
	}
	letters, digits, other := 0, 0, false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letters++
		case strings.ContainsRune(" +-()./", r):
		case r == '&' || r == '_' || r == '!':
			other = true
		default:
			return Number{}, "is not a phone number or sender name"
		}
	}
	if letters > 0 || other {
		// A GSM alphanumeric sender id: at most 11 characters.
		if letters == 0 || len(s) > 11 || strings.HasPrefix(s, "+") {
			return Number{}, "is not a phone number or sender name"
		}
		return Number{Value: s, Kind: KindAlphanumeric}, ""
	}
	if digits == len(s) && digits >= 3 && digits <= 6 && s[0] != '0' {
		// SMS short codes are the operators' own and missing from the
		// numbering metadata: a possible length is all that is checked.
		return Number{Value: s, Kind: KindShortCode}, ""
	}
	if digits < 5 {
		return Number{}, "is not a phone number"
	}
	pn, err := phonenumbers.Parse(s, region)
	if err != nil {
		return Number{}, "is not a phone number"
	}
	// Only numbers that libphonenumber calls valid: a possible length is
	// not enough, or "0000000000" (read as 00, the international prefix,
	// and zeros) would become a customer. A national number must be valid
	// for the region, so "41234567" does not become a Swedish number that
	// does not exist.
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, "is not a valid phone number"
	}
	return Number{Value: phonenumbers.Format(pn, phonenumbers.E164), Kind: KindNumber}, ""
}

// validRegion reports whether phonenumbers knows the region.
func validRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}
