package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// TestListNewestFirstFilterCursorAndPrune: entries come newest first
// across hourly buckets, filter by actor and action prefix, page with a
// cursor, and Prune drops what is older than the kept days.
func TestListNewestFirstFilterCursorAndPrune(t *testing.T) {
	store := mongotest.New(t)
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	clock := now.Add(-400 * 24 * time.Hour)
	log := audit.New(store, nil, func() time.Time { return clock })
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: "agent", ID: "a1", Name: "Ada"}, "10.0.0.1")
	log.Record(ctx, audit.Entry{Action: "token.created", Target: "token:old"})
	clock = now.Add(-3 * time.Hour)
	log.Record(ctx, audit.Entry{Action: "token.created", Target: "token:1"})
	clock = now.Add(-time.Hour)
	log.Record(ctx, audit.Entry{Action: "token.revoked", Target: "token:1"})
	log.Record(context.Background(), audit.Entry{Action: "customer.erased", Target: "customer:c1"})
	clock = now

	page, err := log.List(context.Background(), audit.Filter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 || page.Entries[0].Action != "customer.erased" || page.Entries[0].Actor.Kind != "system" ||
		page.Entries[1].Action != "token.revoked" || page.Entries[1].IP != "10.0.0.1" || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	next, err := log.List(context.Background(), audit.Filter{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(next.Entries) != 1 || next.Entries[0].Target != "token:1" {
		t.Fatalf("second page %+v %v", next, err)
	}
	f, _ := log.List(context.Background(), audit.Filter{Actor: "a1", Action: "token."})
	if len(f.Entries) != 2 {
		t.Fatalf("filtered %+v", f.Entries)
	}
	if _, err := log.List(context.Background(), audit.Filter{Cursor: "nonsense"}); err == nil {
		t.Fatal("a bad cursor is accepted")
	}
	bucket := audit.Bucket(now.Add(-400 * 24 * time.Hour))
	if es, _ := store.AuditBucket(context.Background(), bucket); len(es) != 1 {
		t.Fatalf("old bucket %v", es)
	}
	if err := log.Prune(context.Background(), 398); err != nil {
		t.Fatal(err)
	}
	if es, _ := store.AuditBucket(context.Background(), bucket); len(es) != 0 {
		t.Fatalf("old bucket after prune %v", es)
	}
	if es, _ := store.AuditBucket(context.Background(), audit.Bucket(now.Add(-time.Hour))); len(es) != 2 {
		t.Fatalf("a recent bucket after prune %v", es)
	}
}
