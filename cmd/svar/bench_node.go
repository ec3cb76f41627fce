package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchLauncher returns the command that runs one Svar node with the given
// environment. The default is this binary's `svar serve`; with a profile
// requested it is `svar bench -node`, which runs the same serve with the
// profiler on. Tests substitute their own binary.
type benchLauncher func(ctx context.Context, env []string, cpuProfile, memProfile string) (*exec.Cmd, error)

func defaultBenchLauncher(ctx context.Context, env []string, cpuProfile, memProfile string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary: %w", err)
	}
	args := []string{"serve"}
	if cpuProfile != "" || memProfile != "" {
		args = []string{"bench", "-node", "-cpuprofile=" + cpuProfile, "-memprofile=" + memProfile}
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	return cmd, nil
}

// runBenchNode is `svar bench -node [-cpuprofile F] [-memprofile F] [serve
// flags]`: exactly `svar serve`, with the profiler on.
func runBenchNode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("svar bench -node", flag.ContinueOnError)
	cpu := fs.String("cpuprofile", "", "CPU profile file")
	mem := fs.String("memprofile", "", "heap profile file, written at shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *mem != "" {
		// SIGUSR1 writes a heap profile now (<file>.usr1), for the benchmark
		// to profile the node while the chat sockets are open.
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-usr1:
					if err := writeHeapProfile(*mem + ".usr1"); err != nil {
						fmt.Fprintln(os.Stderr, "svar bench -node: heap profile:", err)
					}
				}
			}
		}()
		defer func() {
			close(done)
			wg.Wait()
		}()
	}
	err := serve(ctx, fs.Args())
	if *mem != "" {
		if werr := writeHeapProfile(*mem); werr != nil {
			return errors.Join(err, fmt.Errorf("heap profile: %w", werr))
		}
	}
	return err
}

// writeHeapProfile writes the heap profile after a collection.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// node is a Svar node running as a child process, so that its RSS is its
// own and not shared with the benchmark's clients.
type benchNode struct {
	cmd      *exec.Cmd
	dir      string // data directory
	logPath  string // the node's stderr
	httpURL  string
	natsURL  string
	mongoURI string
	email    string // the admin's login
	password string

	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, after exited
	wg     sync.WaitGroup
}

// benchEnv is the node's environment: this process's, without any SVAR_
// setting (the benchmark runs on embedded defaults), plus extra.
func benchEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SVAR_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

func benchRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startBenchNode starts a node in dir and waits until it serves.
func startBenchNode(ctx context.Context, launch benchLauncher, dir string, extra map[string]string, cpuProfile, memProfile string) (*benchNode, error) {
	n := &benchNode{dir: dir, logPath: filepath.Join(dir, "node.log"), email: "bench@localhost",
		password: "bench-" + benchRandomHex(12), exited: make(chan struct{})}
	settings := map[string]string{
		"SVAR_DATA_DIR":       filepath.Join(dir, "data"),
		"SVAR_HTTP_ADDR":      "127.0.0.1:0",
		"SVAR_ADMIN_EMAIL":    n.email,
		"SVAR_ADMIN_PASSWORD": n.password,
		"SVAR_LOG_LEVEL":      "warn",
	}
	for k, v := range extra {
		settings[k] = v
	}
	cmd, err := launch(ctx, benchEnv(settings), cpuProfile, memProfile)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(n.logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	// Stop it with SIGTERM, as an operator would, so it shuts down cleanly
	// (and writes its profiles); kill it only if it hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start node: %w", err)
	}
	n.cmd = cmd

	lines := make(chan string, 64)
	n.wg.Add(1)
	go func() { // reads the banner, then drains stdout until the node exits
		defer n.wg.Done()
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.err = cmd.Wait()
		logf.Close()
		close(n.exited)
	}()

	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	for n.httpURL == "" || n.natsURL == "" || n.mongoURI == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				<-n.exited
				return nil, fmt.Errorf("the node exited during start-up (%v): %s", n.err, n.logTail())
			}
			n.parseBanner(line)
		case <-timeout.C:
			n.stop()
			return nil, fmt.Errorf("the node did not start within 2 minutes: %s", n.logTail())
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		}
	}
	go func() { // keep draining what the banner goroutine forwards
		for range lines {
		}
	}()
	return n, nil
}

