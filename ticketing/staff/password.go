package staff

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/svar-dev/svar/ticketing"
)

// argon2id parameters (RFC 9106's second recommended option, with less
// memory so a small node can sign in several agents at once).
const (
	argonTime    = 2
	argonMemory  = 32 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns an encoded argon2id hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches an encoded hash.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when an email is unknown, so that a login
// takes as long whether or not the agent exists. It is made on first use.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = HashPassword("svar-timing-equaliser") })
	return s.dummy
}

// RandomSecret returns n random bytes, URL-safe base64 encoded.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ResetPassword gives the agent of email a new random password (returned,
// to be handed over once and changed in their settings) and ends every
// session and token they hold (their session epoch grows). It is account
// recovery (`svar admin reset-password`) and needs no Service: it talks
// to the store directly.
func ResetPassword(ctx context.Context, store ticketing.AgentStore, email string) (*ticketing.Agent, string, error) {
	email = ticketing.NormalizeEmail(email)
	if email == "" {
		return nil, "", ticketing.FieldError("email", "is required")
	}
	a, err := store.GetAgentByEmail(ctx, email)
	if ticketing.IsNotFound(err) {
		return nil, "", ticketing.Errorf(ticketing.ENotFound, "no agent has the email %s", email)
	}
	if err != nil {
		return nil, "", err
	}
	password := RandomSecret(12)
	hash, err := HashPassword(password)
	if err != nil {
		return nil, "", err
	}
	a.PasswordHash = hash
	a.SessionEpoch++
	if err := store.UpdateAgent(ctx, a); err != nil {
		return nil, "", err
	}
	return a, password, nil
}
