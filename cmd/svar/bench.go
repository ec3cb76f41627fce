package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchConfig scales each workload of `svar bench`. The defaults are the
// workloads the targets in docs/benchmarks.md are stated for; -smoke
// shrinks every one of them so the whole run takes seconds (CI).
type benchConfig struct {
	Smoke bool

	RawDocs      int // raw_insert_per_s: single-document inserts into a scratch collection
	IngestMsgs   int // ingest_msgs_per_s: envelopes published to SVAR_INBOUND
	Customers    int // ... from this many customers
	ListTickets  int // list_p99_ms: tickets in the store while the inbox is listed
	ListRequests int // ... GET /api/v1/tickets?status=open requests measured

	Conns int // chat_conns: idle customer websockets

	LiveRate     int           // live_*: chat messages per second, all visitors together
	LiveVisitors int           // ... from this many visitors
	LiveDuration time.Duration // ... for this long

	Emails int // email_latency_p50_s: mails appended, one at a time

	ReportTickets         int    // report_p99_ms: tickets in the report index (90 days)
	ReportRequests        int    // ... summaries measured
	SLATickets, SLASample int    // sla: tickets carrying clocks, and short-target tickets timed (bench_sla.go)
	QueryTickets          int    // query phase (bench_query.go): tickets seeded by bulk insert
	QueryMsgs             int    // ... and messages
	QueryRequests         int    // ... lists and searches measured (each)
	Scale                 string // "", "target" (100k tickets, 1M messages) or "large" (1M, 10M)
	GDPRMsgs              int    // gdpr phase (bench_gdpr.go): messages of the customer exported and erased

	Only       string // comma-separated phases to run (default: all)
	CPUProfile string // write the node's CPU profile here
	MemProfile string // write the node's heap profile here at shutdown
	KeepDir    bool   // keep the temporary data directory
	ColdStart  bool   // measure cold_start_s (bench_coldstart.go); alone unless -only is given
}

// phases of a run, in the order they run.
const (
	phaseIdle   = "idle"
	phaseConns  = "conns"
	phaseRaw    = "raw"
	phaseIngest = "ingest"
	phaseList   = "list"
	phaseAssign = "assign"
	phaseLive   = "live"
	phaseEmail  = "email"
	phaseSLA    = "sla"
)

// The query phase runs last: it restarts the node.
var allPhases = []string{phaseIdle, phaseConns, phaseRaw, phaseIngest, phaseList, phaseAssign, phaseLive, phaseEmail, phaseSLA, phaseWebhook, phaseReport, phaseGDPR, phaseQuery}

func defaultBenchConfig() benchConfig {
	return benchConfig{
		RawDocs: 5000, IngestMsgs: 20_000, Customers: 2_000, ListTickets: 10_000, ListRequests: 2_000,
		Conns: 10_000, LiveRate: 400, LiveVisitors: 200, LiveDuration: 30 * time.Second, Emails: 20,
		ReportTickets: 100_000, ReportRequests: 200,
		QueryTickets: queryScales[""][0], QueryMsgs: queryScales[""][1], QueryRequests: 500,
		GDPRMsgs: 1000,
	}
}

func smokeBenchConfig() benchConfig {
	return benchConfig{
		Smoke: true, RawDocs: 300, IngestMsgs: 400, Customers: 40, ListTickets: 200, ListRequests: 50,
		Conns: 100, LiveRate: 40, LiveVisitors: 10, LiveDuration: 2 * time.Second, Emails: 3,
		ReportTickets: 2_000, ReportRequests: 20,
		QueryTickets: 300, QueryMsgs: 1500, QueryRequests: 30,
		GDPRMsgs: 50,
	}
}

