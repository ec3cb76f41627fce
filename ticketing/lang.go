package ticketing

import "strings"

// Languages the shop writes to customers in. Macros and email signatures
// may have a text per language; English is the fallback.
const (
	LangEnglish = "en"
	LangSwedish = "sv"
)

// CustomerLanguage is the language to write to c in: the shop-pushed
// attribute "language" (or "lang", "locale"), when it names Swedish or
// English, else English. "sv-SE", "sv_SE", "swedish" and "svenska" count as
// Swedish.
func CustomerLanguage(c *Customer) string {
	if c == nil {
		return LangEnglish
	}
	for _, k := range []string{"language", "lang", "locale"} {
		v := strings.ToLower(strings.TrimSpace(c.Attributes.String(k)))
		switch {
		case v == "":
			continue
		case strings.HasPrefix(v, "sv") || v == "swedish" || v == "svenska":
			return LangSwedish
		case strings.HasPrefix(v, "en") || v == "english":
			return LangEnglish
		}
	}
	return LangEnglish
}

// LatestOrder is the customer's newest order (by created_at, else the last
// pushed), or nil when they have none.
func (c *Customer) LatestOrder() *Order {
	if c == nil || len(c.Orders) == 0 {
		return nil
	}
	best := len(c.Orders) - 1
	for i, o := range c.Orders {
		if o.CreatedAt.After(c.Orders[best].CreatedAt) {
			best = i
		}
	}
	o := c.Orders[best]
	return &o
}
