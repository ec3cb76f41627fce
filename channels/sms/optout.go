package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Keywords that, as a whole message, opt a number out of SMS or back in.
// Case and surrounding spaces or punctuation do not matter.
var (
	optOutKeywords = []string{"STOP", "STOPP", "STOPPA", "AVSLUTA", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT"}
	optInKeywords  = []string{"START", "STARTA", "UNSTOP"}
)

// optOutKey is the StateStore key of a number's opt-out. It is kept
// beside the customer's OptOuts because the customer may not exist yet
// when their first SMS is STOP.
func optOutKey(number string) string { return "sms:optout:" + number }

// optOutRecord is stored at optOutKey.
type optOutRecord struct {
	Number  string    `bson:"number" json:"number"`
	Keyword string    `bson:"keyword" json:"keyword"`
	Reason  string    `bson:"reason" json:"reason"`
	At      time.Time `bson:"at" json:"at"`
}

// keyword returns the opt-out or opt-in keyword text consists of, if any.
func keyword(text string) (kw string, optOut, optIn bool) {
	s := strings.ToUpper(strings.Trim(text, " \t\r\n.!"))
	for _, k := range optOutKeywords {
		if s == k {
			return k, true, false
		}
	}
	for _, k := range optInKeywords {
		if s == k {
			return k, false, true
		}
	}
	return "", false, false
}

// applyKeyword records an opt-out or opt-in the message asks for, on the
// number's state document and on its customer if there is one. The
// message is still ingested, so agents see why.
func (c *Channel) applyKeyword(ctx context.Context, env *ticketing.Envelope) error {
	kw, out, in := keyword(env.Text)
	switch {
	case out:
		rec := optOutRecord{Number: env.From.Value, Keyword: kw, At: env.ReceivedAt.UTC()}
		rec.Reason = fmt.Sprintf("%s at %s", kw, rec.At.Format(time.RFC3339))
		err := c.store.InsertState(ctx, optOutKey(rec.Number), rec)
		if errors.Is(err, ticketing.ErrDuplicate) || ticketing.ErrorCode(err) == ticketing.EConflict {
			// A replay, or STOP twice: the first one stands.
			if err = c.store.GetState(ctx, optOutKey(rec.Number), &rec); err != nil {
				return fmt.Errorf("sms: read opt-out: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("sms: record opt-out: %w", err)
		}
		env.Meta["sms_opt_out"] = rec.Reason
		return c.patchOptOut(ctx, env.From, rec.Reason)
	case in:
		if err := c.store.DeleteState(ctx, optOutKey(env.From.Value)); err != nil && !ticketing.IsNotFound(err) {
			return fmt.Errorf("sms: clear opt-out: %w", err)
		}
		env.Meta["sms_opt_in"] = kw
		return c.patchOptOut(ctx, env.From, "")
	}
	return nil
}

// patchOptOut sets (reason) or clears ("") the customer's SMS opt-out, if
// the number has a customer and the state differs.
func (c *Channel) patchOptOut(ctx context.Context, id ticketing.Identity, reason string) error {
	cust, err := c.svc.CustomerByIdentity(ctx, id.Key())
	if ticketing.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sms: find customer: %w", err)
	}
	if cust.OptOuts[string(ticketing.ChannelSMS)] == reason {
		return nil
	}
	if _, err := c.svc.PatchCustomer(ctx, cust.ID, ticketing.CustomerPatch{
		OptOut: map[string]string{string(ticketing.ChannelSMS): reason},
	}); err != nil {
		return fmt.Errorf("sms: patch customer opt-out: %w", err)
	}
	return nil
}

// optedOut reports why a number must not be texted, or "" if it may be:
// an opt-out recorded for the number, or one on its customer (set by an
// agent, or by a STOP that arrived before the customer existed and was
// copied since).
func (c *Channel) optedOut(ctx context.Context, to ticketing.Identity) (string, error) {
	var rec optOutRecord
	err := c.store.GetState(ctx, optOutKey(to.Value), &rec)
	if err != nil && !ticketing.IsNotFound(err) {
		return "", fmt.Errorf("sms: read opt-out: %w", err)
	}
	stateReason := ""
	if err == nil {
		stateReason = rec.Reason
		if stateReason == "" {
			stateReason = "opted out"
		}
	}
	cust, err := c.svc.CustomerByIdentity(ctx, to.Key())
	switch {
	case ticketing.IsNotFound(err):
		return stateReason, nil
	case err != nil:
		if stateReason != "" {
			return stateReason, nil
		}
		return "", fmt.Errorf("sms: find customer: %w", err)
	}
	if r := cust.OptOuts[string(ticketing.ChannelSMS)]; r != "" {
		return r, nil
	}
	if stateReason != "" {
		// The STOP came before the customer existed: show it on the
		// profile now. Failing to is not worth holding the answer up.
		if _, err := c.svc.PatchCustomer(ctx, cust.ID, ticketing.CustomerPatch{
			OptOut: map[string]string{string(ticketing.ChannelSMS): stateReason},
		}); err != nil {
			c.log.Warn("sms: could not copy opt-out to customer", "customer", cust.ID, "err", err)
		}
	}
	return stateReason, nil
}
