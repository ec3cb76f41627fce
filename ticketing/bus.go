package ticketing

import (
	"context"
	"errors"
	"time"
)

// Bus is the messaging the core and the adapters share. ticketing/natsbus
// implements it on NATS JetStream; every node connects to the same NATS.
type Bus interface {
	InboundPublisher
	OutboundPublisher
	EventPublisher
	// ConsumeInbound runs the durable, shared inbound consumer until ctx
	// ends, handing batches of envelopes to h. Envelopes h succeeds on are
	// acknowledged; failed ones are redelivered, and after a bounded number
	// of deliveries moved to the dead-letter stream with the reason.
	ConsumeInbound(ctx context.Context, h InboundHandler) error
	// ConsumeOutbound runs the durable outbound consumer of one channel
	// until ctx ends. See OutboundHandler for what its errors mean.
	ConsumeOutbound(ctx context.Context, ch Channel, h OutboundHandler) error
	// SubscribeEvents calls fn, in stream order, for every event after
	// sequence from (0: only new events) until ctx ends. Each node
	// subscribes on its own; every node sees every event.
	SubscribeEvents(ctx context.Context, from uint64, fn func(*Event)) error
	// EventsAfter returns up to max stored events after sequence seq, for
	// consoles catching up after a reconnect.
	EventsAfter(ctx context.Context, seq uint64, max int) ([]*Event, error)
	// LastEventSeq is the newest event's sequence.
	LastEventSeq(ctx context.Context) (uint64, error)
	Relay
	// Ping checks the connection.
	Ping(ctx context.Context) error
}

// InboundPublisher publishes envelopes to SVAR_INBOUND (subject
// svar.inbound.<channel>) with Nats-Msg-Id set to the envelope's DedupeID.
// It returns only when JetStream has stored the envelope; a duplicate is
// not an error. Adapters acknowledge the outside world after it returns.
type InboundPublisher interface {
	PublishInbound(ctx context.Context, e *Envelope) error
}

// InboundHandler processes a batch of envelopes. It returns one error per
// envelope (nil: done, acknowledge). A *PoisonError means the envelope can
// never succeed: it goes straight to the dead-letter stream.
type InboundHandler func(ctx context.Context, envs []*Envelope) []error

// PoisonError marks an input that can never be processed.
type PoisonError struct{ Reason string }

func (e *PoisonError) Error() string { return "poison: " + e.Reason }

// Outbound is an agent's reply on its way to a channel adapter.
type Outbound struct {
	MessageID    string   `json:"message_id"`
	TicketID     string   `json:"ticket_id"`
	TicketNumber int64    `json:"ticket_number"`
	CustomerID   string   `json:"customer_id"`
	Channel      Channel  `json:"channel"`
	To           Identity `json:"to"`
	Subject      string   `json:"subject,omitempty"`
	Text         string   `json:"text"`
	HTML         string   `json:"html,omitempty"`
	AgentName    string   `json:"agent_name,omitempty"`
	// InReplyTo and References are the email headers of the customer's
	// latest message, for threading in their mail client.
	InReplyTo  string    `json:"in_reply_to,omitempty"`
	References []string  `json:"references,omitempty"`
	Auto       bool      `json:"auto,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// Fallback names the channel the reply was first meant for, when it is
	// carried by another (a chat reply mailed to an offline customer).
	Fallback Channel `json:"fallback,omitempty"`
	// Attachments are the reply's files (content in the blob store).
	Attachments []Attachment `json:"attachments,omitempty"`
	// Language is the customer's (CustomerLanguage): it picks the email
	// signature's language.
	Language string `json:"language,omitempty"`
}

// OutboundPublisher publishes to SVAR_OUTBOUND (svar.outbound.<channel>),
// deduplicated by message id (plus Fallback).
type OutboundPublisher interface {
	PublishOutbound(ctx context.Context, o *Outbound) error
}

// OutboundHandler delivers one outbound message; attempt counts from 1.
// nil acknowledges it. A *RetryError asks for redelivery after its delay
// (or the bus's backoff). Any other error is final: the handler has
// reported the failure, and the message is acknowledged.
type OutboundHandler func(ctx context.Context, o *Outbound, attempt int) error

// RetryError asks the bus to deliver the message again later.
type RetryError struct {
	Err   error
	After time.Duration // 0: the bus's backoff for this attempt
}

func (e *RetryError) Error() string { return "retry: " + e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Retry wraps err as a *RetryError.
func Retry(err error, after time.Duration) error { return &RetryError{Err: err, After: after} }

// IsRetry reports whether err asks for a retry.
func IsRetry(err error) bool {
	var r *RetryError
	return errors.As(err, &r)
}

// EventPublisher publishes events on svar.events.<type>, stored in the
// SVAR_EVENTS stream so that consoles can catch up after a reconnect.
type EventPublisher interface {
	PublishEvent(ctx context.Context, ev *Event) error
}

// Relay carries ephemeral, node-to-node payloads: chat replies to
// whichever node holds a visitor's socket, typing and presence. Topics are
// dot-separated tokens of [A-Za-z0-9_-], such as "chat.visitor.<id>".
type Relay interface {
	// Publish sends payload to every subscriber of topic on every node.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Request sends payload to the subscribers of topic and reports whether
	// any of them handled it (their fn returned true) before ctx ended. No
	// subscriber anywhere is (false, nil).
	Request(ctx context.Context, topic string, payload []byte) (bool, error)
	// Subscribe calls fn for each payload on topic on this node until
	// cancel is called. fn's result answers Request.
	Subscribe(topic string, fn func(payload []byte) bool) (cancel func(), err error)
}
