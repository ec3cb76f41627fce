package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/svar-dev/svar/ticketing"
)

const (
	sessionCookie = "svar_session"
	sessionTTL    = 14 * 24 * time.Hour
	// A sender may fail this many logins per window before being refused.
	maxLoginFailures = 5
	loginWindow      = 15 * time.Minute
)

type ctxKey int

const agentKey ctxKey = 1

// AgentFrom returns the signed-in agent of a request.
func AgentFrom(ctx context.Context) *ticketing.Agent {
	a, _ := ctx.Value(agentKey).(*ticketing.Agent)
	return a
}

func sessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// authed wraps an agent-only handler: a session cookie or a bearer token.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *ticketing.Agent)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), agentKey, a)), a)
	})
}

func (s *Server) authenticate(r *http.Request) (*ticketing.Agent, error) {
	secret := ""
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			return nil, ticketing.Errorf(ticketing.EUnauthorized, "Authorization must be \"Bearer <token>\"")
		}
		secret = token
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		secret = c.Value
	}
	if secret == "" || len(secret) > 200 {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "sign in first")
	}
	sess, err := s.store.GetSession(r.Context(), sessionID(secret))
	if ticketing.IsNotFound(err) {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "the session is not valid; sign in again")
	}
	if err != nil {
		return nil, err
	}
	if sess.Pending2FA || s.now().After(sess.ExpiresAt) {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "the session has expired; sign in again")
	}
	a, err := s.store.GetAgent(r.Context(), sess.AgentID)
	if ticketing.IsNotFound(err) {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "the session is not valid; sign in again")
	}
	if err != nil {
		return nil, err
	}
	if !a.Active || a.SessionEpoch != sess.Epoch {
		return nil, ticketing.Errorf(ticketing.EUnauthorized, "the session was ended; sign in again")
	}
	return a, nil
}

type loginRequest struct {
	Email    string `json:"email" validate:"required,max=320"`
	Password string `json:"password" validate:"required,max=1024"`
	// Code is the TOTP code of an agent with two-factor sign-in.
	Code string `json:"code" validate:"max=10"`
}

type throttle struct {
	Failures int       `bson:"failures"`
	Since    time.Time `bson:"since"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in loginRequest
	if !s.readInput(w, r, &in) {
		return
	}
	email := ticketing.NormalizeEmail(in.Email)
	ctx := r.Context()
	key := "login:" + email
	var th throttle
	if err := s.store.GetState(ctx, key, &th); err != nil && !ticketing.IsNotFound(err) {
		writeError(w, r, err)
		return
	}
	now := s.now()
	if now.Sub(th.Since) > loginWindow {
		th = throttle{Since: now}
	}
	if th.Failures >= maxLoginFailures {
		w.Header().Set("Retry-After", "900")
		writeError(w, r, ticketing.Errorf(ticketing.ETooMany, "too many failed sign-ins for this email; try again in 15 minutes"))
		return
	}
	a, err := s.store.GetAgentByEmail(ctx, email)
	if err != nil && !ticketing.IsNotFound(err) {
		writeError(w, r, err)
		return
	}
	fail := func(msg string) {
		th.Failures++
		if err := s.store.PutState(ctx, key, th); err != nil {
			s.log.Warn("record failed login", "err", err)
		}
		writeError(w, r, ticketing.Errorf(ticketing.EUnauthorized, "%s", msg))
	}
	if a == nil {
		CheckPassword(dummyHash, in.Password)
		fail("wrong email or password")
		return
	}
	if !CheckPassword(a.PasswordHash, in.Password) || !a.Active {
		fail("wrong email or password")
		return
	}
	if a.TOTPEnabled {
		if in.Code == "" {
			writeError(w, r, &ticketing.Error{Code: ticketing.EUnauthorized, Field: "code", Message: "code: the two-factor code is required"})
			return
		}
		if !totp.Validate(in.Code, a.TOTPSecret) {
			fail("code: the two-factor code is wrong")
			return
		}
	}
	if th.Failures > 0 {
		_ = s.store.DeleteState(ctx, key)
	}
	// Rotate: a cookie from before the login never becomes the session.
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		_ = s.store.DeleteSession(ctx, sessionID(c.Value))
	}
	secret := RandomSecret(32)
	sess := &ticketing.Session{ID: sessionID(secret), AgentID: a.ID, Epoch: a.SessionEpoch, Kind: "session",
		CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := s.store.InsertSession(ctx, sess); err != nil {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt})
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(r.Context(), sessionID(c.Value)); err != nil && !ticketing.IsNotFound(err) {
			writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}

type tokenRequest struct {
	Name string `json:"name" validate:"required,max=100"`
}

// handleCreateToken mints a bearer API token; its secret is shown once.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	var in tokenRequest
	if !s.readInput(w, r, &in) {
		return
	}
	secret := "svt_" + RandomSecret(32)
	now := s.now()
	t := &ticketing.Session{ID: sessionID(secret), AgentID: a.ID, Epoch: a.SessionEpoch, Kind: "token",
		Name: in.Name, CreatedAt: now, ExpiresAt: now.Add(365 * 24 * time.Hour)}
	if err := s.store.InsertSession(r.Context(), t); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "name": in.Name, "expires_at": t.ExpiresAt})
}

// EnsureAdmin creates the first admin when there are no agents yet. It
// returns the password it generated, if it generated one.
func EnsureAdmin(ctx context.Context, store ticketing.AgentStore, email, password string) (created bool, generated string, err error) {
	n, err := store.CountAgents(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		password = RandomSecret(12)
		generated = password
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, "", err
	}
	a := &ticketing.Agent{ID: ticketing.NewID(), Email: ticketing.NormalizeEmail(email), Name: "Admin",
		Role: ticketing.RoleAdmin, Language: "en", Active: true, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := store.InsertAgent(ctx, a); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) {
			return false, "", nil // another node created it first
		}
		return false, "", err
	}
	return true, generated, nil
}
