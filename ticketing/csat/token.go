package csat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Claim is what a survey token says: which ticket, in which language,
// until when.
type Claim struct {
	TicketID string `json:"t"`
	Lang     string `json:"l"`
	Expires  int64  `json:"e"`
}

const secretKey = "csat/secret"

type secretDoc struct {
	Secret string `bson:"secret"`
}

// key returns the signing secret, kept in the store so that every node
// signs and verifies alike; the first node to need one makes it.
func (s *Service) key(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret != nil {
		return s.secret, nil
	}
	var d secretDoc
	err := s.o.Store.GetState(ctx, secretKey, &d)
	if ticketing.IsNotFound(err) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		d.Secret = hex.EncodeToString(b[:])
		err = s.o.Store.InsertState(ctx, secretKey, d)
		if ticketing.ErrorCode(err) == ticketing.EConflict {
			err = s.o.Store.GetState(ctx, secretKey, &d) // another node won
		} else if err != nil {
			return nil, fmt.Errorf("csat: store secret: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("csat: secret: %w", err)
	}
	sec, err := hex.DecodeString(d.Secret)
	if err != nil || len(sec) < 16 {
		return nil, fmt.Errorf("csat: the stored secret is malformed")
	}
	s.secret = sec
	return sec, nil
}

// Token signs a claim for ticketID.
func (s *Service) Token(ctx context.Context, ticketID, lang string, expires time.Time) (string, error) {
	k, err := s.key(ctx)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(Claim{TicketID: ticketID, Lang: lang, Expires: expires.Unix()})
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + sign(k, body), nil
}

func sign(k []byte, body string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("csat\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Verify checks a token: a malformed, tampered or expired one is
// ENotFound (the survey "does not exist").
func (s *Service) Verify(ctx context.Context, token string) (*Claim, error) {
	notFound := ticketing.Errorf(ticketing.ENotFound, "this survey link is not valid (or has expired)")
	body, mac, ok := strings.Cut(token, ".")
	if !ok || len(token) > 512 {
		return nil, notFound
	}
	k, err := s.key(ctx)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal([]byte(mac), []byte(sign(k, body))) {
		return nil, notFound
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, notFound
	}
	var c Claim
	if json.Unmarshal(raw, &c) != nil || c.TicketID == "" {
		return nil, notFound
	}
	if !s.now().Before(time.Unix(c.Expires, 0)) {
		return nil, notFound
	}
	if c.Lang != "sv" {
		c.Lang = "en"
	}
	return &c, nil
}