// parseBenchFlags reads the flags; -smoke picks the small defaults, and
// any flag given explicitly overrides them.
func parseBenchFlags(args []string, stderr io.Writer) (benchConfig, error) {
	smoke := false
	for _, a := range args {
		if a == "-smoke" || a == "--smoke" || a == "-smoke=true" || a == "--smoke=true" {
			smoke = true
		}
	}
	c := defaultBenchConfig()
	if smoke {
		c = smokeBenchConfig()
	}
	fs := flag.NewFlagSet("svar bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.Smoke, "smoke", c.Smoke, "run every workload tiny, in a few seconds (CI)")
	fs.IntVar(&c.RawDocs, "raw-docs", c.RawDocs, "raw_insert_per_s: single-document inserts into a scratch collection")
	fs.IntVar(&c.IngestMsgs, "ingest-msgs", c.IngestMsgs, "ingest_msgs_per_s: envelopes published to SVAR_INBOUND")
	fs.IntVar(&c.Customers, "customers", c.Customers, "ingest: distinct customers sending them")
	fs.IntVar(&c.ListTickets, "list-tickets", c.ListTickets, "list_p99_ms: tickets in the store while listing")
	fs.IntVar(&c.ListRequests, "list-requests", c.ListRequests, "list_p99_ms: inbox page requests measured")
	fs.IntVar(&c.Conns, "conns", c.Conns, "chat_conns: idle customer websockets to open")
	fs.IntVar(&c.LiveRate, "live-rate", c.LiveRate, "live_*: chat messages per second (all visitors together)")
	fs.IntVar(&c.LiveVisitors, "live-visitors", c.LiveVisitors, "live_*: visitors sending them")
	fs.DurationVar(&c.LiveDuration, "live-duration", c.LiveDuration, "live_*: how long to send")
	fs.IntVar(&c.Emails, "emails", c.Emails, "email_latency_p50_s: mails appended over IMAP")
	fs.IntVar(&c.ReportTickets, "report-tickets", c.ReportTickets, "report_p99_ms: tickets in the report index")
	fs.IntVar(&c.ReportRequests, "report-requests", c.ReportRequests, "report_p99_ms: summaries measured")
	slaBenchFlags(fs, &c)
	fs.IntVar(&c.QueryTickets, "query-tickets", c.QueryTickets, "query: tickets seeded by bulk insert before the index is rebuilt")
	fs.IntVar(&c.QueryMsgs, "query-msgs", c.QueryMsgs, "query: messages seeded with them")
	fs.IntVar(&c.QueryRequests, "query-requests", c.QueryRequests, "query: lists and searches measured (each)")
	fs.IntVar(&c.GDPRMsgs, "gdpr-msgs", c.GDPRMsgs, "gdpr: messages (every tenth with a file) of the customer exported and erased")
	fs.StringVar(&c.Scale, "scale", "", "query: target (100k tickets, 1M messages) or large (1M, 10M); sets -query-tickets/-query-msgs")
	fs.StringVar(&c.Only, "only", "", "comma-separated phases to run: "+strings.Join(allPhases, ","))
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the node's CPU profile to this file (go tool pprof)")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write the node's heap profile to this file at shutdown")
	fs.BoolVar(&c.KeepDir, "keep", false, "keep the temporary data directory")
	fs.BoolVar(&c.ColdStart, "cold-start", false, "measure cold_start_s, warm_start_s and binary_mib: clone, empty Go caches, go run to the banner (minutes; needs the module proxy); only these unless -only names phases")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: svar bench [flags]\n\nStarts Svar on embedded defaults in a temporary data directory as a child\n"+
			"process, drives it through its real entry points and prints one\n`BENCH <name> <value> <unit>` line per figure. See docs/benchmarks.md.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	for _, p := range c.phases() {
		if !benchContains(allPhases, p) {
			return c, fmt.Errorf("bench: -only: unknown phase %q (want %s)", p, strings.Join(allPhases, ","))
		}
	}
	if c.Customers <= 0 || c.IngestMsgs < c.Customers {
		return c, fmt.Errorf("bench: -ingest-msgs (%d) must be at least -customers (%d), which must be positive", c.IngestMsgs, c.Customers)
	}
	if c.Scale != "" {
		sc, ok := queryScales[c.Scale]
		if !ok {
			return c, fmt.Errorf("bench: -scale: want target or large, not %q", c.Scale)
		}
		c.QueryTickets, c.QueryMsgs = sc[0], sc[1]
	}
	if c.QueryTickets <= 0 || c.QueryMsgs < c.QueryTickets || c.QueryRequests <= 0 {
		return c, errors.New("bench: -query-tickets and -query-requests must be positive, -query-msgs at least -query-tickets")
	}
	if c.GDPRMsgs <= 0 {
		return c, errors.New("bench: -gdpr-msgs must be positive")
	}
	if c.LiveVisitors <= 0 || c.LiveRate <= 0 {
		return c, errors.New("bench: -live-rate and -live-visitors must be positive")
	}
	return c, nil
}

