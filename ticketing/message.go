package ticketing

import (
	"strings"
	"time"
)

// Channel is where a message came from or goes to.
type Channel string

// Channels.
const (
	ChannelEmail Channel = "email"
	ChannelChat  Channel = "chat"
	ChannelSMS   Channel = "sms"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	return c == ChannelEmail || c == ChannelChat || c == ChannelSMS
}

// Message directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionNote     = "note"
)

// Author kinds.
const (
	AuthorCustomer = "customer"
	AuthorAgent    = "agent"
	AuthorSystem   = "system"
)

// Delivery statuses of outbound messages.
const (
	DeliveryQueued    = "queued"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Author is who wrote a message.
type Author struct {
	Kind string `json:"kind" bson:"kind"`
	ID   string `json:"id" bson:"id"`
	Name string `json:"name" bson:"name"`
}

// Delivery is the state of an outbound message.
type Delivery struct {
	Status string `json:"status" bson:"status"`
	Error  string `json:"error,omitempty" bson:"error,omitempty"`
	// Channel is the channel that carried it, when a fallback was used.
	Channel    Channel   `json:"channel,omitempty" bson:"channel,omitempty"`
	ProviderID string    `json:"provider_id,omitempty" bson:"provider_id,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero" bson:"updated_at,omitempty"`
}

// Attachment is a file's metadata; the content lives in the blob store.
type Attachment struct {
	Key         string `json:"key" bson:"key" validate:"required,max=200"`
	Filename    string `json:"filename" bson:"filename" validate:"max=255"`
	ContentType string `json:"content_type" bson:"content_type" validate:"max=255"`
	Size        int64  `json:"size" bson:"size" validate:"min=0"`
	// Removed says why the file is gone while the message stays
	// ("retention", ticketing/gdpr); the entry is then a placeholder
	// without a key.
	Removed   string    `json:"removed,omitempty" bson:"removed,omitempty"`
	RemovedAt time.Time `json:"removed_at,omitzero" bson:"removed_at,omitempty"`
}

// Message is one entry of a ticket's timeline.
type Message struct {
	ID          string       `json:"id" bson:"_id"`
	TicketID    string       `json:"ticket_id,omitempty" bson:"ticket_id"`
	CustomerID  string       `json:"customer_id,omitempty" bson:"customer_id"`
	Direction   string       `json:"direction" bson:"direction"`
	Channel     Channel      `json:"channel" bson:"channel"`
	Subject     string       `json:"subject,omitempty" bson:"subject,omitempty"`
	Text        string       `json:"text" bson:"text"`
	HTML        string       `json:"html" bson:"html"`
	Author      Author       `json:"author" bson:"author"`
	CreatedAt   time.Time    `json:"created_at" bson:"created_at"`
	Delivery    *Delivery    `json:"delivery,omitempty" bson:"delivery,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty" bson:"attachments,omitempty"`
	// Truncated names what of an inbound message was not imported, and why.
	Truncated *Truncation `json:"truncated,omitempty" bson:"truncated,omitempty"`
	// SenderVerified is false for an inbound message whose sender failed
	// verification (an email whose receiving server failed DMARC): it may
	// be forged. nil when nothing was checked.
	SenderVerified *bool  `json:"sender_verified,omitempty" bson:"sender_verified,omitempty"`
	ExternalID     string `json:"external_id,omitempty" bson:"external_id,omitempty"`
	ClientID       string `json:"client_id,omitempty" bson:"client_id,omitempty"`
	// Auto marks auto-replies, out-of-office mail and bounces.
	Auto bool `json:"auto,omitempty" bson:"auto,omitempty"`
	// ThreadReason says why the message joined its ticket (for example
	// "in-reply-to", "references", "subject-token", "open-ticket", "new").
	ThreadReason string `json:"thread_reason,omitempty" bson:"thread_reason,omitempty"`
	// Meta holds channel details: email Message-ID, In-Reply-To, raw mail key,
	// SMS segments and so on.
	Meta map[string]string `json:"meta,omitempty" bson:"meta,omitempty"`
}

// FirstLine returns the first non-empty line of s, cut to max runes.
func FirstLine(s string, max int) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > max {
			return string(r[:max-1]) + "…"
		}
		return line
	}
	return ""
}
