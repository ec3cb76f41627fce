package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/staff"
)

const sessionCookie = "svar_session"

type ctxKey int

const (
	agentKey ctxKey = iota + 1
	viewerKey
	sessionKey
)

// sessionFrom returns the session or token a request came with (nil
// outside authed).
func sessionFrom(ctx context.Context) *ticketing.Session {
	sess, _ := ctx.Value(sessionKey).(*ticketing.Session)
	return sess
}

// AgentFrom returns the signed-in agent of a request.
func AgentFrom(ctx context.Context) *ticketing.Agent {
	a, _ := ctx.Value(agentKey).(*ticketing.Agent)
	return a
}

// ViewerFrom returns what the request's agent may see.
func ViewerFrom(ctx context.Context) ticketing.Viewer {
	v, ok := ctx.Value(viewerKey).(ticketing.Viewer)
	if !ok {
		// No agent: see nothing but tickets without a team.
		return ticketing.Viewer{AgentID: "-", Role: ticketing.RoleViewer, TeamIDs: []string{}}
	}
	return v
}

// clientAddr is the address sign-in throttles count against: the real
// client behind SVAR_TRUSTED_PROXIES (Options.ClientIP).
func (s *Server) clientAddr(r *http.Request) string { return s.opts.ClientIP(r) }

// unsafeMethod reports whether a request may change something.
func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// authed wraps an agent-only handler: a session cookie or a bearer token.
// It puts the agent and their Viewer in the request's context, and
// refuses every unsafe request of a viewer, except to their own settings
// under /api/v1/me.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *ticketing.Agent)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, sess, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if need := scopeFor(r.Pattern); !staff.Allows(sess, need) {
			writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "this token lacks the %s scope for %s", need, r.Pattern))
			return
		}
		if a.Role == ticketing.RoleViewer && unsafeMethod(r.Method) && !strings.HasPrefix(r.URL.Path, "/api/v1/me") {
			writeError(w, r, ticketing.Errorf(ticketing.EForbidden, "viewers cannot change anything"))
			return
		}
		v, err := s.staff.Viewer(r.Context(), a)
		if err != nil {
			writeError(w, r, err)
			return
		}
		actor := staff.AgentActor(a)
		if sess.Kind == "token" {
			actor.Kind = "token"
		}
		ctx := context.WithValue(context.WithValue(r.Context(), agentKey, a), viewerKey, v)
		ctx = context.WithValue(ctx, sessionKey, sess)
		ctx = audit.WithActor(ctx, actor, s.clientAddr(r))
		if settingsRoute(r) {
			sw := &statusWriter{ResponseWriter: w}
			h(sw, r.WithContext(ctx), a)
			if sw.status >= 200 && sw.status < 300 {
				s.audit(r.WithContext(ctx), "settings.changed", r.Method+" "+r.URL.Path)
			}
			return
		}
		h(w, r.WithContext(ctx), a)
	})
}

func (s *Server) authenticate(r *http.Request) (*ticketing.Agent, *ticketing.Session, error) {
	secret := ""
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			return nil, nil, ticketing.Errorf(ticketing.EUnauthorized, "Authorization must be \"Bearer <token>\"")
		}
		secret = token
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		secret = c.Value
	}
	return s.staff.Authorize(r.Context(), secret)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in staff.LoginInput
	if !s.readInput(w, r, &in) {
		return
	}
	in.Address = s.clientAddr(r)
	ctx := audit.WithActor(r.Context(), audit.Actor{}, in.Address)
	st, err := s.staff.Login(ctx, in)
	if err != nil {
		if ticketing.ErrorCode(err) == ticketing.ETooMany {
			w.Header().Set("Retry-After", "900")
		}
		writeError(w, r, err)
		return
	}
	// Rotate: a cookie from before the login never becomes the session.
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		_ = s.staff.EndSession(r.Context(), c.Value)
	}
	s.setSessionCookie(w, st)
	writeJSON(w, http.StatusOK, map[string]any{"agent": st.Agent})
}

func (s *Server) setSessionCookie(w http.ResponseWriter, st *staff.Started) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: st.Secret, Path: "/", HttpOnly: true,
		Secure: s.opts.SecureCookies, SameSite: http.SameSiteLaxMode, Expires: st.ExpiresAt})
}

// startSession stores a new console session for a and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, a *ticketing.Agent) error {
	st, err := s.staff.StartSession(ctx, a)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, st)
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.staff.EndSession(r.Context(), c.Value); err != nil {
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

// handleCreateToken mints a bearer API token; its secret is shown once.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	var in staff.TokenInput
	if !s.readInput(w, r, &in) {
		return
	}
	t, err := s.staff.CreateToken(r.Context(), a, in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	ts, err := s.staff.Tokens(r.Context(), a)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if err := s.staff.RevokeToken(r.Context(), a, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
