package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The cold-start figures (svar bench -cold-start) need empty Go caches and
// the module proxy, and take minutes of CPU, so they are measured only
// when asked:
//
//	cold_start_s   git clone of this checkout's HEAD, then `go run ./cmd/svar`
//	               with an empty GOCACHE and GOMODCACHE (GOFLAGS=-mod=mod),
//	               until the start banner
//	warm_start_s   `go run ./cmd/svar` again with those caches, to the banner
//	cold_cpu_s     the CPU time (user + system) the cold `go run` took with
//	               its compilers: divided by the cores, the wall time on an
//	               idle machine, whatever else the machine was doing
//	binary_mib     the size of the binary `go build ./cmd/svar` writes

// measureColdStart runs the cold-start measurement on the git checkout
// that holds the working directory.
func (b *bench) measureColdStart(ctx context.Context) error {
	top, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return fmt.Errorf("cold start: run svar bench -cold-start inside a git checkout of Svar: %w", err)
	}
	repo := strings.TrimSpace(string(top))
	tmp, err := os.MkdirTemp("", "svar-coldstart-")
	if err != nil {
		return err
	}
	defer func() {
		// The module cache is read-only; make it removable.
		_ = filepath.Walk(tmp, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				_ = os.Chmod(p, 0o700)
			}
			return nil
		})
		_ = os.RemoveAll(tmp)
	}()
	src := filepath.Join(tmp, "src")
	env := append(os.Environ(),
		"GOCACHE="+filepath.Join(tmp, "gocache"), "GOMODCACHE="+filepath.Join(tmp, "gomodcache"), "GOFLAGS=-mod=mod",
		"SVAR_HTTP_ADDR=127.0.0.1:0", "SVAR_ADMIN_PASSWORD=cold start bench", "SVAR_LOG_LEVEL=error")

	b.logf("cold start: cloning %s and building with empty Go caches (this takes minutes)", repo)
	start := time.Now()
	clone := exec.CommandContext(ctx, "git", "clone", "--quiet", "--no-hardlinks", repo, src)
	if out, err := clone.CombinedOutput(); err != nil {
		return fmt.Errorf("cold start: git clone: %v: %s", err, out)
	}
	cpu, err := runToBanner(ctx, src, append(env, "SVAR_DATA_DIR="+filepath.Join(tmp, "data1")))
	if err != nil {
		b.res.fail("cold_start_s", "%v", err)
		return nil
	}
	cold := time.Since(start)
	b.res.set("cold_start_s", cold.Seconds())
	b.res.set("cold_cpu_s", cpu.Seconds())
	b.logf("cold start: %.1f s to the banner, %.1f s of CPU", cold.Seconds(), cpu.Seconds())

	start = time.Now()
	if _, err := runToBanner(ctx, src, append(env, "SVAR_DATA_DIR="+filepath.Join(tmp, "data2"))); err != nil {
		b.res.fail("warm_start_s", "%v", err)
	} else {
		b.res.set("warm_start_s", time.Since(start).Seconds())
	}

	bin := filepath.Join(tmp, "svar")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/svar")
	build.Dir, build.Env = src, env
	if out, err := build.CombinedOutput(); err != nil {
		b.res.fail("binary_mib", "go build: %v: %s", err, benchOneLine(string(out)))
	} else if fi, err := os.Stat(bin); err == nil {
		b.res.set("binary_mib", float64(fi.Size())/(1<<20))
	}
	return nil
}

// runToBanner runs `go run ./cmd/svar` in dir until it prints its banner,
// then stops it with SIGTERM. It returns the CPU time of the go command and
// the compilers and linker it waited for.
func runToBanner(ctx context.Context, dir string, env []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/svar")
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Svar is running.") && !ok {
				ok = true
				found <- true
			}
		}
		if !ok {
			found <- false
		}
	}()
	ok := <-found
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if !ok {
		return 0, fmt.Errorf("no banner: %s", benchOneLine(stderr.String()))
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
