package sms

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// kit builds one provider's webhook requests the way the provider does.
type kit struct {
	provider string
	// inbound is a correctly authenticated inbound SMS.
	inbound func(id, from, text string) *http.Request
	// forged are inbound requests that must be refused with refusedWith.
	forged      map[string]func(id, from, text string) *http.Request
	refusedWith int
	// status is a correctly authenticated delivery report for the message
	// whose callback URL Svar gave the provider.
	status func(statusURL, providerID, status string) *http.Request
	// forgedStatus is a report whose authentication is wrong.
	forgedStatus func(statusURL, providerID, status string) *http.Request
	// sentTo, sentText and statusURL read an accepted send's form.
	sentTo, sentFrom, sentText, sentStatusURL string
}

func formRequest(target string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func twilioInboundForm(id, from, text string) url.Values {
	return url.Values{
		"ToCountry": {"SE"}, "SmsMessageSid": {id}, "NumMedia": {"0"}, "SmsSid": {id}, "SmsStatus": {"received"},
		"Body": {text}, "To": {testFrom}, "NumSegments": {"1"}, "MessageSid": {id}, "AccountSid": {testSID},
		"From": {from}, "ApiVersion": {"2010-04-01"}, "FromCountry": {"SE"},
	}
}

// signedTwilio signs form for fullURL and returns a
// request for the path and query the server sees.
func signedTwilio(fullURL, token string, form url.Values) *http.Request {
	u, err := url.Parse(fullURL)
	if err != nil {
		panic(err)
	}
	r := formRequest(u.RequestURI(), form)
	r.Header.Set("X-Twilio-Signature", twilioSignature(token, fullURL, form))
	return r
}

// pathOf returns the path and query of a URL Svar gave a provider, after
// checking that it is on the public URL.
func pathOf(t testing.TB, publicURL, fullURL string) string {
	t.Helper()
	if !strings.HasPrefix(fullURL, publicURL+"/") {
		t.Fatalf("callback URL %q is not on %s", fullURL, publicURL)
	}
	u, err := url.Parse(fullURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func twilioKit(t testing.TB, publicURL string) *kit {
	return &kit{
		provider: ProviderTwilio,
		inbound: func(id, from, text string) *http.Request {
			return signedTwilio(publicURL+PathTwilioSMS, testToken, twilioInboundForm(id, from, text))
		},
		forged: map[string]func(id, from, text string) *http.Request{
			"no signature": func(id, from, text string) *http.Request {
				return formRequest(PathTwilioSMS, twilioInboundForm(id, from, text))
			},
			"wrong token": func(id, from, text string) *http.Request {
				return signedTwilio(publicURL+PathTwilioSMS, "not-the-token", twilioInboundForm(id, from, text))
			},
			"signed for another URL": func(id, from, text string) *http.Request {
				r := signedTwilio("http://internal:8080"+PathTwilioSMS, testToken, twilioInboundForm(id, from, text))
				return r
			},
			"body changed after signing": func(id, from, text string) *http.Request {
				form := twilioInboundForm(id, from, text)
				sig := twilioSignature(testToken, publicURL+PathTwilioSMS, form)
				form.Set("Body", text+" (changed)")
				r := formRequest(PathTwilioSMS, form)
				r.Header.Set("X-Twilio-Signature", sig)
				return r
			},
			"garbage signature": func(id, from, text string) *http.Request {
				r := formRequest(PathTwilioSMS, twilioInboundForm(id, from, text))
				r.Header.Set("X-Twilio-Signature", "!!!")
				return r
			},
		},
		refusedWith: http.StatusForbidden,
		status: func(statusURL, providerID, status string) *http.Request {
			form := url.Values{"MessageSid": {providerID}, "MessageStatus": {status}, "AccountSid": {testSID},
				"To": {testCustomerNum}, "From": {testFrom}, "ApiVersion": {"2010-04-01"}}
			if status == "undelivered" {
				form.Set("ErrorCode", "30003")
				form.Set("ErrorMessage", "Unreachable destination handset")
			}
			return signedTwilio(statusURL, testToken, form)
		},
		forgedStatus: func(statusURL, providerID, status string) *http.Request {
			form := url.Values{"MessageSid": {providerID}, "MessageStatus": {status}}
			u, _ := url.Parse(statusURL)
			// Signed for the path without the message id: another message's
			// report can't be replayed onto this one.
			r := formRequest(u.RequestURI(), form)
			r.Header.Set("X-Twilio-Signature", twilioSignature(testToken, publicURL+PathTwilioStatus, form))
			return r
		},
		sentTo: "To", sentFrom: "From", sentText: "Body", sentStatusURL: "StatusCallback",
	}
}

func elksInboundForm(id, from, text string) url.Values {
	return url.Values{"id": {id}, "from": {from}, "to": {testFrom}, "message": {text},
		"created": {"2025-03-04 09:58:12.123456"}, "direction": {"incoming"}}
}

func elksRequest(target, user, pass string, form url.Values) *http.Request {
	r := formRequest(target, form)
	if user != "" || pass != "" {
		r.SetBasicAuth(user, pass)
	}
	return r
}

func elksKit(t testing.TB, publicURL string) *kit {
	return &kit{
		provider: ProviderElks,
		inbound: func(id, from, text string) *http.Request {
			return elksRequest(PathElksSMS, "46elks", testElksSecret, elksInboundForm(id, from, text))
		},
		forged: map[string]func(id, from, text string) *http.Request{
			"no basic auth": func(id, from, text string) *http.Request {
				return elksRequest(PathElksSMS, "", "", elksInboundForm(id, from, text))
			},
			"wrong secret": func(id, from, text string) *http.Request {
				return elksRequest(PathElksSMS, "46elks", "guess", elksInboundForm(id, from, text))
			},
			"API password instead of secret": func(id, from, text string) *http.Request {
				return elksRequest(PathElksSMS, testElksUser, testElksPass, elksInboundForm(id, from, text))
			},
			"secret as user name": func(id, from, text string) *http.Request {
				return elksRequest(PathElksSMS, testElksSecret, "", elksInboundForm(id, from, text))
			},
		},
		refusedWith: http.StatusUnauthorized,
		status: func(statusURL, providerID, status string) *http.Request {
			return formRequest(pathOf(t, publicURL, statusURL), url.Values{"id": {providerID}, "status": {status},
				"delivered": {"2025-03-04 10:00:05.000000"}})
		},
		forgedStatus: func(statusURL, providerID, status string) *http.Request {
			u, _ := url.Parse(statusURL)
			q := u.Query()
			q.Set("t", strings.Repeat("0", len(q.Get("t"))))
			return formRequest(u.Path+"?"+q.Encode(), url.Values{"id": {providerID}, "status": {status}})
		},
		sentTo: "to", sentFrom: "from", sentText: "message", sentStatusURL: "whendelivered",
	}
}

// forEachProvider runs fn for Twilio and 46elks.
func forEachProvider(t *testing.T, fn func(t *testing.T, k *kit)) {
	for _, mk := range []func(testing.TB, string) *kit{twilioKit, elksKit} {
		k := mk(t, testPublicURL)
		t.Run(k.provider, func(t *testing.T) { fn(t, k) })
	}
}

func TestTwilioSignatureKnownAnswer(t *testing.T) {
	// The example in Twilio's webhook security documentation.
	form := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"1234"},
		"From": {"+14158675310"}, "To": {"+18005551212"}}
	got := twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form)
	if want := "GvWf1cFY/Q7PnoempGyD5oXAezc="; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestInboundPublishesEnvelope(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		w := u.post(k.inbound("SMa1b2c3", "070-123 45 67", "Var är mitt paket?"))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		switch k.provider {
		case ProviderTwilio:
			if body := w.Body.String(); body != "<Response/>" {
				t.Fatalf("Twilio answer %q, want <Response/>", body)
			}
		case ProviderElks:
			if w.Body.Len() != 0 {
				t.Fatalf("46elks answer %q: it would be texted to the customer", w.Body)
			}
		}
		envs := u.pub.Envelopes()
		if len(envs) != 1 {
			t.Fatalf("published %d envelopes, want 1", len(envs))
		}
		e := envs[0]
		if e.Channel != ticketing.ChannelSMS || e.ExternalID != "SMa1b2c3" || e.Text != "Var är mitt paket?" || e.To != testFrom {
			t.Fatalf("envelope %+v", e)
		}
		if e.From.Kind != ticketing.IdentityPhone || e.From.Value != testCustomerNum {
			t.Fatalf("from %+v, want phone %s", e.From, testCustomerNum)
		}
		if e.Meta["sms_from_raw"] != "070-123 45 67" || e.Meta["sms_provider"] != k.provider {
			t.Fatalf("meta %v", e.Meta)
		}
		wantAt := u.now
		if k.provider == ProviderElks {
			wantAt = time.Date(2025, 3, 4, 9, 58, 12, 123456000, time.UTC)
		}
		if !e.ReceivedAt.Equal(wantAt) {
			t.Fatalf("received at %v, want %v", e.ReceivedAt, wantAt)
		}
		if err := ticketing.NewValidator().Validate(e); err != nil {
			t.Fatalf("envelope does not validate: %v", err)
		}
	})
}

