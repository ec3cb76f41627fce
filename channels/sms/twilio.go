package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// ProviderTwilio is SVAR_SMS_PROVIDER's value for Twilio.
const ProviderTwilio = "twilio"

// Twilio's webhook paths, relative to SVAR_PUBLIC_URL.
const (
	PathTwilioSMS    = "/webhooks/twilio/sms"
	PathTwilioStatus = "/webhooks/twilio/status"
)

// twilioMaxMedia is the most media Twilio attaches to one MMS.
const twilioMaxMedia = 10

// twilio is the Provider for Twilio's Programmable Messaging.
type twilio struct {
	sid, token string
	apiBase    *url.URL // https://api.twilio.com, or a test's fake
	publicURL  string   // SVAR_PUBLIC_URL without a trailing slash
	client     *http.Client
	media      *http.Client // client, but refusing redirects off Twilio's hosts
}

func newTwilio(o TwilioOptions, publicURL string, client *http.Client) (*twilio, error) {
	base, err := parseBase(o.APIBase, "https://api.twilio.com", "SVAR_TWILIO_API_BASE")
	if err != nil {
		return nil, err
	}
	t := &twilio{sid: o.AccountSID, token: o.AuthToken, apiBase: base, publicURL: publicURL, client: client}
	media := *client
	media.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !t.mediaHost(req.URL) {
			return fmt.Errorf("redirect to %s is not a Twilio media host", req.URL.Host)
		}
		return nil
	}
	t.media = &media
	return t, nil
}

func (t *twilio) Name() string { return ProviderTwilio }

