package web

import "testing"

func TestSLAStringsInBothLanguages(t *testing.T) {
	en, sv := slaStrings(langEnglish), slaStrings(langSwedish)
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
	if catalogFor(langSwedish).get("service_levels") != "Servicenivåer" {
		t.Error("the Swedish console lacks the service-level strings")
	}
}
