package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// never is the sort key of tickets without a waiting or due time: they
// sort after every ticket that has one.
const never = math.MaxInt64

// Note hears of this node's own event before it comes back from the bus.
// It implements ticketing.EventNoter.
func (ix *Index) Note(ev *ticketing.Event) {
	if ev == nil {
		return
	}
	cp := *ev
	cp.Seq = 0
	ix.enqueue(&cp, "note")
}

// Apply applies an event from the events stream (Seq set).
func (ix *Index) Apply(ev *ticketing.Event) {
	if ev != nil {
		ix.enqueue(ev, "event")
	}
}

func (ix *Index) enqueue(ev *ticketing.Event, src string) {
	n := ix.enq.Add(1)
	select {
	case ix.queue <- item{ev: ev, n: n, src: src}:
	case <-ix.ctx.Done():
	}
}

// barrier waits (up to a second) until every write enqueued before it
// was called is committed, so that an agent's list shows their own change.
func (ix *Index) barrier(ctx context.Context) {
	want := ix.enq.Load()
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	for {
		ix.doneMu.Lock()
		ch := ix.doneCh
		ix.doneMu.Unlock()
		if ix.done.Load() >= want {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// runWriter applies queued items in batches, one transaction each.
func (ix *Index) runWriter(ctx context.Context) error {
	batch := make([]item, 0, 256)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case it := <-ix.queue:
			batch = append(batch, it)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case it := <-ix.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		evs := make([]*ticketing.Event, len(batch))
		for i, it := range batch {
			evs[i] = it.ev
		}
		if err := ix.applyEvents(ctx, evs); err != nil {
			ix.log.Error("query: apply events; reconciliation will catch up", "n", len(evs), "err", err)
		}
		ix.doneMu.Lock()
		ix.done.Store(batch[len(batch)-1].n)
		close(ix.doneCh)
		ix.doneCh = make(chan struct{})
		ix.doneMu.Unlock()
	}
}

// exec runs a statement of the writer, prepared once per transaction.
// (modernc.org/sqlite v1.31 parses a statement again at each execution
// all the same: the saving is database/sql's, not the parser's.)
func (b *batch) exec(query string, args ...any) (sql.Result, error) {
	st, err := b.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(b.ctx, args...)
}

func (b *batch) queryRow(query string, args ...any) *sql.Row {
	st, err := b.stmt(query)
	if err != nil {
		return b.tx.QueryRowContext(b.ctx, query, args...) // reports err on Scan
	}
	return st.QueryRowContext(b.ctx, args...)
}

// stmt prepares query once per transaction (a batch of up to 256 events,
// or 2,000 documents of a rebuild). Preparing on the writer connection
// itself would wait for the transaction that holds it.
func (b *batch) stmt(query string) (*sql.Stmt, error) {
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := b.tx.PrepareContext(b.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("query: prepare: %w", err)
	}
	b.stmts[query] = st
	return st, nil
}

// batch is one write transaction.
type batch struct {
	stmts   map[string]*sql.Stmt
	ix      *Index
	ctx     context.Context
	tx      *sql.Tx
	deltas  map[groupKey]int
	changed bool
	seq     uint64
	// missing lists customers that tickets name but the index lacks.
	missing map[string]bool
}

// applyEvents applies events in one transaction.
func (ix *Index) applyEvents(ctx context.Context, evs []*ticketing.Event) error {
	// A batch often carries one ticket several times (message.created and
	// ticket.updated of one message): write only its newest version.
	newest := map[string]*ticketing.Ticket{}
	for _, ev := range evs {
		if t := ev.Ticket; t != nil {
			if have, ok := newest[t.ID]; !ok || t.Version > have.Version {
				newest[t.ID] = t
			}
		}
	}
	return ix.write(ctx, func(b *batch) error {
		for _, ev := range evs {
			e := *ev
			if e.Ticket != nil {
				if newest[e.Ticket.ID] != e.Ticket {
					e.Ticket = nil
				} else {
					delete(newest, e.Ticket.ID)
				}
			}
			if err := b.event(&e); err != nil {
				return err
			}
			if ev.Seq > b.seq {
				b.seq = ev.Seq
			}
		}
		return nil
	})
}

// write runs fn in a write transaction and then publishes its effects.
func (ix *Index) write(ctx context.Context, fn func(*batch) error) error {
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	if ix.w == nil {
		return errors.New("query: index closed")
	}
	tx, err := ix.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("query: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	b := &batch{ix: ix, ctx: ctx, tx: tx, deltas: map[groupKey]int{}, missing: map[string]bool{}, stmts: map[string]*sql.Stmt{}}
	if err := fn(b); err != nil {
		return err
	}
	for id := range b.missing {
		c, err := ix.o.Store.GetCustomer(ctx, id)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			ix.log.Warn("query: read customer for the index", "customer_id", id, "err", err)
			continue
		}
		if err := b.customer(c); err != nil {
			return err
		}
	}
	if b.seq > ix.applied.Load() {
		if _, err := b.exec(`UPDATE meta SET v = ? WHERE k = 'seq'`, strconv.FormatUint(b.seq, 10)); err != nil {
			return fmt.Errorf("query: save seq: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("query: commit: %w", err)
	}
	if b.seq > ix.applied.Load() {
		ix.applied.Store(b.seq)
	}
	if len(b.deltas) > 0 {
		ix.groupsMu.Lock()
		for k, d := range b.deltas {
			if n := ix.groups[k] + d; n > 0 {
				ix.groups[k] = n
			} else {
				delete(ix.groups, k)
			}
		}
		ix.groupsMu.Unlock()
	}
	if b.changed {
		ix.gen.Add(1)
		select {
		case ix.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

func (b *batch) event(ev *ticketing.Event) error {
	if ev.Type == ticketing.EventCustomerErased {
		if ev.Customer == nil {
			return nil
		}
		return b.eraseCustomer(ev.Customer.ID)
	}
	if ev.Customer != nil {
		if err := b.customer(ev.Customer); err != nil {
			return err
		}
	}
	if ev.Ticket != nil {
		if _, err := b.ticket(ev.Ticket); err != nil {
			return err
		}
	}
	if ev.Message != nil {
		if err := b.message(ev.Message); err != nil {
			return err
		}
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// ticket upserts t unless the index has the same or a newer version. It
// reports whether it wrote.
func (b *batch) ticket(t *ticketing.Ticket) (bool, error) {
	if t.ID == "" {
		return false, nil
	}
	// One statement reads the index's version of the ticket and the
	// customer's tier (modernc's driver parses every statement anew, so
	// statements are what an event costs).
	var old struct {
		version                              sql.NullInt64
		status, team, assignee, tags, header sql.NullString
	}
	var tier sql.NullString
	err := b.queryRow(`SELECT (SELECT tier FROM customers WHERE id = ?), t.version, t.status, t.team_id, t.assignee_id,
		t.tags, t.header FROM (SELECT 1) LEFT JOIN tickets t ON t.id = ?`, t.CustomerID, t.ID).
		Scan(&tier, &old.version, &old.status, &old.team, &old.assignee, &old.tags, &old.header)
	if err != nil {
		return false, fmt.Errorf("query: read ticket %s: %w", t.ID, err)
	}
	exists := old.version.Valid
	if exists && old.version.Int64 >= t.Version {
		return false, nil
	}
	if t.Erased {
		// An erased ticket's tombstone is never listed or searched.
		if exists {
			b.deltas[groupKey{old.status.String, old.team.String, old.assignee.String}]--
		}
		return true, b.dropTicket(t.ID)
	}
	if !tier.Valid && t.CustomerID != "" {
		b.missing[t.CustomerID] = true
	}
	cp := *t
	cp.MessageIDs = nil
	doc, err := json.Marshal(&cp)
	if err != nil {
		return false, err
	}
	waiting := int64(never)
	if t.Unanswered() && t.Live() {
		waiting = nanos(t.LastInboundAt)
	}
	due := int64(never)
	if d := t.SLA.NextDue(); !d.IsZero() && t.Live() {
		due = nanos(d)
	}
	tags := strings.Join(t.Tags, "\x1f")
	// The ticket's own searchable text: subject, the customer's name as
	// the ticket knows it, its number and order numbers.
	var text strings.Builder
	text.WriteString(t.Subject)
	text.WriteString("\n")
	text.WriteString(t.CustomerName)
	text.WriteString("\n#")
	text.WriteString(strconv.FormatInt(t.Number, 10))
	for _, o := range t.OrderNumbers {
		text.WriteString("\n")
		text.WriteString(o)
	}
	header := text.String()
	_, err = b.exec(`INSERT INTO tickets (id, number, status, priority, type, channel, team_id, assignee_id,
		customer_id, tier, created_at, last_message_at, waiting_since, due_at, updated_at, version, doc, tags, header)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status,
		priority = excluded.priority, type = excluded.type, channel = excluded.channel, team_id = excluded.team_id,
		assignee_id = excluded.assignee_id, customer_id = excluded.customer_id, tier = excluded.tier,
		created_at = excluded.created_at, last_message_at = excluded.last_message_at,
		waiting_since = excluded.waiting_since, due_at = excluded.due_at, updated_at = excluded.updated_at,
		version = excluded.version, doc = excluded.doc, tags = excluded.tags, header = excluded.header`,
		t.ID, t.Number, t.Status, t.Priority, t.Type, string(t.Channel), t.TeamID, t.AssigneeID, t.CustomerID, tier.String,
		nanos(t.CreatedAt), nanos(t.LastMessageAt), waiting, due, nanos(t.UpdatedAt), t.Version, doc, tags, header)
	if err != nil {
		return false, fmt.Errorf("query: write ticket %s: %w", t.ID, err)
	}
	if exists {
		b.deltas[groupKey{old.status.String, old.team.String, old.assignee.String}]--
	}
	b.deltas[groupKey{t.Status, t.TeamID, t.AssigneeID}]++
	if !exists || old.tags.String != tags {
		if exists {
			if _, err := b.exec(`DELETE FROM ticket_tags WHERE ticket_id = ?`, t.ID); err != nil {
				return false, err
			}
		}
		for _, tag := range t.Tags {
			if _, err := b.exec(`INSERT OR IGNORE INTO ticket_tags (tag, ticket_id) VALUES (?, ?)`, tag, t.ID); err != nil {
				return false, err
			}
		}
	}
	b.changed = true
	if exists && old.header.String == header {
		return true, nil
	}
	return true, b.doc("t:"+t.ID, "t", t.ID, t.CustomerID, header, "", nil)
}

// doc writes one searchable document unless it is there already with the
// same text and ticket. extra is indexed but not kept for snippets.
func (b *batch) doc(key, kind, ticketID, customerID, text, extra string, msg []byte) error {
	// Most documents are new: insert first, compare only when it exists.
	res, err := b.exec(`INSERT INTO docs (key, kind, ticket_id, customer_id, text, msg) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, kind, ticketID, customerID, text, msg)
	if err != nil {
		return fmt.Errorf("query: insert doc %s: %w", key, err)
	}
	var rowid int64
	if n, _ := res.RowsAffected(); n == 1 {
		if rowid, err = res.LastInsertId(); err != nil {
			return err
		}
	} else {
		var oldText, oldTicket string
		if err := b.queryRow(`SELECT rowid, text, ticket_id FROM docs WHERE key = ?`, key).Scan(&rowid, &oldText, &oldTicket); err != nil {
			return fmt.Errorf("query: read doc %s: %w", key, err)
		}
		if oldText == text && oldTicket == ticketID {
			if msg != nil {
				_, err = b.exec(`UPDATE docs SET msg = ? WHERE rowid = ?`, msg, rowid)
			}
			return err
		}
		if _, err := b.exec(`DELETE FROM fts WHERE rowid = ?`, rowid); err != nil {
			return fmt.Errorf("query: delete doc %s: %w", key, err)
		}
		if _, err := b.exec(`UPDATE docs SET ticket_id = ?, customer_id = ?, text = ?, msg = ? WHERE rowid = ?`,
			ticketID, customerID, text, msg, rowid); err != nil {
			return err
		}
	}
	raw := text
	if j := joinedForms(text); len(j) > 0 {
		raw += "\n" + strings.Join(j, " ")
	}
	if extra != "" {
		raw += "\n" + extra
	}
	if _, err := b.exec(`INSERT INTO fts (rowid, raw, st) VALUES (?, ?, ?)`, rowid, raw, b.ix.stems.column(text)); err != nil {
		return fmt.Errorf("query: index doc %s: %w", key, err)
	}
	b.changed = true
	return nil
}

// message indexes a message's text and subject on its ticket.
func (b *batch) message(m *ticketing.Message) error {
	if m.ID == "" || m.TicketID == "" {
		return nil // not threaded yet; the event with its ticket follows
	}
	text := m.Text
	if len(text) > maxIndexedText {
		text = text[:maxIndexedText]
	}
	if m.Subject != "" {
		text = m.Subject + "\n" + text
	}
	cp := *m
	cp.HTML, cp.Meta = "", nil
	cp.Text = ticketing.FirstLine(m.Text, 200)
	msg, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	return b.doc("m:"+m.ID, "m", m.TicketID, m.CustomerID, text, "", msg)
}

// customer indexes a customer's name, identities and external id, unless
// the index has a newer version.
func (b *batch) customer(c *ticketing.Customer) error {
	if c.ID == "" {
		return nil
	}
	var updated int64
	err := b.queryRow(`SELECT updated_at FROM customers WHERE id = ?`, c.ID).Scan(&updated)
	if err == nil && updated > nanos(c.UpdatedAt) {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	cp := *c
	cp.TicketIDs = nil
	doc, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	tier := c.TierName()
	if _, err := b.exec(`INSERT INTO customers (id, name_key, tier, updated_at, doc) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name_key = excluded.name_key, tier = excluded.tier,
		updated_at = excluded.updated_at, doc = excluded.doc`,
		c.ID, fold(strings.TrimSpace(c.Name)), tier, nanos(c.UpdatedAt), doc); err != nil {
		return fmt.Errorf("query: write customer %s: %w", c.ID, err)
	}
	if _, err := b.exec(`UPDATE tickets SET tier = ? WHERE customer_id = ? AND tier <> ?`, tier, c.ID, tier); err != nil {
		return err
	}
	delete(b.missing, c.ID)
	var text, extra strings.Builder
	text.WriteString(c.Name)
	for _, id := range c.Identities {
		switch id.Kind {
		case ticketing.IdentityEmail, ticketing.IdentityExternal:
			text.WriteString("\n")
			text.WriteString(id.Value)
		case ticketing.IdentityPhone:
			text.WriteString("\n")
			text.WriteString(id.Value)
			extra.WriteString(strings.Join(phoneForms(id.Value), " "))
			extra.WriteString(" ")
		}
	}
	if c.ExternalID != "" {
		text.WriteString("\n")
		text.WriteString(c.ExternalID)
	}
	return b.doc("c:"+c.ID, "c", "", c.ID, text.String(), extra.String(), nil)
}

// version returns the index's version of ticket id (-1: unknown).
func (ix *Index) version(ctx context.Context, id string) (int64, error) {
	var v int64
	err := ix.r.QueryRowContext(ctx, `SELECT version FROM tickets WHERE id = ?`, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil
	}
	return v, err
}

// dropTicket removes a ticket, its tags and every document on it.
func (b *batch) dropTicket(id string) error {
	for _, q := range []string{
		`DELETE FROM fts WHERE rowid IN (SELECT rowid FROM docs WHERE ticket_id = ?)`,
		`DELETE FROM docs WHERE ticket_id = ?`,
		`DELETE FROM ticket_tags WHERE ticket_id = ?`,
		`DELETE FROM tickets WHERE id = ?`,
	} {
		if _, err := b.exec(q, id); err != nil {
			return fmt.Errorf("query: drop ticket %s: %w", id, err)
		}
	}
	b.changed = true
	return nil
}

// eraseCustomer removes an erased customer: their tickets (with their
// documents), their own document and their row.
func (b *batch) eraseCustomer(id string) error {
	rows, err := b.tx.QueryContext(b.ctx, `SELECT id, status, team_id, assignee_id FROM tickets WHERE customer_id = ?`, id)
	if err != nil {
		return fmt.Errorf("query: erase customer %s: %w", id, err)
	}
	var ids []string
	for rows.Next() {
		var tid, status, team, assignee string
		if err := rows.Scan(&tid, &status, &team, &assignee); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, tid)
		b.deltas[groupKey{status, team, assignee}]--
	}
	rows.Close()
	for _, tid := range ids {
		if err := b.dropTicket(tid); err != nil {
			return err
		}
	}
	for _, q := range []string{
		`DELETE FROM fts WHERE rowid IN (SELECT rowid FROM docs WHERE customer_id = ?)`,
		`DELETE FROM docs WHERE customer_id = ?`,
		`DELETE FROM customers WHERE id = ?`,
	} {
		if _, err := b.exec(q, id); err != nil {
			return fmt.Errorf("query: erase customer %s: %w", id, err)
		}
	}
	b.changed = true
	return nil
}
