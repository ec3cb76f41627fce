// Command svar runs the Svar helpdesk: `svar` or `svar serve` starts a
// node (embedded NATS and store unless told otherwise); `svar bench` runs
// the benchmarks; `svar -h` lists every subcommand (commands.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // business hours' timezones without system zoneinfo

	"github.com/svar-dev/svar/configs"
	"github.com/svar-dev/svar/realtime"
	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
	"github.com/svar-dev/svar/ticketing/autoreply"
	"github.com/svar-dev/svar/ticketing/csat"
	"github.com/svar-dev/svar/ticketing/files"
	"github.com/svar-dev/svar/ticketing/gdpr"
	"github.com/svar-dev/svar/ticketing/hours"
	"github.com/svar-dev/svar/ticketing/macro"
	"github.com/svar-dev/svar/ticketing/merge"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/order"
	"github.com/svar-dev/svar/ticketing/query"
	"github.com/svar-dev/svar/ticketing/report"
	"github.com/svar-dev/svar/ticketing/sla"
	"github.com/svar-dev/svar/ticketing/staff"
	"github.com/svar-dev/svar/ticketing/ticketmerge"
	"github.com/svar-dev/svar/ticketing/webhook"
	"github.com/svar-dev/svar/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "svar:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, args []string) error {
	m := NewMain()
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		if ctx.Err() != nil {
			return fmt.Errorf("start interrupted: %w", err)
		}
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(m.Stdout, "svar: shutting down")
	return m.Close()
}

// Main is one Svar node. It only wires the packages together; tests start
// and stop it like the binary does.
type Main struct {
	Config configs.Config
	Stdout io.Writer
	Logger *slog.Logger

	embNATS  *natsbus.Embedded
	embStore *mongostore.Embedded
	Store    *mongostore.Store
	Bus      *natsbus.Bus
	Leases   *natsbus.Leases  // one-at-a-time jobs (the mailbox reader)
	Orders   *order.Service   // the shop's orders and the tickets linked to them
	Webhooks *webhook.Service // events POSTed to the shop's other systems
	Merges   *merge.Service   // customer merges and their undo
	Service  *ticketing.Service
	Query    *query.Index
	Macros   *macro.Service
	files    *files.Signer
	Hub      *realtime.Hub
	Staff    *staff.Service
	Audit    *audit.Log
	GDPR     *gdpr.Service
	gdprNow  func() time.Time // tests move retention's clock; nil: time.Now
	CSAT     *csat.Service
	Reports  *report.Index
	teams    teamsParts // assignment and notifications (teams.go)
	Metrics  *web.Metrics
	Web      *web.Server
	channels channels

	// TicketMerges merges a customer's tickets and splits them.
	TicketMerges *ticketmerge.Service

	// Hours, SLA and AutoReply are the business hours, SLA clocks and
	// out-of-hours replies.
	Hours     *hours.Service
	SLA       *sla.Service
	AutoReply *autoreply.Service
	// BreachHook, when set before Run, hears every SLA breach this node
	// records (the benchmark measures due → breach with it).
	BreachHook func(ticketID, metric string, due time.Time)

	httpSrv     *http.Server
	metricsSrv  *http.Server // on SVAR_METRICS_ADDR (trust.go)
	metricsAddr string
	listener    net.Listener
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closed      sync.Once
	ready       readiness
	// sharedWarned is the last embedded-store sharing finding warned about.
	sharedWarned string
	// AdminPassword is the generated first password, if one was generated.
	AdminPassword string
	// ConsoleGrace is how long an agent stays online after their last
	// console closed (0: realtime's default); tests shorten it.
	ConsoleGrace time.Duration
	// StoreServer, when set before Run with SVAR_MONGODB_URI empty, is an
	// embedded store already running in this process that the node uses
	// instead of starting its own, sharing its document locks (tests run
	// several nodes on one store process). Close leaves it running.
	StoreServer *mongostore.Embedded
}

// NewMain returns a Main with default configuration.
func NewMain() *Main {
	return &Main{Config: configs.Default(), Stdout: os.Stdout}
}