func TestInboundRefusesForgeries(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		for name, forge := range k.forged {
			t.Run(name, func(t *testing.T) {
				u := newUnit(t, k.provider)
				const secretText = "mitt kortnummer är XYZZY-4711"
				w := u.post(forge("SMforged1", testCustomerNum, secretText))
				if w.Code != k.refusedWith {
					t.Fatalf("status %d, want %d", w.Code, k.refusedWith)
				}
				if k.refusedWith == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
				if n := len(u.pub.Envelopes()); n != 0 || u.pub.calls != 0 {
					t.Fatalf("published %d envelopes", n)
				}
				logs := u.logs.String()
				if !strings.Contains(logs, "webhook refused") {
					t.Fatalf("refusal not logged: %s", logs)
				}
				if strings.Contains(logs, "XYZZY") || strings.Contains(logs, "kortnummer") {
					t.Fatalf("the body was logged: %s", logs)
				}
			})
		}
	})
}

func TestInboundReplayHasOneDedupeID(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		for range 2 {
			if w := u.post(k.inbound("SMreplay", testCustomerNum, "Hej")); w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
		}
		if u.pub.calls != 2 || len(u.pub.Envelopes()) != 1 {
			t.Fatalf("%d publishes, %d distinct envelopes; want 2 and 1", u.pub.calls, len(u.pub.Envelopes()))
		}
	})
}

