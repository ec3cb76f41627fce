package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/files"
)

// OutboundConsumer is the part of the bus the channel consumes replies
// from. ConsumeOutbound runs until ctx ends; see ticketing.OutboundHandler
// for what the handler's errors mean.
type OutboundConsumer interface {
	ConsumeOutbound(ctx context.Context, ch ticketing.Channel, h ticketing.OutboundHandler) error
}

// Store is the persistence the channel needs: messages (to check whether a
// reply went out already), small state documents (send records, opt-outs)
// and blobs (MMS media). Lookups that find nothing return
// ticketing.ErrNotFound; InsertState on a taken key ticketing.ErrDuplicate.
type Store interface {
	GetMessage(ctx context.Context, id string) (*ticketing.Message, error)
	ticketing.StateStore
	ticketing.BlobStore
}

// Service is the part of the ticketing core the channel reports to.
type Service interface {
	// ReportDelivery records a reply's delivery state and tells the
	// consoles; a final state is not overwritten by an earlier one.
	ReportDelivery(ctx context.Context, messageID string, d ticketing.Delivery) (*ticketing.Message, error)
	// CustomerByIdentity finds the customer owning key (kind:value), or
	// returns ticketing.ErrNotFound.
	CustomerByIdentity(ctx context.Context, key string) (*ticketing.Customer, error)
	PatchCustomer(ctx context.Context, id string, p ticketing.CustomerPatch) (*ticketing.Customer, error)
}

// Options configure the SMS channel. Zero values are the documented
// defaults; the env var that sets each is named in its comment.
type Options struct {
	Provider      string // SVAR_SMS_PROVIDER: "twilio" or "46elks"
	From          string // SVAR_SMS_FROM: the shop's number, E.164 (national formats are normalised)
	PublicURL     string // SVAR_PUBLIC_URL: what the provider calls; Twilio signs over it
	DefaultRegion string // region of national numbers; "SE" when empty
	Twilio        TwilioOptions
	Elks          ElksOptions

	// MaxSegments is the longest reply in segments (0: DefaultMaxSegments).
	MaxSegments int
	// MaxMediaBytes caps each MMS attachment (0: 5 MiB).
	MaxMediaBytes int64

	Publisher ticketing.InboundPublisher
	Outbound  OutboundConsumer
	Store     Store
	Service   Service
	// Intercept, when set, sees each inbound text before it is published
	// and may take it (a survey's digit answer); taken texts are not
	// messages. nil: every text is a message.
	Intercept Interceptor
	// Files signs download links for agents' attachments: sent as MMS
	// media where the provider takes it (Twilio), else as links in the
	// text. nil: attachments are left out.
	Files      *files.Signer
	HTTPClient *http.Client // nil: a client with a 30 s timeout
	Logger     *slog.Logger // nil: slog.Default()
}

// Interceptor takes inbound texts that are answers to something Svar
// asked rather than messages. It returns true when it took the text (it
// is recorded; the webhook is answered and nothing is published); an
// error means it could not tell, and the provider retries.
type Interceptor interface {
	InterceptSMS(ctx context.Context, from ticketing.Identity, text string) (bool, error)
}

// TwilioOptions are Twilio's credentials.
type TwilioOptions struct {
	AccountSID string // SVAR_TWILIO_ACCOUNT_SID
	AuthToken  string // SVAR_TWILIO_AUTH_TOKEN: signs webhooks and authenticates API calls
	APIBase    string // SVAR_TWILIO_API_BASE: https://api.twilio.com when empty
}

// ElksOptions are 46elks' credentials.
type ElksOptions struct {
	Username      string // SVAR_ELKS_USERNAME: the API username (u...)
	Password      string // SVAR_ELKS_PASSWORD: the API password
	APIBase       string // SVAR_ELKS_API_BASE: https://api.46elks.com when empty
	WebhookSecret string // SVAR_ELKS_WEBHOOK_SECRET: the basic-auth password on Svar's webhook URLs
}

// DefaultMaxMediaBytes caps each MMS attachment.
const DefaultMaxMediaBytes = 5 << 20

// maxWebhookBody caps a webhook request body. Providers' forms are a few
// kilobytes; an SMS of ten segments is under 2 KB.
const maxWebhookBody = 64 << 10

// Channel is the SMS channel: the provider's webhooks in, replies out.
type Channel struct {
	provider    Provider
	from        string
	region      string
	pub         ticketing.InboundPublisher
	out         OutboundConsumer
	store       Store
	svc         Service
	log         *slog.Logger
	validator   *ticketing.Validator
	intercept   Interceptor
	maxSegments int
	maxMedia    int64
	files       *files.Signer
	now         func() time.Time
}

