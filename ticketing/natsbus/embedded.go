package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultEmbeddedAddr makes the embedded server listen on loopback on a
// port the operating system picks, so two instances never clash.
const DefaultEmbeddedAddr = "127.0.0.1:-1"

// embeddedMaxPayload is the largest message the embedded server accepts. An
// envelope may carry 1 MiB of HTML and 256 KiB of text, which is more than
// the server's 1 MiB default once encoded.
const embeddedMaxPayload = 8 << 20

// EmbeddedOptions configure StartEmbedded. The zero value, apart from
// DataDir, gives a loopback server on a random port.
type EmbeddedOptions struct {
	// DataDir is Svar's data directory; JetStream keeps its files under
	// DataDir/nats. Required.
	DataDir string
	// Addr is the client listen address, host:port. The host must be a
	// loopback address (or localhost); port 0 or -1 picks a free port.
	// Default: 127.0.0.1:-1.
	Addr string
	// Logger receives the server's warnings and errors (notices at debug
	// level). Nil silences the server.
	Logger *slog.Logger
}

// Embedded is an in-process NATS server with JetStream, for single-binary
// installs and tests. It has no HTTP monitoring port.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream storing under
// o.DataDir/nats and waits until it accepts clients.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.DataDir == "" {
		return nil, errors.New("natsbus: embedded server: DataDir is required")
	}
	addr := o.Addr
	if addr == "" {
		addr = DefaultEmbeddedAddr
	}
	host, port, err := parseLoopbackAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	opts := &server.Options{
		ServerName: "svar-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "nats"),
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
		NoLog:      true,
		// HTTPPort stays 0: no monitoring endpoint.
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	if o.Logger != nil {
		srv.SetLoggerV2(serverLogger{l: o.Logger.With("component", "nats-server")}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: embedded server on %s did not become ready", addr)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("natsbus: embedded server: JetStream failed to start (see the server log)")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the URL clients connect to, such as nats://127.0.0.1:41234.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Close shuts the server down and waits until it has stopped. JetStream
// flushes its files; unacknowledged messages stay stored for the next start.
func (e *Embedded) Close() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// parseLoopbackAddr splits host:port and refuses anything that is not a
// loopback address: the embedded server has no authentication.
func parseLoopbackAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: bad port", addr)
	}
	if port == 0 {
		// The server reads 0 as its default port 4222; we mean "any".
		port = server.RANDOM_PORT
	}
	switch {
	case host == "localhost":
		host = "127.0.0.1"
	case host == "":
		return "", 0, fmt.Errorf("address %q: the embedded server listens on loopback only; name a loopback host such as 127.0.0.1", addr)
	default:
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", 0, fmt.Errorf("address %q: the embedded server listens on loopback only", addr)
		}
	}
	return host, port, nil
}

// serverLogger adapts the server's printf-style logger to slog. Notices are
// chatty (a banner at every start), so they go to debug.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) log(level slog.Level, format string, v []any) {
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (s serverLogger) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s serverLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug-4, format, v) }
