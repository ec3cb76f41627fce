package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// The agents collection is small (a shop's staff), so looking an agent up
// by email and listing agents may scan it; sessions are read by _id.

// InsertAgent inserts a; ErrDuplicate if its id or email is taken.
func (s *Store) InsertAgent(ctx context.Context, a *ticketing.Agent) error {
	if _, err := s.agents.InsertOne(ctx, a); err != nil {
		return fmt.Errorf("mongostore: insert agent %s: %w", a.ID, duplicate(err))
	}
	return nil
}

// GetAgent reads an agent by id.
func (s *Store) GetAgent(ctx context.Context, id string) (*ticketing.Agent, error) {
	var a ticketing.Agent
	if err := s.agents.FindOne(ctx, byID(id)).Decode(&a); err != nil {
		return nil, fmt.Errorf("mongostore: get agent %s: %w", id, notFound(err))
	}
	return &a, nil
}

// GetAgentByEmail reads an agent by email, as stored (callers normalise).
func (s *Store) GetAgentByEmail(ctx context.Context, email string) (*ticketing.Agent, error) {
	var a ticketing.Agent
	if err := s.agents.FindOne(ctx, bson.D{{Key: "email", Value: email}}).Decode(&a); err != nil {
		return nil, fmt.Errorf("mongostore: get agent by email: %w", notFound(err))
	}
	return &a, nil
}

// ListAgents returns every agent, oldest first.
func (s *Store) ListAgents(ctx context.Context) ([]*ticketing.Agent, error) {
	cur, err := s.agents.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: list agents: %w", err)
	}
	agents := []*ticketing.Agent{}
	if err := cur.All(ctx, &agents); err != nil {
		return nil, fmt.Errorf("mongostore: list agents: %w", err)
	}
	return agents, nil
}

// UpdateAgent replaces the stored agent with a; ErrNotFound if it does not
// exist, ErrDuplicate if its new email is taken.
func (s *Store) UpdateAgent(ctx context.Context, a *ticketing.Agent) error {
	if err := s.replace(ctx, s.agents, a.ID, a); err != nil {
		return fmt.Errorf("mongostore: update agent %s: %w", a.ID, err)
	}
	return nil
}

// CountAgents counts the agents.
func (s *Store) CountAgents(ctx context.Context) (int64, error) {
	n, err := s.agents.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("mongostore: count agents: %w", err)
	}
	return n, nil
}

// InsertSession inserts a session; ErrDuplicate if its id exists.
func (s *Store) InsertSession(ctx context.Context, sess *ticketing.Session) error {
	if _, err := s.sessions.InsertOne(ctx, sess); err != nil {
		return fmt.Errorf("mongostore: insert session: %w", duplicate(err))
	}
	return nil
}

// GetSession reads a session by id. The id is a hash of the secret, but it
// is still left out of errors.
func (s *Store) GetSession(ctx context.Context, id string) (*ticketing.Session, error) {
	var sess ticketing.Session
	if err := s.sessions.FindOne(ctx, byID(id)).Decode(&sess); err != nil {
		return nil, fmt.Errorf("mongostore: get session: %w", notFound(err))
	}
	return &sess, nil
}

// DeleteSession deletes a session. Deleting one that does not exist is not
// an error: signing out twice is fine.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.sessions.DeleteOne(ctx, byID(id)); err != nil {
		return fmt.Errorf("mongostore: delete session: %w", err)
	}
	return nil
}

// UpdateSession replaces the stored session; ErrNotFound if it does not
// exist.
func (s *Store) UpdateSession(ctx context.Context, sess *ticketing.Session) error {
	if err := s.replace(ctx, s.sessions, sess.ID, sess); err != nil {
		return fmt.Errorf("mongostore: update session: %w", err)
	}
	return nil
}
