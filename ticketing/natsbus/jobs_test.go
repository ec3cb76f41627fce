package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// jobLog records when each job key ran.
type jobLog struct {
	mu   sync.Mutex
	runs map[string][]time.Time
}

func (l *jobLog) handler(ctx context.Context, j *ticketing.Job) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = map[string][]time.Time{}
	}
	l.runs[j.Key] = append(l.runs[j.Key], time.Now())
	return nil
}

func (l *jobLog) get(key string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.runs[key]...)
}

// ranOnceWhenDue checks that each job of due ran once, not before its
// due time (wall-clock times: the server's and the header's).
func (l *jobLog) ranOnceWhenDue(t *testing.T, due map[string]time.Time) {
	t.Helper()
	for k, at := range due {
		runs := l.get(k)
		if len(runs) != 1 {
			t.Errorf("job %s ran %d times, want once", k, len(runs))
			continue
		}
		if runs[0].Round(0).Before(at.Round(0)) {
			t.Errorf("job %s ran %v before its due time", k, at.Sub(runs[0]))
		}
	}
}

func TestJobsRunOnceWhenDueAcrossNodes(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	a, b := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	var log jobLog
	run(t, func(ctx context.Context) error { return a.ConsumeJobs(ctx, "test", log.handler) })
	run(t, func(ctx context.Context) error { return b.ConsumeJobs(ctx, "test", log.handler) })

	ctx := ctxTimeout(t, 30*time.Second)
	start := time.Now()
	due := map[string]time.Time{}
	for i := range 20 {
		key := fmt.Sprintf("k%d", i)
		at := start.Add(time.Duration(300+50*i) * time.Millisecond)
		due[key] = at
		// Scheduled twice, from both nodes: stored once.
		if err := a.Schedule(ctx, "test", key, at, []byte(key)); err != nil {
			t.Fatal(err)
		}
		if err := b.Schedule(ctx, "test", key, at, []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	past := "past"
	if err := a.Schedule(ctx, "test", past, start.Add(-time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "every job to run", func() bool {
		for k := range due {
			if len(log.get(k)) == 0 {
				return false
			}
		}
		return len(log.get(past)) > 0
	})
	// Give a duplicate the chance to show up: wait until the consumer has
	// nothing pending (acknowledged everything), then count.
	eventually(t, 10*time.Second, "no jobs pending", func() bool {
		n, err := a.JobsPending(ctx, "test")
		return err == nil && n == 0
	})
	log.ranOnceWhenDue(t, due)
}

func TestJobsRetryAndPoison(t *testing.T) {
	bus := natstest.New(t)
	var mu sync.Mutex
	calls := map[string]int{}
	run(t, func(ctx context.Context) error {
		return bus.ConsumeJobs(ctx, "flaky", func(ctx context.Context, j *ticketing.Job) error {
			mu.Lock()
			calls[j.Key]++
			n := calls[j.Key]
			mu.Unlock()
			switch {
			case j.Key == "poison":
				return &ticketing.PoisonError{Reason: "never works"}
			case n == 1:
				return ticketing.Retry(errors.New("not yet"), 100*time.Millisecond)
			case n == 2:
				return errors.New("transient")
			}
			return nil
		})
	})
	ctx := ctxTimeout(t, 30*time.Second)
	if err := bus.Schedule(ctx, "flaky", "retry", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := bus.Schedule(ctx, "flaky", "poison", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the retried job to succeed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls["retry"] >= 3
	})
	dl := waitDLQ(t, bus, 1)
	if got := dl[0].Header.Get(natsbus.HeaderReason); got != "never works" {
		t.Errorf("dead letter reason %q", got)
	}
	if err := bus.Schedule(ctx, "bad kind!", "x", time.Now(), nil); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Errorf("bad kind: %v", err)
	}
}

// A job scheduled before every node stops still runs once, at its time,
// after a new node starts on the same server.
func TestJobsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A short AckWait: a job whose refusal was lost with its node (the
	// consumer stops right after the delivery) comes back after it.
	bus := natstest.ConnectOptions(t, natsbus.Options{URL: srv.ClientURL(), AckWait: 2 * time.Second})
	var log jobLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.ConsumeJobs(ctx, "restart", log.handler) }()
	at := time.Now().Add(2 * time.Second)
	if err := bus.Schedule(ctxTimeout(t, 5*time.Second), "restart", "r1", at, nil); err != nil {
		t.Fatal(err)
	}
	// Let the consumer see and refuse it (it is then pending with a delay).
	eventually(t, 5*time.Second, "the job to be pending", func() bool {
		n, err := bus.JobsPending(ctxTimeout(t, 5*time.Second), "restart")
		return err == nil && n == 1
	})
	cancel()
	<-done
	bus.Close()
	srv.Close()

	srv2, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.Close)
	bus2 := natstest.ConnectOptions(t, natsbus.Options{URL: srv2.ClientURL(), AckWait: 2 * time.Second})
	run(t, func(ctx context.Context) error { return bus2.ConsumeJobs(ctx, "restart", log.handler) })
	eventually(t, 20*time.Second, "the job to run after the restart", func() bool { return len(log.get("r1")) > 0 })
	if runs := log.get("r1"); runs[0].Round(0).Before(at.Round(0)) {
		t.Errorf("ran %v early", at.Sub(runs[0]))
	}
	eventually(t, 10*time.Second, "no jobs pending", func() bool {
		n, err := bus2.JobsPending(ctxTimeout(t, 5*time.Second), "restart")
		return err == nil && n == 0
	})
	if n := len(log.get("r1")); n != 1 {
		t.Errorf("ran %d times", n)
	}
}

