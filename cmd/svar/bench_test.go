package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchTestNodeEnv makes the test binary a node (`svar serve`) instead of
// running tests, so that the smoke test can start nodes as child
// processes the way `svar bench` does with its own binary.
const benchTestNodeEnv = "SVAR_BENCH_TEST_NODE"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainTestArgsEnv); ok { // commands_test.go
		os.Args = append([]string{"svar"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	if os.Getenv(benchTestNodeEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serve(ctx, nil)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "svar:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testLauncher starts this test binary as a node.
func testLauncher(ctx context.Context, env []string, _, _ string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(env, benchTestNodeEnv+"=1")
	return cmd, nil
}

// TestBenchSmokePrintsEveryFigure runs `svar bench -smoke` end to end: a
// node as a child process, every workload tiny. Every figure must be
// printed once, as a number or with a reason; the figures of the core,
// which every build has, must be numbers. No thresholds: this is not a
// timed test.
func TestBenchSmokePrintsEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and runs every workload")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	start := time.Now()
	if err := benchMain(ctx, []string{"-smoke"}, &out, &progress, testLauncher); err != nil {
		t.Fatalf("bench -smoke: %v\n%s", err, progress.String())
	}
	t.Logf("bench -smoke took %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(progress.String(), "bench: ") {
		t.Errorf("no progress on stderr")
	}

	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "BENCH" {
			t.Errorf("stdout line %q is not `BENCH <name> <value> <unit>`", line)
			continue
		}
		got[f[1]] = f[2:]
	}
	mustMeasure := map[string]bool{"raw_insert_per_s": true, "ingest_msgs_per_s": true, "ingest_ratio": true,
		"list_p99_ms": true, "idle_rss_mb": true}
	for _, s := range benchFigureSpecs {
		f, ok := got[s.name]
		if s.asked {
			if ok {
				t.Errorf("%s printed without being asked for (-cold-start)", s.name)
			}
			continue
		}
		if !ok {
			t.Errorf("no BENCH line for %s:\n%s", s.name, out.String())
			continue
		}
		if f[1] != s.unit {
			t.Errorf("%s: unit %q, want %q", s.name, f[1], s.unit)
		}
		if f[0] == "n/a" {
			reason := strings.Join(f[2:], " ")
			if !strings.HasPrefix(reason, "(") || len(reason) < 5 {
				t.Errorf("%s: no value and no reason: %v", s.name, f)
			} else if mustMeasure[s.name] {
				t.Errorf("%s was not measured: %s", s.name, reason)
			} else {
				t.Logf("%s not measured: %s", s.name, reason)
			}
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		// A drop in percent may be negative (faster with than without).
		if err != nil || (v < 0 && !strings.HasSuffix(s.name, "_drop_pct")) {
			t.Errorf("%s: value %q is not a number", s.name, f[0])
		}
		if len(f) != 2 {
			t.Errorf("%s: a number with a reason: %v", s.name, f)
		}
	}
	want := 0
	for _, s := range benchFigureSpecs {
		if !s.asked {
			want++
		}
	}
	if len(got) != want {
		t.Errorf("%d BENCH lines, want %d:\n%s", len(got), want, out.String())
	}
	if t.Failed() {
		t.Logf("progress:\n%s", progress.String())
	}
}

func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(benchConfig) bool
		err   string
	}{
		{"defaults are the targets' workloads", nil, func(c benchConfig) bool {
			return !c.Smoke && c.IngestMsgs == 20_000 && c.Customers == 2_000 && c.Conns == 10_000 &&
				c.LiveRate == 400 && c.LiveVisitors == 200 && c.LiveDuration == 30*time.Second && c.ListTickets == 10_000 && c.Emails == 20
		}, ""},
		{"smoke shrinks every workload", []string{"-smoke"}, func(c benchConfig) bool {
			return c.Smoke && c.IngestMsgs < 1000 && c.Conns < 1000 && c.LiveDuration < 5*time.Second && c.ListTickets < 1000
		}, ""},
		{"a flag overrides smoke", []string{"-conns", "7", "-smoke"}, func(c benchConfig) bool { return c.Smoke && c.Conns == 7 }, ""},
		{"only names phases", []string{"-only", "ingest,list"}, func(c benchConfig) bool {
			return c.runs(phaseIngest) && c.runs(phaseList) && !c.runs(phaseLive)
		}, ""},
		{"unknown phase", []string{"-only", "ingest,nope"}, nil, `unknown phase "nope"`},
		{"fewer messages than customers", []string{"-ingest-msgs", "10", "-customers", "20"}, nil, "at least -customers"},
		{"stray argument", []string{"now"}, nil, `unexpected argument "now"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseBenchFlags(tc.args, &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

func TestBenchLines(t *testing.T) {
	for _, tc := range []struct {
		f    benchFigure
		want string
	}{
		{benchFigure{name: "ingest_ratio", unit: "x", value: 0.618, digits: 2}, "BENCH ingest_ratio 0.62 x"},
		{benchFigure{name: "live_p99_ms", unit: "ms", reason: "the chat channel is not served"}, "BENCH live_p99_ms n/a ms (the chat channel is not served)"},
	} {
		if got := tc.f.line(); got != tc.want {
			t.Errorf("line = %q, want %q", got, tc.want)
		}
	}
}
