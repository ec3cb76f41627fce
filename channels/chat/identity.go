package chat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/svar-dev/svar/ticketing"
)

// tokenBytes is the size of a visitor token's random part.
const tokenBytes = 32

// Relay topics. Visitor and external ids are hex, so every topic is made of
// valid relay tokens whatever the shop's customer ids look like.
const (
	topicVisitorPrefix  = "chat.visitor."
	topicExternalPrefix = "chat.external."
	// TopicTyping carries a customer's typing state to the consoles as JSON
	// {"customer_id","typing"}.
	TopicTyping = "chat.typing"
	// TopicAgentsOnline is asked (Relay.Request) whether any agent is online.
	TopicAgentsOnline = "agents.online"
	// TopicAgentsChanged is published by the consoles' nodes (package
	// realtime) when their first agent session opens or their last closes.
	TopicAgentsChanged = "agents.changed"
)

// newVisitorToken returns a fresh, unguessable visitor token.
func newVisitorToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// visitorID derives the visitor id from a token: the token is bound to one
// visitor without storing anything, and the id (which is stored on the
// customer and travels in topics) does not reveal the token. ok is false
// for a token Svar did not make.
func visitorID(token string) (id string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		return "", false
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16]), true
}

// Sign returns the signature a shop sends with a logged-in customer's
// external id: hex HMAC-SHA256 of externalID keyed with secret.
func Sign(externalID, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(externalID))
	return hex.EncodeToString(m.Sum(nil))
}

// verifySignature reports whether sig is externalID's signature under
// secret, in constant time. An empty secret verifies nothing.
func verifySignature(externalID, sig, secret string) bool {
	if secret == "" || externalID == "" {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(externalID))
	return hmac.Equal(got, m.Sum(nil))
}

func visitorTopic(vid string) string { return topicVisitorPrefix + vid }

func externalTopic(externalID string) string {
	sum := sha256.Sum256([]byte(externalID))
	return topicExternalPrefix + hex.EncodeToString(sum[:])
}

// chatTopics lists the relay topics on which the customer's open chat
// sockets listen: one per chat visitor id and per external id.
func chatTopics(c *ticketing.Customer) []string {
	var out []string
	for _, id := range c.Identities {
		switch id.Kind {
		case ticketing.IdentityChat:
			out = append(out, visitorTopic(id.Value))
		case ticketing.IdentityExternal:
			out = append(out, externalTopic(id.Value))
		}
	}
	if c.ExternalID != "" {
		t := externalTopic(c.ExternalID)
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}
