// Package audit is Svar's append-only audit log: who signed in (or
// failed to), changed agents, roles, teams or settings, created or revoked
// tokens, exported, erased or merged customers, when and from where. It
// never holds message text.
//
// Entries are kept in hourly bucket documents keyed by _id
// ("2026-12-03T20"), each appended to atomically ($push). A listing reads
// buckets newest first by _id and filters in Go, over a bounded range of
// hours per request (a cursor continues further back), so it never scans
// the store: the embedded store has no index but _id.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Actor is who did something.
type Actor struct {
	Kind string `json:"kind" bson:"kind"` // agent, token, system, cli, anonymous
	ID   string `json:"id" bson:"id"`
	Name string `json:"name" bson:"name"`
}

// Entry is one audit record.
type Entry struct {
	ID     string    `json:"id" bson:"id"`
	At     time.Time `json:"at" bson:"at"`
	Actor  Actor     `json:"actor" bson:"actor"`
	Action string    `json:"action" bson:"action"`
	Target string    `json:"target" bson:"target"`
	IP     string    `json:"ip" bson:"ip"`
}

// Recorder is the one interface every place that audits uses. An entry's
// empty Actor and IP are filled from the context (WithActor); At and ID
// are set by the Recorder.
type Recorder interface {
	Record(ctx context.Context, e Entry)
}

// Nop records nothing.
type Nop struct{}

// Record implements Recorder.
func (Nop) Record(context.Context, Entry) {}

type ctxKey struct{}

type who struct {
	actor Actor
	ip    string
}

// WithActor returns ctx carrying the actor and client address of a
// request, for entries recorded under it.
func WithActor(ctx context.Context, a Actor, ip string) context.Context {
	return context.WithValue(ctx, ctxKey{}, who{a, ip})
}

// FromContext returns the actor and address WithActor put in ctx.
func FromContext(ctx context.Context) (Actor, string) {
	w, _ := ctx.Value(ctxKey{}).(who)
	return w.actor, w.ip
}

// Store keeps the buckets.
type Store interface {
	// AppendAudit appends e to the bucket document (creating it).
	AppendAudit(ctx context.Context, bucket string, e Entry) error
	// AuditBucket returns a bucket's entries in append order; none when it
	// does not exist.
	AuditBucket(ctx context.Context, bucket string) ([]Entry, error)
	// DeleteAuditBucket drops a bucket (retention).
	DeleteAuditBucket(ctx context.Context, bucket string) error
}

// Log is the audit log on a Store.
type Log struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Log.
func New(store Store, logger *slog.Logger, now func() time.Time) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, log: logger, now: now}
}

const bucketLayout = "2006-01-02T15"

// Bucket is the bucket of time t.
func Bucket(t time.Time) string { return t.UTC().Format(bucketLayout) }

// Record appends e. A failure is logged, never returned: auditing must not
// undo what was done (the action already happened).
func (l *Log) Record(ctx context.Context, e Entry) {
	a, ip := FromContext(ctx)
	if e.Actor.Kind == "" {
		e.Actor = a
	}
	if e.Actor.Kind == "" {
		e.Actor.Kind = "system"
	}
	if e.IP == "" {
		e.IP = ip
	}
	e.At = l.now().UTC()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e.ID = strconv.FormatInt(e.At.UnixNano(), 36) + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.store.AppendAudit(ctx, Bucket(e.At), e); err != nil {
		l.log.Error("audit: record an entry", "action", e.Action, "err", err)
	}
}

// Filter selects entries.
type Filter struct {
	Actor  string // an actor id (or name)
	Action string // an action, or a prefix ending in "." (e.g. "token.")
	Limit  int    // default 50, at most 200
	Cursor string
}

// Page is a page of entries, newest first.
type Page struct {
	Entries    []Entry `json:"entries"`
	NextCursor string  `json:"next_cursor"`
}

// scanHours bounds how many hourly buckets one request reads.
const scanHours = 31 * 24

// List returns entries newest first.
func (l *Log) List(ctx context.Context, f Filter) (*Page, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		return nil, ticketing.FieldError("limit", "must be at most 200")
	}
	hour := l.now().UTC().Truncate(time.Hour)
	pos := -1 // -1: from the bucket's end
	if f.Cursor != "" {
		bk, p, ok := strings.Cut(f.Cursor, "/")
		t, err := time.Parse(bucketLayout, bk)
		n, err2 := strconv.Atoi(p)
		if !ok || err != nil || err2 != nil || n < 0 {
			return nil, ticketing.FieldError("cursor", "is not a cursor from this list")
		}
		hour, pos = t, n
	}
	out := &Page{Entries: []Entry{}}
	for i := 0; i < scanHours; i++ {
		bk := Bucket(hour)
		entries, err := l.store.AuditBucket(ctx, bk)
		if err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		end := len(entries)
		if pos >= 0 && pos < end {
			end = pos
		}
		for j := end - 1; j >= 0; j-- {
			e := entries[j]
			if !f.match(e) {
				continue
			}
			if len(out.Entries) == f.Limit {
				out.NextCursor = bk + "/" + strconv.Itoa(j+1)
				return out, nil
			}
			out.Entries = append(out.Entries, e)
		}
		hour, pos = hour.Add(-time.Hour), -1
	}
	// More may lie further back than one request reads.
	out.NextCursor = Bucket(hour) + "/" + strconv.Itoa(1<<30)
	return out, nil
}

func (f Filter) match(e Entry) bool {
	if f.Actor != "" && e.Actor.ID != f.Actor && e.Actor.Name != f.Actor {
		return false
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			return strings.HasPrefix(e.Action, f.Action)
		}
		return e.Action == f.Action
	}
	return true
}

// Prune drops the buckets of the week before keepDays ago (the daily
// retention job calls it, so a few missed days are caught up); 0 keeps
// everything.
func (l *Log) Prune(ctx context.Context, keepDays int) error {
	if keepDays <= 0 {
		return nil
	}
	end := l.now().UTC().Truncate(time.Hour).Add(-time.Duration(keepDays) * 24 * time.Hour)
	for h := 1; h <= 7*24; h++ {
		if err := l.store.DeleteAuditBucket(ctx, Bucket(end.Add(-time.Duration(h)*time.Hour))); err != nil {
			return err
		}
	}
	return nil
}
