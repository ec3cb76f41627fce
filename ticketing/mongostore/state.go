package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// State documents are {_id: key, v: value}. Counters live in the same
// shape, {_id: key, v: {name: n, ...}}, so GetState reads them back into a
// map[string]int64 (or a struct with matching bson names).

// GetState decodes the value at key into v; ErrNotFound if absent.
func (s *Store) GetState(ctx context.Context, key string, v any) error {
	raw, err := s.state.FindOne(ctx, byID(key)).Raw()
	if err != nil {
		return fmt.Errorf("mongostore: get state %s: %w", key, notFound(err))
	}
	val := raw.Lookup("v")
	if val.IsZero() {
		return fmt.Errorf("mongostore: get state %s: %w", key, ticketing.ErrNotFound)
	}
	if err := val.Unmarshal(v); err != nil {
		return fmt.Errorf("mongostore: get state %s: decode: %w", key, err)
	}
	return nil
}

// PutState stores v at key, replacing what was there.
func (s *Store) PutState(ctx context.Context, key string, v any) error {
	if err := s.upsert(ctx, collState, key, bson.D{{Key: "_id", Value: key}, {Key: "v", Value: v}}); err != nil {
		return fmt.Errorf("mongostore: put state %s: %w", key, err)
	}
	return nil
}

// InsertState stores v at key only if key is absent; ErrDuplicate if not.
func (s *Store) InsertState(ctx context.Context, key string, v any) error {
	if _, err := s.state.InsertOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "v", Value: v}}); err != nil {
		return fmt.Errorf("mongostore: insert state %s: %w", key, duplicate(err))
	}
	return nil
}

// DeleteState deletes the value at key; deleting nothing is not an error.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	if _, err := s.state.DeleteOne(ctx, byID(key)); err != nil {
		return fmt.Errorf("mongostore: delete state %s: %w", key, err)
	}
	return nil
}

// IncCounters adds inc to the named counters of the document at key,
// creating the document and the counters as needed.
func (s *Store) IncCounters(ctx context.Context, key string, inc map[string]int64) error {
	if len(inc) == 0 {
		return nil
	}
	fields := make(bson.D, 0, len(inc))
	for name, n := range inc {
		if err := checkFieldName(name); err != nil {
			return ticketing.FieldError("counter", "%q: %v", name, err)
		}
		fields = append(fields, bson.E{Key: "v." + name, Value: n})
	}
	unlock, err := s.lock(ctx, collState, key)
	if err != nil {
		return err
	}
	defer unlock()
	err = upsertRetry(func() error {
		_, err := s.state.UpdateOne(ctx, byID(key), bson.D{{Key: "$inc", Value: fields}}, options.UpdateOne().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: inc counters %s: %w", key, err)
	}
	return nil
}
