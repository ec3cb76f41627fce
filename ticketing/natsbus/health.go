package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Ping checks that the bus can do its job: what the embedded server knows
// is broken (a stream that can no longer write, JetStream disabled), a
// round trip, JetStream's account info, and a tiny write to SVAR_HEALTH.
// The write is what notices a full disk: JetStream answers reads and
// account info while it cannot store anything.
func (b *Bus) Ping(ctx context.Context) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	if e := b.opts.Embedded; e != nil {
		if err := e.Healthy(); err != nil {
			return fmt.Errorf("natsbus: ping: embedded server: %w", err)
		}
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("natsbus: ping: %w", err)
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("natsbus: ping jetstream: %w", err)
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := b.js.Publish(ctx, b.probeSubj, []byte(stamp)); err != nil {
		return fmt.Errorf("natsbus: ping: jetstream cannot store: %w", err)
	}
	return nil
}

// probeSubject is this Bus's own subject on SVAR_HEALTH, so that nodes
// keep one probe message each.
func probeSubject(n names) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return n.healthSubj + hex.EncodeToString(r[:])
}
