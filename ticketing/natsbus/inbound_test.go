package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

func TestInboundPublishAndConsume(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	want := []*ticketing.Envelope{envelope("a1"), envelope("a2"), envelope("a3")}
	want[1].Channel = ticketing.ChannelSMS
	want[1].From = ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}
	for _, e := range want {
		if err := b.PublishInbound(ctx, e); err != nil {
			t.Fatalf("PublishInbound(%s): %v", e.ExternalID, err)
		}
	}
	// The consumer's pending count catches up with the stream a moment
	// after the publish acks.
	eventually(t, 10*time.Second, "consumer lag 3 before consuming", func() bool {
		lag, err := b.ConsumerLag(ctx)
		return err == nil && lag == 3
	})
	got := make(chan *ticketing.Envelope, 10)
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			for _, e := range envs {
				got <- e
			}
			return make([]error, len(envs))
		})
	})
	for i, w := range want {
		select {
		case g := <-got:
			// Stream order holds within a single consumer.
			if g.DedupeID() != w.DedupeID() || g.Text != w.Text || g.HTML != w.HTML ||
				!g.ReceivedAt.Equal(w.ReceivedAt) || g.From != w.From || g.Meta["message_id"] != w.Meta["message_id"] {
				t.Fatalf("envelope %d = %+v, want %+v", i, g, w)
			}
		case <-ctx.Done():
			t.Fatalf("envelope %d never arrived", i)
		}
	}
	// Acknowledged: nothing pending, and the work queue is empty.
	eventually(t, 10*time.Second, "consumer lag 0", func() bool {
		lag, err := b.ConsumerLag(ctx)
		return err == nil && lag == 0
	})
	eventually(t, 10*time.Second, "inbound stream empty", func() bool {
		return streamMsgs(t, b, natsbus.StreamInbound) == 0
	})
}

func TestInboundDuplicateStoredOnce(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 10*time.Second)
	e := envelope("dup-1")
	for range 3 {
		if err := b.PublishInbound(ctx, e); err != nil {
			t.Fatalf("PublishInbound: %v", err)
		}
	}
	other := envelope("dup-1")
	other.Channel = ticketing.ChannelSMS // same external id, other channel: not a duplicate
	if err := b.PublishInbound(ctx, other); err != nil {
		t.Fatalf("PublishInbound: %v", err)
	}
	if n := streamMsgs(t, b, natsbus.StreamInbound); n != 2 {
		t.Fatalf("inbound stream holds %d messages, want 2", n)
	}
}

func TestInboundRedeliveryAfterHandlerError(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	rec := newRecorder()
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			errs := make([]error, len(envs))
			for i, e := range envs {
				if rec.add(e.ExternalID) == 1 && e.ExternalID == "flaky" {
					errs[i] = errors.New("store unavailable")
				}
			}
			return errs
		})
	})
	for _, id := range []string{"steady", "flaky"} {
		if err := b.PublishInbound(ctx, envelope(id)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "flaky redelivered", func() bool { return rec.count("flaky") == 2 })
	eventually(t, 10*time.Second, "everything acknowledged", func() bool {
		lag, err := b.ConsumerLag(ctx)
		return err == nil && lag == 0
	})
	if n := rec.count("steady"); n != 1 {
		t.Fatalf("steady handled %d times, want 1", n)
	}
	if n := rec.count("flaky"); n != 2 {
		t.Fatalf("flaky handled %d times, want 2", n)
	}
	if n := streamMsgs(t, b, natsbus.StreamDLQ); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
}

