package mongostore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestServerLogHandler(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(&serverLogHandler{Handler: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	l = l.With("conn", "c1")
	l.Info("Connection started")
	l.Warn("Connection stopped")
	l.Error("no such command: 'endSessions'")
	l.Error("command failed", "error", "no such command: 'endSessions'")
	l.Error("disk full")
	got := strings.TrimSpace(buf.String())
	if strings.Count(got, "\n") != 0 || !strings.Contains(got, "disk full") || !strings.Contains(got, "conn=c1") {
		t.Fatalf("logged %q, want only the disk full error", got)
	}
}