func (c *benchConfig) phases() []string {
	if c.Only == "" {
		return allPhases
	}
	var out []string
	for _, p := range strings.Split(c.Only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *benchConfig) runs(phase string) bool { return benchContains(c.phases(), phase) }

func benchContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// benchFigure is one BENCH line: a value, or the reason there is none.
type benchFigure struct {
	name, unit string
	value      float64
	reason     string // set: no value could be measured
	digits     int
}

func (f benchFigure) line() string {
	if f.reason != "" {
		return fmt.Sprintf("BENCH %s n/a %s (%s)", f.name, f.unit, f.reason)
	}
	return fmt.Sprintf("BENCH %s %s %s", f.name, strconv.FormatFloat(f.value, 'f', f.digits, 64), f.unit)
}

// benchFigureSpec names every figure, its unit and its target, in print order.
type benchFigureSpec struct {
	name, unit string
	digits     int
	target     float64
	atLeast    bool // the target is a floor (else a ceiling); 0: no target
	asked      bool // printed only when measured (svar bench -cold-start)
}

var benchFigureSpecs = []benchFigureSpec{
	{"raw_insert_per_s", "docs/s", 0, 0, false, false},
	{"ingest_msgs_per_s", "msgs/s", 0, 1000, true, false},
	{"ingest_ratio", "x", 2, 0.5, true, false},
	{"ingest_store_cmds_per_msg", "cmds", 2, 0, false, false},
	{"assign_p50_ms", "ms", 2, 0, false, false},
	{"assign_p99_ms", "ms", 2, 20, false, false},
	{"live_p50_ms", "ms", 2, 0, false, false},
	{"live_p99_ms", "ms", 2, 10, false, false},
	{"email_latency_p50_s", "s", 3, 1, false, false},
	{"chat_conns", "conns", 0, 10_000, true, false},
	{"rss_per_conn_kib", "KiB", 1, 24, false, false},
	{"list_p99_ms", "ms", 2, 25, false, false},
	{"idle_rss_mb", "MB", 1, 100, false, false},
	{"cold_start_s", "s", 1, 120, false, true},
	{"cold_cpu_s", "s", 1, 0, false, true},
	{"warm_start_s", "s", 1, 0, false, true},
	{"binary_mib", "MiB", 1, 0, false, true},
	{"sla_fire_lag_p99_ms", "ms", 1, 1000, false, false},
	{"ingest_sla_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_sla_base_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_sla_drop_pct", "%", 1, 10, false, false},
	{"webhook_lag_p50_ms", "ms", 1, 0, false, false},
	{"webhook_lag_p99_ms", "ms", 1, 50, false, false},
	{"webhook_nats_lag_p99_ms", "ms", 1, 0, false, false},
	{"ingest_webhook_base_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_webhook_timeout_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_webhook_drop_pct", "%", 1, 10, false, false},
	{"report_p99_ms", "ms", 2, 100, false, false},
	{"index_rebuild_s", "s", 1, 60, false, false},
	{"index_rss_mb", "MB", 1, 150, false, false},
	{"query_list_p99_ms", "ms", 2, 25, false, false},
	{"search_p99_ms", "ms", 2, 50, false, false},
	{"ingest_index_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_noindex_msgs_per_s", "msgs/s", 0, 0, false, false},
	{"ingest_index_drop_pct", "%", 1, 10, false, false},
	{"gdpr_baseline_read_s", "s", 3, 0, false, false},
	{"export_s", "s", 3, 2, false, false},
	{"erase_s", "s", 3, 2, false, false},
}

// results collects the figures of a run; safe for concurrent use.
type benchResults struct {
	mu   sync.Mutex
	figs map[string]benchFigure
	// askedOnly prints only the figures measured on request (a run of
	// svar bench -cold-start without -only).
	askedOnly bool
}

func newBenchResults() *benchResults { return &benchResults{figs: map[string]benchFigure{}} }

func (r *benchResults) set(name string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figs[name] = benchFigure{name: name, value: v}
}

func (r *benchResults) fail(name, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figs[name] = benchFigure{name: name, reason: fmt.Sprintf(format, args...)}
}

// failUnset gives every benchFigure of names that has no value yet the reason.
func (r *benchResults) failUnset(reason string, names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if _, ok := r.figs[n]; !ok {
			r.figs[n] = benchFigure{name: n, reason: reason}
		}
	}
}

