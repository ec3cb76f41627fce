package report

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// maxBatch is the most events one write transaction takes.
const maxBatch = 512

// txn is a write transaction. (Preparing statements would not save the
// parsing: modernc.org/sqlite v1.31 parses a statement again at every
// execution; batching events is what makes a transaction cheap.)
type txn struct {
	ctx context.Context
	tx  *sql.Tx
}

func (x *Index) begin(ctx context.Context) (*txn, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &txn{ctx: ctx, tx: tx}, nil
}

// Exec runs query in the transaction.
func (t *txn) Exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, query, args...)
}

// QueryRow runs query in the transaction.
func (t *txn) QueryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

func (t *txn) Commit() error { return t.tx.Commit() }

func (t *txn) Rollback() error { return t.tx.Rollback() }

// follow applies the events stream from sequence from until ctx ends, in
// batches: one transaction, and one recomputation of each hour bucket
// the batch touched, for as many events as have arrived meanwhile (up to
// maxBatch). One event per transaction recomputed the current hour's
// buckets from every fact of that hour for each event.
func (x *Index) follow(ctx context.Context, from uint64) error {
	queue := make(chan *ticketing.Event, 2*maxBatch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		batch := make([]*ticketing.Event, 0, maxBatch)
		tick := time.NewTicker(flushEvery)
		defer tick.Stop()
		for {
			batch = batch[:0]
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// Traffic stopped: what is pending is recomputed now.
				if err := x.FlushPending(ctx); err != nil && ctx.Err() == nil {
					x.log.Error("report: recompute buckets", "err", err)
				}
				continue
			case ev := <-queue:
				batch = append(batch, ev)
			}
		fill:
			for len(batch) < maxBatch {
				select {
				case ev := <-queue:
					batch = append(batch, ev)
				default:
					break fill
				}
			}
			x.applyOrEach(ctx, batch)
		}
	}()
	err := x.o.Events.SubscribeEvents(ctx, from, func(ev *ticketing.Event) {
		select {
		case queue <- ev:
		case <-ctx.Done():
		}
	})
	<-done
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// applyOrEach applies a batch in one transaction; when that fails, each
// event on its own, so that one event the index cannot take does not
// keep the others out.
func (x *Index) applyOrEach(ctx context.Context, evs []*ticketing.Event) {
	err := x.ApplyBatch(ctx, evs)
	if err == nil || ctx.Err() != nil || len(evs) == 1 {
		if err != nil && ctx.Err() == nil {
			x.log.Error("report: apply event", "type", evs[0].Type, "err", err)
		}
		return
	}
	for _, ev := range evs {
		if err := x.ApplyBatch(ctx, []*ticketing.Event{ev}); err != nil && ctx.Err() == nil {
			x.log.Error("report: apply event", "type", ev.Type, "seq", ev.Seq, "err", err)
		}
	}
}

// ApplyBatch takes events into the index in one transaction; applying
// them twice changes nothing.
func (x *Index) ApplyBatch(ctx context.Context, evs []*ticketing.Event) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	tx, err := x.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	d := newDirty()
	var seq uint64
	for _, ev := range evs {
		if ev.Seq > seq {
			seq = ev.Seq
		}
		if err := x.apply(ctx, tx, ev, d); err != nil {
			return err
		}
	}
	// Grouped message counts are deltas, applied with their facts; the
	// buckets recomputed from facts wait for the next flush.
	if err := d.applyMoves(tx); err != nil {
		return err
	}
	if err := d.keepHours(tx, x.pending); err != nil {
		x.pending = newDirty() // what the rolled-back batch added is not so
		_ = x.loadPending()
		return err
	}
	if seq > 0 {
		if _, err := tx.Exec(`INSERT OR REPLACE INTO meta(k,v) VALUES('seq',?)`, strconv.FormatUint(seq, 10)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if time.Since(x.lastFlush) >= flushEvery {
		return x.flushPending(ctx)
	}
	return nil
}

// FlushPending recomputes the buckets whose facts changed since the last
// recomputation; summaries do it first.
func (x *Index) FlushPending(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.flushPending(ctx)
}

func (x *Index) apply(ctx context.Context, tx *txn, ev *ticketing.Event, d *dirty) error {
	if ev.Ticket == nil && ev.Message == nil {
		return nil
	}
	if m := ev.Message; m != nil && m.TicketID != "" {
		left, err := insertMessage(tx, m, ev.Type == ticketing.EventMessageUpdated, d)
		if err != nil {
			return err
		}
		if left != "" { // merged or split away: the ticket it left has other times now
			if err := x.refreshTimes(ctx, tx, left, d); err != nil {
				return err
			}
		}
	}
	if t := ev.Ticket; t != nil {
		return x.putTicket(ctx, tx, t, false, d)
	}
	return x.refreshTimes(ctx, tx, ev.Message.TicketID, d)
}
