package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// mediaTimeout bounds fetching one message's media: providers give up on
// a webhook after about 15 seconds.
const mediaTimeout = 10 * time.Second

// handleInbound takes an inbound message webhook: verify, normalise,
// record opt-outs, publish, and only then answer 200.
func (c *Channel) handleInbound(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	in, err := c.provider.Inbound(r)
	if err != nil {
		c.refuse(w, r, err)
		return
	}
	env, err := c.envelope(ctx, in)
	if err != nil {
		if ticketing.ErrorCode(err) == ticketing.EInvalid {
			c.refuse(w, r, err)
			return
		}
		c.unavailable(w, r, "store media", err)
		return
	}
	if err := c.validator.Validate(env); err != nil {
		if len(in.Media) == 0 && strings.TrimSpace(env.Text) == "" {
			// An empty SMS says nothing; retrying will not change that.
			c.log.Info("sms: ignored an empty message", "provider", c.provider.Name(), "id", in.ID)
			c.provider.Accept(w)
			return
		}
		c.refuse(w, r, err)
		return
	}
	if ic := c.intercept; ic != nil && len(env.Attachments) == 0 {
		taken, err := ic.InterceptSMS(ctx, env.From, env.Text)
		if err != nil {
			c.unavailable(w, r, "intercept", err)
			return
		}
		if taken {
			c.provider.Accept(w)
			return
		}
	}
	if err := c.applyKeyword(ctx, env); err != nil {
		c.unavailable(w, r, "record opt-out", err)
		return
	}
	if err := c.pub.PublishInbound(ctx, env); err != nil {
		c.unavailable(w, r, "publish", err)
		return
	}
	c.provider.Accept(w)
}

// envelope turns a verified inbound message into an Envelope, fetching
// and storing its media. A field error means the message can never be
// taken; any other error is the store's and worth a retry.
func (c *Channel) envelope(ctx context.Context, in *InboundSMS) (*ticketing.Envelope, error) {
	from, err := NormalizeNumber(in.From, c.region)
	if err != nil {
		return nil, err
	}
	received := in.ReceivedAt
	if received.IsZero() {
		received = c.now()
	}
	text := strings.ToValidUTF8(in.Text, "\uFFFD")
	env := &ticketing.Envelope{
		Channel:    ticketing.ChannelSMS,
		ExternalID: in.ID,
		From:       from.Identity(),
		To:         cut(strings.ToValidUTF8(in.To, ""), 100),
		Text:       text,
		ReceivedAt: received.UTC(),
		Meta: map[string]string{
			"sms_provider":    c.provider.Name(),
			"sms_sender_kind": from.Kind,
		},
	}
	if raw := strings.TrimSpace(in.From); raw != from.Value {
		env.Meta["sms_from_raw"] = cut(raw, 40)
	}
	if n, enc := Segments(text); n > 0 {
		env.Meta["sms_segments"], env.Meta["sms_encoding"] = strconv.Itoa(n), enc
	}
	if len(in.Media) > 0 {
		skipped, err := c.attachMedia(ctx, in, env)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			env.Meta["sms_media_skipped"] = strconv.Itoa(skipped)
			note := fmt.Sprintf("[%d MMS attachment(s) could not be fetched]", skipped)
			env.Text = strings.TrimSpace(env.Text + "\n\n" + note)
		}
	}
	return env, nil
}

