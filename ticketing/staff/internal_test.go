package staff

import (
	"context"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Hashing beyond MaxHashing waits, then is refused with rate_limited; a
// freed slot serves the next one.
func TestHashingIsCapped(t *testing.T) {
	s := New(Options{MaxHashing: 2, HashWait: 20 * time.Millisecond})
	ctx := context.Background()
	r1, err := s.acquireHash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.acquireHash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.checkPassword(ctx, "x", "y"); ticketing.ErrorCode(err) != ticketing.ETooMany {
		t.Fatalf("third hash at once: %v, want rate_limited", err)
	}
	r1()
	if _, err := s.checkPassword(ctx, "x", "y"); err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
	r2()
}
