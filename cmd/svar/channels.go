package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/svar-dev/svar/channels/chat"
	"github.com/svar-dev/svar/channels/email"
	"github.com/svar-dev/svar/channels/sms"
	"github.com/svar-dev/svar/configs"
	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/web"
)

// channels holds the channel adapters this node runs.
type channels struct {
	Chat    *chat.Channel
	Email   *email.Channel
	SMS     *sms.Channel
	closers []func()
}

func (c *channels) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// reporting counts adapters' delivery reports on their way to the core.
type reporting struct {
	*ticketing.Service
	metrics *web.Metrics
}

func (r reporting) ReportDelivery(ctx context.Context, id string, d ticketing.Delivery) (*ticketing.Message, error) {
	m, err := r.Service.ReportDelivery(ctx, id, d)
	if err == nil {
		ch := d.Channel
		if ch == "" {
			ch = m.Channel
		}
		r.metrics.Deliveries.WithLabelValues(string(ch), d.Status).Inc()
	}
	return m, err
}

// replyChannels are the channels whose adapters this configuration runs:
// chat always, email and SMS when they are set up.
func replyChannels(c *configs.Config) []ticketing.Channel {
	out := []ticketing.Channel{ticketing.ChannelChat}
	if c.EmailOn() {
		out = append(out, ticketing.ChannelEmail)
	}
	if c.SMSOn() {
		out = append(out, ticketing.ChannelSMS)
	}
	return out
}

// startChannels starts the configured channel adapters and returns their
// HTTP routes. checks receives per-channel reply validators.
func (m *Main) startChannels(ctx context.Context, checks map[ticketing.Channel]func(string) (map[string]string, error)) ([]web.Router, error) {
	c := &m.Config
	log := m.logger()
	svc := reporting{Service: m.Service, metrics: m.Metrics}
	var routers []web.Router

	origins := c.Chat.AllowedOrigins
	if len(origins) == 0 && !c.DemoOn() {
		if u, err := url.Parse(c.PublicURL); err == nil {
			origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	clientIP, err := m.clientIP()
	if err != nil {
		return nil, err
	}
	ch, err := chat.New(chat.Options{Publisher: m.Bus, Outbound: m.Bus, Relay: m.Bus, Service: svc, Store: m.Store,
		Hours:          m.chatHours,
		IdentitySecret: c.Chat.IdentitySecret, AllowedOrigins: origins, Demo: c.DemoOn(), PublicURL: c.PublicURL, Files: m.files,
		EmailFallback: c.EmailOn(), FallbackGrace: c.Chat.FallbackGrace, MessagesPerMinute: c.Chat.MessagesPerMinute,
		MaxConnsPerIP: c.Chat.MaxPerAddress, MaxConnsPerVisitor: c.Chat.MaxPerVisitor, ClientIP: clientIP,
		CSAT: m.CSAT, Logger: log.With("component", "chat")})
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	m.channels.Chat = ch
	m.channels.closers = append(m.channels.closers, func() { _ = ch.Close() })
	m.goRun("chat", func() error { return ch.Run(ctx) })
	routers = append(routers, ch)

	if c.EmailOn() {
		em, err := email.New(email.Options{Address: c.Email.Address,
			IMAP: email.IMAPOptions{Addr: c.Email.IMAP.Addr, Username: c.Email.IMAP.Username, Password: c.Email.IMAP.Password,
				Mailbox: c.Email.Mailbox, TLS: c.Email.IMAP.TLS},
			SMTP: email.SMTPOptions{Addr: c.Email.SMTP.Addr, Username: c.Email.SMTP.Username, Password: c.Email.SMTP.Password,
				TLS: c.Email.SMTP.TLS},
			AuthServIDs: c.Email.AuthServIDs,
			Publisher:   m.Bus, Outbound: m.Bus, Store: m.Store, Deliveries: svc, Leases: m.Leases, Logger: log.With("component", "email"),
			Dropped: func(reason string) { m.Metrics.EmailDropped.WithLabelValues(reason).Inc() }})
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		m.channels.Email = em
		m.goRun("email", func() error { return em.Run(ctx) })
	}

	if c.SMSOn() {
		s, err := sms.New(sms.Options{Provider: c.SMS.Provider, From: c.SMS.From, PublicURL: c.PublicURL,
			DefaultRegion: c.SMS.DefaultRegion,
			Twilio:        sms.TwilioOptions{AccountSID: c.SMS.TwilioAccountSID, AuthToken: c.SMS.TwilioAuthToken, APIBase: c.SMS.TwilioAPIBase},
			Elks: sms.ElksOptions{Username: c.SMS.ElksUsername, Password: c.SMS.ElksPassword, APIBase: c.SMS.ElksAPIBase,
				WebhookSecret: c.SMS.ElksWebhookSecret},
			Publisher: m.Bus, Outbound: m.Bus, Store: m.Store, Service: svc, Files: m.files, Intercept: m.CSAT, Logger: log.With("component", "sms")})
		if err != nil {
			return nil, fmt.Errorf("sms: %w", err)
		}
		m.channels.SMS = s
		checks[ticketing.ChannelSMS] = s.CheckReply
		m.goRun("sms", func() error { return s.Run(ctx) })
		routers = append(routers, s)
	}
	return routers, nil
}

// chatHours tells the chat widget whether the shop is open. A shop that
// never set its hours is not announced as closed.
func (m *Main) chatHours(ctx context.Context) (bool, time.Time, error) {
	st, err := m.Hours.Status(ctx, "")
	if err == nil && !st.Configured {
		return true, time.Time{}, nil
	}
	return st.Open, st.NextOpen, err
}

// clientIP is how every per-address limit of the node tells a request's
// client: the TCP peer, or behind SVAR_TRUSTED_PROXIES what they forwarded.
func (m *Main) clientIP() (func(*http.Request) string, error) {
	trusted, err := m.Config.TrustedProxyPrefixes()
	if err != nil {
		return nil, fmt.Errorf("SVAR_TRUSTED_PROXIES: %w", err)
	}
	return web.ClientIP(trusted), nil
}

// phoneNormalizer reads the phone numbers the shop and agents type, in
// national form in region (SVAR_SMS_DEFAULT_REGION) or E.164; short
// codes and sender names are not a customer's phone.
func phoneNormalizer(region string) func(string) (string, error) {
	return func(raw string) (string, error) {
		n, err := sms.NormalizeNumber(raw, region)
		if err != nil {
			return "", errors.New("use E.164, such as +46701234567, or a national number")
		}
		if n.Kind != sms.KindNumber {
			return "", errors.New("a short code or sender name is not a customer's phone")
		}
		return n.Value, nil
	}
}
