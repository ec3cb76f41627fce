package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/svar-dev/svar/ticketing/mongostore"
)

// readiness answers /readyz: the node has started, its read models have
// applied every event that was published while it started, and it is not
// shutting down.
type readiness struct {
	started, stopping atomic.Bool
	target, applied   atomic.Uint64 // events stream sequences
}

func (r *readiness) Ready(context.Context) error {
	switch {
	case r.stopping.Load():
		return errors.New("shutting down")
	case !r.started.Load():
		return errors.New("starting")
	}
	if a, t := r.applied.Load(), r.target.Load(); a < t {
		return fmt.Errorf("catching up with events (%d of %d)", a, t)
	}
	return nil
}

// openStore opens the store, retrying with backoff while it cannot be
// reached, until ctx ends.
func openStore(ctx context.Context, log *slog.Logger, o mongostore.Options) (*mongostore.Store, error) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := mongostore.Open(octx, o)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		log.Warn("store unreachable; retrying", "attempt", attempt, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}
