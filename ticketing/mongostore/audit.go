package mongostore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing/audit"
)

// The audit log (ticketing/audit): one document per hour,
// {_id: "2026-12-03T20", entries: [...]}, appended to with $push.

type auditBucket struct {
	Entries []audit.Entry `bson:"entries"`
}

// AppendAudit implements audit.Store.
func (s *Store) AppendAudit(ctx context.Context, bucket string, e audit.Entry) error {
	c := s.db.Collection(collAudit)
	err := upsertRetry(func() error {
		_, err := c.UpdateOne(ctx, byID(bucket), bson.D{{Key: "$push", Value: bson.D{{Key: "entries", Value: e}}}},
			options.UpdateOne().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: append audit %s: %w", bucket, err)
	}
	return nil
}

// AuditBucket implements audit.Store.
func (s *Store) AuditBucket(ctx context.Context, bucket string) ([]audit.Entry, error) {
	var b auditBucket
	err := s.db.Collection(collAudit).FindOne(ctx, byID(bucket)).Decode(&b)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: audit bucket %s: %w", bucket, err)
	}
	return b.Entries, nil
}

// DeleteAuditBucket implements audit.Store.
func (s *Store) DeleteAuditBucket(ctx context.Context, bucket string) error {
	if _, err := s.db.Collection(collAudit).DeleteOne(ctx, byID(bucket)); err != nil {
		return fmt.Errorf("mongostore: delete audit bucket %s: %w", bucket, err)
	}
	return nil
}
