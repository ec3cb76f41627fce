package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/svar-dev/svar/ticketing"
)

// phaseWebhook measures webhooks out through the node's real entry points
// (the node runs with SVAR_WEBHOOK_ALLOW_PRIVATE=true, so that it may
// deliver to receivers on 127.0.0.1):
//
//   - webhook_lag_p99_ms (and p50): a webhook for message.created and
//     ticket.updated points at a fast receiver in this process; email
//     envelopes from 50 customers (5 in -smoke) are published at 100 a second, each
//     making those two events, so 200 events a second reach the receiver;
//     each delivery's lag is the time from the event (its "at", set when
//     the node publishes it) to the receiver reading the request. Baseline
//     in the same run, webhook_nats_lag_p99_ms: the same events' lag to a
//     plain NATS subscription in this process (what every node's console
//     hub hears), which shows how much of the lag is the machine and NATS
//     rather than the delivery;
//   - ingest_webhook_timeout_msgs_per_s: the ingest workload with a webhook
//     for every event type whose receiver accepts the connection and never
//     answers (each attempt waits out its 10 s limit), against
//     ingest_webhook_base_msgs_per_s, the same workload without a webhook
//     measured just before and just after in the same run (their mean);
//     ingest_webhook_drop_pct is the difference in percent.
const phaseWebhook = "webhook"

var webhookFigures = []string{"webhook_lag_p50_ms", "webhook_lag_p99_ms", "webhook_nats_lag_p99_ms",
	"ingest_webhook_base_msgs_per_s", "ingest_webhook_timeout_msgs_per_s", "ingest_webhook_drop_pct"}

// webhookSizes are the lag sample and the ingest workload of each of the
// three ingest runs.
func (c *benchConfig) webhookSizes() (lagEvents, ingestMsgs, customers int) {
	lagEvents = 3000 // 15 s at 200 events a second
	if c.Smoke {
		lagEvents = 200
	}
	// A quarter of the ingest phase's workload, the same shape (as many
	// messages a customer).
	customers = max(c.Customers/4, 1)
	ingestMsgs = max(c.IngestMsgs/4, customers)
	return lagEvents, ingestMsgs, customers
}

// benchReceiver is an HTTP server on 127.0.0.1 in this process.
type benchReceiver struct {
	srv  *http.Server
	url  string
	stop chan struct{} // closed when the receiver shuts down
	done sync.WaitGroup
}

// startBenchReceiver serves h; stop is closed by close, first.
func startBenchReceiver(h http.HandlerFunc, stop chan struct{}) (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{url: "http://" + ln.Addr().String() + "/hook", stop: stop}
	r.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	r.done.Go(func() { _ = r.srv.Serve(ln) })
	return r, nil
}

func (r *benchReceiver) close() {
	close(r.stop) // a hanging handler returns
	_ = r.srv.Close()
	r.done.Wait()
}

