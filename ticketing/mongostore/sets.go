package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// AddToSets adds values to named grow-only sets of the state document at
// key ({_id: key, v: {name: [...]}}) in one atomic update, creating the
// document as needed, and decodes the value after the change into v.
// Adding a value a set holds changes nothing, so concurrent writers and
// redeliveries merge instead of overwriting each other: this is how
// ticketing/sla keeps a ticket's clock facts consistent across nodes.
func (s *Store) AddToSets(ctx context.Context, key string, add map[string][]any, v any) error {
	fields := bson.D{}
	for name, vals := range add {
		if err := checkFieldName(name); err != nil {
			return ticketing.FieldError("set", "%q: %v", name, err)
		}
		if len(vals) > 0 {
			fields = append(fields, bson.E{Key: "v." + name, Value: bson.D{{Key: "$each", Value: vals}}})
		}
	}
	if len(fields) == 0 {
		err := s.GetState(ctx, key, v)
		if ticketing.IsNotFound(err) {
			return nil
		}
		return err
	}
	unlock, err := s.lock(ctx, collState, key)
	if err != nil {
		return err
	}
	defer unlock()
	var raw bson.Raw
	err = upsertRetry(func() error {
		var err error
		raw, err = s.state.FindOneAndUpdate(ctx, byID(key), bson.D{{Key: "$addToSet", Value: fields}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Raw()
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: add to sets %s: %w", key, err)
	}
	if err := raw.Lookup("v").Unmarshal(v); err != nil {
		return fmt.Errorf("mongostore: add to sets %s: decode: %w", key, err)
	}
	return nil
}
