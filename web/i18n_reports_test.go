package web

import "testing"

func TestReportStringsInBothLanguages(t *testing.T) {
	en, sv := reportStrings(langEnglish), reportStrings(langSwedish)
	for k := range en {
		if sv[k] == "" {
			t.Errorf("%s has no Swedish text", k)
		}
	}
	for k := range sv {
		if en[k] == "" {
			t.Errorf("%s has no English text", k)
		}
	}
	if catalogFor(langSwedish).get("backlog_title") != "Kö efter ålder" {
		t.Error("the Swedish console lacks the backlog strings")
	}
}
