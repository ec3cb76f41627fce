package staff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// SessionTTL is how long a console session lasts.
const SessionTTL = 14 * 24 * time.Hour

// SessionID is the stored id of a session secret (a hash: the store never
// holds a secret itself).
func SessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LoginInput is a sign-in attempt.
type LoginInput struct {
	Email    string `json:"email" validate:"required,max=320"`
	Password string `json:"password" validate:"required,max=1024"`
	// Code is the TOTP code of an agent with two-factor sign-in.
	Code string `json:"code" validate:"max=20"`
	// Address is the client's address (behind trusted proxies, the real
	// client), for throttling; not part of the JSON body.
	Address string `json:"-"`
}

// Started is a new session: its secret (the cookie value) and expiry.
type Started struct {
	Agent     *ticketing.Agent
	Secret    string
	ExpiresAt time.Time
}

// throttle is a failure counter in a window (a state document).
type throttle struct {
	Failures int       `bson:"failures"`
	Since    time.Time `bson:"since"`
}

// counter is one of the three sign-in throttles.
type counter struct {
	key    string
	limit  int
	window time.Duration
	th     throttle
	msg    string
}

// Login checks credentials and starts a session. Failures are counted per
// client address, per email and address pair, and per email from anywhere
// (a larger limit), so that spraying many accounts from one address is
// slowed down while an attacker elsewhere cannot lock a named agent out
// with a handful of guesses. A throttled attempt costs no hash.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Started, error) {
	email := ticketing.NormalizeEmail(in.Email)
	addr := in.Address
	if addr == "" {
		addr = "unknown"
	}
	now := s.now()
	counters := []*counter{
		{key: "login:addr:" + addr, limit: s.o.AddressLimit, window: s.o.LoginWindow,
			msg: "too many failed sign-ins from this address; try again later"},
		{key: "login:pair:" + email + "|" + addr, limit: s.o.PairLimit, window: s.o.LoginWindow,
			msg: "too many failed sign-ins for this email; try again in 15 minutes"},
		{key: "login:email:" + email, limit: s.o.EmailLimit, window: s.o.EmailWindow,
			msg: "too many failed sign-ins for this email; try again later"},
	}
	for _, c := range counters {
		if err := s.store.GetState(ctx, c.key, &c.th); err != nil && !ticketing.IsNotFound(err) {
			return nil, err
		}
		if now.Sub(c.th.Since) > c.window {
			c.th = throttle{Since: now}
		}
		if c.th.Failures >= c.limit {
			return nil, &ticketing.Error{Code: ticketing.ETooMany, Message: c.msg}
		}
	}
	fail := func(msg string) error {
		for _, c := range counters {
			c.th.Failures++
			if err := s.store.PutState(ctx, c.key, c.th); err != nil {
				s.log.Warn("staff: record a failed sign-in", "err", err)
			}
		}
		s.log.Info("sign-in failed", "address", addr)
		s.o.Audit.Record(ctx, audit.Entry{Actor: audit.Actor{Kind: "anonymous", Name: email}, Action: "session.failed",
			Target: "email:" + email, IP: in.Address})
		return ticketing.Errorf(ticketing.EUnauthorized, "%s", msg)
	}
	a, err := s.store.GetAgentByEmail(ctx, email)
	if err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	if a == nil {
		if _, err := s.checkPassword(ctx, s.dummyHash(), in.Password); err != nil {
			return nil, err
		}
		return nil, fail("wrong email or password")
	}
	ok, err := s.checkPassword(ctx, a.PasswordHash, in.Password)
	if err != nil {
		return nil, err
	}
	if !ok || !a.Active {
		return nil, fail("wrong email or password")
	}
	if a.TOTPEnabled {
		if in.Code == "" {
			return nil, &ticketing.Error{Code: ticketing.EUnauthorized, Field: "code", Message: "code: the two-factor code is required"}
		}
		if err := s.spendSecondFactor(ctx, a, in.Code); err != nil {
			if ticketing.ErrorCode(err) == ticketing.EInvalid {
				return nil, fail(ticketing.ErrorMessage(err))
			}
			return nil, err
		}
	}
	if counters[1].th.Failures > 0 {
		_ = s.store.DeleteState(ctx, counters[1].key)
	}
	s.o.Audit.Record(ctx, audit.Entry{Actor: AgentActor(a), Action: "session.created", Target: "agent:" + a.ID, IP: in.Address})
	return s.StartSession(ctx, a)
}

// StartSession stores a new console session for a.
func (s *Service) StartSession(ctx context.Context, a *ticketing.Agent) (*Started, error) {
	now := s.now()
	secret := RandomSecret(32)
	sess := &ticketing.Session{ID: SessionID(secret), AgentID: a.ID, Epoch: a.SessionEpoch, Kind: "session",
		CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.InsertSession(ctx, sess); err != nil {
		return nil, err
	}
	return &Started{Agent: a, Secret: secret, ExpiresAt: sess.ExpiresAt}, nil
}

// EndSession deletes the session of secret; an unknown one is no error.
func (s *Service) EndSession(ctx context.Context, secret string) error {
	if secret == "" || len(secret) > 200 {
		return nil
	}
	if err := s.store.DeleteSession(ctx, SessionID(secret)); err != nil && !ticketing.IsNotFound(err) {
		return err
	}
	return nil
}

// Authenticate returns the agent of a session or token secret.
func (s *Service) Authenticate(ctx context.Context, secret string) (*ticketing.Agent, error) {
	a, _, err := s.Authorize(ctx, secret)
	return a, err
}

// Authorize returns the agent of a session or token secret and the
// session or token itself (its Kind and Scopes). It reads the store on
// every call, so a revoked token fails at once on every node.
func (s *Service) Authorize(ctx context.Context, secret string) (*ticketing.Agent, *ticketing.Session, error) {
	if secret == "" || len(secret) > 200 {
		return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "sign in first")
	}
	sess, err := s.store.GetSession(ctx, SessionID(secret))
	if ticketing.IsNotFound(err) {
		return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "the session is not valid; sign in again")
	}
	if err != nil {
		return nil, nil, err
	}
	if sess.Pending2FA || s.now().After(sess.ExpiresAt) {
		return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "the session has expired; sign in again")
	}
	a, err := s.store.GetAgent(ctx, sess.AgentID)
	if ticketing.IsNotFound(err) {
		return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "the session is not valid; sign in again")
	}
	if err != nil {
		return nil, nil, err
	}
	if !a.Active || a.SessionEpoch != sess.Epoch {
		return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "the session was ended; sign in again")
	}
	return a, sess, nil
}
