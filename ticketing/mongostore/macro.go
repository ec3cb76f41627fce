package mongostore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/macro"
)

// Macros live in the macros collection: one document per macro, keyed by
// its id, plus the list document {_id: "_all", items: {<id>: macro}} that
// holds them all, so that listing is a single _id read. Both are written
// by _id alone; the list is changed with $set/$unset of one item, which
// two nodes can do at once without losing each other's change.
const macroListID = "_all"

var _ macro.Store = (*Store)(nil)

type macroList struct {
	Items map[string]*macro.Macro `bson:"items"`
}

// PutMacro inserts or replaces m and its entry in the list.
func (s *Store) PutMacro(ctx context.Context, m *macro.Macro) error {
	if m.ID == "" || m.ID == macroListID || strings.ContainsAny(m.ID, ".$") {
		return ticketing.FieldError("id", "is not a valid macro id")
	}
	if err := s.upsert(ctx, collMacros, m.ID, m); err != nil {
		return fmt.Errorf("mongostore: put macro %s: %w", m.ID, err)
	}
	if err := s.updateMacroList(ctx, bson.D{{Key: "$set", Value: bson.D{{Key: "items." + m.ID, Value: m}}}}); err != nil {
		return fmt.Errorf("mongostore: put macro %s: list: %w", m.ID, err)
	}
	return nil
}

// GetMacro reads one macro.
func (s *Store) GetMacro(ctx context.Context, id string) (*macro.Macro, error) {
	if id == macroListID {
		return nil, fmt.Errorf("mongostore: get macro %s: %w", id, ticketing.ErrNotFound)
	}
	var m macro.Macro
	if err := s.db.Collection(collMacros).FindOne(ctx, byID(id)).Decode(&m); err != nil {
		return nil, fmt.Errorf("mongostore: get macro %s: %w", id, notFound(err))
	}
	return &m, nil
}

// DeleteMacro removes a macro from the list and its document.
func (s *Store) DeleteMacro(ctx context.Context, id string) error {
	if id == "" || id == macroListID || strings.ContainsAny(id, ".$") {
		return nil
	}
	if err := s.updateMacroList(ctx, bson.D{{Key: "$unset", Value: bson.D{{Key: "items." + id, Value: ""}}}}); err != nil {
		return fmt.Errorf("mongostore: delete macro %s: list: %w", id, err)
	}
	if _, err := s.db.Collection(collMacros).DeleteOne(ctx, byID(id)); err != nil {
		return fmt.Errorf("mongostore: delete macro %s: %w", id, err)
	}
	return nil
}

// ListMacros reads every macro from the list document, by name.
func (s *Store) ListMacros(ctx context.Context) ([]*macro.Macro, error) {
	var l macroList
	err := s.db.Collection(collMacros).FindOne(ctx, byID(macroListID)).Decode(&l)
	if err != nil && !ticketing.IsNotFound(notFound(err)) {
		return nil, fmt.Errorf("mongostore: list macros: %w", err)
	}
	out := make([]*macro.Macro, 0, len(l.Items))
	for _, m := range l.Items {
		if m != nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *macro.Macro) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) updateMacroList(ctx context.Context, update bson.D) error {
	unlock, err := s.lock(ctx, collMacros, macroListID)
	if err != nil {
		return err
	}
	defer unlock()
	c := s.db.Collection(collMacros)
	return upsertRetry(func() error {
		_, err := c.UpdateOne(ctx, byID(macroListID), update, options.UpdateOne().SetUpsert(true))
		return err
	})
}