// New checks o and returns the channel. Errors name the env var to fix.
func New(o Options) (*Channel, error) {
	switch {
	case o.Publisher == nil:
		return nil, errors.New("sms: Options.Publisher is required")
	case o.Outbound == nil:
		return nil, errors.New("sms: Options.Outbound is required")
	case o.Store == nil:
		return nil, errors.New("sms: Options.Store is required")
	case o.Service == nil:
		return nil, errors.New("sms: Options.Service is required")
	}
	region := strings.ToUpper(strings.TrimSpace(o.DefaultRegion))
	if region == "" {
		region = DefaultRegion
	}
	if !validRegion(region) {
		return nil, fmt.Errorf("sms: default region %q is not a known ISO 3166 region code such as SE", o.DefaultRegion)
	}
	if strings.TrimSpace(o.From) == "" {
		return nil, errors.New("sms: SVAR_SMS_FROM is required: the shop's number in E.164, such as +46701234567")
	}
	from, err := NormalizeNumber(o.From, region)
	if err != nil {
		return nil, fmt.Errorf("sms: SVAR_SMS_FROM %q is not a phone number in E.164 (such as +46701234567) or a sender name", o.From)
	}
	pu, err := url.Parse(strings.TrimRight(strings.TrimSpace(o.PublicURL), "/"))
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		return nil, fmt.Errorf("sms: SVAR_PUBLIC_URL must be the absolute http(s) URL the SMS provider reaches Svar at, such as https://support.example.se, not %q", o.PublicURL)
	}
	publicURL := pu.String()
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Channel{
		from: from.Value, region: region,
		pub: o.Publisher, out: o.Outbound, store: o.Store, svc: o.Service,
		log: o.Logger, validator: ticketing.NewValidator(), intercept: o.Intercept,
		maxSegments: o.MaxSegments, maxMedia: o.MaxMediaBytes, files: o.Files, now: time.Now,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.maxSegments <= 0 {
		c.maxSegments = DefaultMaxSegments
	}
	if c.maxMedia <= 0 {
		c.maxMedia = DefaultMaxMediaBytes
	}
	switch strings.ToLower(strings.TrimSpace(o.Provider)) {
	case ProviderTwilio:
		t := o.Twilio
		if t.AccountSID == "" || t.AuthToken == "" {
			return nil, errors.New("sms: SVAR_SMS_PROVIDER is twilio, so SVAR_TWILIO_ACCOUNT_SID and SVAR_TWILIO_AUTH_TOKEN are required")
		}
		if c.provider, err = newTwilio(t, publicURL, client); err != nil {
			return nil, err
		}
	case ProviderElks, "elks":
		e := o.Elks
		if e.Username == "" || e.Password == "" {
			return nil, errors.New("sms: SVAR_SMS_PROVIDER is 46elks, so SVAR_ELKS_USERNAME and SVAR_ELKS_PASSWORD are required")
		}
		if e.WebhookSecret == "" {
			return nil, errors.New("sms: SVAR_SMS_PROVIDER is 46elks, so SVAR_ELKS_WEBHOOK_SECRET is required: 46elks must call Svar's webhook with it as the basic-auth password")
		}
		if c.provider, err = newElks(e, publicURL, client); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sms: SVAR_SMS_PROVIDER must be twilio or 46elks, not %q", o.Provider)
	}
	if from.Kind != KindNumber {
		c.log.Warn("sms: SVAR_SMS_FROM is not a phone number; customers cannot answer it", "from", from.Value, "kind", from.Kind)
	}
	return c, nil
}

// Provider returns the configured provider's name.
func (c *Channel) Provider() string { return c.provider.Name() }

// Routes registers the providers' webhooks on mux, each behind a body size
// limit. The configured provider's routes work; the other provider's
// answer 404 so that a misrouted webhook is visible in its dashboard.
func (c *Channel) Routes(mux *http.ServeMux) {
	routes := []struct {
		provider, path string
		h              http.HandlerFunc
	}{
		{ProviderTwilio, PathTwilioSMS, c.handleInbound},
		{ProviderTwilio, PathTwilioStatus, c.handleStatus},
		{ProviderElks, PathElksSMS, c.handleInbound},
		{ProviderElks, PathElksStatus, c.handleStatus},
	}
	for _, rt := range routes {
		h := rt.h
		if rt.provider != c.provider.Name() {
			h = c.notConfigured(rt.provider)
		}
		mux.Handle("POST "+rt.path, http.MaxBytesHandler(h, maxWebhookBody))
	}
}

// Run consumes replies for the SMS channel until ctx ends.
func (c *Channel) Run(ctx context.Context) error {
	return c.out.ConsumeOutbound(ctx, ticketing.ChannelSMS, c.deliver)
}

func (c *Channel) notConfigured(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.log.Warn("sms: webhook for a provider that is not configured", "provider", provider,
			"configured", c.provider.Name(), "path", r.URL.Path, "remote", r.RemoteAddr)
		writeError(w, http.StatusNotFound, ticketing.ENotFound, "SMS provider "+provider+" is not configured")
	}
}
