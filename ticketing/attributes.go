package ticketing

import (
	"fmt"
	"strings"
	"time"
)

// Attributes are what the shop says about a customer: each value a JSON
// string, number or boolean. A string that is a date (2026-12-03) or a
// time (RFC 3339) is a date, kept as RFC 3339 in UTC so that it sorts and
// compares. Documents written when attributes were only strings decode
// unchanged.
type Attributes map[string]any

// Attribute limits.
const (
	MaxAttributes     = 50
	MaxAttributeKey   = 50
	MaxAttributeValue = 500
)

// NormalizeAttributes checks a, naming the attribute at fault, and
// returns it with dates in RFC 3339 UTC and integers kept exact.
func NormalizeAttributes(a Attributes) (Attributes, error) {
	if len(a) > MaxAttributes {
		return nil, FieldError("attributes", "at most %d attributes", MaxAttributes)
	}
	if a == nil {
		return nil, nil
	}
	out := make(Attributes, len(a))
	for k, v := range a {
		field := "attributes." + k
		if k == "" || len(k) > MaxAttributeKey || strings.ContainsAny(k, ".$\x00") {
			return nil, FieldError("attributes", "keys are 1 to %d characters without '.' or '$'", MaxAttributeKey)
		}
		switch x := v.(type) {
		case string:
			if len(x) > MaxAttributeValue {
				return nil, FieldError(field, "must be at most %d characters", MaxAttributeValue)
			}
			out[k] = normalizeDate(x)
		case float64, bool:
			out[k] = x
		case int, int32, int64:
			out[k] = x
		default:
			return nil, FieldError(field, "must be a string, number, boolean or date, not %s", jsonKind(v))
		}
	}
	return out, nil
}

func normalizeDate(s string) string {
	if len(s) < 10 || len(s) > 40 || s[4] != '-' {
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339Nano)
	}
	if len(s) == 10 {
		if _, err := time.Parse(time.DateOnly, s); err == nil {
			return s
		}
	}
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// String returns the attribute as text: a string as it is, a number or
// boolean formatted, "" when absent.
func (a Attributes) String(k string) string {
	switch v := a[k].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// TierName is the customer's tier: Tier, else an older "tier" attribute.
func (c *Customer) TierName() string {
	if c.Tier != "" {
		return c.Tier
	}
	return c.Attributes.String("tier")
}
