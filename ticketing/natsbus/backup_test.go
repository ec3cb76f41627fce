package natsbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// TestBackupAndRestoreStreams: envelopes waiting in the inbound work queue
// are copied and published again into a fresh server, with their dedupe
// ids; the events stream and the leases are left out; a stream that holds
// messages is not restored over.
func TestBackupAndRestoreStreams(t *testing.T) {
	url, ns := natstest.NewServer(t), natstest.Namespace(t)
	src := natstest.Connect(t, url, ns)
	ctx := ctxTimeout(t, 30*time.Second)
	for i := range 5 {
		if err := src.PublishInbound(ctx, envelope(fmt.Sprintf("bk-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := natsbus.NewLeases(src, natsbus.LeaseOptions{}).Run(ctx, "once", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	streams, err := src.Backup(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range streams {
		got[s.Name] = s.Messages
	}
	if got[src.StreamName(natsbus.StreamInbound)] != 5 {
		t.Fatalf("backed up %v, want 5 inbound envelopes", got)
	}
	if _, ok := got[src.StreamName(natsbus.StreamEvents)]; ok {
		t.Fatalf("the events stream was backed up: %v", got)
	}
	for name := range got {
		if name == "KV_"+src.StreamName(natsbus.BucketLeases) {
			t.Fatalf("the leases were backed up: %v", got)
		}
	}

	// A fresh server; on a shared external one, the same namespace emptied.
	var dst *natsbus.Bus
	if ns == "" {
		dst = natstest.New(t)
	} else {
		if err := src.DeleteStreams(ctx); err != nil {
			t.Fatal(err)
		}
		dst = natstest.Connect(t, url, ns)
	}
	// Connect created the streams empty; Restore fills them.
	if err := dst.Restore(ctx, dir, streams); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, dst, natsbus.StreamInbound); n != 5 {
		t.Fatalf("restored inbound holds %d, want 5", n)
	}
	// Dedupe ids came along: publishing one again stores nothing new.
	if err := dst.PublishInbound(ctx, envelope("bk-0")); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, dst, natsbus.StreamInbound); n != 5 {
		t.Fatalf("a repeated envelope was stored again: %d", n)
	}
	if err := dst.Restore(ctx, dir, streams); err == nil {
		t.Fatal("restored over a stream that holds messages")
	}
}
