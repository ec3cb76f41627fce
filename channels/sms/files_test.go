package sms

import (
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/files"
)

// TestReplyFiles: an agent's files go to Twilio as MMS MediaUrls (signed
// links it can fetch) and to 46elks, which takes no media here, as links
// at the end of the text.
func TestReplyFiles(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		signer := files.NewSigner([]byte("0123456789abcdef0123456789abcdef"), testPublicURL)
		u.ch.files = signer
		o := u.outbound("m-files", "Här är kvittot.")
		o.Attachments = []ticketing.Attachment{{Key: "out/abc", Filename: "kvitto.pdf", ContentType: "application/pdf", Size: 10}}
		if _, err := u.drive(o, 1); err != nil {
			t.Fatal(err)
		}
		sent := u.api.Accepted()
		if len(sent) != 1 {
			t.Fatalf("%d sends", len(sent))
		}
		f := sent[0]
		link := testPublicURL + "/files/out/abc?exp="
		switch k.provider {
		case ProviderTwilio:
			media := f["MediaUrl"]
			if len(media) != 1 || !strings.HasPrefix(media[0], link) || f.Get("Body") != "Här är kvittot." {
				t.Fatalf("twilio form %v", f)
			}
			if q := media[0][strings.Index(media[0], "?")+1:]; !signer.Verify("out/abc", valueOf(q, "exp"), valueOf(q, "sig")) {
				t.Fatalf("media link %q is not validly signed", media[0])
			}
		case ProviderElks:
			msg := f.Get(k.sentText)
			if !strings.HasPrefix(msg, "Här är kvittot.\nkvitto.pdf: "+link) || f.Has("MediaUrl") {
				t.Fatalf("46elks message %q", msg)
			}
		}
	})
}

func valueOf(query, key string) string {
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
