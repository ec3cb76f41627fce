package ticketing

import "context"

// Leases runs jobs that must run on one node at a time however many nodes
// share the bus: reading a mailbox, a daily sweep, a clock. It is the one
// mechanism for "one node does this"; ticketing/natsbus implements it with
// a NATS KV bucket whose entries expire (a lease with a TTL).
//
// Run blocks until ctx ends. Meanwhile it tries to acquire the lease called
// name (names are free text; nodes that use the same name exclude each
// other), and while this node holds it runs fn with a context that is
// cancelled as soon as the lease is lost (a renewal failed, or could not
// be confirmed within the TTL) or ctx ends. fn must return promptly when
// its context ends.
//
//   - fn returns nil: the job is done; the lease is released and Run
//     returns nil.
//   - fn returns an error, or the lease is lost: the lease is released if
//     still held, and Run tries again after a short delay, so that another
//     node may take over.
//   - ctx ends: fn's context is cancelled, Run waits for fn, releases the
//     lease (so another node takes over at once) and returns ctx.Err().
//
// A node that dies without releasing keeps the lease until its TTL runs
// out; another node then takes over within about one TTL. Between a lost
// renewal and fn noticing, two nodes may briefly both run fn: jobs must be
// idempotent (publish with dedupe ids, write keyed by _id), as everything
// in Svar is anyway. The lease only keeps the duplicate work rare.
type Leases interface {
	Run(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// LeaseHolder is an optional capability of a Leases: who holds the lease
// called name right now ("" when nobody does), for status pages and tests.
type LeaseHolder interface {
	Holder(ctx context.Context, name string) (node string, err error)
}
