package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bench is one run of `svar bench`.
type bench struct {
	cfg      benchConfig
	res      *benchResults
	progress *benchProgress
	launch   benchLauncher

	node    *benchNode
	agent   *benchAgent
	imap    *benchIMAP // nil when the email phase does not run
	tickets int        // tickets the node has, as far as the benchmark made them
}

// phaseFigures names the figures each phase measures.
var phaseFigures = map[string][]string{
	phaseIdle:    {"idle_rss_mb"},
	phaseConns:   {"chat_conns", "rss_per_conn_kib"},
	phaseRaw:     {"raw_insert_per_s"},
	phaseIngest:  {"ingest_msgs_per_s", "ingest_ratio"},
	phaseList:    {"list_p99_ms"},
	phaseAssign:  {"assign_p50_ms", "assign_p99_ms"},
	phaseLive:    {"live_p50_ms", "live_p99_ms"},
	phaseEmail:   {"email_latency_p50_s"},
	phaseReport:  {"report_p99_ms"},
	phaseSLA:     {"sla_fire_lag_p99_ms", "ingest_sla_msgs_per_s", "ingest_sla_base_msgs_per_s", "ingest_sla_drop_pct"},
	phaseWebhook: webhookFigures,
	phaseQuery:   queryFigures,
	phaseGDPR:    gdprFigures,
}

func (b *bench) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "svar-bench-")
	if err != nil {
		return err
	}
	if b.cfg.KeepDir {
		b.logf("data directory kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// The chat channel limits each visitor's message rate (20 a minute by
	// default); the live workload's visitors write faster than that.
	perVisitor := 60 * b.cfg.LiveRate / b.cfg.LiveVisitors
	extra := map[string]string{"SVAR_CHAT_MESSAGES_PER_MINUTE": fmt.Sprint(max(20, 2*perVisitor+10))}
	if b.cfg.runs(phaseWebhook) {
		// The webhook phase's receivers listen on 127.0.0.1.
		extra["SVAR_WEBHOOK_ALLOW_PRIVATE"] = "true"
	}
	if b.cfg.runs(phaseEmail) {
		b.imap, err = startBenchIMAP()
		if err != nil {
			b.res.fail("email_latency_p50_s", "could not start the in-process IMAP server: %v", err)
		} else {
			defer b.imap.close()
			for k, v := range b.imap.env() {
				extra[k] = v
			}
		}
	}
	if b.cfg.runs(phaseConns) {
		// Every socket is a descriptor in this process and one in the node.
		limit, note := benchRaiseFileLimit(uint64(b.cfg.Conns) + 4096)
		if note != "" {
			b.logf("file limit: %s", note)
		}
		b.logf("file descriptor limit: %d", limit)
		// More sockets than descriptors would fail by the thousand and
		// leave the node unable to open its own files: measure as many as
		// fit, and say so.
		if fit := int(limit) - 4096; limit > 0 && b.cfg.Conns > fit && fit > 0 {
			b.logf("conns: %d sockets do not fit in the file limit of %d; opening %d (the per-socket figure holds, the count is this machine's)", b.cfg.Conns, limit, fit)
			b.cfg.Conns = fit
		}
	}

	b.logf("machine: %d CPUs, load average %s", runtime.NumCPU(), loadAverage())
	defer func() { b.logf("load average at the end: %s", loadAverage()) }()
	b.progress.set("starting a node on embedded defaults")
	start := time.Now()
	b.node, err = startBenchNode(ctx, b.launch, dir, extra, benchAbsPath(b.cfg.CPUProfile), benchAbsPath(b.cfg.MemProfile))
	if err != nil {
		return err
	}
	defer func() {
		b.progress.set("stopping the node")
		if err := b.node.stop(); err != nil {
			b.logf("%v", err)
		}
		if b.cfg.CPUProfile != "" {
			b.logf("node CPU profile: %s (go tool pprof -top %s)", b.cfg.CPUProfile, b.cfg.CPUProfile)
		}
	}()
	b.logf("node pid %d started in %s: %s, NATS %s, store %s", b.node.cmd.Process.Pid,
		time.Since(start).Round(time.Millisecond), b.node.httpURL, b.node.natsURL, b.node.mongoURI)

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{phaseIdle, b.idlePhase},
		{phaseConns, b.connsPhase},
		{phaseRaw, b.rawPhase},
		{phaseIngest, b.ingestPhase},
		{phaseList, b.listPhase},
		{phaseAssign, b.assignPhase},
		{phaseLive, b.livePhase},
		{phaseEmail, b.emailPhase},
		{phaseReport, b.reportPhase},
		{phaseSLA, b.slaPhase},
		{phaseWebhook, b.webhookPhase},
		{phaseGDPR, b.gdprPhase},
		{phaseQuery, b.queryPhase},
	}
	for _, s := range steps {
		if !b.cfg.runs(s.name) {
			b.res.failUnset("not run (see -only)", phaseFigures[s.name]...)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.agent == nil && s.name != phaseIdle {
			// Signed in after the idle reading: a login hashes the
			// password (argon2id), which is work, not idling.
			if b.agent, err = newBenchAgent(b.node); err != nil {
				return err
			}
		}
		if s.name != phaseIdle {
			b.quiesce(ctx, s.name)
		}
		t0 := time.Now()
		err := s.fn(ctx)
		if aerr := b.node.alive(); aerr != nil {
			return aerr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.logf("%s: %v", s.name, err)
			b.res.failUnset(benchOneLine(err.Error()), phaseFigures[s.name]...)
			continue
		}
		b.logf("%s: done in %s", s.name, time.Since(t0).Round(10*time.Millisecond))
	}
	return nil
}

func benchAbsPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (b *bench) logf(format string, args ...any) { b.progress.logf(format, args...) }

// idlePhase reads the node's RSS after start-up, once it has settled.
func (b *bench) idlePhase(ctx context.Context) error {
	b.progress.set("idle: letting the node settle")
	var kib int64
	for i := 0; i < 3; i++ {
		if err := benchSleep(ctx, b.settle()); err != nil {
			return err
		}
		v, err := b.node.rssKiB()
		if err != nil {
			return err
		}
		kib = v
	}
	b.res.set("idle_rss_mb", float64(kib)/1024)
	return nil
}

// quiesce waits (at most 15 s) until the node has digested the previous
// phase (its CPU use falls under 10%), so that each phase measures the
// node in a steady state rather than still catching up.
func (b *bench) quiesce(ctx context.Context, next string) {
	const window = 500 * time.Millisecond
	deadline := time.Now().Add(15 * time.Second)
	prev, err := b.node.cpuTime()
	if err != nil {
		return
	}
	for time.Now().Before(deadline) {
		b.progress.set("%s: waiting for the node to be idle", next)
		if benchSleep(ctx, window) != nil {
			return
		}
		cur, err := b.node.cpuTime()
		if err != nil || cur-prev < window/10 {
			return
		}
		prev = cur
	}
}

// settle is how long the benchmark lets the node settle before reading
// its memory.
func (b *bench) settle() time.Duration {
	if b.cfg.Smoke {
		return 200 * time.Millisecond
	}
	return time.Second
}

func benchSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// benchAgent is an agent signed in to the node's API.
type benchAgent struct {
	base string
	http *http.Client
	jar  http.CookieJar
}

func newBenchAgent(n *benchNode) (*benchAgent, error) {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	c := &benchAgent{base: n.httpURL, jar: jar, http: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: tr}}
	body, _ := json.Marshal(map[string]string{"email": n.email, "password": n.password})
	res, err := c.http.Post(c.base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sign in: %d %s", res.StatusCode, b)
	}
	return c, nil
}

