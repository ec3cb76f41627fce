package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
)

// The query phase: the per-node query index at scale. It seeds the store
// fast (unordered insertMany of customers, tickets and messages straight
// into the node's store, not through SVAR_INBOUND), restarts the node
// without its index so that it rebuilds from the store, and then measures
// lists with filters, sorts and q, search, the node's RSS, and ingest with
// and without the index.
//
//	index_rebuild_s     node start to a complete index
//	index_rss_mb        the node's RSS with the index loaded
//	query_list_p99_ms   GET /api/v1/tickets with mixed filters, sorts and q
//	search_p99_ms       GET /api/v1/search
//	ingest_index_msgs_per_s / ingest_noindex_msgs_per_s / ingest_index_drop_pct

const phaseQuery = "query"

var queryFigures = []string{"index_rebuild_s", "index_rss_mb", "query_list_p99_ms", "search_p99_ms",
	"ingest_index_msgs_per_s", "ingest_noindex_msgs_per_s", "ingest_index_drop_pct"}

// Scales of the query phase (-scale).
var queryScales = map[string][2]int{
	"":       {10_000, 100_000},
	"target": {100_000, 1_000_000},
	"large":  {1_000_000, 10_000_000},
}

var benchWords = strings.Fields(`paket leverans retur returnera faktura betalning storlek byta skor jacka cykel punktering
	lampa trasig kvitto rabattkod beställning order refund delivery invoice shipping broken size exchange parcel tracking
	klarna swish kundtjänst garanti reklamation ersättning present presentkort leveransadress postnord budbil hämtställe
	frakt fraktfri lager återbetalning kampanj medlem konto lösenord inloggning nyhetsbrev`)