func TestInboundPoisonGoesToDLQ(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	rec := newRecorder()
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			errs := make([]error, len(envs))
			for i, e := range envs {
				rec.add(e.ExternalID)
				if e.ExternalID == "poison" {
					errs[i] = fmt.Errorf("ingest: %w", &ticketing.PoisonError{Reason: "sender identity is unusable"})
				}
			}
			return errs
		})
	})
	for _, id := range []string{"poison", "next"} {
		if err := b.PublishInbound(ctx, envelope(id)); err != nil {
			t.Fatal(err)
		}
	}
	dl := waitDLQ(t, b, 1)
	eventually(t, 10*time.Second, "next handled", func() bool { return rec.count("next") == 1 })
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	if n, err := b.DLQCount(ctx); n != 1 || err != nil {
		t.Errorf("DLQCount = %d, %v; want 1", n, err)
	}
	m := dl[0]
	if r := m.Header.Get(natsbus.HeaderReason); !strings.Contains(r, "sender identity is unusable") {
		t.Errorf("%s = %q", natsbus.HeaderReason, r)
	}
	if s := m.Header.Get(natsbus.HeaderSubject); s != b.InboundSubject(ticketing.ChannelEmail) {
		t.Errorf("%s = %q, want %q", natsbus.HeaderSubject, s, b.InboundSubject(ticketing.ChannelEmail))
	}
	if d := m.Header.Get(natsbus.HeaderDeliveries); d != "1" {
		t.Errorf("%s = %q, want 1", natsbus.HeaderDeliveries, d)
	}
	if m.Subject != b.DLQSubject("inbound") {
		t.Errorf("dead letter subject %q", m.Subject)
	}
	env, err := natsbus.DecodeEnvelope(m.Data)
	if err != nil || env.ExternalID != "poison" {
		t.Errorf("dead letter body decodes to %+v, %v", env, err)
	}
	if n := rec.count("poison"); n != 1 {
		t.Errorf("poison handled %d times, want 1 (never redelivered)", n)
	}
	eventually(t, 10*time.Second, "inbound stream empty", func() bool {
		return streamMsgs(t, b, natsbus.StreamInbound) == 0
	})
}

func TestInboundUndecodableGoesToDLQ(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	rec := newRecorder()
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			for _, e := range envs {
				rec.add(e.ExternalID)
			}
			return make([]error, len(envs))
		})
	})
	if _, err := b.JetStream().Publish(ctx, b.InboundSubject(ticketing.ChannelChat), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishInbound(ctx, envelope("after-garbage")); err != nil {
		t.Fatal(err)
	}
	dl := waitDLQ(t, b, 1)
	if r := dl[0].Header.Get(natsbus.HeaderReason); !strings.Contains(r, "decode") {
		t.Errorf("reason %q does not mention decoding", r)
	}
	if string(dl[0].Data) != "{not json" {
		t.Errorf("dead letter body %q, want the raw message", dl[0].Data)
	}
	eventually(t, 10*time.Second, "the next envelope handled", func() bool { return rec.count("after-garbage") == 1 })
	if rec.total() != 1 {
		t.Errorf("handler saw %d envelopes, want 1", rec.total())
	}
}

func TestInboundMaxDeliverGoesToDLQ(t *testing.T) {
	url := natstest.NewServer(t)
	b := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: natstest.Namespace(t), MaxDeliver: 3})
	ctx := ctxTimeout(t, 20*time.Second)
	rec := newRecorder()
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			errs := make([]error, len(envs))
			for i, e := range envs {
				rec.add(e.ExternalID)
				if e.ExternalID == "doomed" {
					errs[i] = errors.New("threading failed")
				}
			}
			return errs
		})
	})
	if err := b.PublishInbound(ctx, envelope("doomed")); err != nil {
		t.Fatal(err)
	}
	dl := waitDLQ(t, b, 1)
	if n := rec.count("doomed"); n != 3 {
		t.Errorf("handled %d times, want MaxDeliver=3", n)
	}
	if d := dl[0].Header.Get(natsbus.HeaderDeliveries); d != "3" {
		t.Errorf("%s = %q, want 3", natsbus.HeaderDeliveries, d)
	}
	if r := dl[0].Header.Get(natsbus.HeaderReason); !strings.Contains(r, "threading failed") {
		t.Errorf("reason %q lacks the last error", r)
	}
	// The consumer is not blocked: a later envelope goes through.
	if err := b.PublishInbound(ctx, envelope("later")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "later handled", func() bool { return rec.count("later") == 1 })
	if n := rec.count("doomed"); n != 3 {
		t.Errorf("doomed handled %d times after dead-lettering, want 3", n)
	}
}