func (b *bench) webhookPhase(ctx context.Context) error {
	lagEvents, ingestMsgs, customers := b.cfg.webhookSizes()
	bus, err := b.connectBus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()

	// 1. Lag to a fast receiver.
	var mu sync.Mutex
	lags := map[string]time.Duration{}
	messages := 0
	fast, err := startBenchReceiver(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var p struct {
			ID   string    `json:"id"`
			Type string    `json:"type"`
			At   time.Time `json:"at"`
		}
		body, err := io.ReadAll(r.Body)
		if err == nil && json.Unmarshal(body, &p) == nil {
			mu.Lock()
			if _, seen := lags[p.ID]; !seen {
				lags[p.ID] = now.Sub(p.At)
				if p.Type == ticketing.EventMessageCreated {
					messages++
				}
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}, make(chan struct{}))
	if err != nil {
		return err
	}
	defer fast.close()
	var hook struct{ Webhook struct{ ID string } }
	if err := b.agent.send(ctx, "POST", "/api/v1/webhooks", map[string]any{"url": fast.url,
		"events": []string{ticketing.EventMessageCreated, ticketing.EventTicketUpdated}, "secret": "bench-" + benchRandomHex(12)}, &hook); err != nil {
		return fmt.Errorf("create the fast webhook (SVAR_WEBHOOK_ALLOW_PRIVATE must be on): %w", err)
	}
	// The baseline: the same events as a NATS subscriber hears them.
	var nmu sync.Mutex
	var natsLags []time.Duration
	sub, err := bus.Conn().Subscribe("svar.events.>", func(m *nats.Msg) {
		now := time.Now()
		var ev struct {
			Type string    `json:"type"`
			At   time.Time `json:"at"`
		}
		if json.Unmarshal(m.Data, &ev) == nil && (ev.Type == ticketing.EventMessageCreated || ev.Type == ticketing.EventTicketUpdated) {
			nmu.Lock()
			natsLags = append(natsLags, now.Sub(ev.At))
			nmu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1)
	// Every node looks for new webhooks every 2 s at most; the feed exists
	// from the 201 on, so nothing is missed meanwhile.
	run := benchRandomHex(3)
	envs := lagEvents / 2 // two events each (the first of each customer's: one)
	lagCustomers := min(50, max(1, envs/20))
	t0 := time.Now()
	for i := range envs {
		e := benchEnvelope("whlag"+run, i%lagCustomers, i/lagCustomers)
		e.ReceivedAt = time.Now().UTC()
		if err := bus.PublishInbound(ctx, e); err != nil {
			return err
		}
		b.progress.set("webhook: %d/%d envelopes published at 100/s", i+1, envs)
		// On a schedule, not a ticker: a late publish does not slow the rest.
		if err := benchSleep(ctx, time.Until(t0.Add(time.Duration(i+1)*10*time.Millisecond))); err != nil {
			return err
		}
	}
	sent := time.Since(t0)
	b.tickets += lagCustomers
	// Every message's message.created, and the ticket.updated of each
	// message to an existing ticket.
	want := 2*envs - min(envs, lagCustomers)
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got, msgs := len(lags), messages
		mu.Unlock()
		b.progress.set("webhook: %d/%d deliveries received", got, want)
		if got >= want && msgs >= envs {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d webhook deliveries (%d of %d message.created) within 60 s of the last event", got, want, msgs, envs)
		}
		if err := benchSleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	rate := float64(want) / sent.Seconds()
	_ = sub.Unsubscribe()
	nmu.Lock()
	ns := benchSorted(natsLags)
	nmu.Unlock()
	if len(ns) > 0 {
		b.res.set("webhook_nats_lag_p99_ms", benchMS(benchPercentile(ns, 0.99)))
		b.logf("webhook: baseline, the same events to a NATS subscriber: p50 %.1f ms, p99 %.1f ms", benchMS(benchPercentile(ns, 0.5)), benchMS(benchPercentile(ns, 0.99)))
	}
	mu.Lock()
	ds := make([]time.Duration, 0, len(lags))
	for _, d := range lags {
		ds = append(ds, d)
	}
	mu.Unlock()
	s := benchSorted(ds)
	b.logf("webhook: %d deliveries at %.0f events/s: event → receiver p50 %.1f ms, p99 %.1f ms, max %.1f ms (load average %s)",
		len(s), rate, benchMS(benchPercentile(s, 0.5)), benchMS(benchPercentile(s, 0.99)), benchMS(s[len(s)-1]), loadAverage())
	b.res.set("webhook_lag_p50_ms", benchMS(benchPercentile(s, 0.5)))
	b.res.set("webhook_lag_p99_ms", benchMS(benchPercentile(s, 0.99)))
	if err := b.agent.send(ctx, "DELETE", "/api/v1/webhooks/"+hook.Webhook.ID, nil, nil); err != nil {
		return err
	}

	// 2. Ingest without a webhook, with one whose receiver hangs, and
	// without again.
	stop := make(chan struct{})
	hang, err := startBenchReceiver(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-r.Context().Done():
		case <-stop:
		}
	}, stop)
	if err != nil {
		return err
	}
	defer hang.close()
	ingest := func(label string) (float64, error) {
		// Each run starts with the node idle: what the previous run left
		// to the node's read models must not slow this one.
		b.quiesce(ctx, phaseWebhook+" "+label)
		envs := make([]*ticketing.Envelope, ingestMsgs)
		for i := range envs {
			envs[i] = benchEnvelope(label+run, i%customers, i/customers)
		}
		el, err := b.publishAndWait(ctx, bus, envs, "webhook: "+label)
		if err != nil {
			return 0, err
		}
		b.tickets += customers
		return float64(ingestMsgs) / el.Seconds(), nil
	}
	base1, err := ingest("whbase1")
	if err != nil {
		return err
	}
	var slow struct{ Webhook struct{ ID string } }
	if err := b.agent.send(ctx, "POST", "/api/v1/webhooks", map[string]any{"url": hang.url,
		"events": []string{ticketing.EventTicketCreated, ticketing.EventTicketUpdated, ticketing.EventMessageCreated, ticketing.EventMessageUpdated},
		"secret": "bench-" + benchRandomHex(12)}, &slow); err != nil {
		return err
	}
	if err := benchSleep(ctx, 2500*time.Millisecond); err != nil { // every node has picked it up
		return err
	}
	withHang, err := ingest("whhang")
	if err != nil {
		return err
	}
	if err := b.agent.send(ctx, "DELETE", "/api/v1/webhooks/"+slow.Webhook.ID, nil, nil); err != nil {
		return err
	}
	base2, err := ingest("whbase2")
	if err != nil {
		return err
	}
	base := (base1 + base2) / 2
	if base <= 0 {
		return errors.New("webhook: no baseline ingest rate")
	}
	drop := 100 * (base - withHang) / base
	b.logf("webhook: ingest %.0f msgs/s with a receiver that never answers, %.0f without (%.0f before, %.0f after): %.1f%% drop (load average %s)",
		withHang, base, base1, base2, drop, loadAverage())
	b.res.set("ingest_webhook_base_msgs_per_s", base)
	b.res.set("ingest_webhook_timeout_msgs_per_s", withHang)
	b.res.set("ingest_webhook_drop_pct", drop)
	return nil
}
