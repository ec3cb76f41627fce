package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/sla"
)

// slaBenchFlags adds the sla phase's flags (0: the run's defaults).
func slaBenchFlags(fs *flag.FlagSet, c *benchConfig) {
	fs.IntVar(&c.SLATickets, "sla-tickets", 0, "sla: tickets carrying SLA clocks while breaches are timed (default 10000, smoke 100)")
	fs.IntVar(&c.SLASample, "sla-sample", 0, "sla_fire_lag_p99_ms: short-target tickets whose breach is timed (default 300, smoke 20)")
}

func (c *benchConfig) slaSizes() (tickets, sample int) {
	tickets, sample = 10_000, 300
	if c.Smoke {
		tickets, sample = 100, 20
	}
	if c.SLATickets > 0 {
		tickets = c.SLATickets
	}
	if c.SLASample > 0 {
		sample = c.SLASample
	}
	return tickets, sample
}

// slaPhase measures SLA clocks through the node's real entry points:
//
//   - ingest_sla_msgs_per_s: a quarter of the ingest workload
//     (IngestMsgs/4 from Customers/4 new customers) with an SLA policy on
//     every ticket, against ingest_sla_base_msgs_per_s, the mean of the
//     same workload without SLAs just before and at the end of the phase
//     (after the policies are deleted); ingest_sla_drop_pct is the
//     difference in percent;
//   - sla_fire_lag_p99_ms: with SLATickets tickets carrying clocks (an
//     hour's target: due later), SLASample chat tickets with a 3-second
//     first-response target arrive at 50 a second, and the time from each
//     one's due time to the ticket.updated event that shows its breach is
//     measured.
func (b *bench) slaPhase(ctx context.Context) error {
	tickets, sample := b.cfg.slaSizes()
	var long, short struct {
		Policy sla.Policy `json:"policy"`
	}
	bus, err := b.connectBus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()

	// The ingest workload (a quarter of the ingest phase's: as many
	// messages a customer, a quarter of the customers, all new) without
	// SLAs, with SLAs on every ticket, and without again: the two runs
	// without are the baseline and show this machine's spread.
	customers := max(b.cfg.Customers/4, 1)
	n := max(b.cfg.IngestMsgs/4, customers)
	ingest := func(run, label string) (rate, cpuMS float64, err error) {
		envs := make([]*ticketing.Envelope, n)
		for i := range envs {
			envs[i] = benchEnvelope(run, i%customers, i/customers)
		}
		b.quiesce(ctx, "sla")
		before, _ := b.storeCommands(ctx)
		cpu := b.node.meterCPU()
		el, err := b.publishAndWait(ctx, bus, envs, "sla: "+label)
		if err != nil {
			return 0, 0, err
		}
		cpuMS, _ = cpu.msPer(n)
		if after, err := b.storeCommands(ctx); err == nil && before != nil {
			b.logCommands("sla: "+label, before, after, n)
		}
		b.tickets += customers
		rate = float64(n) / el.Seconds()
		b.logf("sla: %s: %d messages at %.0f msgs/s; %s", label, n, rate, cpu.per(n, "message"))
		return rate, cpuMS, nil
	}
	base1, cpu1, err := ingest("slabase1", "ingest without SLAs")
	if err != nil {
		return err
	}
	if err := b.agent.send(ctx, "POST", "/api/v1/sla-policies", map[string]any{"name": "bench: email",
		"match": map[string]any{"channel": []string{"email"}}, "first_response": "1h", "resolution": "8h"}, &long); err != nil {
		return err
	}
	policyDeleted := false
	defer func() {
		if !policyDeleted {
			b.agent.send(context.WithoutCancel(ctx), "DELETE", "/api/v1/sla-policies/"+long.Policy.ID, nil, nil)
		}
	}()
	if err := benchSleep(ctx, 2500*time.Millisecond); err != nil { // the node's policy cache
		return err
	}
	rate, cpuSLA, err := ingest("slaingest", "ingest with SLAs on")
	if err != nil {
		return err
	}
	b.res.set("ingest_sla_msgs_per_s", rate)
	if more := tickets - customers; more > 0 {
		if err := b.seedOpenTickets(ctx, bus, more, "sla: tickets with clocks"); err != nil {
			return err
		}
		b.tickets += more
	}
	// Wait until every clock is scheduled: four jobs a ticket (warning and
	// breach of first response and resolution).
	want := uint64(4 * max(tickets, customers))
	var pending uint64
	for start := time.Now(); ; {
		pending, err = bus.JobsPending(ctx, sla.JobKind)
		if err != nil {
			return err
		}
		b.progress.set("sla: %d/%d clock jobs scheduled", pending, want)
		if pending >= want {
			break
		}
		if time.Since(start) > 3*time.Minute {
			return fmt.Errorf("only %d of %d clock jobs scheduled after 3 minutes", pending, want)
		}
		if err := benchSleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	b.logf("sla: %d tickets carry clocks (%d jobs waiting)", max(tickets, customers), pending)
	// The clocks wait; the node's read models may still be taking in the
	// tickets that started them. Time breaches on a node at rest (up to
	// 30 s), as a shop's clocks mostly run.
	for range 2 {
		b.quiesce(ctx, "sla")
	}

	if err := b.agent.send(ctx, "POST", "/api/v1/sla-policies", map[string]any{"name": "bench: chat", "position": 0,
		"match": map[string]any{"channel": []string{"chat"}}, "first_response": "3s"}, &short); err != nil {
		return err
	}
	shortDeleted := false
	defer func() {
		if !shortDeleted {
			b.agent.send(context.WithoutCancel(ctx), "DELETE", "/api/v1/sla-policies/"+short.Policy.ID, nil, nil)
		}
	}()
	if err := benchSleep(ctx, 2500*time.Millisecond); err != nil { // the node's policy cache
		return err
	}

	// Breach events of the sample, as a console hears them.
	var mu sync.Mutex
	lags := map[string]time.Duration{}
	sub, err := bus.Conn().Subscribe("svar.events."+ticketing.EventTicketUpdated, func(m *nats.Msg) {
		now := time.Now()
		var ev ticketing.Event
		if json.Unmarshal(m.Data, &ev) != nil || ev.Ticket == nil || ev.Ticket.Channel != ticketing.ChannelChat || ev.Ticket.SLA == nil {
			return
		}
		s := ev.Ticket.SLA
		if !slices.Contains(s.Breaches, sla.FirstResponse) || s.FirstResponseDue.IsZero() {
			return
		}
		mu.Lock()
		if _, seen := lags[ev.Ticket.ID]; !seen {
			lags[ev.Ticket.ID] = now.Sub(s.FirstResponseDue)
		}
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	run := benchRandomHex(3)
	tick := time.NewTicker(20 * time.Millisecond) // 50 a second
	defer tick.Stop()
	for i := range sample {
		e := &ticketing.Envelope{Channel: ticketing.ChannelChat, ExternalID: fmt.Sprintf("sla-%s-%d", run, i),
			From: ticketing.Identity{Kind: ticketing.IdentityChat, Value: fmt.Sprintf("v-%s-%d", run, i)},
			Text: "Hej! Är ni där?", ReceivedAt: time.Now().UTC()}
		if err := bus.PublishInbound(ctx, e); err != nil {
			return err
		}
		b.progress.set("sla: %d/%d short-target tickets", i+1, sample)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(lags)
		mu.Unlock()
		b.progress.set("sla: %d/%d breaches heard", got, sample)
		if got >= sample || time.Now().After(deadline) {
			break
		}
		if err := benchSleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	mu.Lock()
	ds := make([]time.Duration, 0, len(lags))
	for _, d := range lags {
		ds = append(ds, d)
	}
	mu.Unlock()
	if len(ds) < sample {
		return fmt.Errorf("only %d of %d breaches heard within 30 s of the last due time", len(ds), sample)
	}
	s := benchSorted(ds)
	b.logf("sla: %d breaches with %d tickets carrying clocks: due → breach event p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		len(s), max(tickets, customers), benchMS(benchPercentile(s, 0.5)), benchMS(benchPercentile(s, 0.99)), benchMS(s[len(s)-1]))
	b.res.set("sla_fire_lag_p99_ms", benchMS(benchPercentile(s, 0.99)))

	// The clocks stay on their tickets; new tickets get none.
	sub.Unsubscribe()
	for _, id := range []string{short.Policy.ID, long.Policy.ID} {
		if err := b.agent.send(ctx, "DELETE", "/api/v1/sla-policies/"+id, nil, nil); err != nil {
			return err
		}
	}
	policyDeleted, shortDeleted = true, true
	if err := benchSleep(ctx, 2500*time.Millisecond); err != nil {
		return err
	}
	base2, cpu2, err := ingest("slabase2", "ingest without SLAs, again")
	if err != nil {
		return err
	}
	base := (base1 + base2) / 2
	drop := 100 * (base - rate) / base
	cpuDelta := "node CPU per message unknown"
	if cpu1 > 0 && cpu2 > 0 && cpuSLA > 0 {
		cpuDelta = fmt.Sprintf("node CPU per message %.2f ms with SLAs, %.2f and %.2f ms without", cpuSLA, cpu1, cpu2)
	}
	b.logf("sla: ingest %.0f msgs/s with SLAs on, %.0f without (%.0f before, %.0f after): %.1f%% drop; %s (load average %s)",
		rate, base, base1, base2, drop, cpuDelta, loadAverage())
	b.res.set("ingest_sla_base_msgs_per_s", base)
	b.res.set("ingest_sla_drop_pct", drop)
	return nil
}

// seedOpenTickets adds n open email tickets of new customers, fast: customers,
// tickets and their first messages are bulk-inserted into the node's
// store and each ticket's message.created and ticket.created events are
// published as threading publishes them, so the node's SLA service (and every read model) takes
// them in as it takes in new tickets; only the store writes of threading
// itself are skipped. (The SLA service gives them clocks; the list phase
// lists them.)
func (b *bench) seedOpenTickets(ctx context.Context, bus *natsbus.Bus, n int, label string) error {
	store, err := mongostore.Open(ctx, mongostore.Options{URI: b.node.mongoURI})
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	first, err := store.LastTicketNumber(ctx)
	if err != nil {
		return err
	}
	first += 1000 // room for tickets threading makes meanwhile
	run := benchRandomHex(3)
	now := time.Now().UTC()
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		var custs []*ticketing.Customer
		var tickets []*ticketing.Ticket
		var msgs []*ticketing.Message
		for i := lo; i < hi; i++ {
			cid := fmt.Sprintf("slac%s%06d", run, i)
			cust := &ticketing.Customer{ID: cid, Name: fmt.Sprintf("Kund %d", i),
				Identities: []ticketing.Identity{{Kind: ticketing.IdentityEmail, Value: fmt.Sprintf("%s@sla.bench.svar.test", cid)}},
				CreatedAt:  now, UpdatedAt: now, TicketCount: 1, CurrentTicketID: cid + "-1", TicketIDs: []string{cid + "-1"}}
			m := &ticketing.Message{ID: cid + "-m1", TicketID: cid + "-1", CustomerID: cid, Direction: ticketing.DirectionInbound,
				Channel: ticketing.ChannelEmail, Subject: "Var är min order?", Text: benchText, CreatedAt: now,
				Author: ticketing.Author{Kind: ticketing.AuthorCustomer, ID: cid, Name: cust.Name}, ThreadReason: ticketing.ReasonNew}
			t := &ticketing.Ticket{ID: cid + "-1", Number: first + int64(i), Status: ticketing.StatusOpen, Priority: "normal",
				CustomerID: cid, CustomerName: cust.Name, Channel: ticketing.ChannelEmail, Subject: m.Subject, Tags: []string{},
				MessageIDs: []string{m.ID}, MessageCount: 1, Preview: ticketing.FirstLine(m.Text, 140),
				CreatedAt: now, UpdatedAt: now, LastMessageAt: now, LastInboundAt: now, Version: 1}
			custs, tickets, msgs = append(custs, cust), append(tickets, t), append(msgs, m)
		}
		if err := store.InsertCustomersBulk(ctx, custs); err != nil {
			return err
		}
		if err := store.InsertTicketsBulk(ctx, tickets); err != nil {
			return err
		}
		if _, err := store.InsertMessages(ctx, msgs); err != nil {
			return err
		}
		for k, t := range tickets { // as threading publishes a new ticket's first message
			for _, ev := range []*ticketing.Event{{Type: ticketing.EventMessageCreated, Ticket: t, Message: msgs[k], At: now},
				{Type: ticketing.EventTicketCreated, Ticket: t, At: now}} {
				if err := bus.PublishEvent(ctx, ev); err != nil {
					return err
				}
			}
		}
		b.progress.set("%s: %d/%d seeded", label, hi, n)
	}
	return store.SetTicketNumberCounter(ctx, first+int64(n))
}
