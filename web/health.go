package web

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// defaultHealthTimeout bounds each part's check in /healthz.
const defaultHealthTimeout = 3 * time.Second

// handleHealth checks every part at once, each under its own deadline, so
// that one part hanging neither delays nor blames the others. The answer
// is "ok" for each healthy part and "error: ..." for each failing one.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	timeout := s.opts.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.health))
	var wg sync.WaitGroup
	for name, p := range s.health {
		wg.Go(func() { results <- result{name, ping(r.Context(), p, timeout)} })
	}
	wg.Wait()
	close(results)
	out := map[string]string{"status": "ok"}
	code := http.StatusOK
	for res := range results {
		if res.err != nil {
			out[res.name] = "error: " + res.err.Error()
			out["status"] = "degraded"
			code = http.StatusServiceUnavailable
			continue
		}
		out[res.name] = "ok"
	}
	writeJSON(w, code, out)
}

// ping runs p.Ping under its own deadline and gives up at the deadline even
// if p does not (its goroutine then ends when Ping returns).
func ping(parent context.Context, p Pinger, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Ping(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if parent.Err() != nil {
			return parent.Err()
		}
		return fmt.Errorf("no answer within %s", timeout)
	}
}
