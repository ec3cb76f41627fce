package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// ProviderElks is SVAR_SMS_PROVIDER's value for 46elks.
const ProviderElks = "46elks"

// 46elks' webhook paths, relative to SVAR_PUBLIC_URL.
const (
	PathElksSMS    = "/webhooks/46elks/sms"
	PathElksStatus = "/webhooks/46elks/status"
)

// elks is the Provider for 46elks.
type elks struct {
	username, password string
	secret             string // SVAR_ELKS_WEBHOOK_SECRET
	apiBase            *url.URL
	publicURL          string
	client             *http.Client
}

func newElks(o ElksOptions, publicURL string, client *http.Client) (*elks, error) {
	base, err := parseBase(o.APIBase, "https://api.46elks.com", "SVAR_ELKS_API_BASE")
	if err != nil {
		return nil, err
	}
	return &elks{username: o.Username, password: o.Password, secret: o.WebhookSecret, apiBase: base, publicURL: publicURL, client: client}, nil
}

func (e *elks) Name() string { return ProviderElks }

// verify checks the webhook's basic auth: any user name, the password
// SVAR_ELKS_WEBHOOK_SECRET. Hashing first keeps the comparison's time
// independent of the guess's length.
func (e *elks) verify(r *http.Request) error {
	_, pass, ok := r.BasicAuth()
	if !ok {
		return &AuthError{Status: http.StatusUnauthorized, Reason: "missing basic auth"}
	}
	got, want := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(e.secret))
	if !hmac.Equal(got[:], want[:]) {
		return &AuthError{Status: http.StatusUnauthorized, Reason: "wrong webhook secret"}
	}
	return nil
}

func (e *elks) Inbound(r *http.Request) (*InboundSMS, error) {
	if err := e.verify(r); err != nil {
		return nil, err
	}
	if err := parseForm(r); err != nil {
		return nil, err
	}
	return parseElksForm(r.PostForm)
}

var elksIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// parseElksForm reads 46elks' inbound SMS parameters.
func parseElksForm(form url.Values) (*InboundSMS, error) {
	in := &InboundSMS{ID: form.Get("id"), From: form.Get("from"), To: form.Get("to"), Text: form.Get("message")}
	if !elksIDPattern.MatchString(in.ID) {
		return nil, ticketing.FieldError("id", "is missing or malformed")
	}
	if in.From == "" {
		return nil, ticketing.FieldError("from", "is missing")
	}
	if c := form.Get("created"); c != "" {
		// 46elks gives UTC as "2018-07-13 13:57:23.741000".
		for _, layout := range []string{"2006-01-02 15:04:05.999999", time.RFC3339Nano} {
			if t, err := time.ParseInLocation(layout, c, time.UTC); err == nil {
				in.ReceivedAt = t
				break
			}
		}
	}
	return in, nil
}

// Accept answers 200 with an empty body: 46elks texts any body it gets
// back to the customer.
func (e *elks) Accept(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }

// statusToken authenticates a delivery report URL for one message, so
// that only the URL Svar gave 46elks can report on that message.
func (e *elks) statusToken(messageID string) string {
	mac := hmac.New(sha256.New, []byte(e.secret))
	mac.Write([]byte("46elks-status\x00" + messageID))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// StatusURL is the whendelivered URL for a message.
func (e *elks) StatusURL(messageID string) string {
	return e.publicURL + PathElksStatus + "?" + url.Values{"m": {messageID}, "t": {e.statusToken(messageID)}}.Encode()
}

func (e *elks) Status(r *http.Request) (*StatusReport, error) {
	q := r.URL.Query()
	m := q.Get("m")
	if m == "" || !hmac.Equal([]byte(q.Get("t")), []byte(e.statusToken(m))) {
		return nil, &AuthError{Status: http.StatusUnauthorized, Reason: "bad or missing delivery report token"}
	}
	if err := parseForm(r); err != nil {
		return nil, err
	}
	return parseElksStatus(m, r.PostForm)
}

func parseElksStatus(messageID string, form url.Values) (*StatusReport, error) {
	rep := &StatusReport{MessageID: messageID, ProviderID: form.Get("id")}
	if !elksIDPattern.MatchString(rep.ProviderID) {
		return nil, ticketing.FieldError("id", "is missing or malformed")
	}
	switch st := form.Get("status"); st {
	case "sent":
		rep.Status = ticketing.DeliverySent
	case "delivered":
		rep.Status = ticketing.DeliveryDelivered
	case "failed":
		rep.Status = ticketing.DeliveryFailed
		rep.Error = "46elks reported failed: the operator could not deliver the message"
	default:
		return nil, nil
	}
	return rep, nil
}

func (e *elks) Send(ctx context.Context, m *OutgoingSMS) (string, error) {
	form := url.Values{"from": {m.From}, "to": {m.To}, "message": {m.Text}}
	if m.StatusURL != "" {
		form.Set("whendelivered", m.StatusURL)
	}
	status, body, err := postForm(ctx, e.client, e.apiBase.JoinPath("a1", "sms").String(), e.username, e.password, form)
	if err != nil {
		return "", fmt.Errorf("46elks: send: %w", err)
	}
	if status < 200 || status > 299 {
		// 46elks explains refusals in plain text.
		return "", &SendError{Provider: ProviderElks, Status: status, Message: cut(strings.TrimSpace(string(body)), maxErrorText)}
	}
	var ok struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.ID == "" {
		return "unknown", nil
	}
	if ok.Status == "failed" {
		return ok.ID, &SendError{Provider: ProviderElks, Status: status, Message: "46elks refused the message (status failed)"}
	}
	return ok.ID, nil
}