// A job due later waits in the server as a scheduled message, not on the
// consumer (where thousands of waiting clocks made every delivery late),
// survives a restart of the server, and runs once, not before it is due.
func TestJobsDueLaterWaitInTheServer(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a := natstest.ConnectOptions(t, natsbus.Options{URL: srv.ClientURL()})
	b := natstest.ConnectOptions(t, natsbus.Options{URL: srv.ClientURL()})
	if !a.MsgSchedules() {
		t.Fatal("the embedded nats-server takes scheduled messages, but the bus does not use them")
	}
	var log jobLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.ConsumeJobs(ctx, "later", log.handler) }()
	start := time.Now()
	due := map[string]time.Time{}
	for i := range 5 {
		key := fmt.Sprintf("l%d", i)
		at := start.Add(4*time.Second + time.Duration(i)*100*time.Millisecond)
		due[key] = at
		for _, bus := range []*natsbus.Bus{a, b} { // from two nodes: stored once
			if err := bus.Schedule(ctxTimeout(t, 5*time.Second), "later", key, at, []byte(key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := a.JobsPending(ctxTimeout(t, 5*time.Second), "later"); err != nil || n != 5 {
		t.Fatalf("pending = %d, %v; want the 5 jobs", n, err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var c jetstream.Consumer
	eventually(t, 10*time.Second, "the jobs consumer to exist", func() bool { // ConsumeJobs creates it
		c, err = js.Consumer(ctxTimeout(t, 5*time.Second), natsbus.StreamJobs, natsbus.JobsConsumer("later"))
		return err == nil
	})
	info, err := c.Info(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		t.Fatalf("the consumer holds %d pending and %d unacknowledged jobs; want none before they are due", info.NumPending, info.NumAckPending)
	}
	cancel()
	<-done
	a.Close()
	b.Close()
	srv.Close()

	srv2, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.Close)
	bus2 := natstest.ConnectOptions(t, natsbus.Options{URL: srv2.ClientURL()})
	run(t, func(ctx context.Context) error { return bus2.ConsumeJobs(ctx, "later", log.handler) })
	eventually(t, 20*time.Second, "every job to run after the restart", func() bool {
		for k := range due {
			if len(log.get(k)) == 0 {
				return false
			}
		}
		return true
	})
	eventually(t, 10*time.Second, "no jobs pending", func() bool {
		n, err := bus2.JobsPending(ctxTimeout(t, 5*time.Second), "later")
		return err == nil && n == 0
	})
	log.ranOnceWhenDue(t, due)
}
