package web

import "testing"

func TestMergeStringsInBothLanguages(t *testing.T) {
	en, sv := mergeStrings(langEnglish), mergeStrings(langSwedish)
	for k := range en {
		if sv[k] == "" || sv[k] == en[k] {
			t.Errorf("%s has no Swedish text", k)
		}
	}
	for k := range sv {
		if en[k] == "" {
			t.Errorf("%s has no English text", k)
		}
	}
	if catalogFor(langSwedish).get("merge_into") != "Slå ihop med…" || catalogFor(langEnglish).get("split") != "Split…" {
		t.Error("the console lacks the merge strings")
	}
}
