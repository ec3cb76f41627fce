package mongostore

import "context"

// ExplainIDLookup exposes explainIDLookup to the tests.
func (e *Embedded) ExplainIDLookup(ctx context.Context, dbName, collection string) (string, error) {
	return e.explainIDLookup(ctx, dbName, collection)
}
