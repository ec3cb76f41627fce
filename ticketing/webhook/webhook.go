// Package webhook tells the shop's other systems what happens in Svar:
// admins register URLs per event type, and each event is POSTed to them
// as JSON, signed with the webhook's secret, at least once and in order
// per ticket (several tickets at once), retried with backoff for 24 hours
// through a durable JetStream feed per webhook that one node at a time
// reads, under the webhook's lease (a node dying mid-delivery loses
// nothing: the next holder takes its events). Targets resolving to
// loopback, private, link-local or metadata addresses are refused, at
// creation and at every connection.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Events a webhook can ask for.
var Events = []string{ticketing.EventTicketCreated, ticketing.EventTicketUpdated, ticketing.EventMessageCreated, ticketing.EventMessageUpdated}

// Limits.
const (
	MaxWebhooks   = 50
	MaxAttempts   = 100 // attempts kept in a webhook's delivery log
	RetryFor      = 24 * time.Hour
	DeliveryLimit = 10 * time.Second // one attempt's time, connecting included
)

// Webhook is one registered receiver.
type Webhook struct {
	ID        string    `json:"id" bson:"_id"`
	URL       string    `json:"url" bson:"url"`
	Events    []string  `json:"events" bson:"events"`
	Secret    string    `json:"-" bson:"secret"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	CreatedBy string    `json:"created_by,omitempty" bson:"created_by,omitempty"`
}

// Attempt is one try at delivering one event.
type Attempt struct {
	EventID   string    `json:"event_id" bson:"event_id"`
	EventType string    `json:"event_type" bson:"event_type"`
	TicketID  string    `json:"ticket_id,omitempty" bson:"ticket_id,omitempty"`
	Attempt   int       `json:"attempt" bson:"attempt"`
	At        time.Time `json:"at" bson:"at"`
	Status    int       `json:"status,omitempty" bson:"status,omitempty"` // the receiver's HTTP status
	Error     string    `json:"error,omitempty" bson:"error,omitempty"`
	OK        bool      `json:"ok" bson:"ok"`
	// GaveUp: the event is older than 24 hours; it is not retried.
	GaveUp     bool  `json:"gave_up,omitempty" bson:"gave_up,omitempty"`
	DurationMS int64 `json:"duration_ms" bson:"duration_ms"`
}

// Payload is the body POSTed for an event.
type Payload struct {
	ID      string             `json:"id"`
	Type    string             `json:"type"`
	At      time.Time          `json:"at"`
	Ticket  *ticketing.Ticket  `json:"ticket"`
	Message *ticketing.Message `json:"message,omitempty"`
}

// Sign returns the Svar-Signature header for body sent at t:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by secret>.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Store keeps webhooks and their delivery logs (ticketing/mongostore, the
// webhooks and webhook_deliveries collections). Webhooks are few (at most
// MaxWebhooks): ListWebhooks reads the whole small collection.
type Store interface {
	InsertWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, id string) (*Webhook, error) // ticketing.ErrNotFound
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	// AddAttempts appends to the webhook's log, in order, keeping the
	// newest max.
	AddAttempts(ctx context.Context, webhookID string, as []Attempt, max int) error
	// Attempts returns the log, newest first.
	Attempts(ctx context.Context, webhookID string) ([]Attempt, error)
}
