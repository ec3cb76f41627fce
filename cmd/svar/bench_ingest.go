package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// benchText is the body of the benchmark's messages: a customer's
// everyday question, about 400 bytes of text and as much HTML.
const benchText = "Hej! Jag beställde en regnjacka och ett par kängor för två veckor sedan " +
	"men paketet har fortfarande inte kommit. Spårningslänken säger bara att försändelsen " +
	"är registrerad hos transportören. Kan ni kolla vad som har hänt och när jag kan " +
	"räkna med leveransen? Om det inte går att få fram den innan helgen vill jag hellre " +
	"avbryta ordern och få pengarna tillbaka. Tack på förhand och ha en fin dag!"

// benchEnvelope is message k of customer c, as the email adapter would
// publish it.
func benchEnvelope(run string, c, k int) *ticketing.Envelope {
	text := fmt.Sprintf("Order %d, meddelande %d. %s", 100000+c, k+1, benchText)
	return &ticketing.Envelope{
		Channel:    ticketing.ChannelEmail,
		ExternalID: fmt.Sprintf("<%s-%d-%d@bench.svar.test>", run, c, k),
		From:       ticketing.Identity{Kind: ticketing.IdentityEmail, Value: fmt.Sprintf("kund%05d@%s.bench.svar.test", c, run)},
		Name:       fmt.Sprintf("Kund %d", c),
		Subject:    fmt.Sprintf("Var är min order %d?", 100000+c),
		Text:       text,
		HTML:       "<div><p>" + strings.ReplaceAll(text, ". ", ".</p><p>") + "</p></div>",
		ReceivedAt: time.Now().UTC(),
	}
}

// benchMessage is the message the core stores for e: the raw baseline
// inserts documents of exactly this shape and size.
func benchMessage(e *ticketing.Envelope, customerID string) *ticketing.Message {
	return &ticketing.Message{
		ID: e.MessageID(), TicketID: customerID + "-1", CustomerID: customerID,
		Direction: ticketing.DirectionInbound, Channel: e.Channel, Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		Author:    ticketing.Author{Kind: ticketing.AuthorCustomer, ID: customerID, Name: e.Name},
		CreatedAt: e.ReceivedAt, ExternalID: e.ExternalID, ThreadReason: ticketing.ReasonOpen,
	}
}

