package query

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// rebuildBatch is how many store documents one rebuild transaction writes.
const rebuildBatch = 2000

// Start brings the index up to date and keeps it so until Close: it
// follows the events stream from the last sequence the index applied
// (when the stream still holds the events after it), or else rebuilds
// from the store while already following new events. It also starts the
// reconciliation loop. It returns once the subscription is running; a
// rebuild goes on in the background (Rebuilding reports it).
func (ix *Index) Start(ctx context.Context) error {
	complete, err := ix.meta("complete")
	if err != nil {
		return fmt.Errorf("query: start: %w", err)
	}
	seqText, err := ix.meta("seq")
	if err != nil {
		return fmt.Errorf("query: start: %w", err)
	}
	saved, _ := strconv.ParseUint(seqText, 10, 64)
	last, err := ix.o.Events.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("query: start: %w", err)
	}
	rebuild := complete != "1"
	reason := "new or incomplete index"
	if !rebuild {
		switch {
		case saved > last:
			rebuild, reason = true, "the events stream is older than the index (recreated)"
		case saved < last:
			evs, err := ix.o.Events.EventsAfter(ctx, saved, 1)
			if err != nil {
				return fmt.Errorf("query: start: %w", err)
			}
			if len(evs) == 0 || evs[0].Seq > saved+1 {
				rebuild, reason = true, "the events stream no longer holds every event since the index was last current"
			}
		}
	}
	from := saved
	if rebuild {
		from = last
	}
	ix.applied.Store(from)
	ix.goRun("writer", ix.runWriter)
	ix.goRun("events", func(ctx context.Context) error {
		return ix.o.Events.SubscribeEvents(ctx, from, ix.Apply)
	})
	if rebuild {
		ix.rebuilding.Store(true)
		ix.log.Info("query: rebuilding the index from the store", "reason", reason)
		ix.goRun("rebuild", func(ctx context.Context) error {
			defer ix.rebuilding.Store(false)
			start := time.Now()
			n, err := ix.Rebuild(ctx)
			if err != nil {
				return err
			}
			ix.log.Info("query: index rebuilt", "docs", n, "took", time.Since(start).Round(time.Millisecond))
			return nil
		})
	}
	ix.goRun("reconcile", func(ctx context.Context) error { return ix.reconcileLoop(ctx, from) })
	if ix.o.OnChange != nil {
		ix.goRun("changes", ix.notifyLoop)
	}
	return nil
}

// Rebuild reads every customer, ticket and message from the store into
// the index and marks it complete. Events applied meanwhile are kept: the
// newer version of a ticket wins either way. It returns the number of
// store documents read.
func (ix *Index) Rebuild(ctx context.Context) (int, error) {
	if err := ix.setMeta("complete", "0"); err != nil {
		return 0, err
	}
	total := 0
	n, err := rebuildPart(ctx, ix, "customers", ix.o.Store.ScanCustomers, func(b *batch, c *ticketing.Customer) error { return b.customer(c) })
	total += n
	if err != nil {
		return total, err
	}
	n, err = rebuildPart(ctx, ix, "tickets", ix.o.Store.ScanTickets, func(b *batch, t *ticketing.Ticket) error {
		_, err := b.ticket(t)
		return err
	})
	total += n
	if err != nil {
		return total, err
	}
	n, err = rebuildPart(ctx, ix, "messages", ix.o.Store.ScanMessages, func(b *batch, m *ticketing.Message) error { return b.message(m) })
	total += n
	if err != nil {
		return total, err
	}
	return total, ix.setMeta("complete", "1")
}

