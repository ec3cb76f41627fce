package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
)

// Encode is the wire encoding of everything on the bus: JSON without
// HTML escaping (envelopes carry HTML, which escaping would inflate).
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode appends a newline
}

// DecodeEnvelope decodes an envelope as PublishInbound encoded it.
func DecodeEnvelope(data []byte) (*ticketing.Envelope, error) {
	env := new(ticketing.Envelope)
	if err := json.Unmarshal(data, env); err != nil {
		return nil, err
	}
	return env, nil
}

func validToken(s string) bool { return tokenRE.MatchString(s) }

// PublishInbound stores e on SVAR_INBOUND and returns once JetStream has
// acknowledged it. A duplicate (same DedupeID within the dedupe window) is
// success.
func (b *Bus) PublishInbound(ctx context.Context, e *ticketing.Envelope) error {
	if !validToken(string(e.Channel)) {
		return ticketing.FieldError("channel", "is not a valid channel")
	}
	data, err := Encode(e)
	if err != nil {
		return fmt.Errorf("natsbus: publish inbound: encode: %w", err)
	}
	if err := b.publishSync(ctx, b.n.inboundSubj+string(e.Channel), data, e.DedupeID()); err != nil {
		return fmt.Errorf("natsbus: publish inbound %s: %w", e.DedupeID(), err)
	}
	return nil
}

// OutboundDedupeID is the Nats-Msg-Id of an outbound message.
func OutboundDedupeID(o *ticketing.Outbound) string {
	id := "out:" + o.MessageID
	if o.Fallback != "" {
		id += ":" + string(o.Fallback)
	}
	return id
}

// PublishOutbound stores o on SVAR_OUTBOUND under svar.outbound.<channel>,
// deduplicated by message id (and Fallback).
func (b *Bus) PublishOutbound(ctx context.Context, o *ticketing.Outbound) error {
	if !validToken(string(o.Channel)) {
		return ticketing.FieldError("channel", "is not a valid channel")
	}
	if o.MessageID == "" {
		return ticketing.FieldError("message_id", "is required")
	}
	data, err := Encode(o)
	if err != nil {
		return fmt.Errorf("natsbus: publish outbound: encode: %w", err)
	}
	id := OutboundDedupeID(o)
	if err := b.publishSync(ctx, b.n.outboundSubj+string(o.Channel), data, id); err != nil {
		return fmt.Errorf("natsbus: publish outbound %s: %w", id, err)
	}
	return nil
}

func (b *Bus) publishSync(ctx context.Context, subj string, data []byte, msgID string) error {
	ctx, cancel := opContext(ctx)
	defer cancel()
	m := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	// A duplicate's ack has Duplicate set and no error: success.
	_, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID))
	return err
}

// PublishEvent publishes ev on svar.events.<type>. It is asynchronous: it
// returns once the event is on its way, and a failure to store it is
// logged (consoles reload what they missed). It blocks while too many
// events await their acknowledgement, until ctx ends.
func (b *Bus) PublishEvent(ctx context.Context, ev *ticketing.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natsbus: publish event %s: %w", ev.Type, err)
	}
	subj, data, err := b.eventMsg(ev)
	if err != nil {
		return err
	}
	stall := defaultOpTimeout
	if dl, ok := ctx.Deadline(); ok {
		stall = max(time.Until(dl), time.Millisecond)
	}
	if _, err := b.js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data}, jetstream.WithStallWait(stall)); err != nil {
		return fmt.Errorf("natsbus: publish event %s: %w", ev.Type, err)
	}
	return nil
}

// PublishEventSync is PublishEvent that waits for the stored event's
// acknowledgement and returns its sequence.
func (b *Bus) PublishEventSync(ctx context.Context, ev *ticketing.Event) (uint64, error) {
	subj, data, err := b.eventMsg(ev)
	if err != nil {
		return 0, err
	}
	ctx, cancel := opContext(ctx)
	defer cancel()
	ack, err := b.js.Publish(ctx, subj, data)
	if err != nil {
		return 0, fmt.Errorf("natsbus: publish event %s: %w", ev.Type, err)
	}
	return ack.Sequence, nil
}

func (b *Bus) eventMsg(ev *ticketing.Event) (string, []byte, error) {
	if ev.Type == "" || !validTopic(ev.Type) {
		return "", nil, ticketing.FieldError("type", "is not a valid event type")
	}
	// A Seq the caller left set is carried but overwritten on delivery.
	data, err := Encode(ev)
	if err != nil {
		return "", nil, fmt.Errorf("natsbus: publish event %s: encode: %w", ev.Type, err)
	}
	return b.n.evSubj + ev.Type, data, nil
}