// rawPhase measures the store's own single-document insertOne rate, on
// the node's embedded store, into a scratch collection of its database,
// with documents the size of the messages the ingest phase stores. It
// uses the driver directly: the baseline has none of Svar's code in it.
func (b *bench) rawPhase(ctx context.Context) error {
	client, err := mongo.Connect(options.Client().ApplyURI(b.node.mongoURI))
	if err != nil {
		return fmt.Errorf("connect to the store: %w", err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database("svar").Collection("bench_raw_" + benchRandomHex(4))
	defer coll.Drop(context.Background())

	docs := make([]*ticketing.Message, b.cfg.RawDocs)
	size := 0
	for i := range docs {
		e := benchEnvelope("raw", i%b.cfg.Customers, i/b.cfg.Customers)
		docs[i] = benchMessage(e, ticketing.NewID())
		if i == 0 {
			raw, _ := bson.Marshal(docs[i])
			size = len(raw)
		}
	}
	// Warm up: the collection's table exists, the connection is open.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "warm-up"}}); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	var done atomic.Int64
	stop := b.progressEvery(func() string {
		return fmt.Sprintf("raw: %d/%d single-document inserts", done.Load(), len(docs))
	})
	cpu := b.node.meterCPU()
	start := time.Now()
	for _, d := range docs {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			stop()
			return fmt.Errorf("insert: %w", err)
		}
		done.Add(1)
	}
	el := time.Since(start)
	stop()
	rate := float64(len(docs)) / el.Seconds()
	b.logf("raw: %d inserts of %d-byte documents in %s; %s", len(docs), size, el.Round(time.Millisecond), cpu.per(len(docs), "insert"))
	b.res.set("raw_insert_per_s", rate)
	return nil
}

// progressEvery shows f's message every 200 ms until the returned stop is
// called.
func (b *bench) progressEvery(f func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			b.progress.set("%s", f())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// connectBus connects to the node's NATS as an adapter would.
func (b *bench) connectBus(ctx context.Context) (*natsbus.Bus, error) {
	bus, err := natsbus.Connect(ctx, natsbus.Options{URL: b.node.natsURL, Name: "svar-bench"})
	if err != nil {
		return nil, fmt.Errorf("connect to the node's NATS: %w", err)
	}
	return bus, nil
}

// benchEventCounter counts message.created events on the events subjects.
type benchEventCounter struct {
	sub *nats.Subscription
	n   atomic.Int64
}

func countMessageEvents(bus *natsbus.Bus) (*benchEventCounter, error) {
	c := &benchEventCounter{}
	sub, err := bus.Conn().Subscribe("svar.events."+ticketing.EventMessageCreated, func(*nats.Msg) { c.n.Add(1) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	if err := bus.Conn().Flush(); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	c.sub = sub
	return c, nil
}

func (c *benchEventCounter) close() { _ = c.sub.Unsubscribe() }

// publishAndWait publishes envs to SVAR_INBOUND with a few publishers, as
// adapters do (each waits for JetStream's ack), and waits until as many
// message.created events are out. label names the step in the progress.
func (b *bench) publishAndWait(ctx context.Context, bus *natsbus.Bus, envs []*ticketing.Envelope, label string) (time.Duration, error) {
	events, err := countMessageEvents(bus)
	if err != nil {
		return 0, err
	}
	defer events.close()
	base := events.n.Load()

	var published atomic.Int64
	stop := b.progressEvery(func() string {
		return fmt.Sprintf("%s: %d/%d published, %d/%d threaded", label, published.Load(), len(envs), events.n.Load()-base, len(envs))
	})
	defer stop()

	start := time.Now()
	const publishers = 4
	errc := make(chan error, publishers)
	var wg sync.WaitGroup
	for w := 0; w < publishers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(envs); i += publishers {
				if err := bus.PublishInbound(ctx, envs[i]); err != nil {
					errc <- fmt.Errorf("publish: %w", err)
					return
				}
				published.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	// Done when every message's event is out. A stall (no benchProgress for a
	// while) ends the wait with what was reached.
	want := int64(len(envs))
	last, lastAt := int64(-1), time.Now()
	for {
		got := events.n.Load() - base
		if got >= want {
			return time.Since(start), nil
		}
		if got != last {
			last, lastAt = got, time.Now()
		}
		if time.Since(lastAt) > 30*time.Second {
			return 0, fmt.Errorf("%s stalled: %d of %d messages threaded after %s", label, got, want, time.Since(start).Round(time.Second))
		}
		if err := b.node.alive(); err != nil {
			return 0, err
		}
		if err := benchSleep(ctx, 2*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// ingestPhase publishes IngestMsgs envelopes from Customers customers and
// measures until their message.created events are out. Customers take
// turns, so a batch holds many customers, as it would in a shop.
func (b *bench) ingestPhase(ctx context.Context) error {
	bus, err := b.connectBus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()
	n, customers := b.cfg.IngestMsgs, b.cfg.Customers
	envs := make([]*ticketing.Envelope, n)
	for i := range envs {
		envs[i] = benchEnvelope("ingest", i%customers, i/customers)
	}
	before, _ := b.storeCommands(ctx)
	cpu := b.node.meterCPU()
	el, err := b.publishAndWait(ctx, bus, envs, "ingest")
	if err != nil {
		return err
	}
	b.tickets += customers
	rate := float64(n) / el.Seconds()
	b.logf("ingest: %d messages from %d customers in %s; %s", n, customers, el.Round(time.Millisecond), cpu.per(n, "message"))
	if after, err := b.storeCommands(ctx); err != nil || before == nil {
		b.res.fail("ingest_store_cmds_per_msg", "read /metrics: %v", err)
	} else {
		b.res.set("ingest_store_cmds_per_msg", b.logCommands("ingest", before, after, n))
	}
	b.res.set("ingest_msgs_per_s", rate)
	if raw, ok := b.res.get("raw_insert_per_s"); ok && raw > 0 {
		b.res.set("ingest_ratio", rate/raw)
	} else {
		b.res.fail("ingest_ratio", "raw_insert_per_s was not measured")
	}
	return nil
}

// listPhase fills the store up to ListTickets tickets (one new customer
// each, through SVAR_INBOUND) and measures the agents' Open inbox page.
func (b *bench) listPhase(ctx context.Context) error {
	if more := b.cfg.ListTickets - b.tickets; more > 0 {
		bus, err := b.connectBus(ctx)
		if err != nil {
			return err
		}
		envs := make([]*ticketing.Envelope, more)
		for i := range envs {
			envs[i] = benchEnvelope("list", i, 0)
		}
		el, err := b.publishAndWait(ctx, bus, envs, "list: filling the store")
		bus.Close()
		if err != nil {
			return err
		}
		b.tickets += more
		b.logf("list: %d more tickets (new customers) in %s (%.0f/s)", more, el.Round(time.Millisecond), float64(more)/el.Seconds())
	}
	const path = "/api/v1/tickets?status=open"
	var page ticketing.TicketPage
	if err := b.agent.get(ctx, path, &page); err != nil {
		return err
	}
	if len(page.Tickets) == 0 {
		return fmt.Errorf("the Open inbox is empty with %d tickets in the store", b.tickets)
	}
	for i := 0; i < 20; i++ { // warm up
		if err := b.agent.get(ctx, path, nil); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, 0, b.cfg.ListRequests)
	for i := 0; i < b.cfg.ListRequests; i++ {
		if i%50 == 0 {
			b.progress.set("list: %d/%d Open inbox pages with %d tickets", i, b.cfg.ListRequests, b.tickets)
		}
		t0 := time.Now()
		if err := b.agent.get(ctx, path, nil); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	s := benchSorted(lat)
	b.logf("list: %d pages of %d tickets with %d in the store: p50 %.2f ms, p99 %.2f ms", len(s), len(page.Tickets),
		b.tickets, benchMS(benchPercentile(s, 0.5)), benchMS(benchPercentile(s, 0.99)))
	b.res.set("list_p99_ms", benchMS(benchPercentile(s, 0.99)))
	return nil
}

// storeCommands reads svar_store_commands_total from the node's /metrics:
// the commands it has sent the store, by command and collection.
func (b *bench) storeCommands(ctx context.Context) (map[string]float64, error) {
	all, err := b.metrics(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for k, v := range all {
		if rest, ok := strings.CutPrefix(k, `svar_store_commands_total{command="`); ok {
			out[strings.TrimSuffix(rest, `"}`)] = v
		}
	}
	return out, nil
}

// logCommands logs the store commands sent between two readings, per
// message, most first, and returns their sum per message.
func (b *bench) logCommands(phase string, before, after map[string]float64, n int) float64 {
	type kv struct {
		k string
		v float64
	}
	var diffs []kv
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			diffs = append(diffs, kv{k, d / float64(n)})
			total += d / float64(n)
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].v > diffs[j].v })
	parts := make([]string, 0, len(diffs))
	for _, d := range diffs {
		parts = append(parts, fmt.Sprintf("%s %.2f", d.k, d.v))
	}
	b.logf("%s: %.2f store commands per message: %s", phase, total, strings.Join(parts, ", "))
	return total
}
