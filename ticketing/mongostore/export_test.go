package mongostore

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ExplainIDLookup exposes explainIDLookup to the tests.
func (e *Embedded) ExplainIDLookup(ctx context.Context, dbName, collection string) (string, error) {
	return e.explainIDLookup(ctx, dbName, collection)
}

// CreateAllIndexes runs the index creation real MongoDB gets, with every
// index, in database dbName of the store's server, and returns the index
// names each collection then has.
func (s *Store) CreateAllIndexes(ctx context.Context, dbName string) (map[string][]string, error) {
	db := s.client.Database(dbName)
	if err := createIndexes(ctx, db, true); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, ix := range indexes() {
		if _, done := out[ix.coll]; done {
			continue
		}
		cur, err := db.Collection(ix.coll).Indexes().List(ctx)
		if err != nil {
			return nil, err
		}
		var specs []bson.M
		if err := cur.All(ctx, &specs); err != nil {
			return nil, err
		}
		for _, sp := range specs {
			out[ix.coll] = append(out[ix.coll], sp["name"].(string))
		}
	}
	return out, nil
}

// IndexNames lists the names of every index MongoDB gets.
func IndexNames() map[string][]string {
	out := map[string][]string{}
	for _, ix := range indexes() {
		out[ix.coll] = append(out[ix.coll], ix.name)
	}
	return out
}
