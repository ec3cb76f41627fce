// Package natsbus implements ticketing.Bus on NATS JetStream, and runs an
// embedded NATS server for single-binary installs. It is the only package
// of Svar that imports NATS.
//
// # Streams and subjects
//
// Connect creates (or updates) five file-backed streams:
//
//	stream         subjects          retention                       purpose
//	SVAR_INBOUND   svar.inbound.>    work queue, dedupe DedupeWindow  envelopes from the channel adapters
//	SVAR_OUTBOUND  svar.outbound.>   work queue, dedupe DedupeWindow  replies for the channel adapters
//	SVAR_EVENTS    svar.events.>     limits: EventsMaxAge, 1M msgs    domain events, kept for catching up
//	SVAR_DLQ       svar.dlq.>        limits: 30 days                  dead letters, with the reason
//	SVAR_JOBS      svar.jobs.>       work queue, dedupe 24h           scheduled jobs (ticketing.Scheduler)
//
// Subjects end in a channel (svar.inbound.email, svar.outbound.sms), an
// event type (svar.events.ticket.created) or a dead letter's origin
// (svar.dlq.inbound, svar.dlq.outbound.email). Node-to-node relay traffic
// uses core NATS on svar.relay.<topic> and is never stored. A Namespace
// (for tests sharing one server) prefixes every stream name (NS_SVAR_EVENTS)
// and subject (NS.svar.events.>).
//
// Only features of nats-server 2.9 are relied on, so an external server of
// that age works as well as the embedded one.
//
// # Leases
//
// Leases (lease.go) is the one mechanism for jobs that run on one node at a
// time: a KV bucket SVAR_LEASES whose entries expire TTL after they were
// last written (the bucket's max age, so 2.9 works; no per-key TTL). A node
// creates a key to take a lease, renews it with a revision-checked update,
// stops its job when a renewal fails or cannot be confirmed for 2/3 of the
// TTL, and deletes the key at its revision to hand the lease over.
//
// # Backups
//
// Backup and Restore (backup.go) copy Svar's streams message by message
// (all but the events and the leases) and bring them back into a fresh
// server.
//
// # Delivery
//
// Publishing to SVAR_INBOUND and SVAR_OUTBOUND waits for JetStream's
// acknowledgement and sets Nats-Msg-Id (the envelope's DedupeID; "out:" and
// the message id, plus ":" and the Fallback channel), so a publish repeated
// within the dedupe window is stored once. Events are published
// asynchronously with a bounded number of acknowledgements outstanding.
//
// The core consumes SVAR_INBOUND with one durable pull consumer, svar-core,
// shared by every node: each envelope goes to one node at a time and is
// removed when acknowledged. Each adapter consumes its channel with the
// durable svar-outbound-<channel>, also shared. Delivery is at least once;
// the consumers make processing idempotent with deterministic ids.
//
// A failed message is redelivered after a backoff the bus asks for with
// NakWithDelay (RetryDelay, doubling, capped at a minute inbound and five
// minutes outbound); a message whose handler died with its node comes back
// after AckWait, and handlers that run long are kept alive with
// InProgress. The consumers have no server-side BackOff (the server would
// add its steps to every NakWithDelay) and no server-side MaxDeliver: the
// bus counts deliveries itself and moves a message to SVAR_DLQ on its last
// allowed delivery, or on the one after when that delivery was lost with a
// node, so nothing stays stuck in a work queue. Poison messages
// (*ticketing.PoisonError, undecodable JSON) go to SVAR_DLQ at once. A
// dead letter is the original body with the headers Svar-Reason,
// Svar-Subject, Svar-Deliveries and Svar-Stream-Seq; the message is
// terminated only after its dead letter is stored.
//
// Every node reads SVAR_EVENTS with its own ordered consumer
// (SubscribeEvents), which survives reconnects without gaps; Event.Seq is
// the stream sequence, so a console that reconnects asks EventsAfter for
// what it missed.
//
// # Scheduled jobs
//
// Schedule publishes a job on svar.jobs.<kind> with its due time in the
// Svar-Job-At header and Nats-Msg-Id "job:<kind>:<key>". ConsumeJobs reads
// a kind with the durable svar-jobs-<kind>, shared by every node. A job
// that is not due is refused with NakWithDelay(due - now): it stays
// pending on the consumer and the server redelivers it at its due time,
// to the millisecond, to whichever node has a pull open. This needs only
// nats-server 2.9 (message scheduling with Nats-Schedule, new in 2.12,
// ticks once a second and cannot take a work queue's dedupe). Waiting
// jobs count against MaxAckPending (JobsMaxAckPending). A due job is
// acknowledged after its handler returns nil; a node dying mid-job hands
// it to another after AckWait.
//
// When a consume call's ctx ends, the work in hand finishes and messages
// pulled but not started are handed back for immediate redelivery:
// nothing is lost on shutdown. (A server older than 2.10 may hand them to
// the stopped node's still-open pull request; they then come back after
// AckWait instead.)
package natsbus
