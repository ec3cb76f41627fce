package sms

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTwilioMediaHosts(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	tw := u.ch.provider.(*twilio)
	for raw, want := range map[string]bool{
		"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1": true,
		"https://media.twiliocdn.com/AC1/abc":                                   true,
		"https://s3.mms.twiliocdn.com/x":                                        true,
		u.api.URL() + "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1":         true,
		"http://api.twilio.com/x":                                               false,
		"https://api.twilio.com.evil.example/x":                                 false,
		"https://eviltwiliocdn.com/x":                                           false,
		"https://evil.example/media.twiliocdn.com/x":                            false,
		"https://127.0.0.1:1/x":                                                 false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := tw.mediaHost(u); got != want {
			t.Errorf("mediaHost(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestTwilioMMS(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	jpeg := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF}, 1000)
	mediaPath := "/2010-04-01/Accounts/" + testSID + "/Messages/MM01/Media/ME01"
	u.api.media[mediaPath] = jpeg
	u.api.media["/big"] = bytes.Repeat([]byte("x"), 2048)

	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		if _, _, ok := r.BasicAuth(); ok {
			t.Error("credentials sent to a foreign host")
		}
		w.Write([]byte("not yours"))
	}))
	defer evil.Close()
	// Nor is a foreign host that redirects.
	redirector := httptest.NewServer(http.RedirectHandler(evil.URL+"/stolen", http.StatusFound))
	defer redirector.Close()

	u.ch.maxMedia = 1024 * 1024
	form := twilioInboundForm("MM01", testCustomerNum, "Här är en bild på skadan")
	form.Set("NumMedia", "3")
	form.Set("MediaUrl0", u.api.URL()+mediaPath)
	form.Set("MediaContentType0", "image/jpeg")
	form.Set("MediaUrl1", evil.URL+"/steal")
	form.Set("MediaContentType1", "image/png")
	form.Set("MediaUrl2", redirector.URL+"/x")
	form.Set("MediaContentType2", "image/png")
	if w := u.post(signedTwilio(testPublicURL+PathTwilioSMS, testToken, form)); w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	envs := u.pub.Envelopes()
	if len(envs) != 1 {
		t.Fatalf("%d envelopes", len(envs))
	}
	e := envs[0]
	if len(e.Attachments) != 1 {
		t.Fatalf("attachments %+v, want only Twilio's", e.Attachments)
	}
	a := e.Attachments[0]
	if a.ContentType != "image/jpeg" || a.Size != int64(len(jpeg)) || !strings.HasPrefix(a.Filename, "media-1.") {
		t.Fatalf("attachment %+v", a)
	}
	blob, err := u.store.GetBlob(t.Context(), a.Key)
	if err != nil || !bytes.Equal(blob.Data, jpeg) {
		t.Fatalf("blob %v, %v", blob, err)
	}
	if evilHits.Load() != 0 {
		t.Fatalf("a foreign host was fetched %d times", evilHits.Load())
	}
	if e.Meta["sms_media_skipped"] != "2" || !strings.Contains(e.Text, "2 MMS attachment(s) could not be fetched") {
		t.Fatalf("skipped media not shown: %q %v", e.Text, e.Meta)
	}

	// Over the size cap: skipped, the text still arrives.
	u.ch.maxMedia = 1024
	form = twilioInboundForm("MM02", testCustomerNum, "")
	form.Set("NumMedia", "1")
	form.Set("MediaUrl0", u.api.URL()+"/big")
	if w := u.post(signedTwilio(testPublicURL+PathTwilioSMS, testToken, form)); w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	envs = u.pub.Envelopes()
	if len(envs) != 2 || len(envs[1].Attachments) != 0 || envs[1].Meta["sms_media_skipped"] != "1" {
		t.Fatalf("oversized media: %+v", envs[len(envs)-1])
	}
}

func TestTwilioMediaRedirectOffHostRefused(t *testing.T) {
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHits.Add(1) }))
	defer evil.Close()
	u := newUnit(t, ProviderTwilio)
	// Make the fake API itself redirect to a foreign host.
	u.api.srv.Config.Handler = http.RedirectHandler(evil.URL+"/x", http.StatusFound)
	_, _, err := u.ch.provider.(*twilio).FetchMedia(t.Context(), u.api.URL()+"/media", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "not a Twilio media host") {
		t.Fatalf("err = %v", err)
	}
	if evilHits.Load() != 0 {
		t.Fatal("followed a redirect off Twilio's hosts")
	}
}
