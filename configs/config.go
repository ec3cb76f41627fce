// Package configs holds Svar's configuration: the Config struct, its
// defaults, loading (flags > environment > config file > defaults) and
// validation with errors that name the setting.
package configs

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything Svar can be told. The zero value is not useful;
// start from Default.
type Config struct {
	HTTPAddr  string `yaml:"http_addr"`  // SVAR_HTTP_ADDR, default :8080
	DataDir   string `yaml:"data_dir"`   // SVAR_DATA_DIR, default ./data
	PublicURL string `yaml:"public_url"` // SVAR_PUBLIC_URL, default http://localhost:8080

	NATSURL string `yaml:"nats_url"` // SVAR_NATS_URL; empty starts an embedded server
	// NATSReplicas is how many servers of a NATS cluster keep each of
	// Svar's streams and buckets. Default 1; 3 on a three-server cluster.
	NATSReplicas int `yaml:"nats_replicas"` // SVAR_NATS_REPLICAS
	// LeaseTTL is how long a one-at-a-time job's lease (the mailbox
	// reader's) outlives a node that died holding it. Default 10s.
	LeaseTTL            time.Duration `yaml:"lease_ttl"`             // SVAR_LEASE_TTL
	MongoDBURI          string        `yaml:"mongodb_uri"`           // SVAR_MONGODB_URI; empty starts an embedded store
	MongoDBDatabase     string        `yaml:"mongodb_database"`      // SVAR_MONGODB_DATABASE, default svar
	EmbeddedNATSAddr    string        `yaml:"embedded_nats_addr"`    // SVAR_EMBEDDED_NATS_ADDR, default 127.0.0.1 and a free port
	EmbeddedMongoDBAddr string        `yaml:"embedded_mongodb_addr"` // SVAR_EMBEDDED_MONGODB_ADDR, default 127.0.0.1:0

	AdminEmail    string `yaml:"admin_email"`    // SVAR_ADMIN_EMAIL, default admin@localhost
	AdminPassword string `yaml:"admin_password"` // SVAR_ADMIN_PASSWORD; empty generates one on first start
	// Demo serves the demo shop at /demo. Default: on with embedded
	// defaults (no SVAR_NATS_URL and no SVAR_MONGODB_URI), off otherwise.
	Demo *bool `yaml:"demo"` // SVAR_DEMO

	Email EmailConfig `yaml:"email"`
	SMS   SMSConfig   `yaml:"sms"`
	Chat  ChatConfig  `yaml:"chat"`

	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed when telling a client's address for
	// per-address limits. Empty: the TCP peer is the client.
	TrustedProxies []string `yaml:"trusted_proxies"` // SVAR_TRUSTED_PROXIES, comma-separated

	// WebhookAllowPrivate lets webhooks target loopback, private and
	// link-local addresses (tests, a receiver on the same network).
	WebhookAllowPrivate bool `yaml:"webhook_allow_private"` // SVAR_WEBHOOK_ALLOW_PRIVATE

	// ReopenWindow: a message within this time after a ticket was solved
	// reopens it; later ones start a new ticket. Default 7 days.
	ReopenWindow time.Duration `yaml:"reopen_window"` // SVAR_REOPEN_WINDOW
	// HandBackAfter: an agent offline this long gives their open,
	// unanswered tickets back to their team's queue; 0 never.
	HandBackAfter time.Duration `yaml:"hand_back_after"` // SVAR_HAND_BACK_AFTER
	LogLevel      string        `yaml:"log_level"`       // SVAR_LOG_LEVEL: debug, info, warn, error
	// MetricsAddr serves /metrics on another address (say an internal
	// 127.0.0.1:9090) instead of SVAR_HTTP_ADDR; MetricsToken, when set,
	// makes /metrics ask for "Authorization: Bearer <token>".
	MetricsAddr  string `yaml:"metrics_addr"`  // SVAR_METRICS_ADDR
	MetricsToken string `yaml:"metrics_token"` // SVAR_METRICS_TOKEN
	// AuditDays is how long the audit log keeps entries; 0 forever.
	// Default 365.
	AuditDays int `yaml:"audit_days"` // SVAR_AUDIT_DAYS
}