// ParseFlags loads the configuration from flags, env and config file.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("svar serve", flag.ContinueOnError)
	c, err := configs.Load(fs, args, os.LookupEnv)
	if err != nil {
		return err
	}
	m.Config = c
	return nil
}

func (m *Main) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(m.Config.LogLevel))
	m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	return m.Logger
}

// Run starts the node and returns once it serves. Close stops it.
func (m *Main) Run(ctx context.Context) error {
	c := &m.Config
	log := m.logger()
	// startCtx bounds the start: connecting, retrying, loading. Cancelling
	// it (Ctrl-C) stops a start that waits for NATS or the store. ctx is
	// the node's life, ended by Close.
	startCtx := ctx
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))

	// The data dir holds the node's own files (its query and report
	// indexes) even when NATS and the store are external.
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir (SVAR_DATA_DIR): %w", err)
	}
	natsURL := c.NATSURL
	if natsURL == "" {
		e, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: c.DataDir, Addr: c.EmbeddedNATSAddr, Logger: log.With("component", "nats")})
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		m.embNATS, natsURL = e, e.ClientURL()
		// svar backup finds the running embedded server here.
		if err := os.WriteFile(filepath.Join(c.DataDir, "nats", natsURLFile), []byte(natsURL+"\n"), 0o600); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	mongoURI, embStore := c.MongoDBURI, m.StoreServer
	if mongoURI == "" && embStore != nil {
		mongoURI = embStore.URI()
	}
	if mongoURI == "" {
		e, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{DataDir: c.DataDir, Addr: c.EmbeddedMongoDBAddr, Logger: log.With("component", "store")})
		if err != nil {
			return fmt.Errorf("embedded store: %w", err)
		}
		m.embStore, embStore, mongoURI = e, e, e.URI()
		writeStoreURI(c.DataDir, e.URI(), log) // for `svar admin` while the node runs (admin.go)
	}
	host, _ := os.Hostname()
	bus, err := natsbus.Connect(startCtx, natsbus.Options{URL: natsURL, Name: "svar-" + host, Replicas: c.NATSReplicas, Embedded: m.embNATS, Logger: log.With("component", "bus")})
	if err != nil {
		return fmt.Errorf("connect NATS %s: %w", redact(natsURL), err)
	}
	m.Bus = bus
	m.Leases = natsbus.NewLeases(bus, natsbus.LeaseOptions{TTL: c.LeaseTTL, Logger: log.With("component", "leases")})
	store, err := openStore(startCtx, log, mongostore.Options{URI: mongoURI, Database: c.MongoDBDatabase, Embedded: embStore, Logger: log.With("component", "store")})
	if err != nil {
		return fmt.Errorf("connect MongoDB %s: %w", redact(mongoURI), err)
	}
	m.Store = store
	m.warnSharedStore(startCtx)
	m.goRun("store-sharing", func() error { return m.watchSharedStore(ctx) })

	m.Metrics = web.NewMetrics()
	// The query index: lists, counts and search, on local disk.
	// SVAR_QUERY_INDEX=off (benchmarks only) lists from memory instead.
	var tq ticketing.TicketQuery
	if os.Getenv("SVAR_QUERY_INDEX") != "off" {
		ix, err := query.Open(query.Options{Path: filepath.Join(c.DataDir, "query", "index.db"), Store: store, Events: bus,
			Logger: log.With("component", "query"), OnChange: m.pushCounts})
		if err != nil {
			return err
		}
		m.Query, tq = ix, ix
	}
	checks := map[ticketing.Channel]func(string) (map[string]string, error){}
	m.Service = ticketing.New(ticketing.Options{Store: store, Bus: bus, Logger: log.With("component", "core"),
		ReopenWindow: c.ReopenWindow, ReplyChecks: checks, ReplyChannels: replyChannels(c), Query: tq,
		NormalizePhone: phoneNormalizer(c.SMS.DefaultRegion)})
	m.Orders = order.New(order.Options{Store: store, Customers: store, Core: m.Service, Events: bus, Logger: log.With("component", "order")})
	m.Macros = macro.New(macro.Options{Store: store, State: store, Tickets: store, Customers: store, Core: m.Service, Events: bus,
		LatestOrder: m.latestOrder})
	m.Audit = audit.New(store, log.With("component", "audit"), nil)
	m.Staff = staff.New(staff.Options{Store: store, Relay: bus, Logger: log.With("component", "staff"), Audit: m.Audit})
	var hubTickets realtime.Tickets = m.Service.Inbox()
	if m.Query != nil {
		hubTickets = m.Query
	}
	m.Hub = realtime.New(realtime.Options{Logger: log.With("component", "realtime"), Backlog: bus, Relay: bus,
		Tickets: hubTickets, Viewers: m.Staff.ViewerOf, OnAvailability: m.availabilityChanged, ConsoleGrace: m.ConsoleGrace})
	m.Staff.OnViewChange(m.Hub.RefreshViewers)

	created, generated, err := staff.EnsureAdmin(startCtx, store, c.AdminEmail, c.AdminPassword)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	m.AdminPassword = generated

	// The query index follows the events stream on its own (from where it
	// left off, or rebuilding from the store); consoles get events from now.
	seq, err := bus.LastEventSeq(startCtx)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if m.Query != nil {
		if err := m.Query.Start(ctx); err != nil {
			return fmt.Errorf("query index: %w", err)
		}
	} else if err := m.Service.LoadInbox(startCtx); err != nil {
		return fmt.Errorf("load inbox: %w", err)
	}
	m.ready.applied.Store(seq)
	m.startTeams(ctx, seq)
	m.goRun("events", func() error {
		return bus.SubscribeEvents(ctx, seq, func(ev *ticketing.Event) {
			m.ready.applied.Store(ev.Seq)
			m.Service.ApplyEvent(ev)
			m.Macros.ApplyEvent(ev)
			m.Hub.Publish(ev)
		})
	})
	m.goRun("core", func() error { return bus.ConsumeInbound(ctx, m.ingest) })
	m.goRun("orders", func() error { return m.Orders.Run(ctx) })
	m.Merges = merge.New(store, m.Service, m.Orders, m.Audit)
	m.TicketMerges = ticketmerge.New(ticketmerge.Options{Store: store, Core: m.Service, Audit: m.Audit, Scheduler: bus})
	m.goRun("ticketmerge", func() error { return m.TicketMerges.Run(ctx) })
	m.Webhooks = webhook.New(webhook.Options{Store: store, Feed: bus, Leases: m.Leases, AllowPrivate: c.WebhookAllowPrivate, Logger: log.With("component", "webhook")})
	m.goRun("webhooks", func() error { return m.Webhooks.Run(ctx) })
	m.Hours = hours.NewService(store, nil)
	m.SLA = sla.New(sla.Options{Store: store, Core: m.Service, Scheduler: bus, Events: bus, Hours: m.Hours,
		Logger: log.With("component", "sla"), OnBreach: m.onBreach})
	m.goRun("sla", func() error { return m.SLA.Run(ctx) })
	m.AutoReply = autoreply.New(autoreply.Options{Store: store, Core: m.Service, Events: bus, Hours: m.Hours,
		Logger: log.With("component", "autoreply")})
	m.goRun("autoreply", func() error { return m.AutoReply.Run(ctx) })
	m.CSAT = csat.New(csat.Options{Core: m.Service, Store: store, Events: bus, Scheduler: bus, PublicURL: c.PublicURL,
		Logger: log.With("component", "csat")})
	m.goRun("csat", func() error { return m.CSAT.Run(ctx) })
	m.Reports, err = report.Open(report.Options{Path: filepath.Join(c.DataDir, "report.db"), Store: store, Events: bus,
		Calendars: report.Hours{S: m.Hours}, Logger: log.With("component", "report")})
	if err != nil {
		return fmt.Errorf("report index: %w", err)
	}
	m.goRun("report", func() error { return m.Reports.Run(ctx) })
	if err := m.startGDPR(ctx, startCtx); err != nil {
		return err
	}

	// Signed download links for agents' attachments (chat, SMS, /files/).
	if m.files, err = files.LoadSigner(startCtx, store, c.PublicURL); err != nil {
		return err
	}
	routers, err := m.startChannels(ctx, checks)
	if err != nil {
		return err
	}

	m.registerGauges()
	clientIP, _ := m.clientIP() // startChannels has checked it
	m.Web = web.New(web.Options{Service: m.Service, Store: store, Staff: m.Staff, Presence: m.Hub, Routing: m.teams.assigner, Notifications: m.teams.notify, Live: m.Hub, Metrics: m.Metrics,
		Macros: m.Macros, Files: m.files, Query: webQuery(m.Query), Views: webViews(store, m.Query),
		Health: map[string]web.Pinger{"nats": bus, "mongodb": store}, Ready: &m.ready, Routers: routers, PublicURL: c.PublicURL, Relay: bus,
		Hours: m.Hours, SLA: m.SLA, AutoReply: m.AutoReply,
		Logger: log.With("component", "web"), SecureCookies: strings.HasPrefix(c.PublicURL, "https://"),
		ClientIP: clientIP, Audit: m.Audit, GDPR: m.GDPR, MetricsToken: c.MetricsToken, MetricsElsewhere: c.MetricsAddr != "",
		CSAT: m.CSAT, Reports: m.Reports, Orders: m.Orders, Webhooks: m.Webhooks, Merges: m.Merges,
		TicketMerges: m.TicketMerges})
	if err := m.startMetrics(log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (SVAR_HTTP_ADDR): %w", c.HTTPAddr, err)
	}
	m.listener = ln
	m.httpSrv = &http.Server{Handler: m.Web, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	m.goRun("http", func() error {
		if err := m.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	// Start-up leaves garbage the heap would otherwise carry for minutes:
	// above all the first admin's password hash (argon2id takes 32 MB).
	// Give it back to the OS once; idle RSS drops from ~118 to ~52 MB.
	debug.FreeOSMemory()
	// Ready once the events published while starting are applied too.
	target, err := bus.LastEventSeq(startCtx)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	m.ready.target.Store(target)
	m.ready.started.Store(true)
	m.banner(created)
	return nil
}

// ingest is the inbound handler: the core plus metrics.
func (m *Main) onBreach(ticketID, metric string, due time.Time) {
	if m.BreachHook != nil {
		m.BreachHook(ticketID, metric, due)
	}
}

func (m *Main) ingest(ctx context.Context, envs []*ticketing.Envelope) []error {
	errs := m.Service.Ingest(ctx, envs)
	for i, err := range errs {
		ch := "unknown"
		if envs[i] != nil {
			ch = string(envs[i].Channel)
		}
		var p *ticketing.PoisonError
		result := "stored"
		switch {
		case errors.As(err, &p):
			result = "poison"
		case err != nil:
			result = "failed"
		}
		m.Metrics.Ingested.WithLabelValues(ch, result).Inc()
	}
	return errs
}

func (m *Main) registerGauges() {
	m.Metrics.CounterMap("svar_store_commands_total", "Commands this node sent the store, by command and collection.", "command",
		m.Store.CommandCounts)
	m.Metrics.Gauge("svar_consumer_lag", "Inbound envelopes not yet acknowledged by the ticketing core.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := m.Bus.ConsumerLag(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.Metrics.Gauge("svar_agent_websockets", "Agents' live websockets open on this node.", func() float64 {
		return float64(m.Hub.Stats().Sessions)
	})
	m.Metrics.Gauge("svar_inbox_tickets", "Tickets in this node's query index.", func() float64 {
		if m.Query == nil {
			return float64(m.Service.Inbox().Len())
		}
		return float64(m.Query.Len())
	})
	m.Metrics.Gauge("svar_query_rebuilding", "1 while this node's query index is rebuilt from the store.", func() float64 {
		if m.Query != nil && m.Query.Rebuilding() {
			return 1
		}
		return 0
	})
}

// pushCounts sends each connected agent their view counts as a live
// "counts" frame, after the index changed (at most every 500 ms).
func (m *Main) pushCounts() {
	if m.Hub == nil || m.Staff == nil || m.Query == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.Hub.PushToAgents(func(agentID string) []byte {
		v, err := m.Staff.ViewerOf(ctx, agentID)
		if err != nil {
			return nil
		}
		counts, err := m.Query.Counts(ctx, v)
		if err != nil {
			return nil
		}
		b, _ := json.Marshal(map[string]any{"type": "counts", "counts": counts})
		return b
	})
}

// webQuery and webViews hand the web layer the index, or nothing (a nil
// *query.Index in an interface would not be nil).
func webQuery(ix *query.Index) web.Query {
	if ix == nil {
		return nil
	}
	return ix
}

func webViews(store *mongostore.Store, ix *query.Index) web.Views {
	if ix == nil {
		return nil
	}
	return query.NewViews(store, ix)
}

// goRun runs f in a goroutine owned by Main; Close waits for it.
func (m *Main) goRun(name string, f func() error) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			m.logger().Error("stopped", "part", name, "err", err)
		}
	}()
}

