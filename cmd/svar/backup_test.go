package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// TestBackupWhileRunningAndRestore: svar backup copies a running node's
// store and streams; svar restore brings them into a fresh data dir (and
// refuses a non-empty one); a node started there has every ticket, and the
// reply that was waiting in the outbound stream is still waiting.
func TestBackupWhileRunningAndRestore(t *testing.T) {
	dirA := t.TempDir()
	a := startNode(t, dirA, nil)
	ctx := context.Background()
	const tickets = 25
	for i := range tickets {
		if err := a.Bus.PublishInbound(ctx, envelope(fmt.Sprintf("kund%d@example.se", i), fmt.Sprintf("<backup-%d@x>", i), "Hej")); err != nil {
			t.Fatal(err)
		}
	}
	c := login(t, a)
	var before ticketing.TicketPage
	eventually(t, "every ticket stored", func() error {
		c.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &before)
		if len(before.Tickets) != tickets {
			return fmt.Errorf("%d tickets", len(before.Tickets))
		}
		return nil
	})
	// A reply for a channel this node does not run waits in SVAR_OUTBOUND.
	waiting := &ticketing.Outbound{MessageID: "backup-waiting-reply", TicketID: before.Tickets[0].ID, Channel: ticketing.ChannelSMS,
		To: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}, Text: "Hej!", CreatedAt: time.Now().UTC()}
	if err := a.Bus.PublishOutbound(ctx, waiting); err != nil {
		t.Fatal(err)
	}

	bdir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	if err := runBackup(ctx, []string{"--to", bdir, "--data-dir", dirA}, &out); err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	if !strings.Contains(out.String(), "svar.sqlite") || !strings.Contains(out.String(), natsbus.StreamOutbound) {
		t.Fatalf("backup output names no store file or outbound stream:\n%s", out.String())
	}
	if err := runBackup(ctx, []string{"--to", bdir, "--data-dir", dirA}, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second backup into the same dir: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	dirB := filepath.Join(t.TempDir(), "restored")
	if err := runRestore(ctx, []string{"--from", bdir, "--data-dir", dirB}, &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if err := runRestore(ctx, []string{"--from", bdir, "--data-dir", dirB}, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a non-empty data dir: %v", err)
	}
	b := startNode(t, dirB, func(m *Main) { m.Config.AdminPassword = "" })
	cb := login(t, b)
	var after ticketing.TicketPage
	cb.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &after)
	if len(after.Tickets) != tickets {
		t.Fatalf("restored node lists %d tickets, want %d", len(after.Tickets), tickets)
	}
	for _, tk := range before.Tickets {
		if res := cb.do("GET", "/api/v1/tickets/"+tk.ID, nil); res.status != 200 {
			t.Errorf("ticket %s after restore: %d", tk.ID, res.status)
		}
	}
	s, err := b.Bus.JetStream().Stream(ctx, natsbus.StreamOutbound)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("restored outbound stream holds %d messages, want the waiting reply", n)
	}
}
