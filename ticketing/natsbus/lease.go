package natsbus

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// BucketLeases is the KV bucket that holds the leases (before any
// Namespace prefix). Its stream is KV_SVAR_LEASES.
const BucketLeases = "SVAR_LEASES"

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal.
const DefaultLeaseTTL = 10 * time.Second

// LeaseOptions configure NewLeases. Zero values are the defaults.
type LeaseOptions struct {
	// TTL is how long a lease lives after its last renewal: a node that
	// dies holding it is replaced after about this long. The holder renews
	// every TTL/3 and gives the job up when no renewal succeeded for 2/3 of
	// it. Every node of a cluster should use the same TTL (the bucket has
	// one; the last node to start sets it). Default 10s; at least 1s.
	TTL time.Duration
	// Node names this node in the lease entries (Holder). Default: the
	// bus's connection name and a random suffix.
	Node   string
	Logger *slog.Logger
}

// Leases implements ticketing.Leases with a NATS KV bucket whose entries
// expire after TTL (the bucket's max age, which nats-server 2.9 already
// has; no per-key TTL is needed):
//
//   - acquire: Create the key, which fails when another node's entry is
//     there and not yet expired;
//   - renew: Update the key with the revision this node last wrote, so a
//     renewal after someone else took over fails and the job stops;
//   - release: Delete the key at that revision, so another node takes
//     over at its next attempt instead of waiting for the TTL.
type Leases struct {
	b     *Bus
	ttl   time.Duration
	retry time.Duration // between acquisition attempts
	node  string
	log   *slog.Logger

	mu sync.Mutex
	kv jetstream.KeyValue
}

var (
	_ ticketing.Leases      = (*Leases)(nil)
	_ ticketing.LeaseHolder = (*Leases)(nil)
)

// NewLeases returns the leases of this bus. The bucket is created (or its
// TTL updated) on first use, so NewLeases does no I/O.
func NewLeases(b *Bus, o LeaseOptions) *Leases {
	if o.TTL <= 0 {
		o.TTL = DefaultLeaseTTL
	}
	o.TTL = max(o.TTL, time.Second)
	if o.Node == "" {
		var r [4]byte
		_, _ = rand.Read(r[:])
		o.Node = b.opts.Name + "-" + hex.EncodeToString(r[:])
	}
	if o.Logger == nil {
		o.Logger = b.log
	}
	return &Leases{b: b, ttl: o.TTL, retry: min(o.TTL/5, 2*time.Second), node: o.Node, log: o.Logger}
}

// Node is the name this node writes into the leases it holds.
func (l *Leases) Node() string { return l.node }

// leaseEntry is the value of a lease key.
type leaseEntry struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

func (l *Leases) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	cctx, cancel := opContext(ctx)
	defer cancel()
	kv, err := l.b.js.CreateOrUpdateKeyValue(cctx, jetstream.KeyValueConfig{
		Bucket:      l.b.StreamName(BucketLeases),
		Description: "Svar leases: which node runs each one-at-a-time job",
		TTL:         l.ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    l.b.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: lease bucket: %w", err)
	}
	l.kv = kv
	return kv, nil
}

// leaseKey maps a free-text lease name to a valid KV key: the name's safe
// characters for people reading the bucket, and a hash so that names that
// differ only in other characters stay apart.
func leaseKey(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
		if sb.Len() >= 64 {
			break
		}
	}
	sum := sha256.Sum256([]byte(name))
	return sb.String() + "." + hex.EncodeToString(sum[:6])
}

// Run implements ticketing.Leases.
func (l *Leases) Run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	key := leaseKey(name)
	for {
		rev, err := l.acquire(ctx, key)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			l.log.Warn("natsbus: lease: acquire failed; retrying", "lease", name, "err", err)
		}
		if rev != 0 {
			l.log.Info("natsbus: lease acquired", "lease", name, "node", l.node)
			done, err := l.hold(ctx, name, key, rev, fn)
			if done {
				return ctx.Err()
			}
			if err != nil {
				l.log.Warn("natsbus: lease: job stopped; trying again", "lease", name, "err", err)
			}
		}
		t := time.NewTimer(l.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// acquire creates the lease key; 0 without error means another node holds
// the lease.
func (l *Leases) acquire(ctx context.Context, key string) (uint64, error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, err
	}
	val, _ := json.Marshal(leaseEntry{Node: l.node, Since: time.Now().UTC()})
	cctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	rev, err := kv.Create(cctx, key, val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("natsbus: lease %s: create: %w", key, err)
	}
	return rev, nil
}

// hold runs fn while renewing the lease at revision rev. done reports that
// Run should return: fn finished its job, or ctx ended.
func (l *Leases) hold(ctx context.Context, name, key string, rev uint64, fn func(context.Context) error) (done bool, err error) {
	kv, _ := l.bucket(ctx) // acquire has created it
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fnDone := make(chan error, 1)
	go func() { fnDone <- fn(jobCtx) }()

	val, _ := json.Marshal(leaseEntry{Node: l.node, Since: time.Now().UTC()})
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case err := <-fnDone:
			l.release(kv, name, key, rev)
			return err == nil, err
		case <-ctx.Done():
			cancel()
			<-fnDone
			l.release(kv, name, key, rev)
			return true, nil
		case <-tick.C:
			rctx, rcancel := context.WithTimeout(ctx, l.ttl/3)
			next, err := kv.Update(rctx, key, val, rev)
			rcancel()
			if err == nil {
				rev, lastOK = next, time.Now()
				continue
			}
			if ctx.Err() != nil {
				continue // the ctx.Done case releases
			}
			var apiErr *jetstream.APIError
			lost := errors.As(err, &apiErr) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound)
			// The server expires the entry TTL after the last renewal it
			// stored; stop well before that so two nodes seldom overlap.
			if !lost && time.Since(lastOK) < l.ttl*2/3 {
				l.log.Warn("natsbus: lease: renewal failed; retrying", "lease", name, "err", err)
				continue
			}
			l.log.Warn("natsbus: lease lost; stopping the job", "lease", name, "node", l.node, "err", err)
			cancel()
			<-fnDone
			if !lost {
				l.release(kv, name, key, rev)
			}
			return false, fmt.Errorf("natsbus: lease %s lost: %w", name, err)
		}
	}
}

// release deletes the lease at the revision this node wrote last; when
// another node has taken over meanwhile the delete fails and changes
// nothing.
func (l *Leases) release(kv jetstream.KeyValue, name, key string, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("natsbus: lease: release failed (it expires by itself)", "lease", name, "err", err)
		return
	}
	l.log.Info("natsbus: lease released", "lease", name, "node", l.node)
}

// Holder implements ticketing.LeaseHolder.
func (l *Leases) Holder(ctx context.Context, name string) (string, error) {
	kv, err := l.bucket(ctx)
	if err != nil {
		return "", err
	}
	cctx, cancel := opContext(ctx)
	defer cancel()
	e, err := kv.Get(cctx, leaseKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("natsbus: lease holder %s: %w", name, err)
	}
	var le leaseEntry
	if err := json.Unmarshal(e.Value(), &le); err != nil {
		return "", fmt.Errorf("natsbus: lease holder %s: %w", name, err)
	}
	return le.Node, nil
}
