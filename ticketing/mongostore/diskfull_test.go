package mongostore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// TestPingFailsWhileDiskFull: the embedded store answers pings and reads on
// a full disk; Ping's write probe says it cannot write, and it recovers
// once space is freed. Needs root for a small tmpfs; skipped otherwise.
func TestPingFailsWhileDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("filling a disk needs a tmpfs mount, which needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	s := mongotest.Open(t, mongotest.StartEmbedded(t, dir), "svar")
	ctx := t.Context()
	mustNil(t, s.Ping(ctx))

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	mustNil(t, err)
	buf := make([]byte, 1<<20)
	for n := len(buf); n >= 512; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	// SQLite may still have room of its own (WAL frames a checkpoint freed):
	// a few writes can fit, but the disk refuses the store soon, and as a
	// failure to retry, not as a bad message.
	var m *ticketing.Message
	refused := false
	for i := range 64 {
		m = newMessage(fmt.Sprintf("full-%d", i), i+1)
		m.Text = strings.Repeat("x", 64<<10)
		_, err := s.InsertMessages(ctx, []*ticketing.Message{m})
		if err == nil {
			continue
		}
		if ticketing.ErrorCode(err) == ticketing.EInvalid {
			t.Fatalf("a full disk refuses the message for good: %v", err)
		}
		refused = true
		break
	}
	if !refused {
		t.Fatal("64 messages of 64 KiB were stored on a full disk")
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping is ok on a full disk")
	}
	mustNil(t, os.Remove(filler))
	mustNil(t, s.Ping(ctx))
	_, err = s.InsertMessages(ctx, []*ticketing.Message{m})
	mustNil(t, err)
}
