package sms

import (
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		count int
		enc   string
	}{
		{"empty", "", 0, EncodingGSM7},
		{"short", "Hej!", 1, EncodingGSM7},
		{"swedish letters are GSM-7", "Hej Åsa, din order är skickad. Tack för ditt köp! Øl, Æble, é, ü", 1, EncodingGSM7},
		{"160 GSM characters", strings.Repeat("a", 160), 1, EncodingGSM7},
		{"161 GSM characters", strings.Repeat("a", 161), 2, EncodingGSM7},
		{"306 GSM characters", strings.Repeat("a", 306), 2, EncodingGSM7},
		{"307 GSM characters", strings.Repeat("a", 307), 3, EncodingGSM7},
		{"80 euro signs take 160 septets", strings.Repeat("€", 80), 1, EncodingGSM7},
		{"81 euro signs", strings.Repeat("€", 81), 2, EncodingGSM7},
		{"extension character is not split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 10), 2, EncodingGSM7},
		{"extension at a part boundary moves on", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 152), 3, EncodingGSM7},
		{"70 UCS-2 characters", strings.Repeat("ж", 70), 1, EncodingUCS2},
		{"71 UCS-2 characters", strings.Repeat("ж", 71), 2, EncodingUCS2},
		{"134 UCS-2 characters", strings.Repeat("ж", 134), 2, EncodingUCS2},
		{"135 UCS-2 characters", strings.Repeat("ж", 135), 3, EncodingUCS2},
		{"one emoji forces UCS-2", "Tack! 😊", 1, EncodingUCS2},
		{"35 emoji fill one segment", strings.Repeat("😊", 35), 1, EncodingUCS2},
		{"36 emoji", strings.Repeat("😊", 36), 2, EncodingUCS2},
		{"surrogate pair not split", strings.Repeat("a", 66) + "😊" + strings.Repeat("a", 10), 2, EncodingUCS2},
		{"curly quote forces UCS-2", "It’s here", 1, EncodingUCS2},
		{"newlines are GSM-7", "Rad 1\nRad 2\r\n", 1, EncodingGSM7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, enc := Segments(tt.text)
			if n != tt.count || enc != tt.enc {
				t.Fatalf("Segments = (%d, %s), want (%d, %s)", n, enc, tt.count, tt.enc)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	meta, err := CheckText(strings.Repeat("a", 200), 0)
	if err != nil {
		t.Fatal(err)
	}
	if meta["sms_segments"] != "2" || meta["sms_encoding"] != EncodingGSM7 {
		t.Fatalf("meta = %v", meta)
	}
	meta, err = CheckText(strings.Repeat("ж", 67*10), 0)
	if err != nil || meta["sms_segments"] != "10" || meta["sms_encoding"] != EncodingUCS2 {
		t.Fatalf("10 UCS-2 segments: meta %v, err %v", meta, err)
	}
	for name, tc := range map[string]struct {
		text string
		max  int
	}{
		"eleven GSM segments":   {strings.Repeat("a", 153*10+1), 0},
		"eleven UCS-2 segments": {strings.Repeat("ж", 67*10+1), 0},
		"over a custom limit":   {strings.Repeat("a", 161), 1},
		"empty":                 {"  \n", 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CheckText(tc.text, tc.max)
			var e *ticketing.Error
			if err == nil {
				t.Fatal("accepted")
			}
			if e, _ = err.(*ticketing.Error); e == nil || e.Field != "text" || e.Code != ticketing.EInvalid {
				t.Fatalf("err = %#v, want a FieldError on text", err)
			}
		})
	}
}