func TestInboundPublishFailureIs503(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		u.pub.fail = ticketing.Errorf(ticketing.EUnavailable, "nats down")
		if w := u.post(k.inbound("SMx", testCustomerNum, "Hej")); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 so the provider retries", w.Code)
		}
	})
}

func TestInboundBadSender(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		w := u.post(k.inbound("SMgarbage", "not a <number>", "Hej"))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "from") {
			t.Fatalf("status %d %s, want 400 naming from", w.Code, w.Body)
		}
		if len(u.pub.Envelopes()) != 0 {
			t.Fatal("published")
		}
		// A named sender is kept as it is.
		if w := u.post(k.inbound("SMnamed", "PostNord", "Ditt paket har kommit")); w.Code != http.StatusOK {
			t.Fatalf("alphanumeric sender: status %d", w.Code)
		}
		if e := u.pub.Envelopes(); len(e) != 1 || e[0].From.Value != "PostNord" || e[0].Meta["sms_sender_kind"] != KindAlphanumeric {
			t.Fatalf("envelopes %+v", e)
		}
	})
}

func TestInboundEmptyMessageIsAcknowledged(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		if w := u.post(k.inbound("SMempty", testCustomerNum, "  ")); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		if len(u.pub.Envelopes()) != 0 {
			t.Fatal("an empty SMS was published")
		}
	})
}

