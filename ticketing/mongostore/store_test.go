package mongostore_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func TestOpen(t *testing.T) {
	if _, err := mongostore.Open(t.Context(), mongostore.Options{}); err == nil {
		t.Fatal("Open without URI or Embedded succeeded")
	}

	e := mongotest.NewEmbedded(t)
	// Nodes starting at once all create (or find) the same collections
	// and indexes.
	stores := make([]*mongostore.Store, 3)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := mongostore.Open(t.Context(), mongostore.Options{Embedded: e, Logger: mongotest.Logger(t)})
			if err != nil {
				t.Error(err)
				return
			}
			stores[i] = s
		}()
	}
	wg.Wait()
	for _, s := range stores {
		if s == nil {
			t.FailNow()
		}
		mustNil(t, s.Ping(t.Context()))
		equal(t, "database", s.Database(), mongostore.DefaultDatabase)
	}
	// A second start on an existing database finds everything in place.
	again := mongotest.Open(t, e, mongostore.DefaultDatabase)
	n, err := again.NextTicketNumber(t.Context())
	mustNil(t, err)
	equal(t, "number", n, int64(1001))
	for _, s := range stores {
		mustNil(t, s.Close(t.Context()))
	}
	if err := stores[0].Ping(t.Context()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

// TestEveryIndexBuilds runs the index creation that only real MongoDB
// gets at Open (the embedded server skips the non-unique indexes) on the
// embedded server, twice, so every index spec is exercised in CI.
func TestEveryIndexBuilds(t *testing.T) {
	s := mongotest.New(t)
	for range 2 { // idempotent, as every node runs it at start
		got, err := s.CreateAllIndexes(t.Context(), "svar_index_check")
		mustNil(t, err)
		for coll, names := range mongostore.IndexNames() {
			for _, n := range names {
				if !slices.Contains(got[coll], n) {
					t.Errorf("index %s on %s missing after creation: %v", n, coll, got[coll])
				}
			}
		}
	}
}
