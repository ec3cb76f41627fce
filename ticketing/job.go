package ticketing

import (
	"context"
	"time"
)

// Job is a unit of work due at a time: an SLA warning or breach, a CSAT
// survey after its delay, a retention sweep, a handback of an assignment.
type Job struct {
	// Kind names the job's queue and handler, a token of [A-Za-z0-9_-]
	// ("sla", "csat", "retention").
	Kind string
	// Key identifies the job within its kind. Scheduling the same kind
	// and key twice stores one job, so a key names one version of the
	// work: include the due time (or a version) in it, so that a moved
	// due time is a new job; the old one still fires, and its handler
	// finds the state changed and does nothing.
	Key string
	// At is when the job is due. A job is never handed to its handler
	// before At; it is handed over as soon after as the bus can.
	At      time.Time
	Payload []byte
	// Attempt counts deliveries after At, from 1.
	Attempt int
}

// JobHandler runs one due job. nil means done: the job is removed. A
// *RetryError asks for the job again after its delay; any other error is
// retried with backoff (1s doubling, capped at 5 minutes). A
// *PoisonError drops the job (dead-lettered with the reason). A node that
// dies while its handler runs hands the job to another node after the
// bus's ack wait, so handlers must be idempotent: check the current state
// (is this clock still due at Job.At?) and make their effect once.
type JobHandler func(ctx context.Context, j *Job) error

// Scheduler is the one durable scheduled-job mechanism of Svar. Jobs
// survive restarts of every node; each due job is handed to one handler
// on one node at a time, however many nodes consume its kind.
type Scheduler interface {
	// Schedule stores a job due at at (a past at: due now). It returns
	// once the job is stored; scheduling an existing kind and key again
	// (within the bus's dedupe window) is success and changes nothing.
	Schedule(ctx context.Context, kind, key string, at time.Time, payload []byte) error
	// ConsumeJobs runs h for the due jobs of kind until ctx ends, on a
	// durable consumer shared by every node. It returns nil when ctx ends.
	ConsumeJobs(ctx context.Context, kind string, h JobHandler) error
}