func TestRoutes(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	// The other provider's webhook is registered but not configured.
	w := u.post(elksRequest(PathElksSMS, "x", testElksSecret, elksInboundForm("s1", testCustomerNum, "Hej")))
	if w.Code != http.StatusNotFound {
		t.Fatalf("46elks webhook on a Twilio setup: %d", w.Code)
	}
	// GET is not a webhook.
	if w := u.post(httptest.NewRequest(http.MethodGet, PathTwilioSMS, nil)); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", w.Code)
	}
	// Bodies are capped.
	form := twilioInboundForm("SMbig", testCustomerNum, strings.Repeat("a", maxWebhookBody))
	if w := u.post(signedTwilio(testPublicURL+PathTwilioSMS, testToken, form)); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", w.Code)
	}
	if len(u.pub.Envelopes()) != 0 {
		t.Fatal("published")
	}
}

func TestNewNamesTheSetting(t *testing.T) {
	base := func() Options {
		return Options{Provider: ProviderTwilio, From: testFrom, PublicURL: testPublicURL,
			Twilio:    TwilioOptions{AccountSID: testSID, AuthToken: testToken},
			Elks:      ElksOptions{Username: "u", Password: "p", WebhookSecret: "s"},
			Publisher: &recordingPublisher{}, Outbound: noOutbound{}, Store: newMemStore(), Service: newMemService(newMemStore()),
			Logger: testLogger(t, nil)}
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"unknown provider", func(o *Options) { o.Provider = "sinch" }, "SVAR_SMS_PROVIDER"},
		{"no from", func(o *Options) { o.From = "" }, "SVAR_SMS_FROM"},
		{"bad from", func(o *Options) { o.From = "not/a number!" }, "SVAR_SMS_FROM"},
		{"no public URL", func(o *Options) { o.PublicURL = "" }, "SVAR_PUBLIC_URL"},
		{"relative public URL", func(o *Options) { o.PublicURL = "support.example.se" }, "SVAR_PUBLIC_URL"},
		{"no twilio sid", func(o *Options) { o.Twilio.AccountSID = "" }, "SVAR_TWILIO_ACCOUNT_SID"},
		{"no twilio token", func(o *Options) { o.Twilio.AuthToken = "" }, "SVAR_TWILIO_AUTH_TOKEN"},
		{"bad twilio base", func(o *Options) { o.Twilio.APIBase = "ftp://x" }, "SVAR_TWILIO_API_BASE"},
		{"no elks password", func(o *Options) { o.Provider = ProviderElks; o.Elks.Password = "" }, "SVAR_ELKS_PASSWORD"},
		{"no elks secret", func(o *Options) { o.Provider = ProviderElks; o.Elks.WebhookSecret = "" }, "SVAR_ELKS_WEBHOOK_SECRET"},
		{"bad elks base", func(o *Options) { o.Provider = ProviderElks; o.Elks.APIBase = "not a url" }, "SVAR_ELKS_API_BASE"},
		{"bad region", func(o *Options) { o.DefaultRegion = "XX" }, "region"},
		{"no publisher", func(o *Options) { o.Publisher = nil }, "Publisher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.change(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
	o := base()
	o.From = "070-123 45 67"
	o.PublicURL = testPublicURL + "/"
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.from != testCustomerNum || c.Provider() != ProviderTwilio {
		t.Fatalf("from %q provider %q", c.from, c.Provider())
	}
	if got := c.provider.StatusURL("m1"); got != testPublicURL+"/webhooks/twilio/status?m=m1" {
		t.Fatalf("status URL %q", got)
	}
}
