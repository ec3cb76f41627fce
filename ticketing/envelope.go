package ticketing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
)

// Limits on what one envelope may carry.
const (
	MaxTextBytes = 256 << 10
	MaxHTMLBytes = 1 << 20
)

// Envelope is one inbound message, normalised by a channel adapter. It is
// what travels on SVAR_INBOUND; the ticketing core turns it into a Message.
type Envelope struct {
	Channel    Channel `json:"channel" validate:"required,oneof=email chat sms"`
	ExternalID string  `json:"external_id" validate:"required,max=998"`
	// From identifies the sender; the adapter vouches for it (a mail's
	// address, a phone number, a chat visitor or a verified shop customer).
	From Identity `json:"from" validate:"required"`
	Name string   `json:"name,omitempty" validate:"max=200"`
	// Claims are identities the sender says are theirs but nobody verified
	// (an email typed into the chat). They are attached to the customer only
	// when no other customer owns them, and never merge two customers.
	Claims      []Identity   `json:"claims,omitempty" validate:"max=5,dive"`
	To          string       `json:"to,omitempty" validate:"max=998"`
	Subject     string       `json:"subject,omitempty" validate:"max=998"`
	Text        string       `json:"text" validate:"max=262144"`
	HTML        string       `json:"html,omitempty" validate:"max=1048576"`
	Attachments []Attachment `json:"attachments,omitempty" validate:"max=100,dive"`
	// Truncated names what the adapter did not import (parts past the MIME
	// caps, attachments over the limits); nil when nothing was left out.
	Truncated *Truncation `json:"truncated,omitempty"`
	// SenderVerified is the adapter's word on whether From is who it says:
	// false when the shop's own receiving server failed it (DMARC, or SPF
	// and DKIM), true when it passed, nil when nobody said.
	SenderVerified *bool       `json:"sender_verified,omitempty"`
	Thread         ThreadHints `json:"thread,omitempty"`
	// Auto marks auto-replies, out-of-office mail and bounces: stored on the
	// customer's ticket but never opening or reopening one.
	Auto       bool   `json:"auto,omitempty"`
	AutoReason string `json:"auto_reason,omitempty" validate:"max=200"`
	// Bounce, when set, reports that an earlier outbound message failed.
	Bounce     *Bounce   `json:"bounce,omitempty"`
	ReceivedAt time.Time `json:"received_at" validate:"required"`
	// ClientID is the chat client's own id for the message.
	ClientID string `json:"client_id,omitempty" validate:"max=100"`
	// Meta holds the channel's extra facts about the message. Keys are
	// short names of letters, digits, '_' and '-' (nothing a store reads as
	// an operator or a path: no '$', '.' or NUL); values are bounded.
	Meta map[string]string `json:"meta,omitempty" validate:"max=30,dive,keys,metakey,endkeys,max=131072"`
}

// ThreadHints are what the channel knows about the conversation a message
// belongs to. They are only trusted for the ticket's own customer.
type ThreadHints struct {
	InReplyTo    string   `json:"in_reply_to,omitempty" validate:"max=998"`
	References   []string `json:"references,omitempty" validate:"max=100,dive,max=998"`
	TicketNumber int64    `json:"ticket_number,omitempty" validate:"min=0"`
	// MessageIDs are Svar message ids the hints resolve to (for example
	// decoded from Svar's own Message-ID headers), in order of preference.
	MessageIDs []string `json:"message_ids,omitempty" validate:"max=100,dive,max=200"`
}

// Bounce reports that an outbound message could not be delivered.
type Bounce struct {
	MessageID string `json:"message_id" validate:"max=200"` // Svar's message id
	Reason    string `json:"reason" validate:"max=2000"`
}

// MessageID returns the deterministic id of the message for an envelope,
// so that inserting it twice is a duplicate-key error: the idempotency check.
func (e *Envelope) MessageID() string { return InboundMessageID(e.Channel, e.ExternalID) }

// InboundMessageID derives a message id from a channel and its external id.
func InboundMessageID(ch Channel, externalID string) string {
	sum := sha256.Sum256([]byte(string(ch) + "\x00" + externalID))
	return "m" + hex.EncodeToString(sum[:12])
}

// DedupeID is the JetStream Nats-Msg-Id for the envelope.
func (e *Envelope) DedupeID() string { return string(e.Channel) + ":" + e.ExternalID }

// Validator validates domain inputs with validator/v10, turning its errors
// into field-naming EInvalid errors. It is safe for concurrent use.
type Validator struct{ v *validator.Validate }

// NewValidator returns a Validator that reports fields by their JSON names.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	if err := v.RegisterValidation("metakey", func(fl validator.FieldLevel) bool {
		return ValidMetaKey(fl.Field().String())
	}); err != nil {
		panic(err) // a programming error: the tag name is fixed
	}
	return &Validator{v: v}
}

// MaxMetaKey is the longest key Meta takes; MaxMetaBytes bounds all its
// keys and values together, so that an envelope stays far below the
// store's 16 MB document limit.
const (
	MaxMetaKey   = 64
	MaxMetaBytes = 512 << 10
)

// ValidMetaKey reports whether k may be a key of Envelope.Meta (and so of
// Message.Meta): 1 to MaxMetaKey ASCII letters, digits, '_' or '-'.
func ValidMetaKey(k string) bool {
	if k == "" || len(k) > MaxMetaKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Struct validates s and returns an *Error naming the first bad field.
func (v *Validator) Struct(s any) error {
	err := v.v.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return Errorf(EInvalid, "invalid input")
	}
	fe := verrs[0]
	field := strings.TrimPrefix(fe.Namespace(), strings.SplitN(fe.Namespace(), ".", 2)[0]+".")
	return FieldError(field, "%s", describe(fe))
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return fmt.Sprintf("must be one of: %s", fe.Param())
	case "max":
		return fmt.Sprintf("must be at most %s (characters or items)", fe.Param())
	case "min":
		return fmt.Sprintf("must be at least %s", fe.Param())
	case "email":
		return "must be an email address"
	case "metakey":
		return fmt.Sprintf("keys must be 1 to %d letters, digits, '_' or '-'", MaxMetaKey)
	default:
		return fmt.Sprintf("failed the %q check", fe.Tag())
	}
}

// Validate checks the envelope's fields and the consistency between them.
func (v *Validator) Validate(e *Envelope) error {
	if err := v.Struct(e); err != nil {
		return err
	}
	metaBytes := 0
	for k, v := range e.Meta {
		metaBytes += len(k) + len(v)
	}
	if metaBytes > MaxMetaBytes {
		return FieldError("meta", "must be at most %d bytes in all", MaxMetaBytes)
	}
	if strings.TrimSpace(e.Text) == "" && strings.TrimSpace(e.HTML) == "" && len(e.Attachments) == 0 && e.Bounce == nil {
		return FieldError("text", "is empty")
	}
	return nil
}
