package sms

import (
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              string
		kind              string // "" means an error is expected
	}{
		{"swedish mobile national", "070-123 45 67", "SE", "+46701234567", KindNumber},
		{"swedish mobile 00 prefix", "0046701234567", "SE", "+46701234567", KindNumber},
		{"swedish mobile international spaced", "+46 70 123 45 67", "SE", "+46701234567", KindNumber},
		{"swedish mobile E.164", "+46701234567", "SE", "+46701234567", KindNumber},
		{"swedish mobile no separators", "0701234567", "SE", "+46701234567", KindNumber},
		{"swedish mobile with parens", "(070) 123 45 67", "SE", "+46701234567", KindNumber},
		{"empty region means SE", "070-123 45 67", "", "+46701234567", KindNumber},
		{"stockholm landline", "08-123 456 78", "SE", "+46812345678", KindNumber},
		{"surrounding spaces", "  +46701234567 \n", "SE", "+46701234567", KindNumber},
		{"norwegian international", "+47 412 34 567", "SE", "+4741234567", KindNumber},
		{"norwegian 00 prefix", "0047 41234567", "SE", "+4741234567", KindNumber},
		{"norwegian national in NO", "412 34 567", "NO", "+4741234567", KindNumber},
		{"danish international", "+45 20 12 34 56", "SE", "+4520123456", KindNumber},
		{"danish national in DK", "20 12 34 56", "DK", "+4520123456", KindNumber},
		{"finnish international", "+358 40 123 4567", "SE", "+358401234567", KindNumber},
		{"finnish 00 prefix", "00358401234567", "SE", "+358401234567", KindNumber},
		{"finnish national in FI", "040 123 4567", "FI", "+358401234567", KindNumber},
		{"us number", "+1 415 555 2671", "SE", "+14155552671", KindNumber},
		{"swedish short code", "72550", "SE", "72550", KindShortCode},
		{"four digit short code", "1272", "SE", "1272", KindShortCode},
		{"alphanumeric sender", "PostNord", "SE", "PostNord", KindAlphanumeric},
		{"alphanumeric with digits", "Shop24", "SE", "Shop24", KindAlphanumeric},
		{"alphanumeric with space", "My Shop", "SE", "My Shop", KindAlphanumeric},
		{"empty", "", "SE", "", ""},
		{"only spaces", "   ", "SE", "", ""},
		{"too short", "+46 12", "SE", "", ""},
		{"too long", "123456789012345", "SE", "", ""},
		{"norwegian national read as swedish", "41234567", "SE", "", ""},
		{"sender name too long", "ThisIsTooLongAName", "SE", "", ""},
		{"plus with letters", "+46abc", "SE", "", ""},
		{"html", "<script>", "SE", "", ""},
		{"control characters", "+4670\x00123", "SE", "", ""},
		{"emoji", "📱", "SE", "", ""},
		{"email address", "anna@example.se", "SE", "", ""},
		{"two digits", "12", "SE", "", ""},
		{"zeros read as the international prefix", "0000000000", "SE", "", ""},
		{"zeros in E.164", "+46000000000", "SE", "", ""},
		{"zeros after 00 and a country code", "0046000000000", "SE", "", ""},
		{"possible but not valid", "+46 10 000 00 00", "SE", "", ""},
		{"ones", "1111111111", "SE", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeNumber(tt.raw, tt.region)
			if tt.kind == "" {
				if err == nil {
					t.Fatalf("NormalizeNumber(%q) = %+v, want an error", tt.raw, got)
				}
				if e, ok := err.(*ticketing.Error); !ok || e.Field != "from" || e.Code != ticketing.EInvalid {
					t.Fatalf("NormalizeNumber(%q) error = %#v, want a FieldError on from", tt.raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeNumber(%q): %v", tt.raw, err)
			}
			if got.Value != tt.want || got.Kind != tt.kind {
				t.Fatalf("NormalizeNumber(%q) = %+v, want {%s %s}", tt.raw, got, tt.want, tt.kind)
			}
		})
	}
}

func TestNumberIdentityKeepsSendersApart(t *testing.T) {
	person, err := NormalizeNumber("+46 72 550 00 00", "SE")
	if err != nil {
		t.Fatal(err)
	}
	code, err := NormalizeNumber("72550", "SE")
	if err != nil {
		t.Fatal(err)
	}
	if person.Identity().Key() == code.Identity().Key() {
		t.Fatalf("short code and person share the key %s", code.Identity().Key())
	}
	if got := code.Identity(); got.Kind != ticketing.IdentityPhone || got.Value != "72550" {
		t.Fatalf("short code identity = %+v", got)
	}
}