// parseBanner picks the node's addresses out of the start banner.
func (n *benchNode) parseBanner(line string) {
	f := strings.Fields(line)
	switch {
	case len(f) >= 3 && f[0] == "Listening" && f[1] == "on":
		addr := f[2]
		if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
			addr = "127.0.0.1:" + addr[strings.LastIndexByte(addr, ':')+1:]
		}
		n.httpURL = "http://" + addr
	case len(f) >= 2 && f[0] == "NATS:":
		n.natsURL = f[1]
	case len(f) >= 2 && f[0] == "MongoDB:":
		n.mongoURI = f[1]
	}
}

// alive reports an error if the node has exited.
func (n *benchNode) alive() error {
	select {
	case <-n.exited:
		return fmt.Errorf("the node exited (%v): %s", n.err, n.logTail())
	default:
		return nil
	}
}

// stop shuts the node down with SIGTERM and waits for it.
func (n *benchNode) stop() error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	select {
	case <-n.exited:
	default:
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(40 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	}
	n.wg.Wait()
	var ee *exec.ExitError
	if n.err != nil && !(errors.As(n.err, &ee) && ee.Exited() && ee.ExitCode() == 0) {
		return fmt.Errorf("node: %w", n.err)
	}
	return nil
}

// rssKiB is the node's resident set size, from /proc/<pid>/status.
func (n *benchNode) rssKiB() (int64, error) {
	return benchProcRSS(n.cmd.Process.Pid)
}

func benchProcRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w (this needs Linux's /proc)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) >= 1 {
				return strconv.ParseInt(fs[0], 10, 64)
			}
		}
	}
	return 0, errors.New("read RSS: no VmRSS in /proc/<pid>/status")
}

// logTail is the end of the node's log, for error messages.
func (n *benchNode) logTail() string {
	f, err := os.Open(n.logPath)
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	s := strings.TrimSpace(string(b))
	if len(s) > 1500 {
		s = "…" + s[len(s)-1500:]
	}
	if s == "" {
		return "(empty log)"
	}
	return "log: " + s
}

// benchRaiseFileLimit raises RLIMIT_NOFILE so that want descriptors fit, in
// this process and the node it starts. It returns the limit in force and,
// when the OS refused to go as high, why.
func benchRaiseFileLimit(want uint64) (uint64, string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, "getrlimit: " + err.Error()
	}
	note := ""
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			note = fmt.Sprintf("the OS refused to raise the hard file limit from %d to %d: %v", lim.Max, want, err)
		} else {
			lim = raised
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
	}
	// Set explicitly (even when unchanged) so that the child inherits it.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil && note == "" {
		note = "setrlimit: " + err.Error()
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur, note
}

// cpuTime is the CPU time the node has used (user and system), from
// /proc/<pid>/stat.
func (n *benchNode) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// cpuMeter measures the node's CPU time over a stretch of work, and the
// benchmark's own (its clients compete with the node for the cores).
type cpuMeter struct {
	n         *benchNode
	start     time.Duration
	ok        bool
	startSelf time.Duration
}

func (n *benchNode) meterCPU() cpuMeter {
	t, err := n.cpuTime()
	return cpuMeter{n: n, start: t, ok: err == nil, startSelf: selfCPU()}
}

// selfCPU is this process's CPU time (user and system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// per returns the node's CPU time since the meter started, per unit of
// work, as text for the log.
func (m cpuMeter) per(units int, unit string) string {
	t, err := m.n.cpuTime()
	if !m.ok || err != nil || units <= 0 {
		return "node CPU time unknown"
	}
	used := t - m.start
	return fmt.Sprintf("node CPU %.1f s, %.2f ms per %s; the benchmark's clients %.1f s", used.Seconds(),
		float64(used)/float64(time.Millisecond)/float64(units), unit, (selfCPU() - m.startSelf).Seconds())
}

// msPer is the node's CPU time since the meter started in milliseconds
// per unit; false when it is unknown.
func (m cpuMeter) msPer(units int) (float64, bool) {
	t, err := m.n.cpuTime()
	if !m.ok || err != nil || units <= 0 {
		return 0, false
	}
	return float64(t-m.start) / float64(time.Millisecond) / float64(units), true
}

// loadAverage is the system's 1-minute load average as text, to tell a
// reader of the results how busy the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