// Signature computes X-Twilio-Signature for a POST to fullURL with the
// form parameters: base64 HMAC-SHA1, keyed with the auth token, of the URL
// followed by each parameter's name and value, sorted by name (and, for a
// repeated name, by value).
func twilioSignature(token, fullURL string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(token))
	io.WriteString(mac, fullURL)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := append([]string(nil), form[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			io.WriteString(mac, k)
			io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks X-Twilio-Signature against the URL Twilio called, which is
// SVAR_PUBLIC_URL followed by the path and query this server saw.
func (t *twilio) verify(r *http.Request) error {
	got := r.Header.Get("X-Twilio-Signature")
	if got == "" {
		return &AuthError{Status: http.StatusForbidden, Reason: "missing X-Twilio-Signature"}
	}
	if err := parseForm(r); err != nil {
		return err
	}
	want := twilioSignature(t.token, t.publicURL+r.URL.RequestURI(), r.PostForm)
	if !hmac.Equal([]byte(got), []byte(want)) {
		return &AuthError{Status: http.StatusForbidden, Reason: "bad X-Twilio-Signature (is SVAR_PUBLIC_URL the URL Twilio calls?)"}
	}
	return nil
}

func (t *twilio) Inbound(r *http.Request) (*InboundSMS, error) {
	if err := t.verify(r); err != nil {
		return nil, err
	}
	return parseTwilioForm(r.PostForm)
}

var twilioSIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// parseTwilioForm reads Twilio's inbound message parameters.
func parseTwilioForm(form url.Values) (*InboundSMS, error) {
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsMessageSid")
	}
	if !twilioSIDPattern.MatchString(sid) {
		return nil, ticketing.FieldError("MessageSid", "is missing or malformed")
	}
	in := &InboundSMS{ID: sid, From: form.Get("From"), To: form.Get("To"), Text: form.Get("Body")}
	if in.From == "" {
		return nil, ticketing.FieldError("From", "is missing")
	}
	n := 0
	if s := form.Get("NumMedia"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 0 || n > twilioMaxMedia {
			return nil, ticketing.FieldError("NumMedia", "must be 0 to %d", twilioMaxMedia)
		}
	}
	for i := range n {
		u := form.Get("MediaUrl" + strconv.Itoa(i))
		if u == "" {
			continue
		}
		in.Media = append(in.Media, Media{URL: u, ContentType: form.Get("MediaContentType" + strconv.Itoa(i))})
	}
	return in, nil
}

func (t *twilio) Accept(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<Response/>")
}

// StatusURL is the StatusCallback for a message; Twilio signs its
// callbacks over this whole URL.
func (t *twilio) StatusURL(messageID string) string {
	return t.publicURL + PathTwilioStatus + "?" + url.Values{"m": {messageID}}.Encode()
}

func (t *twilio) Status(r *http.Request) (*StatusReport, error) {
	if err := t.verify(r); err != nil {
		return nil, err
	}
	return parseTwilioStatus(r.URL.Query().Get("m"), r.PostForm)
}

func parseTwilioStatus(messageID string, form url.Values) (*StatusReport, error) {
	if messageID == "" {
		return nil, ticketing.FieldError("m", "is missing from the callback URL")
	}
	sid := form.Get("MessageSid")
	if !twilioSIDPattern.MatchString(sid) {
		return nil, ticketing.FieldError("MessageSid", "is missing or malformed")
	}
	rep := &StatusReport{MessageID: messageID, ProviderID: sid}
	switch st := form.Get("MessageStatus"); st {
	case "sent":
		rep.Status = ticketing.DeliverySent
	case "delivered", "read":
		rep.Status = ticketing.DeliveryDelivered
	case "undelivered", "failed":
		rep.Status = ticketing.DeliveryFailed
		rep.Error = "Twilio reported " + st
		if code := form.Get("ErrorCode"); code != "" {
			rep.Error += " (error " + cut(code, 20) + ")"
		}
		if msg := form.Get("ErrorMessage"); msg != "" {
			rep.Error += ": " + cut(msg, maxErrorText)
		}
	default:
		// accepted, queued, sending, scheduled, canceled: nothing to record.
		return nil, nil
	}
	return rep, nil
}

// SendsMedia: Twilio takes MMS media as MediaUrl parameters it fetches.
func (t *twilio) SendsMedia() bool { return true }

func (t *twilio) Send(ctx context.Context, m *OutgoingSMS) (string, error) {
	form := url.Values{"To": {m.To}, "From": {m.From}, "Body": {m.Text}}
	for _, u := range m.MediaURLs {
		form.Add("MediaUrl", u)
	}
	if m.StatusURL != "" {
		form.Set("StatusCallback", m.StatusURL)
	}
	endpoint := t.apiBase.JoinPath("2010-04-01", "Accounts", t.sid, "Messages.json").String()
	status, body, err := postForm(ctx, t.client, endpoint, t.sid, t.token, form)
	if err != nil {
		return "", fmt.Errorf("twilio: send: %w", err)
	}
	if status < 200 || status > 299 {
		se := &SendError{Provider: ProviderTwilio, Status: status}
		var e struct {
			Code    json.Number `json:"code"`
			Message string      `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			se.Code, se.Message = e.Code.String(), cut(e.Message, maxErrorText)
		} else {
			se.Message = cut(strings.TrimSpace(string(body)), maxErrorText)
		}
		return "", se
	}
	var ok struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.SID == "" {
		// Accepted, but the answer is odd: the message is out, so do not
		// retry; keep what we can.
		return "unknown", nil
	}
	return ok.SID, nil
}

// mediaHost reports whether u may be fetched with the account's
// credentials: Twilio's API and media CDN over HTTPS, or the configured
// API base (a test's fake).
func (t *twilio) mediaHost(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if u.Scheme == t.apiBase.Scheme && strings.EqualFold(u.Host, t.apiBase.Host) {
		return true
	}
	return u.Scheme == "https" && (host == "api.twilio.com" || strings.HasSuffix(host, ".twiliocdn.com"))
}

func (t *twilio) FetchMedia(ctx context.Context, rawURL string, max int64) ([]byte, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !t.mediaHost(u) || u.User != nil {
		return nil, "", fmt.Errorf("twilio: media URL %q is not on a Twilio media host", cut(rawURL, 100))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("twilio: media request: %w", err)
	}
	req.SetBasicAuth(t.sid, t.token)
	resp, err := t.media.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("twilio: fetch media: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("twilio: fetch media: HTTP %d", resp.StatusCode)
	}
	if resp.ContentLength > max {
		return nil, "", fmt.Errorf("twilio: media is %d bytes, over the %d byte limit", resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, "", fmt.Errorf("twilio: read media: %w", err)
	}
	if int64(len(data)) > max {
		return nil, "", fmt.Errorf("twilio: media is over the %d byte limit", max)
	}
	return data, resp.Header.Get("Content-Type"), nil
}
