package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TLS modes for IMAPOptions.TLS and SMTPOptions.TLS.
const (
	TLSImplicit = "tls"      // TLS from the first byte (IMAPS 993, SMTPS 465)
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (IMAP 143, submission 587)
	TLSNone     = "none"     // no TLS: only allowed for loopback addresses
)

// Defaults.
const (
	DefaultMailbox      = "INBOX"
	DefaultPollInterval = 30 * time.Second
)

// Options configure a Channel. Zero values are the documented defaults.
type Options struct {
	// Address is the support address (SVAR_EMAIL_ADDRESS): replies are sent
	// From it, and its domain names Svar's own Message-IDs.
	Address string
	IMAP    IMAPOptions
	SMTP    SMTPOptions

	// Publisher publishes inbound envelopes; it returns once the bus has
	// stored one, and only then does the mailbox checkpoint advance.
	Publisher ticketing.InboundPublisher
	// Outbound delivers the email channel's outbound messages to the
	// channel's handler (the bus's ConsumeOutbound).
	Outbound OutboundConsumer
	// Store keeps checkpoints and send records (state), raw mail and
	// attachments (blobs), and answers whether a reply was already sent.
	Store Store
	// Deliveries records delivery reports (the ticketing Service).
	Deliveries DeliveryReporter
	Logger     *slog.Logger
	// AuthServIDs are the authserv-ids of the shop's own receiving mail
	// servers (SVAR_EMAIL_AUTHSERV_ID): only their Authentication-Results
	// fields decide whether a sender is verified. Empty: no check.
	AuthServIDs []string
	// Dropped, when set, is called for each mail the channel leaves out on
	// purpose, with why (DropOwnMail): the node counts them in a metric.
	Dropped func(reason string)
	// PollInterval is how often the mailbox is checked when the server
	// offers no IDLE. Default 30s.
	PollInterval time.Duration
	// Leases, when set, makes the mailbox reader run on one node at a time:
	// the node holding the mailbox's lease reads it, another takes over
	// when that node stops or dies. Nil reads on every node that runs the
	// channel (mail is still imported once, by its dedupe id).
	Leases ticketing.Leases
}

// IMAPOptions name the inbound mailbox (SVAR_IMAP_*).
type IMAPOptions struct {
	Addr     string // host:port (SVAR_IMAP_ADDR)
	Username string // SVAR_IMAP_USERNAME
	Password string // SVAR_IMAP_PASSWORD
	Mailbox  string // SVAR_IMAP_MAILBOX, default INBOX
	TLS      string // SVAR_IMAP_TLS: tls (default), starttls or none (loopback only)
	// TLSConfig overrides the TLS configuration (for example a private CA).
	// The server name is filled in from Addr when empty.
	TLSConfig *tls.Config
}

// SMTPOptions name the outbound mail server (SVAR_SMTP_*).
type SMTPOptions struct {
	Addr     string // host:port (SVAR_SMTP_ADDR)
	Username string // SVAR_SMTP_USERNAME; empty: no authentication
	Password string // SVAR_SMTP_PASSWORD
	TLS      string // SVAR_SMTP_TLS: starttls (default), tls or none (loopback only)
	// TLSConfig overrides the TLS configuration, as for IMAP.
	TLSConfig *tls.Config
}

// OutboundConsumer runs the outbound consumer of one channel until ctx
// ends (ticketing.Bus.ConsumeOutbound). See ticketing.OutboundHandler for
// what the handler's errors mean.
type OutboundConsumer interface {
	ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error
}

// Store is what the channel keeps in the store: small state documents
// (checkpoints, Message-ID records, send records), blobs (raw mail and
// attachments), and messages, read to skip replies that were sent already.
type Store interface {
	ticketing.StateStore
	ticketing.BlobStore
	GetMessage(ctx context.Context, id string) (*ticketing.Message, error)
}

// DeliveryReporter records what happened to an outbound message
// (ticketing.Service.ReportDelivery). ENotFound means the message does not
// exist.
type DeliveryReporter interface {
	ReportDelivery(ctx context.Context, messageID string, d ticketing.Delivery) (*ticketing.Message, error)
}

// Channel is the email channel. Create it with New and run it with Run.
type Channel struct {
	o       Options
	log     *slog.Logger
	addr    string // the bare support address, lower-cased
	name    string // its display name, if Address had one
	domain  string // the domain of addr
	parser  *parser
	valid   *ticketing.Validator
	mailbox string
	poll    time.Duration

	// Tunables that tests shorten.
	backoffMin  time.Duration
	backoffMax  time.Duration
	idleRecheck time.Duration // how often an idling connection re-checks anyway
	maxAttempts int           // failed imports of one UID before it is published as a stub
	now         func() time.Time

	runMu   sync.Mutex
	running bool
}