// Two nodes share the durable consumer: every envelope is handled once in
// all, and both nodes take part.
func TestInboundTwoNodesShareConsumer(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	nodes := []*natsbus.Bus{natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)}
	publisher := natstest.Connect(t, url, ns)
	ctx := ctxTimeout(t, 30*time.Second)
	rec := newRecorder()
	perNode := make([]*recorder, len(nodes))
	for i, n := range nodes {
		perNode[i] = newRecorder()
		run(t, func(ctx context.Context) error {
			return n.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
				for _, e := range envs {
					rec.add(e.ExternalID)
					perNode[i].add(e.ExternalID)
				}
				time.Sleep(2 * time.Millisecond) // let the other node pull too
				return make([]error, len(envs))
			})
		})
	}
	const total = 600
	for i := range total {
		if err := publisher.PublishInbound(ctx, envelope(fmt.Sprintf("m%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "all envelopes handled", func() bool { return rec.distinct() == total })
	eventually(t, 10*time.Second, "lag 0", func() bool {
		lag, err := publisher.ConsumerLag(ctx)
		return err == nil && lag == 0
	})
	if rec.total() != total {
		t.Errorf("%d handler calls for %d envelopes: some were handled twice", rec.total(), total)
	}
	for i, r := range perNode {
		t.Logf("node %d handled %d", i, r.total())
		if r.total() == 0 {
			t.Errorf("node %d handled nothing", i)
		}
	}
}

func TestInboundRestartedServerKeepsEnvelopes(t *testing.T) {
	if natstest.Namespace(t) != "" {
		t.Skip("needs an embedded server of its own")
	}
	dir := t.TempDir()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 20*time.Second)
	b, err := natsbus.Connect(ctx, natsbus.Options{URL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PublishInbound(ctx, envelope("persisted")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	srv.Close()

	srv, err = natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	b = natstest.Connect(t, srv.ClientURL(), "")
	if err := b.PublishInbound(ctx, envelope("persisted")); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, b, natsbus.StreamInbound); n != 1 {
		t.Fatalf("after restart the inbound stream holds %d, want 1 (kept, and deduplicated)", n)
	}
	got := make(chan string, 1)
	run(t, func(ctx context.Context) error {
		return b.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			for _, e := range envs {
				got <- e.ExternalID
			}
			return make([]error, len(envs))
		})
	})
	select {
	case id := <-got:
		if id != "persisted" {
			t.Fatalf("got %q", id)
		}
	case <-ctx.Done():
		t.Fatal("the stored envelope never arrived after the restart")
	}
}

func TestConsumeAfterCloseFails(t *testing.T) {
	b := natstest.New(t)
	b.Close()
	ctx := ctxTimeout(t, 20*time.Second)
	if err := b.ConsumeInbound(ctx, nil); err == nil {
		t.Error("ConsumeInbound on a closed Bus returned nil")
	}
	if err := b.ConsumeOutbound(ctx, ticketing.ChannelEmail, nil); err == nil {
		t.Error("ConsumeOutbound on a closed Bus returned nil")
	}
	if ctx.Err() != nil {
		t.Error("the consumers kept retrying on a closed Bus")
	}
}

// Stopping a node hands back what it holds at once (not after AckWait),
// and an envelope interrupted by the shutdown is not counted as a failure.
func TestInboundShutdownReleasesMessages(t *testing.T) {
	url := natstest.NewServer(t)
	ns := natstest.Namespace(t)
	first, second := natstest.Connect(t, url, ns), natstest.Connect(t, url, ns)
	if !serverAtLeast(first, 2, 10) {
		// Older servers still deliver to the stopped node's open pull
		// request, so its messages come back only after AckWait.
		t.Skipf("nats-server %s hands released messages to stale pull requests", first.Conn().ConnectedServerVersion())
	}
	ctx := ctxTimeout(t, 20*time.Second)
	const total = 50
	for i := range total {
		if err := first.PublishInbound(ctx, envelope(fmt.Sprint("s", i))); err != nil {
			t.Fatal(err)
		}
	}
	started := make(chan struct{}, 1)
	stopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- first.ConsumeInbound(stopCtx, func(ctx context.Context, envs []*ticketing.Envelope) []error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done() // a shutdown in the middle of the batch
			errs := make([]error, len(envs))
			for i := range errs {
				errs[i] = ctx.Err()
			}
			return errs
		})
	}()
	<-started
	stop()
	if err := <-done; err != nil {
		t.Fatalf("ConsumeInbound returned %v", err)
	}
	rec := newRecorder()
	run(t, func(ctx context.Context) error {
		return second.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
			for _, e := range envs {
				rec.add(e.ExternalID)
			}
			return make([]error, len(envs))
		})
	})
	// AckWait is 30s: seeing everything well before proves the release.
	eventually(t, 10*time.Second, "the other node gets everything", func() bool { return rec.distinct() == total })
	if n := streamMsgs(t, second, natsbus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters after a shutdown", n)
	}
}