// URL is the node's HTTP address as a URL.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

func (m *Main) banner(createdAdmin bool) {
	c := &m.Config
	out := m.Stdout
	base := strings.TrimRight(c.PublicURL, "/")
	if c.PublicURL == configs.Default().PublicURL {
		// Not configured: show where this node really listens.
		base = "http://localhost:" + fmt.Sprint(m.listener.Addr().(*net.TCPAddr).Port)
	}
	fmt.Fprintf(out, "Svar is running.\n")
	fmt.Fprintf(out, "  Console:  %s/\n", base)
	if c.DemoOn() {
		fmt.Fprintf(out, "  Demo:     %s/demo\n", base)
	}
	fmt.Fprintf(out, "  Listening on %s\n", m.listener.Addr())
	if m.embNATS != nil {
		fmt.Fprintf(out, "  NATS:     %s (embedded, files in %s)\n", m.embNATS.ClientURL(), filepath.Join(c.DataDir, "nats"))
	} else {
		fmt.Fprintf(out, "  NATS:     %s\n", redact(c.NATSURL))
	}
	if m.embStore != nil {
		fmt.Fprintf(out, "  MongoDB:  %s (embedded, files in %s)\n", m.embStore.URI(), filepath.Join(c.DataDir, "ferretdb"))
	} else {
		fmt.Fprintf(out, "  MongoDB:  %s\n", redact(c.MongoDBURI))
	}
	if createdAdmin {
		pw := "(the password in SVAR_ADMIN_PASSWORD)"
		if m.AdminPassword != "" {
			pw = m.AdminPassword + "   (generated; shown only this once)"
		}
		fmt.Fprintf(out, "  Sign in:  %s / %s\n", c.AdminEmail, pw)
	}
}

