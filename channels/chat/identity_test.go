package chat

import (
	"encoding/base64"
	"regexp"
	"slices"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

func TestVisitorTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := newVisitorToken()
		if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %v", tok, err)
		}
		id, ok := visitorID(tok)
		if !ok || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Fatalf("visitor id %q", id)
		}
		if again, _ := visitorID(tok); again != id {
			t.Fatal("the visitor id is not stable")
		}
		if seen[id] {
			t.Fatal("two tokens share a visitor")
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "short", "!!!!", base64.RawURLEncoding.EncodeToString(make([]byte, 31)), base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		if _, ok := visitorID(bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestSignature(t *testing.T) {
	// The example in docs/chat.md, computed with openssl and Node.js:
	// printf 12345 | openssl dgst -sha256 -hmac my-secret
	const want = "b40c492b42ff051dce25763a65b60476a5c9693778b32d68e7ad215ee21e1f43"
	sig := Sign("12345", "my-secret")
	if sig != want {
		t.Fatalf("Sign = %s, want %s", sig, want)
	}
	for _, tc := range []struct {
		name            string
		id, sig, secret string
		ok              bool
	}{
		{"valid", "12345", sig, "my-secret", true},
		{"upper-case hex", "12345", toUpper(sig), "my-secret", true},
		{"other id", "12346", sig, "my-secret", false},
		{"other secret", "12345", sig, "other", false},
		{"no secret", "12345", Sign("12345", ""), "", false},
		{"no id", "", Sign("", "my-secret"), "my-secret", false},
		{"truncated", "12345", sig[:62], "my-secret", false},
		{"not hex", "12345", "zz" + sig[2:], "my-secret", false},
		{"empty", "12345", "", "my-secret", false},
	} {
		if got := verifySignature(tc.id, tc.sig, tc.secret); got != tc.ok {
			t.Errorf("%s: verify = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestChatTopics(t *testing.T) {
	c := &ticketing.Customer{ExternalID: "shop/42", Identities: []ticketing.Identity{
		{Kind: ticketing.IdentityEmail, Value: "a@b.se"},
		{Kind: ticketing.IdentityChat, Value: "0123abcd"},
		{Kind: ticketing.IdentityExternal, Value: "shop/42", Verified: true},
	}}
	got := chatTopics(c)
	want := []string{"chat.visitor.0123abcd", externalTopic("shop/42")}
	if !slices.Equal(got, want) {
		t.Fatalf("topics = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^chat\.external\.[0-9a-f]{64}$`).MatchString(want[1]) {
		t.Fatalf("external topic %q is not made of relay tokens", want[1])
	}
}
