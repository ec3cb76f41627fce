package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Provider is an SMS provider's side of the channel: its webhooks in and
// its API out. Twilio and 46elks implement it.
type Provider interface {
	// Name is the provider's name as in SVAR_SMS_PROVIDER.
	Name() string
	// Inbound verifies an inbound-message webhook and parses it. A request
	// that fails verification returns an *AuthError and must be refused
	// without reading further; bad content is a ticketing.FieldError.
	// r.Body is already size-limited.
	Inbound(r *http.Request) (*InboundSMS, error)
	// Accept answers a webhook that Svar has taken, in the form the
	// provider expects (some providers text a reply body back).
	Accept(w http.ResponseWriter)
	// Status verifies and parses a delivery status callback, with the same
	// errors as Inbound. A nil report with a nil error is an interim state
	// that changes nothing (Twilio's "queued" or "sending").
	Status(r *http.Request) (*StatusReport, error)
	// StatusURL is the callback URL, on SVAR_PUBLIC_URL, that the provider
	// reports a message's delivery to.
	StatusURL(messageID string) string
	// Send submits one message and returns the provider's id for it. An
	// error the provider answered is a *SendError; anything else (network,
	// timeout) is worth retrying.
	Send(ctx context.Context, m *OutgoingSMS) (providerID string, err error)
}

// MediaFetcher is implemented by providers whose inbound messages carry
// media by reference (Twilio MMS).
type MediaFetcher interface {
	// FetchMedia downloads one media item, refusing hosts that are not
	// the provider's and bodies over max bytes.
	FetchMedia(ctx context.Context, rawURL string, max int64) (data []byte, contentType string, err error)
}

// InboundSMS is a verified inbound message as the provider gave it.
type InboundSMS struct {
	ID         string // the provider's message id: Twilio MessageSid, 46elks id
	From       string // raw sender
	To         string // the shop's number it was sent to
	Text       string
	ReceivedAt time.Time // zero: the time the webhook arrived
	Media      []Media
}

// Media is a reference to an MMS attachment.
type Media struct {
	URL         string
	ContentType string
}

// StatusReport is a delivery status callback.
type StatusReport struct {
	MessageID  string // Svar's message id, from the callback URL Svar gave
	ProviderID string
	Status     string // ticketing.DeliverySent, DeliveryDelivered or DeliveryFailed
	Error      string // the provider's reason, for failed
}

// OutgoingSMS is one message to send.
type OutgoingSMS struct {
	MessageID string // Svar's message id
	From      string
	To        string // E.164
	Text      string
	// StatusURL is where the provider reports delivery, on SVAR_PUBLIC_URL.
	StatusURL string
	// MediaURLs are files to send as MMS (only to a MediaSender).
	MediaURLs []string
}

// MediaSender is implemented by providers that send MMS media by URL
// (Twilio's MediaUrl); others get attachments as links in the text.
type MediaSender interface {
	SendsMedia() bool
}

// AuthError is a webhook that failed verification.
type AuthError struct {
	Status int // http.StatusForbidden or http.StatusUnauthorized
	Reason string
}

func (e *AuthError) Error() string { return "sms: webhook refused: " + e.Reason }

// SendError is an answer from the provider's API that refused a message.
type SendError struct {
	Provider string
	Status   int    // HTTP status
	Code     string // the provider's error code, if any
	Message  string // the provider's explanation, cut to a sensible length
}

func (e *SendError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Provider, e.Status)
	if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Temporary reports whether trying again later may succeed: server
// errors and rate limits.
func (e *SendError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// retryable reports whether a Send error is worth retrying.
func retryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return true
}

// maxErrorText caps provider error text kept on a message.
const maxErrorText = 500

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// parseBase reads an API base URL option; empty means def.
func parseBase(raw, def, env string) (*url.URL, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sms: %s must be an http(s) URL such as %s, not %q", env, def, raw)
	}
	return u, nil
}

// parseForm parses a webhook's form body once. A body over the route's
// limit is an *http.MaxBytesError; a malformed one a field error.
func parseForm(r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooBig
		}
		return ticketing.FieldError("body", "is not a valid form")
	}
	return nil
}

// maxAPIAnswer caps how much of a provider's API answer is read.
const maxAPIAnswer = 64 << 10

// postForm POSTs form to endpoint with basic auth and returns the
// answer's status and (capped) body. err is a transport failure.
func postForm(ctx context.Context, client *http.Client, endpoint, user, pass string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// The provider took the message; a cut answer must not make us
		// send it again.
		return resp.StatusCode, body, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

var (
	_ Provider     = (*twilio)(nil)
	_ MediaFetcher = (*twilio)(nil)
	_ Provider     = (*elks)(nil)
)