// attachMedia fetches the message's media with the provider's
// credentials and stores each item as a blob under a key derived from the
// message, so a replay overwrites rather than duplicates. Media that
// cannot be fetched (wrong host, too big, gone) is skipped and counted; a
// failing blob store is an error.
func (c *Channel) attachMedia(ctx context.Context, in *InboundSMS, env *ticketing.Envelope) (skipped int, err error) {
	f, ok := c.provider.(MediaFetcher)
	if !ok {
		return len(in.Media), nil
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	for i, m := range in.Media {
		data, ctype, err := f.FetchMedia(ctx, m.URL, c.maxMedia)
		if err != nil {
			c.log.Warn("sms: skipped MMS media", "provider", c.provider.Name(), "id", in.ID, "index", i, "err", err)
			skipped++
			continue
		}
		if mt, _, perr := mime.ParseMediaType(ctype); perr == nil {
			ctype = mt
		} else if mt, _, perr := mime.ParseMediaType(m.ContentType); perr == nil {
			ctype = mt
		} else {
			ctype = "application/octet-stream"
		}
		name := "media-" + strconv.Itoa(i+1)
		if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
			name += exts[0]
		}
		key := "sms/" + c.provider.Name() + "/" + in.ID + "/" + strconv.Itoa(i)
		blob := &ticketing.Blob{Key: key, Filename: name, ContentType: ctype, Data: data, CreatedAt: c.now().UTC()}
		if err := c.store.PutBlob(ctx, blob); err != nil {
			return 0, fmt.Errorf("sms: store media %s: %w", key, err)
		}
		env.Attachments = append(env.Attachments, ticketing.Attachment{
			Key: key, Filename: name, ContentType: ctype, Size: int64(len(data)),
		})
	}
	return skipped, nil
}

// handleStatus takes a delivery status callback and reports it to the
// core, which updates the message and tells the consoles.
func (c *Channel) handleStatus(w http.ResponseWriter, r *http.Request) {
	rep, err := c.provider.Status(r)
	if err != nil {
		c.refuse(w, r, err)
		return
	}
	if rep != nil {
		_, err := c.svc.ReportDelivery(r.Context(), rep.MessageID, ticketing.Delivery{
			Status: rep.Status, Error: rep.Error, ProviderID: rep.ProviderID, UpdatedAt: c.now().UTC(),
		})
		switch code := ticketing.ErrorCode(err); {
		case err == nil:
		case code == ticketing.ENotFound || code == ticketing.EInvalid || code == ticketing.EConflict:
			// Nothing a retry would change.
			c.log.Info("sms: delivery report not applied", "provider", c.provider.Name(),
				"message", rep.MessageID, "status", rep.Status, "err", err)
		default:
			c.unavailable(w, r, "report delivery", err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// refuse answers a webhook Svar will not take, logging why but never the
// body (it holds a customer's message).
func (c *Channel) refuse(w http.ResponseWriter, r *http.Request, err error) {
	attrs := []any{"provider", c.provider.Name(), "path", r.URL.Path, "remote", r.RemoteAddr}
	var auth *AuthError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &auth):
		c.log.Warn("sms: webhook refused", append(attrs, "reason", auth.Reason)...)
		if auth.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="svar"`)
		}
		writeError(w, auth.Status, ticketing.EUnauthorized, "webhook authentication failed")
	case errors.As(err, &tooBig):
		c.log.Warn("sms: webhook body too large", append(attrs, "limit", tooBig.Limit)...)
		writeError(w, http.StatusRequestEntityTooLarge, ticketing.ETooLarge, "request body too large")
	case ticketing.ErrorCode(err) == ticketing.EInvalid:
		c.log.Warn("sms: webhook not taken", append(attrs, "err", err)...)
		writeError(w, http.StatusBadRequest, ticketing.EInvalid, ticketing.ErrorMessage(err))
	default:
		c.unavailable(w, r, "read webhook", err)
	}
}

// unavailable answers 503 so that the provider tries again.
func (c *Channel) unavailable(w http.ResponseWriter, r *http.Request, op string, err error) {
	c.log.Error("sms: webhook failed; the provider will retry", "provider", c.provider.Name(),
		"path", r.URL.Path, "op", op, "err", err)
	writeError(w, http.StatusServiceUnavailable, ticketing.EUnavailable, "temporarily unavailable, try again")
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, msg
	json.NewEncoder(w).Encode(body)
}
