package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
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

// Defaults of the embedded server's self-repair.
const (
	DefaultEmbeddedCheckInterval = 5 * time.Second
	DefaultEmbeddedMinFreeBytes  = 32 << 20
)

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
	// CheckInterval is how often the server's health is checked for a
	// JetStream that can no longer write (a full disk). Default 5s.
	CheckInterval time.Duration
	// MinFreeBytes is the free space the data dir's disk needs before a
	// broken JetStream is restarted. Default 32 MiB.
	MinFreeBytes int64
}

// Embedded is an in-process NATS server with JetStream, for single-binary
// installs and tests. It has no HTTP monitoring port.
//
// It repairs itself: once a stream has failed a write (the disk filled
// up), JetStream refuses every later write to it even after space is
// freed, so a watchdog restarts the server in-process, on the same port
// and files, as soon as the disk has room again. Clients reconnect on
// their own; publishes in between fail with errors, never with acks.
type Embedded struct {
	o   EmbeddedOptions
	log *slog.Logger

	mu       sync.Mutex // guards srv
	srv      *server.Server
	host     string
	port     int // the port actually listened on, kept across restarts
	restarts atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
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
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultEmbeddedCheckInterval
	}
	if o.MinFreeBytes <= 0 {
		o.MinFreeBytes = DefaultEmbeddedMinFreeBytes
	}
	host, port, err := parseLoopbackAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	e := &Embedded{o: o, log: o.Logger, host: host, stop: make(chan struct{})}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	srv, err := e.start(port)
	if err != nil {
		return nil, err
	}
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		e.port = a.Port
	}
	e.srv = srv
	e.wg.Go(e.watch)
	return e, nil
}

// start starts one server process-internally and waits until it is ready
// with JetStream.
func (e *Embedded) start(port int) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "svar-embedded",
		Host:       e.host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(e.o.DataDir, "nats"),
		MaxPayload: embeddedMaxPayload,
		NoSigs:     true,
		NoLog:      true,
		// HTTPPort stays 0: no monitoring endpoint.
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	if e.o.Logger != nil {
		srv.SetLoggerV2(serverLogger{l: e.o.Logger.With("component", "nats-server")}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: embedded server on %s:%d did not become ready", e.host, port)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("natsbus: embedded server: JetStream failed to start (see the server log)")
	}
	return srv, nil
}

func (e *Embedded) server() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

// ClientURL is the URL clients connect to, such as nats://127.0.0.1:41234.
// It stays the same across the watchdog's restarts.
func (e *Embedded) ClientURL() string {
	return "nats://" + net.JoinHostPort(e.host, strconv.Itoa(e.port))
}

// diskFullBytes is the free space below which the data dir's disk counts
// as full: JetStream writes blocks of up to megabytes.
const diskFullBytes = 1 << 20

// Healthy reports what the server itself knows is broken: JetStream
// disabled, the data dir's disk full (less than 1 MiB free), or a stream
// that failed a write and refuses every write since.
func (e *Embedded) Healthy() error {
	srv := e.server()
	if srv == nil {
		return errors.New("restarting")
	}
	if !srv.JetStreamEnabled() {
		return errors.New("JetStream is disabled")
	}
	if free, err := freeBytes(e.o.DataDir); err == nil && free < diskFullBytes {
		return fmt.Errorf("the data dir's disk is full (%d bytes free): JetStream cannot store", free)
	}
	if hs := srv.Healthz(nil); hs.Status != "ok" {
		msg := hs.Error
		if msg == "" {
			msg = hs.Status
		}
		return errors.New(msg)
	}
	return nil
}

// Restarts counts the watchdog's restarts of the server.
func (e *Embedded) Restarts() int64 { return e.restarts.Load() }

// watch restarts the server when it has been unhealthy on two checks in a
// row and the disk has room again.
func (e *Embedded) watch() {
	t := time.NewTicker(e.o.CheckInterval)
	defer t.Stop()
	bad, waiting := 0, false
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		err := e.Healthy()
		if err == nil {
			bad, waiting = 0, false
			continue
		}
		if bad++; bad < 2 {
			continue
		}
		if free, ferr := freeBytes(e.o.DataDir); ferr == nil && free < e.o.MinFreeBytes {
			if !waiting {
				e.log.Error("natsbus: embedded JetStream cannot write; waiting for disk space",
					"err", err, "free_bytes", free, "needed_bytes", e.o.MinFreeBytes, "data_dir", e.o.DataDir)
				waiting = true
			}
			continue
		}
		e.log.Warn("natsbus: embedded JetStream cannot write; restarting the server", "err", err)
		if rerr := e.restart(); rerr != nil {
			e.log.Error("natsbus: embedded server restart failed; will retry", "err", rerr)
			continue
		}
		bad, waiting = 0, false
		e.log.Info("natsbus: embedded server restarted", "url", e.ClientURL())
	}
}

// restart shuts the server down and starts it again on the same port and
// files: JetStream reloads its streams and forgets their write errors.
func (e *Embedded) restart() error {
	e.mu.Lock()
	old := e.srv
	e.srv = nil
	e.mu.Unlock()
	if old != nil {
		old.Shutdown()
		old.WaitForShutdown()
	}
	srv, err := e.start(e.port)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	e.restarts.Add(1)
	return nil
}

// Close stops the watchdog, shuts the server down and waits until it has
// stopped. JetStream flushes its files; unacknowledged messages stay
// stored for the next start. Close is safe to call more than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.wg.Wait()
		if srv := e.server(); srv != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	})
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
