package staff

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Scopes a bearer API token may carry. A token may do what its scopes
// allow and never more than its agent may; ScopeAdmin allows everything.
const (
	ScopeTicketsRead    = "tickets:read"
	ScopeTicketsWrite   = "tickets:write"
	ScopeCustomersRead  = "customers:read"
	ScopeCustomersWrite = "customers:write"
	ScopeOrdersWrite    = "orders:write"
	ScopeReportsRead    = "reports:read"
	ScopeAdmin          = "admin"
)

// Scopes lists every scope.
var Scopes = []string{ScopeTicketsRead, ScopeTicketsWrite, ScopeCustomersRead, ScopeCustomersWrite,
	ScopeOrdersWrite, ScopeReportsRead, ScopeAdmin}

// implied are scopes another one brings with it.
var implied = map[string][]string{
	ScopeTicketsRead:   {ScopeTicketsWrite},
	ScopeCustomersRead: {ScopeCustomersWrite},
}

// Allows reports whether a session or token may act under scope need
// ("" needs none). Sessions and tokens from before scopes may do all their
// agent may.
func Allows(sess *ticketing.Session, need string) bool {
	if sess == nil || sess.Kind != "token" || len(sess.Scopes) == 0 || need == "" {
		return true
	}
	if slices.Contains(sess.Scopes, ScopeAdmin) || slices.Contains(sess.Scopes, need) {
		return true
	}
	for _, by := range implied[need] {
		if slices.Contains(sess.Scopes, by) {
			return true
		}
	}
	return false
}

// Token limits.
const (
	DefaultTokenTTL = 720 * time.Hour
	MaxTokenTTL     = 2 * 365 * 24 * time.Hour
	maxTokens       = 100 // per agent
)

// TokenInput is a request for a new API token.
type TokenInput struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresIn string   `json:"expires_in"` // a Go duration such as "720h"; default 720h
}

// TokenInfo is what is shown of an API token (never its secret).
type TokenInfo struct {
	ID        string    `json:"id" bson:"id"`
	Name      string    `json:"name" bson:"name"`
	Scopes    []string  `json:"scopes" bson:"scopes"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	ExpiresAt time.Time `json:"expires_at" bson:"expires_at"`
	// Hash is the session _id of the token (a hash of its secret).
	Hash string `json:"-" bson:"hash"`
}

// Token is a new API token; Secret is shown once.
type Token struct {
	Secret string `json:"token"`
	TokenInfo
}

// tokenList is the per-agent list of tokens (a state document keyed by
// the agent id, so that listing needs no query).
type tokenList struct {
	Tokens []TokenInfo `bson:"tokens"`
}

func tokensKey(agentID string) string { return "tokens:" + agentID }

func (s *Service) checkToken(a *ticketing.Agent, in *TokenInput) (time.Duration, error) {
	if in.Name == "" || len(in.Name) > 100 {
		return 0, ticketing.FieldError("name", "must be 1 to 100 characters")
	}
	if len(in.Scopes) == 0 {
		return 0, ticketing.FieldError("scopes", "name at least one of %v", Scopes)
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(Scopes, sc) {
			return 0, ticketing.FieldError("scopes", "%q is not a scope; use %v", sc, Scopes)
		}
	}
	if slices.Contains(in.Scopes, ScopeAdmin) && a.Role != ticketing.RoleAdmin {
		return 0, ticketing.FieldError("scopes", "admin is for admins' tokens only")
	}
	ttl := DefaultTokenTTL
	if in.ExpiresIn != "" {
		d, err := time.ParseDuration(in.ExpiresIn)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			return 0, ticketing.FieldError("expires_in", "must be a duration such as \"720h\", above 0 and at most %s", MaxTokenTTL)
		}
		ttl = d
	}
	return ttl, nil
}

// CreateToken mints a bearer API token for a with the given scopes.
func (s *Service) CreateToken(ctx context.Context, a *ticketing.Agent, in TokenInput) (*Token, error) {
	ttl, err := s.checkToken(a, &in)
	if err != nil {
		return nil, err
	}
	var list tokenList
	if err := s.store.GetState(ctx, tokensKey(a.ID), &list); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	now := s.now()
	list.Tokens = slices.DeleteFunc(list.Tokens, func(t TokenInfo) bool { return now.After(t.ExpiresAt) })
	if len(list.Tokens) >= maxTokens {
		return nil, ticketing.Errorf(ticketing.EConflict, "an agent has at most %d tokens; revoke one first", maxTokens)
	}
	secret := "svt_" + RandomSecret(32)
	scopes := slices.Clone(in.Scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	info := TokenInfo{ID: "tok_" + RandomSecret(9), Name: in.Name, Scopes: scopes, CreatedAt: now,
		ExpiresAt: now.Add(ttl), Hash: SessionID(secret)}
	t := &ticketing.Session{ID: info.Hash, AgentID: a.ID, Epoch: a.SessionEpoch, Kind: "token",
		Name: in.Name, Scopes: scopes, CreatedAt: now, ExpiresAt: info.ExpiresAt}
	if err := s.store.InsertSession(ctx, t); err != nil {
		return nil, fmt.Errorf("staff: create token: %w", err)
	}
	list.Tokens = append(list.Tokens, info)
	if err := s.store.PutState(ctx, tokensKey(a.ID), list); err != nil {
		_ = s.store.DeleteSession(ctx, info.Hash)
		return nil, err
	}
	s.audit(ctx, "token.created", "token:"+info.ID)
	return &Token{Secret: secret, TokenInfo: info}, nil
}

// Tokens lists a's tokens that have not expired.
func (s *Service) Tokens(ctx context.Context, a *ticketing.Agent) ([]TokenInfo, error) {
	var list tokenList
	if err := s.store.GetState(ctx, tokensKey(a.ID), &list); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	now := s.now()
	out := []TokenInfo{}
	for _, t := range list.Tokens {
		if !now.After(t.ExpiresAt) {
			out = append(out, t)
		}
	}
	return out, nil
}

// RevokeToken deletes a's token id. The session document goes first, so
// the token fails on every node from that moment (each request reads it).
func (s *Service) RevokeToken(ctx context.Context, a *ticketing.Agent, id string) error {
	var list tokenList
	if err := s.store.GetState(ctx, tokensKey(a.ID), &list); err != nil && !ticketing.IsNotFound(err) {
		return err
	}
	i := slices.IndexFunc(list.Tokens, func(t TokenInfo) bool { return t.ID == id })
	if i < 0 {
		return ticketing.Errorf(ticketing.ENotFound, "no such token")
	}
	if err := s.store.DeleteSession(ctx, list.Tokens[i].Hash); err != nil && !ticketing.IsNotFound(err) {
		return err
	}
	list.Tokens = slices.Delete(list.Tokens, i, i+1)
	if err := s.store.PutState(ctx, tokensKey(a.ID), list); err != nil {
		return err
	}
	s.audit(ctx, "token.revoked", "token:"+id)
	return nil
}
