package web

import "testing"

func TestCustomerStringsInBothLanguages(t *testing.T) {
	en, sv := customerStrings(langEnglish), customerStrings(langSwedish)
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
	if catalogFor(langSwedish).get("edit_customer") != "Redigera kund" || catalogFor(langEnglish).get("webhooks") != "Webhooks" {
		t.Error("the console lacks the customer and webhook strings")
	}
}