// Close shuts the node down in order: stop accepting, drain, close
// websockets, stop consumers, close connections, stop embedded servers.
func (m *Main) Close() error {
	var errs []error
	m.closed.Do(func() {
		m.ready.stopping.Store(true)
		if m.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := m.httpSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			cancel()
		}
		if m.metricsSrv != nil {
			_ = m.metricsSrv.Close()
		}
		if m.Web != nil {
			m.Web.Close()
		}
		if m.Hub != nil {
			m.Hub.Close()
		}
		if m.Staff != nil {
			m.Staff.Close()
		}
		m.channels.close()
		if m.cancel != nil {
			m.cancel()
		}
		m.wg.Wait()
		if m.Reports != nil {
			_ = m.Reports.Close()
		}
		if m.Query != nil {
			if err := m.Query.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if m.Bus != nil {
			m.Bus.Close()
		}
		if m.Store != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := m.Store.Close(ctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		if m.embStore != nil {
			removeStoreURI(m.Config.DataDir, m.embStore.URI())
			if err := m.embStore.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if m.embNATS != nil {
			m.embNATS.Close()
		}
	})
	return errors.Join(errs...)
}

// redact hides a password in a URL.
func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "…@" + u[i+1:]
		}
	}
	return u
}

// latestOrder is the customer's latest order (ticketing/order) for the
// macros' {{order.*}} placeholders; nil when they have none.
func (m *Main) latestOrder(ctx context.Context, customerID string) (*macro.OrderFacts, error) {
	os, err := m.Orders.ForCustomer(ctx, customerID)
	if err != nil || len(os) == 0 {
		return nil, err
	}
	return &macro.OrderFacts{Number: os[0].Number, Status: os[0].Status, TrackingURL: os[0].TrackingURL}, nil
}
