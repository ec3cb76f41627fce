package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/svar-dev/svar/ticketing"
)

// collViews holds saved list views (_id-keyed, a few dozen per shop).
const collViews = "views"

var _ ticketing.ViewStore = (*Store)(nil)

// InsertView stores a new view; ErrDuplicate if its id exists.
func (s *Store) InsertView(ctx context.Context, v *ticketing.View) error {
	if _, err := s.db.Collection(collViews).InsertOne(ctx, v); err != nil {
		return fmt.Errorf("mongostore: insert view: %w", duplicate(err))
	}
	return nil
}

// GetView reads a view by id.
func (s *Store) GetView(ctx context.Context, id string) (*ticketing.View, error) {
	var v ticketing.View
	if err := s.db.Collection(collViews).FindOne(ctx, byID(id)).Decode(&v); err != nil {
		return nil, fmt.Errorf("mongostore: get view %s: %w", id, notFound(err))
	}
	return &v, nil
}

// ListViews reads every view (the collection is small).
func (s *Store) ListViews(ctx context.Context) ([]*ticketing.View, error) {
	cur, err := s.db.Collection(collViews).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongostore: list views: %w", err)
	}
	out := []*ticketing.View{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("mongostore: list views: %w", err)
	}
	return out, nil
}

// DeleteView deletes a view; deleting nothing is not an error.
func (s *Store) DeleteView(ctx context.Context, id string) error {
	if _, err := s.db.Collection(collViews).DeleteOne(ctx, byID(id)); err != nil {
		return fmt.Errorf("mongostore: delete view %s: %w", id, err)
	}
	return nil
}