// get fetches path and decodes the JSON answer into v (if not nil).
func (c *benchAgent) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, benchOneLine(string(b)))
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

// live opens the agent's /api/v1/live websocket (query: since=<seq>).
func (c *benchAgent) live(ctx context.Context, query string) (*websocket.Conn, error) {
	u, _ := url.Parse(c.base)
	u.Scheme = "ws"
	u.Path = "/api/v1/live"
	u.RawQuery = query
	h := http.Header{}
	for _, ck := range c.jar.Cookies(&url.URL{Scheme: "http", Host: u.Host}) {
		h.Add("Cookie", ck.String())
	}
	ws, res, err := websocket.DefaultDialer.DialContext(ctx, u.String(), h)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("open /api/v1/live: %w (%d)", err, res.StatusCode)
		}
		return nil, fmt.Errorf("open /api/v1/live: %w", err)
	}
	return ws, nil
}

// percentile returns the p-th percentile (0 < p <= 1) of sorted ds by the
// nearest-rank method.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func benchSorted(ds []time.Duration) []time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

func benchMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchProgress shows one line of what the benchmark is doing on stderr: on a
// terminal it is rewritten in place, otherwise a line is printed when it
// changes, at most about once a second.
type benchProgress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	last    string
	shownAt time.Time
	shown   bool // a benchProgress line is on screen without a newline
}

func newBenchProgress(w io.Writer) *benchProgress {
	p := &benchProgress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// set shows msg as the current progress.
func (p *benchProgress) set(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg == p.last {
		return
	}
	now := time.Now()
	if p.tty {
		if now.Sub(p.shownAt) < 100*time.Millisecond && p.shown {
			p.last = msg
			return
		}
		fmt.Fprintf(p.w, "\r\033[Kbench: %s", msg)
		p.shown = true
	} else {
		if now.Sub(p.shownAt) < time.Second && benchSameStep(p.last, msg) {
			return
		}
		fmt.Fprintf(p.w, "bench: %s\n", msg)
	}
	p.last, p.shownAt = msg, now
}

// benchSameStep reports whether two benchProgress messages are of one step (they
// share the text before the first colon), to print a new step at once.
func benchSameStep(a, b string) bool {
	prefix := func(s string) string {
		for i := 0; i < len(s); i++ {
			if s[i] == ':' {
				return s[:i]
			}
		}
		return s
	}
	return prefix(a) == prefix(b)
}

// logf prints a line of its own.
func (p *benchProgress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
		p.shownAt = time.Time{}
	}
	fmt.Fprintf(p.w, "bench: "+format+"\n", args...)
}

// done ends the benchProgress line.
func (p *benchProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// errNoChat is why the chat figures cannot be measured on this build.
var errNoChat = errors.New("the chat channel is not served by this build: /chat/ws answers 404")

// goStats reads the node's Go runtime figures from /metrics (empty when
// they cannot be read): for the log, to split RSS into heap and stacks.
func (c *benchAgent) goStats(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return out
	}
	res, err := c.http.Do(req)
	if err != nil {
		return out
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines", "go_memstats_next_gc_bytes":
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	return out
}

// goStatsDelta describes the change in heap, stacks and goroutines per
// unit of work.
func goStatsDelta(before, after map[string]float64, units int, unit string) string {
	if len(before) == 0 || len(after) == 0 || units <= 0 {
		return "Go runtime figures unavailable"
	}
	per := func(k string) float64 { return (after[k] - before[k]) / float64(units) }
	return fmt.Sprintf("per %s: Go heap in use %+.1f KiB, stacks %+.1f KiB, %+.1f goroutines",
		unit, per("go_memstats_heap_inuse_bytes")/1024, per("go_memstats_stack_inuse_bytes")/1024, per("go_goroutines"))
}
