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

// sharedStoreInterval is how often a node notes itself in the embedded
// store and looks for other processes there.
const sharedStoreInterval = 20 * time.Second

// warnSharedStore logs, once per new finding, that the embedded store is
// used in a way its per-document locks do not cover: by a second process,
// or by this one through its URI.
func (m *Main) warnSharedStore(ctx context.Context) {
	sh, err := m.Store.CheckSharing(ctx)
	if err != nil {
		m.logger().Debug("store sharing check failed", "err", err)
		return
	}
	if !sh.Unsafe() {
		return
	}
	key := fmt.Sprint(sh.Locked, sh.Others)
	if key == m.sharedWarned {
		return
	}
	m.sharedWarned = key
	m.logger().Warn("the embedded store is not made for several processes: it applies an update as a read and a write, "+
		"which Svar serialises per document with locks held in one process only, so concurrent updates from another "+
		"process can be lost. Run several nodes on MongoDB (SVAR_MONGODB_URI); see docs/operations.md",
		"other_processes", sh.Others, "this_process_holds_the_locks", sh.Locked)
}

func (m *Main) watchSharedStore(ctx context.Context) error {
	t := time.NewTicker(sharedStoreInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.warnSharedStore(ctx)
		}
	}
}