// EmailConfig configures the email channel; it is off without Address.
type EmailConfig struct {
	Address string     `yaml:"address"` // SVAR_EMAIL_ADDRESS
	IMAP    MailServer `yaml:"imap"`    // SVAR_IMAP_*
	SMTP    MailServer `yaml:"smtp"`    // SVAR_SMTP_*
	Mailbox string     `yaml:"mailbox"` // SVAR_IMAP_MAILBOX, default INBOX
	// AuthServIDs are the authserv-ids of the shop's own receiving mail
	// servers (SVAR_EMAIL_AUTHSERV_ID, comma-separated): only the
	// Authentication-Results they add decide whether a sender is verified.
	AuthServIDs []string `yaml:"authserv_ids"`
}

// MailServer is an IMAP or SMTP server.
type MailServer struct {
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      string `yaml:"tls"` // tls, starttls or none
}

// SMSConfig configures the SMS channel; it is off without Provider.
type SMSConfig struct {
	Provider      string `yaml:"provider"`       // SVAR_SMS_PROVIDER: twilio or 46elks
	From          string `yaml:"from"`           // SVAR_SMS_FROM, E.164
	DefaultRegion string `yaml:"default_region"` // SVAR_SMS_DEFAULT_REGION, default SE

	TwilioAccountSID string `yaml:"twilio_account_sid"` // SVAR_TWILIO_ACCOUNT_SID
	TwilioAuthToken  string `yaml:"twilio_auth_token"`  // SVAR_TWILIO_AUTH_TOKEN
	TwilioAPIBase    string `yaml:"twilio_api_base"`    // SVAR_TWILIO_API_BASE

	ElksUsername      string `yaml:"elks_username"`       // SVAR_ELKS_USERNAME
	ElksPassword      string `yaml:"elks_password"`       // SVAR_ELKS_PASSWORD
	ElksAPIBase       string `yaml:"elks_api_base"`       // SVAR_ELKS_API_BASE
	ElksWebhookSecret string `yaml:"elks_webhook_secret"` // SVAR_ELKS_WEBHOOK_SECRET
}

// ChatConfig configures the customers' chat.
type ChatConfig struct {
	IdentitySecret string   `yaml:"identity_secret"` // SVAR_CHAT_IDENTITY_SECRET
	AllowedOrigins []string `yaml:"allowed_origins"` // SVAR_CHAT_ALLOWED_ORIGINS, comma-separated
	// FallbackGrace is how long an undelivered chat reply waits for the
	// customer before it goes by email. Default 10 minutes.
	FallbackGrace time.Duration `yaml:"fallback_grace"` // SVAR_CHAT_FALLBACK_GRACE
	// MessagesPerMinute is each visitor's message rate limit (a token
	// bucket with as much burst). Default 20.
	MessagesPerMinute int `yaml:"messages_per_minute"` // SVAR_CHAT_MESSAGES_PER_MINUTE
	// MaxPerAddress caps open chat sockets per client address on a node
	// (customers behind one NAT or office share one). Default 200.
	MaxPerAddress int `yaml:"max_per_address"` // SVAR_CHAT_MAX_PER_ADDRESS
	// MaxPerVisitor caps open chat sockets per visitor token on a node
	// (a few tabs). Default 5.
	MaxPerVisitor int `yaml:"max_per_visitor"` // SVAR_CHAT_MAX_PER_VISITOR
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		HTTPAddr:        ":8080",
		DataDir:         "./data",
		PublicURL:       "http://localhost:8080",
		MongoDBDatabase: "svar",
		AdminEmail:      "admin@localhost",
		Email: EmailConfig{
			Mailbox: "INBOX",
			IMAP:    MailServer{TLS: "tls"},
			SMTP:    MailServer{TLS: "starttls"},
		},
		SMS: SMSConfig{
			DefaultRegion: "SE",
			TwilioAPIBase: "https://api.twilio.com",
			ElksAPIBase:   "https://api.46elks.com",
		},
		Chat:          ChatConfig{FallbackGrace: 10 * time.Minute, MessagesPerMinute: 20, MaxPerAddress: 200, MaxPerVisitor: 5},
		ReopenWindow:  7 * 24 * time.Hour,
		AuditDays:     365,
		NATSReplicas:  1,
		LeaseTTL:      10 * time.Second,
		HandBackAfter: 10 * time.Minute,
		LogLevel:      "info",
	}
}

