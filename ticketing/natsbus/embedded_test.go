package natsbus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

func TestStartEmbeddedRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:4222", ":4222", "10.1.2.3:0", "[::]:0", "example.com:4222", "127.0.0.1", "127.0.0.1:x"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: t.TempDir(), Addr: addr})
			if err == nil {
				srv.Close()
				t.Fatalf("StartEmbedded(%q) succeeded; want refused", addr)
			}
		})
	}
	if _, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{}); err == nil {
		t.Error("StartEmbedded without DataDir succeeded")
	}
}

func TestStartEmbeddedLoopback(t *testing.T) {
	for _, addr := range []string{"", "localhost:0", "127.0.0.1:-1"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: t.TempDir(), Addr: addr, Logger: natstest.Logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			u := srv.ClientURL()
			if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":4222") || strings.HasSuffix(u, ":-1") {
				t.Fatalf("ClientURL = %q, want loopback on a picked port", u)
			}
			b := natstest.Connect(t, u, "")
			if err := b.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := natsbus.Connect(ctx, natsbus.Options{}); err == nil {
		t.Error("Connect without URL succeeded")
	}
	if _, err := natsbus.Connect(ctx, natsbus.Options{URL: "nats://127.0.0.1:1", Namespace: "a.b"}); err == nil {
		t.Error("Connect with a namespace containing a dot succeeded")
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	// Port 1 on loopback: nothing listens there; Connect gives up with ctx.
	if _, err := natsbus.Connect(short, natsbus.Options{URL: "nats://user:secret@127.0.0.1:1"}); err == nil {
		t.Error("Connect to a dead address succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