func (r *benchResults) get(name string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.figs[name]
	return f.value, ok && f.reason == ""
}

// print writes the BENCH lines to out and a comparison with the targets
// to log.
func (r *benchResults) print(out, log io.Writer, smoke bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if smoke {
		fmt.Fprintln(log, "bench: results of the smoke run (tiny workloads: not comparable with the targets):")
	} else {
		fmt.Fprintln(log, "bench: results (target in brackets):")
	}
	for _, s := range benchFigureSpecs {
		f, ok := r.figs[s.name]
		if (!ok && s.asked) || (r.askedOnly && !s.asked) {
			continue
		}
		if !ok {
			f = benchFigure{name: s.name, reason: "not run (see -only)"}
		}
		f.unit, f.digits = s.unit, s.digits
		fmt.Fprintln(out, f.line())
		verdict := ""
		switch {
		case f.reason != "" || s.target == 0 || smoke:
		case s.atLeast && f.value >= s.target, !s.atLeast && f.value <= s.target:
			verdict = "met"
		default:
			verdict = "MISSED"
		}
		if s.target != 0 && !smoke {
			cmp := "<="
			if s.atLeast {
				cmp = ">="
			}
			fmt.Fprintf(log, "  %-22s %12s %-7s [%s %g] %s\n", s.name, f.valueString(), s.unit, cmp, s.target, verdict)
		} else {
			fmt.Fprintf(log, "  %-22s %12s %s\n", s.name, f.valueString(), s.unit)
		}
	}
}

func (f benchFigure) valueString() string {
	if f.reason != "" {
		return "n/a"
	}
	return strconv.FormatFloat(f.value, 'f', f.digits, 64)
}

// runBench runs `svar bench`.
func runBench(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "-node" {
		return runBenchNode(ctx, args[1:])
	}
	return benchMain(ctx, args, out, os.Stderr, defaultBenchLauncher)
}

// benchMain runs the benchmarks with node processes started by launch.
func benchMain(ctx context.Context, args []string, out, stderr io.Writer, launch benchLauncher) error {
	cfg, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, res: newBenchResults(), progress: newBenchProgress(stderr), launch: launch}
	start := time.Now()
	if cfg.ColdStart {
		b.res.askedOnly = cfg.Only == ""
		err = b.measureColdStart(ctx)
	}
	if err == nil && (!cfg.ColdStart || cfg.Only != "") {
		err = b.run(ctx)
	}
	b.progress.done()
	var names []string
	for _, s := range benchFigureSpecs {
		if !s.asked || cfg.ColdStart {
			names = append(names, s.name)
		}
	}
	if err != nil {
		b.res.failUnset("the run stopped early: "+benchOneLine(err.Error()), names...)
	} else {
		b.res.failUnset("not measured", names...)
	}
	fmt.Fprintf(stderr, "bench: finished in %s\n", time.Since(start).Round(100*time.Millisecond))
	b.res.print(out, stderr, cfg.Smoke)
	return err
}

func benchOneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