// Embedded reports whether both NATS and the store are embedded.
func (c *Config) Embedded() bool { return c.NATSURL == "" && c.MongoDBURI == "" }

// DemoOn reports whether the demo shop is served.
func (c *Config) DemoOn() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.Embedded()
}

// EmailOn reports whether the email channel is configured.
func (c *Config) EmailOn() bool { return c.Email.Address != "" }

// SMSOn reports whether the SMS channel is configured.
func (c *Config) SMSOn() bool { return c.SMS.Provider != "" }

// setting binds one configuration value to its env var and flag.
type setting struct {
	env, flag, help string
	set             func(string) error
}

func str(p *string) func(string) error { return func(v string) error { *p = v; return nil } }

// list sets a comma-separated list, without empty items.
func list(p *[]string) func(string) error {
	return func(v string) error {
		*p = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				*p = append(*p, o)
			}
		}
		return nil
	}
}

// positive sets a whole number of at least 1.
func positive(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("must be a whole number of at least 1")
		}
		*p = n
		return nil
	}
}

func (c *Config) settings() []setting {
	return []setting{
		{"SVAR_HTTP_ADDR", "http-addr", "HTTP listen address", str(&c.HTTPAddr)},
		{"SVAR_DATA_DIR", "data-dir", "where embedded servers keep their files", str(&c.DataDir)},
		{"SVAR_METRICS_ADDR", "metrics-addr", "serve /metrics on this address instead of the HTTP address", str(&c.MetricsAddr)},
		{"SVAR_METRICS_TOKEN", "metrics-token", "require this bearer token for /metrics", str(&c.MetricsToken)},
		{"SVAR_AUDIT_DAYS", "audit-days", "days the audit log keeps entries (0: forever)", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("must be a whole number of days, 0 or more")
			}
			c.AuditDays = n
			return nil
		}},
		{"SVAR_PUBLIC_URL", "public-url", "the URL customers and providers reach", str(&c.PublicURL)},
		{"SVAR_NATS_URL", "nats-url", "external NATS (empty: embedded)", str(&c.NATSURL)},
		{"SVAR_NATS_REPLICAS", "nats-replicas", "stream replicas on a NATS cluster (1, 3 or 5)", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf("must be a whole number from 1 to 5")
			}
			c.NATSReplicas = n
			return nil
		}},
		{"SVAR_LEASE_TTL", "lease-ttl", "how long a dead node's job lease lasts", duration(&c.LeaseTTL)},
		{"SVAR_MONGODB_URI", "mongodb-uri", "external MongoDB (empty: embedded)", str(&c.MongoDBURI)},
		{"SVAR_MONGODB_DATABASE", "mongodb-database", "database name", str(&c.MongoDBDatabase)},
		{"SVAR_EMBEDDED_NATS_ADDR", "embedded-nats-addr", "embedded NATS listen address (loopback)", str(&c.EmbeddedNATSAddr)},
		{"SVAR_EMBEDDED_MONGODB_ADDR", "embedded-mongodb-addr", "embedded store listen address (loopback)", str(&c.EmbeddedMongoDBAddr)},
		{"SVAR_ADMIN_EMAIL", "admin-email", "the first admin's email", str(&c.AdminEmail)},
		{"SVAR_ADMIN_PASSWORD", "admin-password", "the first admin's password (empty: generated)", str(&c.AdminPassword)},
		{"SVAR_DEMO", "demo", "serve the demo shop at /demo (true/false)", func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false")
			}
			c.Demo = &b
			return nil
		}},
		{"SVAR_EMAIL_ADDRESS", "email-address", "the support address (empty: email off)", str(&c.Email.Address)},
		{"SVAR_IMAP_ADDR", "imap-addr", "IMAP server host:port", str(&c.Email.IMAP.Addr)},
		{"SVAR_IMAP_USERNAME", "imap-username", "IMAP user", str(&c.Email.IMAP.Username)},
		{"SVAR_IMAP_PASSWORD", "imap-password", "IMAP password", str(&c.Email.IMAP.Password)},
		{"SVAR_IMAP_MAILBOX", "imap-mailbox", "IMAP mailbox", str(&c.Email.Mailbox)},
		{"SVAR_IMAP_TLS", "imap-tls", "tls, starttls or none", str(&c.Email.IMAP.TLS)},
		{"SVAR_SMTP_ADDR", "smtp-addr", "SMTP server host:port", str(&c.Email.SMTP.Addr)},
		{"SVAR_SMTP_USERNAME", "smtp-username", "SMTP user", str(&c.Email.SMTP.Username)},
		{"SVAR_SMTP_PASSWORD", "smtp-password", "SMTP password", str(&c.Email.SMTP.Password)},
		{"SVAR_SMTP_TLS", "smtp-tls", "tls, starttls or none", str(&c.Email.SMTP.TLS)},
		{"SVAR_EMAIL_AUTHSERV_ID", "email-authserv-id", "comma-separated authserv-ids of the shop's receiving mail servers (e.g. mx.google.com)", func(v string) error {
			c.Email.AuthServIDs = nil
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					c.Email.AuthServIDs = append(c.Email.AuthServIDs, id)
				}
			}
			return nil
		}},
		{"SVAR_SMS_PROVIDER", "sms-provider", "twilio or 46elks (empty: SMS off)", str(&c.SMS.Provider)},
		{"SVAR_SMS_FROM", "sms-from", "the shop's number, E.164", str(&c.SMS.From)},
		{"SVAR_SMS_DEFAULT_REGION", "sms-default-region", "region for national phone numbers", str(&c.SMS.DefaultRegion)},
		{"SVAR_TWILIO_ACCOUNT_SID", "twilio-account-sid", "Twilio account SID", str(&c.SMS.TwilioAccountSID)},
		{"SVAR_TWILIO_AUTH_TOKEN", "twilio-auth-token", "Twilio auth token", str(&c.SMS.TwilioAuthToken)},
		{"SVAR_TWILIO_API_BASE", "twilio-api-base", "Twilio API base URL", str(&c.SMS.TwilioAPIBase)},
		{"SVAR_ELKS_USERNAME", "elks-username", "46elks API username", str(&c.SMS.ElksUsername)},
		{"SVAR_ELKS_PASSWORD", "elks-password", "46elks API password", str(&c.SMS.ElksPassword)},
		{"SVAR_ELKS_API_BASE", "elks-api-base", "46elks API base URL", str(&c.SMS.ElksAPIBase)},
		{"SVAR_ELKS_WEBHOOK_SECRET", "elks-webhook-secret", "46elks webhook basic-auth password", str(&c.SMS.ElksWebhookSecret)},
		{"SVAR_CHAT_IDENTITY_SECRET", "chat-identity-secret", "HMAC secret for signed chat identities", str(&c.Chat.IdentitySecret)},
		{"SVAR_CHAT_ALLOWED_ORIGINS", "chat-allowed-origins", "comma-separated origins for the chat websocket", func(v string) error {
			c.Chat.AllowedOrigins = nil
			for _, o := range strings.Split(v, ",") {
				if o = strings.TrimSpace(o); o != "" {
					c.Chat.AllowedOrigins = append(c.Chat.AllowedOrigins, o)
				}
			}
			return nil
		}},
		{"SVAR_CHAT_FALLBACK_GRACE", "chat-fallback-grace", "wait before mailing an unread chat reply", duration(&c.Chat.FallbackGrace)},
		{"SVAR_CHAT_MESSAGES_PER_MINUTE", "chat-messages-per-minute", "each chat visitor's message rate limit", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("must be a whole number of at least 1")
			}
			c.Chat.MessagesPerMinute = n
			return nil
		}},
		{"SVAR_CHAT_MAX_PER_ADDRESS", "chat-max-per-address", "open chat sockets per client address", positive(&c.Chat.MaxPerAddress)},
		{"SVAR_CHAT_MAX_PER_VISITOR", "chat-max-per-visitor", "open chat sockets per visitor token", positive(&c.Chat.MaxPerVisitor)},
		{"SVAR_TRUSTED_PROXIES", "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed", list(&c.TrustedProxies)},
		{"SVAR_WEBHOOK_ALLOW_PRIVATE", "webhook-allow-private", "let webhooks target loopback, private and link-local addresses", func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false")
			}
			c.WebhookAllowPrivate = b
			return nil
		}},
		{"SVAR_REOPEN_WINDOW", "reopen-window", "how long a solved ticket reopens on a new message", duration(&c.ReopenWindow)},
		{"SVAR_HAND_BACK_AFTER", "hand-back-after", "how long an agent may be offline before their unanswered tickets go back to the queue (0: never)", duration(&c.HandBackAfter)},
		{"SVAR_LOG_LEVEL", "log-level", "debug, info, warn or error", str(&c.LogLevel)},
	}
}