// rebuildPart reads one collection and writes it in batches, reading the
// next batch from the store while the last one is written (the two take
// about as long, on two cores).
func rebuildPart[T any](ctx context.Context, ix *Index, what string, scan func(context.Context, func(*T) error) error,
	apply func(*batch, *T) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*T, 2)
	werr := make(chan error, 1)
	go func() {
		var err error
		for items := range batches {
			if err != nil {
				continue // drain
			}
			err = ix.write(ctx, func(b *batch) error {
				for _, it := range items {
					if err := apply(b, it); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				cancel()
			}
		}
		werr <- err
	}()
	n := 0
	cur := make([]*T, 0, rebuildBatch)
	err := scan(ctx, func(v *T) error {
		cur = append(cur, v)
		n++
		if len(cur) == rebuildBatch {
			select {
			case batches <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = make([]*T, 0, rebuildBatch)
		}
		return nil
	})
	if err == nil && len(cur) > 0 {
		batches <- cur
	}
	close(batches)
	if wErr := <-werr; wErr != nil {
		return n, fmt.Errorf("query: rebuild %s: %w", what, wErr)
	}
	if err != nil {
		return n, fmt.Errorf("query: rebuild %s: %w", what, err)
	}
	return n, nil
}

// notifyLoop calls OnChange after changes, at most every 500 ms.
func (ix *Index) notifyLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ix.changed:
		}
		ix.o.OnChange()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reconcileLoop makes a node that missed events converge without a
// restart. Every ReconcileEvery it
//   - re-reads the events stream after the last point it checked and
//     re-applies every event whose ticket the index has at an older version
//     (events the subscription delivered but the index failed to apply, or
//     a subscription gap);
//   - looks up, by number (an _id lookup in the store), every ticket number
//     handed out since the highest one it knows: tickets whose
//     ticket.created event was never published;
//   - re-reads by _id a slice of the open and pending tickets, round
//     robin, so that a lost ticket.updated of a live ticket heals too.
//
// None of it scans the store.
func (ix *Index) reconcileLoop(ctx context.Context, from uint64) error {
	checked := from
	var rotor string
	var mark int64
	misses := map[int64]int{}
	tick := time.NewTicker(ix.o.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if ix.rebuilding.Load() {
			continue
		}
		var err error
		if checked, err = ix.reconcileEvents(ctx, checked); err != nil && ctx.Err() == nil {
			ix.log.Warn("query: reconcile events", "err", err)
		}
		if mark, err = ix.reconcileNumbers(ctx, mark, misses); err != nil && ctx.Err() == nil {
			ix.log.Warn("query: reconcile new tickets", "err", err)
		}
		if rotor, err = ix.reconcileLive(ctx, rotor, 200); err != nil && ctx.Err() == nil {
			ix.log.Warn("query: reconcile live tickets", "err", err)
		}
	}
}

func (ix *Index) reconcileEvents(ctx context.Context, after uint64) (uint64, error) {
	for range 10 {
		evs, err := ix.o.Events.EventsAfter(ctx, after, 5000)
		if err != nil {
			return after, err
		}
		if len(evs) == 0 {
			return after, nil
		}
		var redo []*ticketing.Event
		for _, ev := range evs {
			after = ev.Seq
			if ev.Ticket == nil {
				continue
			}
			v, err := ix.version(ctx, ev.Ticket.ID)
			if err != nil {
				return after, err
			}
			if v < ev.Ticket.Version {
				redo = append(redo, ev)
			}
		}
		if len(redo) > 0 {
			ix.log.Info("query: reconcile: re-applying missed events", "n", len(redo))
			if err := ix.applyEvents(ctx, redo); err != nil {
				return after, err
			}
		}
	}
	return after, nil
}

// reconcileNumbers looks up the ticket numbers handed out after mark (the
// highest number checked so far) and those a recent round did not find
// yet, a few rounds each. It returns the new mark.
func (ix *Index) reconcileNumbers(ctx context.Context, mark int64, misses map[int64]int) (int64, error) {
	top, err := ix.o.Store.LastTicketNumber(ctx)
	if err != nil || top == 0 {
		return mark, err
	}
	if mark == 0 {
		if err := ix.r.QueryRowContext(ctx, `SELECT coalesce(max(number), 0) FROM tickets`).Scan(&mark); err != nil {
			return mark, err
		}
		if mark == 0 {
			mark = max(top-500, 0)
		}
	}
	var todo []int64
	for n := range misses {
		todo = append(todo, n)
	}
	for n := mark + 1; n <= top && len(todo) < 500; n++ {
		todo = append(todo, n)
		mark = n
	}
	var found []*ticketing.Ticket
	for _, n := range todo {
		var have int
		if err := ix.r.QueryRowContext(ctx, `SELECT count(*) FROM tickets WHERE number = ?`, n).Scan(&have); err != nil {
			return mark, err
		}
		if have > 0 {
			delete(misses, n)
			continue
		}
		t, err := ix.o.Store.GetTicketByNumber(ctx, n)
		if ticketing.IsNotFound(err) {
			// A number lost in a race is never used; give up after a few rounds.
			if misses[n]++; misses[n] > 5 {
				delete(misses, n)
			}
			continue
		}
		if err != nil {
			return mark, err
		}
		delete(misses, n)
		found = append(found, t)
	}
	if len(found) == 0 {
		return mark, nil
	}
	ix.log.Info("query: reconcile: found tickets the events missed", "n", len(found))
	return mark, ix.applyTickets(ctx, found)
}

// reconcileLive re-reads up to n open or pending tickets after id rotor.
func (ix *Index) reconcileLive(ctx context.Context, rotor string, n int) (string, error) {
	rows, err := ix.r.QueryContext(ctx, `SELECT id FROM tickets WHERE status IN ('open', 'pending') AND id > ? ORDER BY id LIMIT ?`, rotor, n)
	if err != nil {
		return rotor, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return rotor, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) < n {
		rotor = ""
	} else {
		rotor = ids[len(ids)-1]
	}
	var newer []*ticketing.Ticket
	for _, id := range ids {
		t, err := ix.o.Store.GetTicket(ctx, id)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return rotor, err
		}
		v, err := ix.version(ctx, id)
		if err != nil {
			return rotor, err
		}
		if t.Version > v {
			newer = append(newer, t)
		}
	}
	if len(newer) > 0 {
		ix.log.Info("query: reconcile: refreshed tickets whose updates the events missed", "n", len(newer))
		return rotor, ix.applyTickets(ctx, newer)
	}
	return rotor, nil
}

// applyTickets writes tickets read from the store with their messages.
func (ix *Index) applyTickets(ctx context.Context, ts []*ticketing.Ticket) error {
	type messageGetter interface {
		GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error)
	}
	var msgs []*ticketing.Message
	if mg, ok := ix.o.Store.(messageGetter); ok {
		for _, t := range ts {
			ids := t.MessageIDs
			if len(ids) > 50 {
				ids = ids[len(ids)-50:]
			}
			m, err := mg.GetMessages(ctx, ids)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			msgs = append(msgs, m...)
		}
	}
	return ix.write(ctx, func(b *batch) error {
		for _, t := range ts {
			if _, err := b.ticket(t); err != nil {
				return err
			}
		}
		for _, m := range msgs {
			if err := b.message(m); err != nil {
				return err
			}
		}
		return nil
	})
}
