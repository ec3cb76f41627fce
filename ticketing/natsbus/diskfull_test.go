package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// smallDisk mounts a 64 MiB tmpfs on a temporary directory: a disk that a
// test can fill without filling the machine's. It needs root (or
// CAP_SYS_ADMIN); without it the test is skipped.
func smallDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("filling a disk needs a tmpfs mount, which needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	// What is left of the last megabyte.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	return path
}

// TestEmbeddedRecoversFromFullDisk: while the data dir's disk is full,
// publishes fail with errors (no acks) and Ping says JetStream cannot
// store; once space is freed the embedded server repairs itself and both
// work again, and nothing acknowledged before is lost.
func TestEmbeddedRecoversFromFullDisk(t *testing.T) {
	dir := smallDisk(t)
	emb, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir, Logger: natstest.Logger(t),
		CheckInterval: 50 * time.Millisecond, MinFreeBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	b := natstest.ConnectOptions(t, natsbus.Options{URL: emb.ClientURL(), Embedded: emb})
	pub := func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e := envelope(id)
		e.Text = strings.Repeat("Var är mitt paket? ", 1000) // pages beyond the block's first
		return b.PublishInbound(ctx, e)
	}
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return b.Ping(ctx)
	}
	if err := pub("before"); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("ping before: %v", err)
	}

	filler := fill(t, dir)
	acked := 1
	refused := 0
	for i := range 20 {
		if err := pub(fmt.Sprintf("full-%d", i)); err != nil {
			refused++
			break
		}
		acked++ // a page that still had room
	}
	if refused == 0 {
		t.Fatal("every publish to a full disk was acknowledged")
	}
	if err := ping(); err == nil {
		t.Fatal("ping is ok while the disk is full and JetStream cannot store")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pub(fmt.Sprintf("after-%d", acked))
		if err == nil {
			acked++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishes still fail after the disk has room again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		err := ping()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping still fails after the disk has room again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := streamMsgs(t, b, natsbus.StreamInbound); n != uint64(acked) {
		t.Fatalf("inbound stream holds %d envelopes, want the %d acknowledged", n, acked)
	}
	t.Logf("restarts: %d", emb.Restarts())
}
