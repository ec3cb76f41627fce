package mongostore_test

import (
	"reflect"
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func TestAgents(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()

	n, err := s.CountAgents(ctx)
	mustNil(t, err)
	equal(t, "count", n, int64(0))
	list, err := s.ListAgents(ctx)
	mustNil(t, err)
	equal(t, "agents", len(list), 0)

	admin := &ticketing.Agent{ID: "a1", Email: "admin@shop.se", Name: "Admin", Role: ticketing.RoleAdmin,
		Language: "sv", Active: true, PasswordHash: "hash", CreatedAt: at(1)}
	agent := &ticketing.Agent{ID: "a2", Email: "eva@shop.se", Name: "Eva", Role: ticketing.RoleAgent,
		Language: "en", Active: true, PasswordHash: "hash2", TOTPSecret: "SECRET", CreatedAt: at(2)}
	mustNil(t, s.InsertAgent(ctx, agent))
	mustNil(t, s.InsertAgent(ctx, admin))

	mustDuplicate(t, s.InsertAgent(ctx, &ticketing.Agent{ID: "a1", Email: "other@shop.se"}))
	mustDuplicate(t, s.InsertAgent(ctx, &ticketing.Agent{ID: "a3", Email: "eva@shop.se"}))

	got, err := s.GetAgent(ctx, "a2")
	mustNil(t, err)
	if !reflect.DeepEqual(*got, *agent) {
		t.Fatalf("agent = %+v, want %+v", *got, *agent)
	}
	got, err = s.GetAgentByEmail(ctx, "admin@shop.se")
	mustNil(t, err)
	equal(t, "agent by email", got.ID, "a1")
	_, err = s.GetAgentByEmail(ctx, "nobody@shop.se")
	mustNotFound(t, err)
	_, err = s.GetAgent(ctx, "nope")
	mustNotFound(t, err)

	list, err = s.ListAgents(ctx)
	mustNil(t, err)
	equal(t, "agents", len(list), 2)
	equal(t, "oldest first", list[0].ID, "a1")
	n, err = s.CountAgents(ctx)
	mustNil(t, err)
	equal(t, "count", n, int64(2))

	agent.Active = false
	agent.SessionEpoch = 3
	mustNil(t, s.UpdateAgent(ctx, agent))
	got, err = s.GetAgent(ctx, "a2")
	mustNil(t, err)
	if !reflect.DeepEqual(*got, *agent) {
		t.Fatalf("updated = %+v, want %+v", *got, *agent)
	}

	taken := *agent
	taken.Email = "admin@shop.se"
	mustDuplicate(t, s.UpdateAgent(ctx, &taken))
	mustNotFound(t, s.UpdateAgent(ctx, &ticketing.Agent{ID: "nope", Email: "x@shop.se"}))
}

func TestSessions(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	sess := &ticketing.Session{ID: "h1", AgentID: "a1", Epoch: 1, Kind: "session", CreatedAt: at(1), ExpiresAt: at(50), Pending2FA: true, Scopes: []string{"tickets:read"}}
	mustNil(t, s.InsertSession(ctx, sess))
	mustDuplicate(t, s.InsertSession(ctx, sess))

	got, err := s.GetSession(ctx, "h1")
	mustNil(t, err)
	equalSession(t, "session", got, sess)

	sess.Pending2FA = false
	mustNil(t, s.UpdateSession(ctx, sess))
	got, err = s.GetSession(ctx, "h1")
	mustNil(t, err)
	equalSession(t, "updated", got, sess)
	mustNotFound(t, s.UpdateSession(ctx, &ticketing.Session{ID: "nope"}))

	mustNil(t, s.DeleteSession(ctx, "h1"))
	_, err = s.GetSession(ctx, "h1")
	mustNotFound(t, err)
	mustNil(t, s.DeleteSession(ctx, "h1"))
}

func equalSession(t *testing.T, what string, got, want *ticketing.Session) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
}
