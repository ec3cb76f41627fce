package mongostore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing/webhook"
)

// Webhooks are {_id: id, ...} in "webhooks" (a small collection: at most
// webhook.MaxWebhooks); each one's delivery log is {_id: id, attempts:
// [...]} in "webhook_deliveries", written by the one node delivering at
// a time.

var _ webhook.Store = (*Store)(nil)

// InsertWebhook inserts w.
func (s *Store) InsertWebhook(ctx context.Context, w *webhook.Webhook) error {
	if _, err := s.db.Collection(collWebhooks).InsertOne(ctx, w); err != nil {
		return fmt.Errorf("mongostore: insert webhook: %w", duplicate(err))
	}
	return nil
}

// GetWebhook returns the webhook; ticketing.ErrNotFound if none.
func (s *Store) GetWebhook(ctx context.Context, id string) (*webhook.Webhook, error) {
	var w webhook.Webhook
	if err := s.db.Collection(collWebhooks).FindOne(ctx, byID(id)).Decode(&w); err != nil {
		return nil, fmt.Errorf("mongostore: get webhook %s: %w", id, notFound(err))
	}
	return &w, nil
}

// ListWebhooks returns every webhook.
func (s *Store) ListWebhooks(ctx context.Context) ([]*webhook.Webhook, error) {
	cur, err := s.db.Collection(collWebhooks).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongostore: list webhooks: %w", err)
	}
	out := []*webhook.Webhook{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongostore: list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook deletes the webhook and its log.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	if _, err := s.db.Collection(collWebhooks).DeleteOne(ctx, byID(id)); err != nil {
		return fmt.Errorf("mongostore: delete webhook %s: %w", id, err)
	}
	if _, err := s.db.Collection(collWebhookDeliveries).DeleteOne(ctx, byID(id)); err != nil {
		return fmt.Errorf("mongostore: delete webhook log %s: %w", id, err)
	}
	return nil
}

type attemptLog struct {
	ID       string            `bson:"_id"`
	Attempts []webhook.Attempt `bson:"attempts"`
}

// AddAttempts appends as to the webhook's log, keeping the newest max:
// one read and one write of the log document however many there are.
func (s *Store) AddAttempts(ctx context.Context, id string, as []webhook.Attempt, max int) error {
	unlock, err := s.lock(ctx, collWebhookDeliveries, id)
	if err != nil {
		return err
	}
	defer unlock()
	log, err := s.attemptLog(ctx, id)
	if err != nil {
		return err
	}
	log.Attempts = append(log.Attempts, as...)
	if len(log.Attempts) > max {
		log.Attempts = log.Attempts[len(log.Attempts)-max:]
	}
	c := s.db.Collection(collWebhookDeliveries)
	err = upsertRetry(func() error {
		_, err := c.ReplaceOne(ctx, byID(id), log, replaceUpsert())
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: add webhook attempt %s: %w", id, err)
	}
	return nil
}

func (s *Store) attemptLog(ctx context.Context, id string) (*attemptLog, error) {
	log := &attemptLog{ID: id}
	err := s.db.Collection(collWebhookDeliveries).FindOne(ctx, byID(id)).Decode(log)
	if err != nil && !isNoDocuments(err) {
		return nil, fmt.Errorf("mongostore: webhook log %s: %w", id, err)
	}
	return log, nil
}

// Attempts returns the webhook's log, newest first.
func (s *Store) Attempts(ctx context.Context, id string) ([]webhook.Attempt, error) {
	log, err := s.attemptLog(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Attempt, 0, len(log.Attempts))
	for i := len(log.Attempts) - 1; i >= 0; i-- {
		out = append(out, log.Attempts[i])
	}
	return out, nil
}

func replaceUpsert() options.Lister[options.ReplaceOptions] { return options.Replace().SetUpsert(true) }

func isNoDocuments(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }
