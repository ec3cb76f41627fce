package chat

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
)

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		field string // "" means valid
	}{
		{"hello", `{"type":"hello"}`, ""},
		{"hello with all", `{"type":"hello","visitor_token":"abc","identity":{"external_id":"42","email":"A@B.se","name":"Anna","signature":"00"}}`, ""},
		{"unknown fields are ignored", `{"type":"typing","typing":true,"future":1}`, ""},
		{"message", `{"type":"message","text":"hej","client_id":"c1"}`, ""},
		{"message 4000 runes", `{"type":"message","text":"` + strings.Repeat("ö", 4000) + `","client_id":"c1"}`, ""},
		{"message 4001 runes", `{"type":"message","text":"` + strings.Repeat("ö", 4001) + `","client_id":"c1"}`, "text"},
		{"blank text", `{"type":"message","text":" \n ","client_id":"c1"}`, "text"},
		{"no client id", `{"type":"message","text":"hej"}`, "client_id"},
		{"long client id", `{"type":"message","text":"hej","client_id":"` + strings.Repeat("a", 101) + `"}`, "client_id"},
		{"control in client id", `{"type":"message","text":"hej","client_id":"a\nb"}`, "client_id"},
		{"bad email", `{"type":"message","text":"hej","client_id":"c","email":"a@b"}`, "email"},
		{"long token", `{"type":"hello","visitor_token":"` + strings.Repeat("a", 101) + `"}`, "visitor_token"},
		{"bad identity email", `{"type":"hello","identity":{"email":"nope"}}`, "identity.email"},
		{"long external id", `{"type":"hello","identity":{"external_id":"` + strings.Repeat("a", 201) + `"}}`, "identity.external_id"},
		{"no type", `{"text":"hej"}`, "type"},
		{"unknown type", `{"type":"welcome"}`, "type"},
		{"not json", `hello`, "-"},
		{"array", `[{"type":"hello"}]`, "-"},
		{"two objects", `{"type":"hello"}{"type":"hello"}`, "-"},
		{"wrong field type", `{"type":"message","text":5,"client_id":"c"}`, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeFrame([]byte(tc.in))
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field == "":
				if f == nil || f.Type == "" {
					t.Fatalf("frame = %+v", f)
				}
			case err == nil:
				t.Fatalf("accepted %+v", f)
			case ticketing.ErrorCode(err) != ticketing.EInvalid:
				t.Fatalf("error %v has code %s", err, ticketing.ErrorCode(err))
			case tc.field != "-" && !strings.HasPrefix(ticketing.ErrorMessage(err), tc.field+":"):
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestDecodeFrameNormalizes(t *testing.T) {
	f, err := decodeFrame([]byte(`{"type":"hello","identity":{"external_id":" 42 ","email":" Anna@Example.SE ","name":" Anna "}}`))
	if err != nil {
		t.Fatal(err)
	}
	if id := f.Identity; id.ExternalID != "42" || id.Email != "anna@example.se" || id.Name != "Anna" {
		t.Fatalf("identity = %+v", id)
	}
}

// FuzzDecodeFrame: any input is either refused with a caller-safe EInvalid
// error or yields a frame that keeps every limit the session relies on.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","visitor_token":"x","identity":{"external_id":"1","email":"a@b.se","name":"n","signature":"ab"}}`,
		`{"type":"message","text":"hej","client_id":"c1","email":"a@b.se"}`,
		`{"type":"typing","typing":true}`,
		`{"type":"message","text":"\u0000","client_id":"\u2028"}`,
		`{}`, `null`, `[]`, `"x"`, `{"type":"message","text":"a"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if err != nil {
			if ticketing.ErrorCode(err) != ticketing.EInvalid || ticketing.ErrorMessage(err) == "" {
				t.Fatalf("error %#v is not a caller-safe invalid error", err)
			}
			return
		}
		switch fr.Type {
		case frameHello:
			if len(fr.VisitorToken) > maxTokenLen {
				t.Fatal("token over the limit")
			}
			if id := fr.Identity; id != nil {
				if len(id.ExternalID) > maxExternalID || len(id.Signature) > maxSignatureLen ||
					utf8.RuneCountInString(id.Name) > maxNameRunes || (id.Email != "" && !plausibleEmail(id.Email)) {
					t.Fatalf("identity over the limits: %+v", id)
				}
			}
		case frameMessage:
			if fr.ClientID == "" || len(fr.ClientID) > maxClientID || hasControl(fr.ClientID) ||
				strings.TrimSpace(fr.Text) == "" || utf8.RuneCountInString(fr.Text) > maxTextRunes {
				t.Fatalf("message over the limits: %+v", fr)
			}
		case frameTyping:
		default:
			t.Fatalf("accepted type %q", fr.Type)
		}
	})
}
