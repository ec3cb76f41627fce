package csat

import (
	"fmt"
	"html"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// texts are a survey's words in one language.
type texts struct {
	subject, ask, chat, sms string
	scores                  [5]string
}

var catalog = map[string]texts{
	"en": {
		subject: "How did we do?",
		ask:     "Your case is solved. How satisfied are you with the help you got? One click is enough:",
		chat:    "How satisfied are you with the help you got? Rate us from 1 to 5:",
		sms:     "How satisfied are you with our help? Reply with one digit from 1 (bad) to 5 (very good).",
		scores:  [5]string{"1 – Very dissatisfied", "2 – Dissatisfied", "3 – Neutral", "4 – Satisfied", "5 – Very satisfied"},
	},
	"sv": {
		subject: "Hur gick det?",
		ask:     "Ditt ärende är löst. Hur nöjd är du med hjälpen du fick? Ett klick räcker:",
		chat:    "Hur nöjd är du med hjälpen du fick? Ge oss betyg från 1 till 5:",
		sms:     "Hur nöjd är du med vår hjälp? Svara med en siffra från 1 (dåligt) till 5 (mycket bra).",
		scores:  [5]string{"1 – Mycket missnöjd", "2 – Missnöjd", "3 – Varken eller", "4 – Nöjd", "5 – Mycket nöjd"},
	},
}

// language picks the customer's language: an attribute the shop pushed
// ("language" or "locale"), else Swedish for a Swedish number or a .se
// address, else English.
func language(c *ticketing.Customer) string {
	for _, k := range []string{"language", "locale", "lang"} {
		if v := strings.ToLower(c.Attributes.String(k)); v != "" {
			if strings.HasPrefix(v, "sv") {
				return "sv"
			}
			return "en"
		}
	}
	for _, id := range c.Identities {
		if (id.Kind == ticketing.IdentityPhone && strings.HasPrefix(id.Value, "+46")) ||
			(id.Kind == ticketing.IdentityEmail && strings.HasSuffix(id.Value, ".se")) {
			return "sv"
		}
	}
	return "en"
}

// mailBody is the survey mail: plain links that work in every client, and
// simple HTML with the same five links.
func (s *Service) mailBody(token, lang string) (text, htm string) {
	t := catalog[lang]
	var tb, hb strings.Builder
	tb.WriteString(t.ask + "\n\n")
	hb.WriteString("<!DOCTYPE html>\n<html><body>\n<p>" + html.EscapeString(t.ask) + "</p>\n<ul>\n")
	for i := 1; i <= 5; i++ {
		u := fmt.Sprintf("%s/csat/%s?score=%d", s.o.PublicURL, token, i)
		fmt.Fprintf(&tb, "%s\n%s\n\n", t.scores[i-1], u)
		fmt.Fprintf(&hb, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(u), html.EscapeString(t.scores[i-1]))
	}
	hb.WriteString("</ul>\n</body></html>\n")
	return strings.TrimSpace(tb.String()), hb.String()
}
