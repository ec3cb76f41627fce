package sms

import (
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

// fuzzCheck posts body, correctly authenticated, and checks that the
// answer is a decision (never a 5xx or a panic) and that whatever was
// published is a valid envelope.
func fuzzCheck(t *testing.T, u *unit, r *http.Request) {
	before := len(u.pub.Envelopes())
	w := u.post(r)
	switch w.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	envs := u.pub.Envelopes()
	if w.Code != http.StatusOK && len(envs) != before {
		t.Fatalf("status %d but published", w.Code)
	}
	for _, e := range envs[before:] {
		if err := ticketing.NewValidator().Validate(e); err != nil {
			t.Fatalf("published an invalid envelope %+v: %v", e, err)
		}
		if e.From.Kind != ticketing.IdentityPhone || e.From.Value == "" {
			t.Fatalf("from %+v", e.From)
		}
	}
}

func FuzzTwilioForm(f *testing.F) {
	f.Add(twilioInboundForm("SM0123456789abcdef", "+46701234567", "Hej! Var är mitt paket?").Encode())
	f.Add(twilioInboundForm("SM1", "070-123 45 67", "STOP").Encode())
	f.Add("MessageSid=MM1&From=%2B46701234567&Body=&NumMedia=2&MediaUrl0=https%3A%2F%2Fevil.example%2Fx&MediaUrl1=")
	f.Add("MessageSid=SM1&From=PostNord&Body=%FF%FE&NumMedia=-1")
	f.Add("MessageSid=&From=&Body=x")
	f.Add("%zz&&==;")
	u := newUnit(f, ProviderTwilio)
	u.ch.log = slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err == nil {
			// Exercise the parser on its own as well.
			if in, err := parseTwilioForm(form); err == nil && (in.ID == "" || in.From == "" || len(in.Media) > twilioMaxMedia) {
				t.Fatalf("parsed %+v", in)
			}
		}
		// Sign what Svar will parse, and send the body as fuzzed.
		fuzzCheck(t, u, rawBody(signedTwilio(testPublicURL+PathTwilioSMS, testToken, form), body))
	})
}

func FuzzElksForm(f *testing.F) {
	f.Add(elksInboundForm("s70df59406a1b4643b96f3f91e0bfb7b0", "+46701234567", "Hej! Var är mitt paket?").Encode())
	f.Add(elksInboundForm("s1", "0701234567", "stopp").Encode())
	f.Add("id=s1&from=%2B4670&message=x&created=not-a-time")
	f.Add("id=..%2F..&from=%2B46701234567&message=x")
	f.Add("id=s1&from=72550&message=%00%01")
	f.Add("%zz&&==;")
	u := newUnit(f, ProviderElks)
	u.ch.log = slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body string) {
		if form, err := url.ParseQuery(body); err == nil {
			if in, err := parseElksForm(form); err == nil && (!elksIDPattern.MatchString(in.ID) || in.From == "") {
				t.Fatalf("parsed %+v", in)
			}
			if rep, err := parseElksStatus("m1", form); err == nil && rep != nil && rep.Status == "" {
				t.Fatalf("status %+v", rep)
			}
		}
		r := rawBody(formRequest(PathElksSMS, nil), body)
		r.SetBasicAuth("46elks", testElksSecret)
		fuzzCheck(t, u, r)
	})
}
