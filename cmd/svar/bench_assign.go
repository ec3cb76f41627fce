package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/svar-dev/svar/ticketing"
)

// The assign phase: 200 messages a second (LiveRate, at most 200) for
// LiveDuration into an auto-assign team of benchAssignAgents online
// agents, as customers write: one message in benchAssignPerTicket opens a
// ticket for a new customer, the others follow up on tickets opened a
// quarter of a second to a second before (already assigned, or waiting to
// be). assign_p*_ms is, for each new ticket, from its first envelope's
// publish to the live ticket.updated that carries its assignee; the
// baseline is the same tickets' publish → ticket.created (the core
// alone). The team keeps auto-assigning afterwards, so a live phase run
// after it measures live_p99_ms with assignment on.

const benchAssignAgents = 8

// benchAssignPerTicket is how many messages a customer writes on their
// ticket in the assign phase (the first opens it).
const benchAssignPerTicket = 5

// send makes a JSON request and decodes the answer into v (if not nil).
func (c *benchAgent) send(ctx context.Context, method, path string, body, v any) error {
	j, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(j))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, benchOneLine(string(b)))
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

func (b *bench) assignPhase(ctx context.Context) error {
	bus, err := b.connectBus(ctx)
	if err != nil {
		return err
	}
	defer bus.Close()
	var team struct{ Team ticketing.Team }
	if err := b.agent.send(ctx, "POST", "/api/v1/teams", map[string]any{"name": "Bench " + benchRandomHex(3), "auto_assign": true}, &team); err != nil {
		return err
	}
	var consoles []*websocket.Conn
	defer func() {
		for _, ws := range consoles {
			ws.Close()
		}
	}()
	for i := range benchAssignAgents {
		b.progress.set("assign: signing in agent %d/%d", i+1, benchAssignAgents)
		var inv struct {
			Agent    ticketing.Agent
			Password string
		}
		email := fmt.Sprintf("bench%d-%s@bench.svar.test", i, benchRandomHex(3))
		if err := b.agent.send(ctx, "POST", "/api/v1/agents", map[string]any{"email": email, "name": fmt.Sprintf("Bench %d", i),
			"team_ids": []string{team.Team.ID}, "capacity": 1000}, &inv); err != nil {
			return err
		}
		jar, _ := cookiejar.New(nil)
		a := &benchAgent{base: b.agent.base, jar: jar, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
		if err := a.send(ctx, "POST", "/api/v1/session", map[string]string{"email": email, "password": inv.Password}, nil); err != nil {
			return err
		}
		ws, err := a.live(ctx, "")
		if err != nil {
			return err
		}
		consoles = append(consoles, ws)
		go func() {
			// A console reads what it gets and, cut off as a slow consumer,
			// reconnects as the real one does: an agent whose console stays
			// away goes offline after the grace and takes no tickets.
			for {
				if _, _, err := ws.ReadMessage(); err == nil {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				nws, err := a.live(ctx, "")
				if err != nil {
					return
				}
				ws = nws
			}
		}()
	}
	if err := b.agent.send(ctx, "PUT", "/api/v1/routing", map[string]any{"default_team_id": team.Team.ID}, nil); err != nil {
		return err
	}
	if err := b.waitFor(ctx, 30*time.Second, func() (bool, string) {
		var out struct{ Agents []ticketing.Agent }
		if err := b.agent.get(ctx, "/api/v1/agents", &out); err != nil {
			return false, err.Error()
		}
		on := 0
		for _, a := range out.Agents {
			if a.Availability == ticketing.AvailabilityOnline && len(a.TeamIDs) > 0 && a.TeamIDs[0] == team.Team.ID {
				on++
			}
		}
		return on == benchAssignAgents, fmt.Sprintf("assign: %d/%d agents online", on, benchAssignAgents)
	}); err != nil {
		return err
	}

	ws, err := b.agent.live(ctx, "")
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		sentAt  = map[string]time.Time{}
		created = map[string]time.Time{}
		latency []time.Duration
		core    []time.Duration // arrival → ticket.created: the baseline without assignment
		// byTicket: a ticket's first token, for its events after a
		// follow-up changed the preview.
		byTicket = map[string]string{}
	)
	readerDone := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	var wsMu sync.Mutex // guards ws
	go func() {
		defer close(readerDone)
		last := uint64(0)
		wsMu.Lock()
		cur := ws
		wsMu.Unlock()
		for {
			var ev ticketing.Event
			if err := cur.ReadJSON(&ev); err != nil {
				// A console that fell behind reconnects with since=, as the
				// real one does.
				cur.Close()
				if cctx.Err() != nil {
					return
				}
				nws, err := b.agent.live(cctx, fmt.Sprintf("since=%d", last))
				if err != nil {
					return
				}
				wsMu.Lock()
				ws, cur = nws, nws
				wsMu.Unlock()
				b.logf("assign: the admin's console reconnected after seq %d", last)
				continue
			}
			last = max(last, ev.Seq)
			if ev.Ticket == nil {
				continue
			}
			// A ticket is known by its first message's token, which its
			// preview shows until a follow-up arrives.
			token, _, _ := strings.Cut(ev.Ticket.Preview, " ")
			now := time.Now()
			mu.Lock()
			if _, ok := sentAt[token]; ok {
				byTicket[ev.Ticket.ID] = token
			} else if tk, ok := byTicket[ev.Ticket.ID]; ok {
				token = tk
			}
			if ev.Type == ticketing.EventTicketCreated {
				if t0, ok := created[token]; ok {
					delete(created, token)
					core = append(core, now.Sub(t0))
				}
			}
			if ev.Type == ticketing.EventTicketUpdated && ev.Ticket.AssigneeID != "" {
				if t0, ok := sentAt[token]; ok {
					delete(sentAt, token)
					delete(byTicket, ev.Ticket.ID)
					latency = append(latency, now.Sub(t0))
				}
			}
			mu.Unlock()
		}
	}()
	defer func() {
		cancel()
		wsMu.Lock()
		ws.Close()
		wsMu.Unlock()
		<-readerDone
	}()

	run := benchRandomHex(4)
	rate := min(b.cfg.LiveRate, 200)
	msgs := int(float64(rate) * b.cfg.LiveDuration.Seconds())
	total := 0 // new tickets
	interval := time.Second / time.Duration(rate)
	// Message i: k = i mod 5; k = 0 opens customer i/5's ticket, k > 0
	// follows up on the ticket opened 10·k customers earlier (k/4 s ago at
	// 200 msgs/s).
	per := benchAssignPerTicket
	newAt := rate / per // new tickets a second
	cpu := b.node.meterCPU()
	start := time.Now()
	for i := range msgs {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			if err := benchSleep(ctx, d); err != nil {
				return err
			}
		}
		k, c := i%per, i/per
		var env *ticketing.Envelope
		if k == 0 {
			token := fmt.Sprintf("assign-%s-%d", run, c)
			env = benchEnvelope("assign-"+run, c, 0)
			env.Text = token + " " + env.Text
			mu.Lock()
			sentAt[token] = time.Now()
			created[token] = sentAt[token]
			mu.Unlock()
			total++
		} else {
			env = benchEnvelope("assign-"+run, max(0, c-max(1, newAt/4)*k), i)
			env.Text = "follow-up " + env.Text
		}
		env.HTML = ""
		if err := bus.PublishInbound(ctx, env); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		b.progress.set("assign: %d/%d messages, %d new tickets", i+1, msgs, total)
	}
	if err := b.waitFor(ctx, 60*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(sentAt) == 0, fmt.Sprintf("assign: %d/%d assigned", len(latency), total)
	}); err != nil {
		return err
	}
	b.tickets += total
	mu.Lock()
	sorted := benchSorted(latency)
	base := benchSorted(core)
	mu.Unlock()
	if len(base) > 0 {
		b.logf("assign: baseline in the same run, arrival → ticket.created (the core alone): p50 %.1f ms, p99 %.1f ms",
			benchMS(benchPercentile(base, 0.5)), benchMS(benchPercentile(base, 0.99)))
	}
	b.res.set("assign_p50_ms", benchMS(benchPercentile(sorted, 0.50)))
	b.res.set("assign_p99_ms", benchMS(benchPercentile(sorted, 0.99)))
	b.logf("assign: %d messages at %d/s, %d of them new tickets (%d/s), into %d online agents: p50 %.1f ms, p99 %.1f ms, max %.1f ms; node CPU %s",
		msgs, rate, total, newAt, benchAssignAgents, benchMS(benchPercentile(sorted, 0.5)), benchMS(benchPercentile(sorted, 0.99)),
		benchMS(sorted[len(sorted)-1]), cpu.per(msgs, "message"))
	return nil
}
