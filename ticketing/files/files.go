// Package files holds what agents' attachments share across channels: the
// upload limits, random blob keys, and signed, expiring download links for
// people without a console session (chat visitors, SMS recipients, MMS
// providers fetching media). A link is
//
//	<public URL>/files/<key>?exp=<unix seconds>&sig=<hex HMAC-SHA256 of "key\nexp">
//
// signed with a secret kept in the store's state, created once by the
// first node and read by every node, so a link made on one node is good
// on all of them.
package files

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Limits of an agent's reply.
const (
	MaxFileSize = 10 << 20 // bytes per file
	MaxFiles    = 10       // files per reply
)

// LinkTTL is how long a download link stays good by default: long enough
// for a customer to come back to a chat or an SMS a few days later.
const LinkTTL = 7 * 24 * time.Hour

// secretKey is the state document holding the link-signing secret.
const secretKey = "files:link-secret"

type secretDoc struct {
	Secret string `bson:"secret"`
}

// NewKey returns a random blob key for an agent's upload.
func NewKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "out/" + hex.EncodeToString(b[:])
}

// Signer makes and checks download links.
type Signer struct {
	secret []byte
	base   string // public URL without a trailing slash
	ttl    time.Duration
	now    func() time.Time
}

// LoadSigner reads the link secret from state, creating it on first use.
// publicURL is where customers reach Svar (SVAR_PUBLIC_URL).
func LoadSigner(ctx context.Context, state ticketing.StateStore, publicURL string) (*Signer, error) {
	var d secretDoc
	err := state.GetState(ctx, secretKey, &d)
	if ticketing.IsNotFound(err) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if err := state.InsertState(ctx, secretKey, secretDoc{Secret: hex.EncodeToString(b[:])}); err != nil && !errors.Is(err, ticketing.ErrDuplicate) {
			return nil, fmt.Errorf("files: save link secret: %w", err)
		}
		err = state.GetState(ctx, secretKey, &d) // whoever inserted first wins
	}
	if err != nil {
		return nil, fmt.Errorf("files: read link secret: %w", err)
	}
	secret, err := hex.DecodeString(d.Secret)
	if err != nil || len(secret) < 16 {
		return nil, fmt.Errorf("files: the link secret in state %s is malformed", secretKey)
	}
	return NewSigner(secret, publicURL), nil
}

// NewSigner returns a Signer with a given secret (tests, tools).
func NewSigner(secret []byte, publicURL string) *Signer {
	return &Signer{secret: secret, base: strings.TrimRight(publicURL, "/"), ttl: LinkTTL, now: time.Now}
}

func (s *Signer) mac(key string, exp int64) string {
	h := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(h, "%s\n%d", key, exp)
	return hex.EncodeToString(h.Sum(nil))
}

// URL returns a download link for key that expires after the Signer's TTL.
func (s *Signer) URL(key string) string { return s.URLUntil(key, s.now().Add(s.ttl)) }

// URLUntil returns a download link for key that expires at exp.
func (s *Signer) URLUntil(key string, exp time.Time) string { return s.base + s.pathUntil(key, exp) }

// Path is URL without the public URL's scheme and host, for clients that
// know where Svar is (the chat widget resolves it against its script).
func (s *Signer) Path(key string) string { return s.pathUntil(key, s.now().Add(s.ttl)) }

func (s *Signer) pathUntil(key string, exp time.Time) string {
	e := exp.Unix()
	return "/files/" + escapeKey(key) + "?exp=" + strconv.FormatInt(e, 10) + "&sig=" + s.mac(key, e)
}

// Verify reports whether exp and sig are a valid, unexpired signature of key.
func (s *Signer) Verify(key, exp, sig string) bool {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() > e {
		return false
	}
	want := s.mac(key, e)
	return hmac.Equal([]byte(want), []byte(strings.ToLower(sig)))
}

func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