// New validates o and returns a Channel. Errors name the environment
// variable to fix.
func New(o Options) (*Channel, error) {
	if strings.TrimSpace(o.Address) == "" {
		return nil, ticketing.FieldError("SVAR_EMAIL_ADDRESS", "is required for the email channel")
	}
	a, err := mail.ParseAddress(o.Address)
	if err != nil {
		return nil, ticketing.FieldError("SVAR_EMAIL_ADDRESS", "%q is not an email address", o.Address)
	}
	addr := ticketing.NormalizeEmail(a.Address)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return nil, ticketing.FieldError("SVAR_EMAIL_ADDRESS", "%q has no domain", o.Address)
	}
	if o.IMAP.Mailbox == "" {
		o.IMAP.Mailbox = DefaultMailbox
	}
	if o.IMAP.TLS == "" {
		o.IMAP.TLS = TLSImplicit
	}
	if o.SMTP.TLS == "" {
		o.SMTP.TLS = TLSStartTLS
	}
	if err := checkServer("SVAR_IMAP", o.IMAP.Addr, o.IMAP.TLS); err != nil {
		return nil, err
	}
	if o.IMAP.Username == "" {
		return nil, ticketing.FieldError("SVAR_IMAP_USERNAME", "is required for the email channel")
	}
	if o.IMAP.Password == "" {
		return nil, ticketing.FieldError("SVAR_IMAP_PASSWORD", "is required for the email channel")
	}
	if err := checkServer("SVAR_SMTP", o.SMTP.Addr, o.SMTP.TLS); err != nil {
		return nil, err
	}
	if o.SMTP.Username != "" && o.SMTP.Password == "" {
		return nil, ticketing.FieldError("SVAR_SMTP_PASSWORD", "is required when SVAR_SMTP_USERNAME is set")
	}
	switch {
	case o.Publisher == nil:
		return nil, errors.New("email: Options.Publisher is required")
	case o.Outbound == nil:
		return nil, errors.New("email: Options.Outbound is required")
	case o.Store == nil:
		return nil, errors.New("email: Options.Store is required")
	case o.Deliveries == nil:
		return nil, errors.New("email: Options.Deliveries is required")
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Channel{
		o: o, log: log.With("channel", "email"), addr: addr, name: a.Name, domain: addr[at+1:],
		valid: ticketing.NewValidator(), mailbox: o.IMAP.Mailbox, poll: o.PollInterval,
		backoffMin: time.Second, backoffMax: 5 * time.Minute, idleRecheck: time.Minute,
		maxAttempts: 3, now: time.Now,
	}
	var servIDs []string
	for _, id := range o.AuthServIDs {
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" {
			continue
		}
		if a, err := parseAuthResults(id + "; none"); err != nil || a.ServID != id {
			return nil, ticketing.FieldError("SVAR_EMAIL_AUTHSERV_ID", "%q is not an authserv-id (a host name such as mx.shop.se)", id)
		}
		servIDs = append(servIDs, id)
	}
	c.parser = newParser(addr, defaultLimits(), servIDs...)
	return c, nil
}

// checkServer validates a host:port and a TLS mode; prefix is the env var
// prefix (SVAR_IMAP or SVAR_SMTP).
func checkServer(prefix, addr, mode string) error {
	if addr == "" {
		return ticketing.FieldError(prefix+"_ADDR", "is required for the email channel (host:port)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return ticketing.FieldError(prefix+"_ADDR", "%q must be host:port", addr)
	}
	switch mode {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if !isLoopback(host) {
			return ticketing.FieldError(prefix+"_TLS", "none is only allowed for a loopback address, not %q; use tls or starttls", host)
		}
	default:
		return ticketing.FieldError(prefix+"_TLS", "must be tls, starttls or none, not %q", mode)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Address returns the support address replies are sent from.
func (c *Channel) Address() string { return c.addr }

// Run reads the mailbox and sends replies until ctx ends, then waits for
// its goroutines and returns nil. It returns an error only if it is
// already running. Failures of the IMAP or SMTP server or of the bus are
// logged and retried with backoff; they never end Run.
func (c *Channel) Run(ctx context.Context) error {
	c.runMu.Lock()
	if c.running {
		c.runMu.Unlock()
		return errors.New("email: Run is already running")
	}
	c.running = true
	c.runMu.Unlock()
	defer func() {
		c.runMu.Lock()
		c.running = false
		c.runMu.Unlock()
	}()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if c.o.Leases == nil {
			c.runIngest(ctx)
			return
		}
		_ = c.o.Leases.Run(ctx, c.leaseName(), func(ctx context.Context) error {
			c.runIngest(ctx)
			return ctx.Err() // the lease was lost or Run is stopping: try again
		})
	}()
	go func() {
		defer wg.Done()
		c.runOutbound(ctx)
	}()
	wg.Wait()
	return nil
}

// runOutbound keeps the outbound consumer running until ctx ends.
func (c *Channel) runOutbound(ctx context.Context) {
	b := c.newBackoff()
	for ctx.Err() == nil {
		start := c.now()
		err := c.o.Outbound.ConsumeOutbound(ctx, ticketing.ChannelEmail, c.HandleOutbound)
		if ctx.Err() != nil {
			return
		}
		if c.now().Sub(start) > time.Minute {
			b.reset()
		}
		d := b.next()
		c.log.Error("email: outbound consumer stopped; restarting", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
}

// backoff doubles a delay from min to max.
type backoff struct {
	min, max, cur time.Duration
}

func (c *Channel) newBackoff() *backoff { return &backoff{min: c.backoffMin, max: c.backoffMax} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// tlsConfig returns a TLS configuration for addr.
func tlsConfig(base *tls.Config, addr string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// errorf wraps err with an operation, prefixed with the package name.
func errorf(op string, err error) error { return fmt.Errorf("email: %s: %w", op, err) }
