package web

import "testing"

func TestTeamsStringsInBothLanguages(t *testing.T) {
	en, sv := teamsStrings(langEnglish), teamsStrings(langSwedish)
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
	if catalogFor(langSwedish).get("create_team") != "Skapa team" {
		t.Error("the Swedish console lacks the team strings")
	}
}
