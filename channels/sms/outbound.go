package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// sentKey is the StateStore key of a message's send record.
func sentKey(messageID string) string { return "sms:sent:" + messageID }

// sendRecord is written right after the provider accepted a message, so a
// redelivery after a crash (between the send and the delivery report)
// reports it instead of texting the customer again.
type sendRecord struct {
	MessageID  string    `bson:"message_id" json:"message_id"`
	Provider   string    `bson:"provider" json:"provider"`
	ProviderID string    `bson:"provider_id" json:"provider_id"`
	At         time.Time `bson:"at" json:"at"`
}

// Opted-out recipients get this delivery error.
const optedOutError = "recipient opted out (STOP)"

// afterSendTimeout bounds recording a send that the provider accepted;
// those writes run even when the consumer is shutting down.
const afterSendTimeout = 15 * time.Second

// deliver is the SMS channel's ticketing.OutboundHandler.
func (c *Channel) deliver(ctx context.Context, o *ticketing.Outbound, attempt int) error {
	log := c.log.With("message", o.MessageID, "attempt", attempt)
	msg, err := c.store.GetMessage(ctx, o.MessageID)
	if ticketing.IsNotFound(err) {
		return fmt.Errorf("sms: deliver %s: message not found", o.MessageID)
	}
	if err != nil {
		return ticketing.Retry(fmt.Errorf("sms: deliver %s: %w", o.MessageID, err), 0)
	}
	if d := msg.Delivery; d != nil && (d.Status == ticketing.DeliverySent || d.Status == ticketing.DeliveryDelivered) {
		return nil
	}
	var rec sendRecord
	switch err := c.store.GetState(ctx, sentKey(o.MessageID), &rec); {
	case err == nil:
		// Sent before a crash or a failed report: report, never resend.
		log.Info("sms: already sent; reporting", "provider_id", rec.ProviderID)
		return c.reportSent(ctx, o, rec.ProviderID)
	case !ticketing.IsNotFound(err):
		return ticketing.Retry(fmt.Errorf("sms: deliver %s: read send record: %w", o.MessageID, err), 0)
	}

	if o.To.Kind != ticketing.IdentityPhone {
		return c.fail(ctx, o, fmt.Sprintf("recipient %q is not a phone number", o.To.Key()))
	}
	to, err := NormalizeNumber(o.To.Value, c.region)
	if err != nil || to.Kind != KindNumber {
		return c.fail(ctx, o, fmt.Sprintf("cannot text %q: SMS replies go to phone numbers only, not to short codes or sender names", o.To.Value))
	}
	text, media := c.withFiles(o)
	if _, err := CheckText(text, c.maxSegments); err != nil {
		return c.fail(ctx, o, ticketing.ErrorMessage(err))
	}
	reason, err := c.optedOut(ctx, to.Identity())
	if err != nil {
		return ticketing.Retry(fmt.Errorf("sms: deliver %s: %w", o.MessageID, err), 0)
	}
	if reason != "" {
		log.Info("sms: recipient opted out; not sent", "reason", reason)
		if err := c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliveryFailed, Error: optedOutError}); err != nil {
			return err
		}
		return ticketing.Errorf(ticketing.EOptedOut, "sms: deliver %s: %s", o.MessageID, optedOutError)
	}

	providerID, err := c.provider.Send(ctx, &OutgoingSMS{
		MessageID: o.MessageID, From: c.from, To: to.Value, Text: text, MediaURLs: media,
		StatusURL: c.provider.StatusURL(o.MessageID),
	})
	if err != nil {
		if retryable(err) {
			log.Warn("sms: send failed; will retry", "err", err)
			return ticketing.Retry(fmt.Errorf("sms: deliver %s: %w", o.MessageID, err), 0)
		}
		return c.fail(ctx, o, err.Error())
	}

	// The customer has the message now: record that, even if ctx is ending.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterSendTimeout)
	defer cancel()
	rec = sendRecord{MessageID: o.MessageID, Provider: c.provider.Name(), ProviderID: providerID, At: c.now().UTC()}
	recErr := persist(wctx, func(ctx context.Context) error { return c.store.PutState(ctx, sentKey(o.MessageID), rec) })
	if recErr != nil {
		log.Error("sms: sent, but could not write the send record", "provider_id", providerID, "err", recErr)
	}
	err = persist(wctx, func(ctx context.Context) error {
		_, err := c.svc.ReportDelivery(ctx, o.MessageID, c.delivery(o, ticketing.Delivery{Status: ticketing.DeliverySent, ProviderID: providerID}))
		return err
	})
	switch {
	case err == nil:
		return nil
	case recErr == nil:
		// Redelivery finds the send record and only reports.
		return ticketing.Retry(fmt.Errorf("sms: deliver %s: report sent: %w", o.MessageID, err), 0)
	default:
		// Neither record took: a redelivery would text the customer again.
		// Acknowledge; the log holds the provider's id.
		log.Error("sms: sent, but neither the send record nor the delivery report was stored; not retrying to avoid a second SMS",
			"provider_id", providerID, "err", err)
		return nil
	}
}

// reportSent reports a message the provider accepted earlier.
func (c *Channel) reportSent(ctx context.Context, o *ticketing.Outbound, providerID string) error {
	return c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliverySent, ProviderID: providerID})
}

// fail reports a final failure and returns the plain error that tells the
// bus not to retry.
func (c *Channel) fail(ctx context.Context, o *ticketing.Outbound, reason string) error {
	reason = cut(reason, maxErrorText)
	c.log.Warn("sms: not delivered", "message", o.MessageID, "reason", reason)
	if err := c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliveryFailed, Error: reason}); err != nil {
		return err
	}
	return fmt.Errorf("sms: deliver %s: %s", o.MessageID, reason)
}

// report records a delivery state; a failing core is worth a retry.
func (c *Channel) report(ctx context.Context, o *ticketing.Outbound, d ticketing.Delivery) error {
	if _, err := c.svc.ReportDelivery(ctx, o.MessageID, c.delivery(o, d)); err != nil {
		return ticketing.Retry(fmt.Errorf("sms: deliver %s: report %s: %w", o.MessageID, d.Status, err), 0)
	}
	return nil
}

func (c *Channel) delivery(o *ticketing.Outbound, d ticketing.Delivery) ticketing.Delivery {
	d.UpdatedAt = c.now().UTC()
	if o.Fallback != "" {
		d.Channel = ticketing.ChannelSMS
	}
	return d
}

// persist runs a write that must not be lost up to three times, backing
// off briefly between tries.
func persist(ctx context.Context, write func(context.Context) error) error {
	var err error
	for i, wait := range []time.Duration{0, 200 * time.Millisecond, time.Second} {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		if err = write(ctx); err == nil {
			return nil
		}
	}
	return err
}

// withFiles returns the text and MMS media of a reply with attachments:
// signed download links as media where the provider sends MMS, else the
// links at the end of the text.
func (c *Channel) withFiles(o *ticketing.Outbound) (string, []string) {
	if len(o.Attachments) == 0 || c.files == nil {
		return o.Text, nil
	}
	ms, ok := c.provider.(MediaSender)
	var media []string
	text := strings.TrimRight(o.Text, "\n ")
	for _, a := range o.Attachments {
		u := c.files.URL(a.Key)
		if ok && ms.SendsMedia() && len(media) < 10 {
			media = append(media, u)
			continue
		}
		if text != "" {
			text += "\n"
		}
		text += a.Filename + ": " + u
	}
	return text, media
}