func duration(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("must be a duration such as 10m or 168h")
		}
		*p = d
		return nil
	}
}

// Load builds the configuration from defaults, the optional config file
// (--config), the environment and the flags in args, in rising order of
// precedence, and validates it. lookupEnv is os.LookupEnv in production.
func Load(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	c := Default()
	file := fs.String("config", "", "optional YAML config file (see configs/svar.example.yaml)")
	flagVals := map[string]*string{}
	for _, s := range c.settings() {
		flagVals[s.flag] = fs.String(s.flag, "", s.help+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config file %s: %w", *file, err)
		}
	}
	settings := c.settings()
	for _, s := range settings {
		if v, ok := lookupEnv(s.env); ok && v != "" {
			if err := s.set(v); err != nil {
				return c, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name && ferr == nil {
				if err := s.set(*flagVals[s.flag]); err != nil {
					ferr = fmt.Errorf("--%s: %w", s.flag, err)
				}
			}
		}
	})
	if ferr != nil {
		return c, ferr
	}
	return c, c.Validate()
}

// TrustedProxyPrefixes parses TrustedProxies: CIDRs such as 10.0.0.0/8,
// or single addresses.
func (c *Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate checks the configuration and names the setting that is wrong.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("SVAR_HTTP_ADDR", "must be host:port, such as :8080 (got %q)", c.HTTPAddr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SVAR_PUBLIC_URL", "must be an absolute http(s) URL (got %q)", c.PublicURL)
	}
	if c.DataDir == "" && c.Embedded() {
		bad("SVAR_DATA_DIR", "is required for the embedded servers")
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(strings.Split(c.NATSURL, ",")[0]); err != nil || u.Host == "" {
			bad("SVAR_NATS_URL", "must be a URL such as nats://127.0.0.1:4222")
		}
	}
	if c.MongoDBURI != "" && !strings.HasPrefix(c.MongoDBURI, "mongodb://") && !strings.HasPrefix(c.MongoDBURI, "mongodb+srv://") {
		bad("SVAR_MONGODB_URI", "must start with mongodb:// or mongodb+srv://")
	}
	for env, addr := range map[string]string{"SVAR_EMBEDDED_NATS_ADDR": c.EmbeddedNATSAddr, "SVAR_EMBEDDED_MONGODB_ADDR": c.EmbeddedMongoDBAddr} {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			bad(env, "must be a loopback host:port such as 127.0.0.1:4222 (got %q)", addr)
		}
	}
	if c.LeaseTTL < time.Second {
		bad("SVAR_LEASE_TTL", "must be at least 1s (got %s)", c.LeaseTTL)
	}
	if c.NATSReplicas > 1 && c.NATSURL == "" {
		bad("SVAR_NATS_REPLICAS", "needs a NATS cluster in SVAR_NATS_URL; the embedded server is a single server")
	}
	if c.MongoDBDatabase == "" || strings.ContainsAny(c.MongoDBDatabase, "/\\. \"$") {
		bad("SVAR_MONGODB_DATABASE", "must be a plain database name (got %q)", c.MongoDBDatabase)
	}
	if !strings.Contains(c.AdminEmail, "@") {
		bad("SVAR_ADMIN_EMAIL", "must be an email address (got %q)", c.AdminEmail)
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		bad("SVAR_ADMIN_PASSWORD", "must be at least 8 characters")
	}
	if c.EmailOn() {
		if !strings.Contains(c.Email.Address, "@") {
			bad("SVAR_EMAIL_ADDRESS", "must be an email address (got %q)", c.Email.Address)
		}
		for prefix, s := range map[string]MailServer{"SVAR_IMAP": c.Email.IMAP, "SVAR_SMTP": c.Email.SMTP} {
			if _, _, err := net.SplitHostPort(s.Addr); err != nil {
				bad(prefix+"_ADDR", "must be host:port when SVAR_EMAIL_ADDRESS is set (got %q)", s.Addr)
			}
			switch s.TLS {
			case "tls", "starttls", "none":
			default:
				bad(prefix+"_TLS", "must be tls, starttls or none (got %q)", s.TLS)
			}
		}
		if c.Email.Mailbox == "" {
			bad("SVAR_IMAP_MAILBOX", "must not be empty")
		}
		for _, id := range c.Email.AuthServIDs {
			if !authServID.MatchString(id) {
				bad("SVAR_EMAIL_AUTHSERV_ID", "must be host names such as mx.google.com, comma-separated (got %q)", id)
			}
		}
	}
	switch c.SMS.Provider {
	case "":
	case "twilio":
		if c.SMS.TwilioAccountSID == "" {
			bad("SVAR_TWILIO_ACCOUNT_SID", "is required with SVAR_SMS_PROVIDER=twilio")
		}
		if c.SMS.TwilioAuthToken == "" {
			bad("SVAR_TWILIO_AUTH_TOKEN", "is required with SVAR_SMS_PROVIDER=twilio")
		}
	case "46elks":
		if c.SMS.ElksUsername == "" || c.SMS.ElksPassword == "" {
			bad("SVAR_ELKS_USERNAME", "SVAR_ELKS_USERNAME and SVAR_ELKS_PASSWORD are required with SVAR_SMS_PROVIDER=46elks")
		}
		if c.SMS.ElksWebhookSecret == "" {
			bad("SVAR_ELKS_WEBHOOK_SECRET", "is required with SVAR_SMS_PROVIDER=46elks")
		}
	default:
		bad("SVAR_SMS_PROVIDER", "must be twilio or 46elks (got %q)", c.SMS.Provider)
	}
	if c.SMSOn() && !strings.HasPrefix(c.SMS.From, "+") {
		bad("SVAR_SMS_FROM", "must be the shop's number in E.164, such as +46701234567")
	}
	for _, o := range c.Chat.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			bad("SVAR_CHAT_ALLOWED_ORIGINS", "%q is not an origin such as https://shop.example", o)
		}
	}
	if c.HandBackAfter < 0 {
		bad("SVAR_HAND_BACK_AFTER", "must not be negative")
	}
	if c.Chat.MaxPerAddress < 1 {
		bad("SVAR_CHAT_MAX_PER_ADDRESS", "must be at least 1")
	}
	if c.Chat.MaxPerVisitor < 1 {
		bad("SVAR_CHAT_MAX_PER_VISITOR", "must be at least 1")
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		bad("SVAR_TRUSTED_PROXIES", "%v", err)
	}
	if c.ReopenWindow < 0 {
		bad("SVAR_REOPEN_WINDOW", "must not be negative")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("SVAR_LOG_LEVEL", "must be debug, info, warn or error")
	}
	return errors.Join(errs...)
}

// authServID is what SVAR_EMAIL_AUTHSERV_ID takes: a host name (the
// authserv-id receiving servers write, such as mx.google.com).
var authServID = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.?)*[A-Za-z0-9]$|^[A-Za-z0-9]$`)
