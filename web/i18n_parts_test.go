package web

import "testing"

type probe struct{ lang, key, want string }

// TestCatalogPartsInBothLanguages: every part of the console's catalog
// (TestCatalogsAreComplete checks the whole for keys) has a text in both
// languages for each of its keys, and is in the catalog the console gets.
func TestCatalogPartsInBothLanguages(t *testing.T) {
	for _, p := range []struct {
		name  string
		part  func(string) catalog
		probe []probe // texts the console must have
		// translated: the Swedish texts also differ from the English ones.
		translated bool
	}{
		{"customer", customerStrings, []probe{{langSwedish, "edit_customer", "Redigera kund"}, {langEnglish, "webhooks", "Webhooks"}}, false},
		{"merge", mergeStrings, []probe{{langSwedish, "merge_into", "Slå ihop med…"}, {langEnglish, "split", "Split…"}}, true},
		{"reports", reportStrings, []probe{{langSwedish, "backlog_title", "Kö efter ålder"}}, false},
		{"sla", slaStrings, []probe{{langSwedish, "service_levels", "Servicenivåer"}}, false},
		{"teams", teamsStrings, []probe{{langSwedish, "create_team", "Skapa team"}}, false},
	} {
		t.Run(p.name, func(t *testing.T) {
			en, sv := p.part(langEnglish), p.part(langSwedish)
			for k := range en {
				if sv[k] == "" || (p.translated && sv[k] == en[k]) {
					t.Errorf("%s has no Swedish text", k)
				}
			}
			for k := range sv {
				if en[k] == "" {
					t.Errorf("%s has no English text", k)
				}
			}
			for _, pr := range p.probe {
				if got := catalogFor(pr.lang).get(pr.key); got != pr.want {
					t.Errorf("the %s console has %q for %s, want %q", pr.lang, got, pr.key, pr.want)
				}
			}
		})
	}
}