func (b *bench) queryPhase(ctx context.Context) error {
	nt, nm := b.cfg.QueryTickets, b.cfg.QueryMsgs
	store, err := mongostore.Open(ctx, mongostore.Options{URI: b.node.mongoURI})
	if err != nil {
		return fmt.Errorf("query: open the store: %w", err)
	}
	seedStart := time.Now()
	numbers, err := b.seedQuery(ctx, store, nt, nm)
	store.Close(context.Background())
	if err != nil {
		return err
	}
	b.logf("query: seeded %d tickets and %d messages by bulk insert in %s", nt, nm, time.Since(seedStart).Round(time.Millisecond))

	// Restart without the index: it is rebuilt from the store at start.
	start, err := b.restartNode(ctx, nil, true)
	if err != nil {
		return err
	}
	total := float64(nt)
	for {
		if err := b.node.alive(); err != nil {
			return err
		}
		m, err := b.metrics(ctx)
		if err == nil && m["svar_query_rebuilding"] == 0 && m["svar_inbox_tickets"] >= total {
			break
		}
		b.progress.set("query: rebuilding the index: %.0f/%.0f tickets", m["svar_inbox_tickets"], total)
		if err := benchSleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	rebuild := time.Since(start)
	b.res.set("index_rebuild_s", rebuild.Seconds())
	b.logf("query: the index was rebuilt in %s", rebuild.Round(time.Millisecond))
	if err := benchSleep(ctx, b.settle()); err != nil {
		return err
	}
	rss, err := b.node.rssKiB()
	if err == nil {
		b.res.set("index_rss_mb", float64(rss)/1024)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	lists := []string{"status=open", "status=open&sort=waiting", "status=open&assignee=none", "status=pending",
		"sort=due&status=open", "sort=oldest", "channel=sms&status=open", "priority=high", "tag=vip",
		"created_after=2025-01-01&status=solved"}
	lat := make([]time.Duration, 0, b.cfg.QueryRequests)
	for i := 0; i < b.cfg.QueryRequests; i++ {
		path := "/api/v1/tickets?" + lists[i%len(lists)]
		if i%5 == 4 {
			path = "/api/v1/tickets?q=" + url.QueryEscape(benchWords[rng.IntN(len(benchWords))])
		}
		t0 := time.Now()
		if err := b.agent.get(ctx, path, nil); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		if i%50 == 0 {
			b.progress.set("query: %d/%d lists", i, b.cfg.QueryRequests)
		}
	}
	s := benchSorted(lat)
	b.res.set("query_list_p99_ms", benchMS(benchPercentile(s, 0.99)))
	b.logf("query: %d lists: p50 %.2f ms, p99 %.2f ms", len(s), benchMS(benchPercentile(s, 0.5)), benchMS(benchPercentile(s, 0.99)))

	lat = lat[:0]
	for i := 0; i < b.cfg.QueryRequests; i++ {
		c := rng.IntN(nt)
		var q string
		switch i % 6 {
		case 0:
			q = benchWords[rng.IntN(len(benchWords))]
		case 1:
			q = benchWords[rng.IntN(len(benchWords))][:4] + " " + benchWords[rng.IntN(len(benchWords))]
		case 2:
			q = fmt.Sprintf("seed%07d@kund.bench.svar.test", c)
		case 3:
			q = fmt.Sprintf("070-%03d %02d %02d", c/10000%1000, c/100%100, c%100)
		case 4:
			q = fmt.Sprint(numbers[c])
		default:
			q = fmt.Sprintf("SO-%d", 500000+c)
		}
		var out struct {
			Results []any `json:"results"`
		}
		t0 := time.Now()
		if err := b.agent.get(ctx, "/api/v1/search?limit=20&q="+url.QueryEscape(q), &out); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		if i%6 >= 2 && len(out.Results) == 0 {
			return fmt.Errorf("query: search %q found nothing", q)
		}
		if i%50 == 0 {
			b.progress.set("query: %d/%d searches", i, b.cfg.QueryRequests)
		}
	}
	s = benchSorted(lat)
	b.res.set("search_p99_ms", benchMS(benchPercentile(s, 0.99)))
	b.logf("query: %d searches: p50 %.2f ms, p99 %.2f ms", len(s), benchMS(benchPercentile(s, 0.5)), benchMS(benchPercentile(s, 0.99)))

	// Ingest with the index, then on the same store without it.
	n := min(b.cfg.IngestMsgs, 3000)
	withIx, err := b.queryIngest(ctx, "qi", n)
	if err != nil {
		return err
	}
	if _, err := b.restartNode(ctx, map[string]string{"SVAR_QUERY_INDEX": "off"}, false); err != nil {
		return err
	}
	if err := benchSleep(ctx, b.settle()); err != nil {
		return err
	}
	without, err := b.queryIngest(ctx, "qn", n)
	if err != nil {
		return err
	}
	b.res.set("ingest_index_msgs_per_s", withIx)
	b.res.set("ingest_noindex_msgs_per_s", without)
	b.res.set("ingest_index_drop_pct", 100*(without-withIx)/without)
	b.logf("query: ingest of %d messages: %.0f/s with the index, %.0f/s without", n, withIx, without)
	return nil
}

func (b *bench) queryIngest(ctx context.Context, run string, n int) (float64, error) {
	bus, err := b.connectBus(ctx)
	if err != nil {
		return 0, err
	}
	defer bus.Close()
	customers := max(1, n/10)
	envs := make([]*ticketing.Envelope, n)
	for i := range envs {
		envs[i] = benchEnvelope(run, i%customers, i/customers)
	}
	el, err := b.publishAndWait(ctx, bus, envs, "query: ingest "+run)
	if err != nil {
		return 0, err
	}
	b.tickets += customers
	return float64(n) / el.Seconds(), nil
}

// restartNode stops the node and starts it again on the same data
// directory with extra settings; dropIndex deletes its query index first.
// It returns when the new node was started.
func (b *bench) restartNode(ctx context.Context, extra map[string]string, dropIndex bool) (time.Time, error) {
	old := b.node
	b.progress.set("query: restarting the node")
	if err := old.stop(); err != nil {
		return time.Time{}, err
	}
	if dropIndex {
		if err := os.RemoveAll(filepath.Join(old.dir, "data", "query")); err != nil {
			return time.Time{}, err
		}
	}
	start := time.Now()
	n, err := startBenchNode(ctx, b.launch, old.dir, extra, "", "")
	if err != nil {
		return start, err
	}
	// The admin was created at the first start, with the first password.
	n.email, n.password = old.email, old.password
	b.node = n
	b.agent, err = newBenchAgent(n)
	return start, err
}

// metrics reads the node's gauges from /metrics.
func (b *bench) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.node.httpURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	return out, sc.Err()
}

// seedQuery bulk-inserts nt customers with one ticket each and nm messages
// spread over them. It returns the ticket numbers.
func (b *bench) seedQuery(ctx context.Context, store *mongostore.Store, nt, nm int) ([]int64, error) {
	first, err := store.LastTicketNumber(ctx)
	if err != nil {
		return nil, err
	}
	if first < 1000 {
		first = 1000
	}
	first += 1000 // room for tickets threading makes meanwhile
	numbers := make([]int64, nt)
	rng := rand.New(rand.NewPCG(7, 9))
	now := time.Now().UTC()
	statuses := []string{"open", "open", "pending", "solved", "solved", "solved", "solved", "closed", "closed", "solved"}
	prios := []string{"normal", "normal", "normal", "low", "high", "urgent"}
	channels := []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS}
	per := max(1, nm/nt)
	const batch = 1000
	var custs []*ticketing.Customer
	var tickets []*ticketing.Ticket
	var msgs []*ticketing.Message
	flush := func() error {
		if err := store.InsertCustomersBulk(ctx, custs); err != nil {
			return err
		}
		if err := store.InsertTicketsBulk(ctx, tickets); err != nil {
			return err
		}
		for len(msgs) > 0 {
			k := min(len(msgs), batch)
			if _, err := store.InsertMessages(ctx, msgs[:k]); err != nil {
				return err
			}
			msgs = msgs[k:]
		}
		custs, tickets = custs[:0], tickets[:0]
		return nil
	}
	for c := 0; c < nt; c++ {
		created := now.Add(-time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour))))
		cid := fmt.Sprintf("seedc%07d", c)
		phone := fmt.Sprintf("+4670%03d%02d%02d", c/10000%1000, c/100%100, c%100)
		cust := &ticketing.Customer{ID: cid, Name: fmt.Sprintf("Kund%d Seedsson", c),
			Identities: []ticketing.Identity{{Kind: ticketing.IdentityEmail, Value: fmt.Sprintf("seed%07d@kund.bench.svar.test", c)},
				{Kind: ticketing.IdentityPhone, Value: phone}},
			CreatedAt: created, UpdatedAt: created, TicketCount: 1, CurrentTicketID: cid + "-1", TicketIDs: []string{cid + "-1"}}
		numbers[c] = first + int64(c)
		t := &ticketing.Ticket{ID: cid + "-1", Number: numbers[c], Status: statuses[c%len(statuses)],
			Priority: prios[c%len(prios)], CustomerID: cid, CustomerName: cust.Name, Channel: channels[c%len(channels)],
			Subject: "Fråga om " + benchWords[c%len(benchWords)], CreatedAt: created, Version: int64(per + 1),
			OrderNumbers: []string{fmt.Sprintf("SO-%d", 500000+c)}}
		if c%7 == 0 {
			t.Tags = []string{"vip"}
		}
		if c%3 == 0 {
			t.AssigneeID = "seed-agent"
		}
		at := created
		for k := 0; k < per; k++ {
			at = at.Add(time.Duration(1+rng.IntN(600)) * time.Minute)
			var words []string
			for range 12 + rng.IntN(20) {
				words = append(words, benchWords[rng.IntN(len(benchWords))])
			}
			dir := ticketing.DirectionInbound
			author := ticketing.Author{Kind: ticketing.AuthorCustomer, ID: cid, Name: cust.Name}
			if k%2 == 1 {
				dir, author = ticketing.DirectionOutbound, ticketing.Author{Kind: ticketing.AuthorAgent, ID: "seed-agent", Name: "Agent"}
				t.LastOutboundAt = at
			} else {
				t.LastInboundAt = at
			}
			m := &ticketing.Message{ID: fmt.Sprintf("seedm%07d-%d", c, k), TicketID: t.ID, CustomerID: cid,
				Direction: dir, Channel: t.Channel, Text: strings.Join(words, " ") + ".", Author: author, CreatedAt: at}
			msgs = append(msgs, m)
			t.MessageIDs = append(t.MessageIDs, m.ID)
			t.Preview = ticketing.FirstLine(m.Text, 140)
		}
		t.LastMessageAt, t.UpdatedAt, t.MessageCount = at, at, len(t.MessageIDs)
		custs = append(custs, cust)
		tickets = append(tickets, t)
		if len(tickets) == batch {
			if err := flush(); err != nil {
				return nil, err
			}
			b.progress.set("query: seeding %d/%d tickets", c+1, nt)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return numbers, store.SetTicketNumberCounter(ctx, first+int64(nt))
}
