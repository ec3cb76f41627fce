package order

import (
	"slices"
	"testing"
)

func TestMentions(t *testing.T) {
	for text, want := range map[string][]string{
		"Hej! Var är min beställning 1042?":        {"1042"},
		"ordernummer: 1042":                        {"1042"},
		"Where is my order #1042 and order 1043":   {"1042", "1043"},
		"My order number is 1042.":                 {"1042"},
		"#1042":                                    {"1042"},
		"Beställningsnummer 55-A9 kom aldrig":      {"55-A9"},
		"Order SE-2001 is late":                    {"SE-2001"},
		"I ordered 3 items, bought 2 in 2024":      nil,
		"recorder 1042":                            nil,
		"call me at 0701234567":                    nil,
		"ORDER NR. 7":                              {"7"},
		"beställningen 1042, och beställning 1042": {"1042"},
	} {
		if got := Mentions(text); !slices.Equal(got, want) {
			t.Errorf("Mentions(%q) = %q, want %q", text, got, want)
		}
	}
}
