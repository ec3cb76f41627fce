package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mailsettings"
)

// sendRecord is the state document email:sent:<message id>. It is written
// as "sending" just before the end of the mail's data (the final "."),
// and as "sent" once the SMTP server accepted it. A redelivered reply whose
// record says sent is reported, not sent again; one that says sending may
// have been accepted (the session broke, or the node stopped, between the
// final "." and the server's answer) and is never sent again by itself.
type sendRecord struct {
	At        time.Time `bson:"at" json:"at"`
	MessageID string    `bson:"message_id" json:"message_id"` // the Message-ID header
	// State is sendSending or sendSent; records from before it existed
	// (empty) were written after the server's acceptance.
	State string `bson:"state,omitempty" json:"state,omitempty"`
}

// Send record states.
const (
	sendSending = "sending"
	sendSent    = "sent"
)

// errUnconfirmed is why a reply that may have gone out is not sent again.
const errUnconfirmed = "unconfirmed: the connection to the SMTP server broke after the whole mail was handed over, " +
	"before the server confirmed it, so it may or may not have been delivered. Svar does not send it again by itself " +
	"(the customer would get it twice); send it again if the customer did not get it"

func sendKey(messageID string) string { return "email:sent:" + messageID }

// HandleOutbound delivers one reply over SMTP. It is the channel's
// ticketing.OutboundHandler: nil when the reply was sent (or had been),
// a retry for temporary failures (4xx, network, the store), and a plain
// error after reporting the reply failed for permanent ones (5xx, no
// address).
func (c *Channel) HandleOutbound(ctx context.Context, o *ticketing.Outbound, attempt int) error {
	log := c.log.With("message_id", o.MessageID, "ticket", o.TicketID, "attempt", attempt)
	m, err := c.o.Store.GetMessage(ctx, o.MessageID)
	switch {
	case err == nil:
		if m.Delivery != nil && (m.Delivery.Status == ticketing.DeliverySent || m.Delivery.Status == ticketing.DeliveryDelivered) {
			log.Debug("email: reply already sent")
			return nil
		}
	case ticketing.IsNotFound(err):
		log.Warn("email: reply not in the store; sending it anyway")
	default:
		return ticketing.Retry(errorf("read message "+o.MessageID, err), 0)
	}

	var rec sendRecord
	switch err := c.o.Store.GetState(ctx, sendKey(o.MessageID), &rec); {
	case err == nil && rec.State == sendSending:
		log.Warn("email: an earlier attempt may have sent the reply; not sending it again")
		return c.fail(ctx, o, errUnconfirmed)
	case err == nil:
		log.Info("email: reply was sent before; reporting it")
		return c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliverySent, Channel: ticketing.ChannelEmail, ProviderID: rec.MessageID})
	case !ticketing.IsNotFound(err):
		return ticketing.Retry(errorf("read send record", err), 0)
	}

	to := ""
	if o.To.Kind == ticketing.IdentityEmail {
		if a, err := mail.ParseAddress(o.To.Value); err == nil {
			to = a.Address
		}
	}
	if to == "" {
		reason := fmt.Sprintf("no email address to send to (%s)", o.To.Key())
		return c.fail(ctx, o, reason)
	}
	x, err := c.extras(ctx, o)
	if err != nil {
		var perm *permanentError
		if errors.As(err, &perm) {
			return c.fail(ctx, o, err.Error())
		}
		return ticketing.Retry(err, 0)
	}
	raw, mid, err := c.compose(o, to, x)
	if err != nil {
		return c.fail(ctx, o, "the reply could not be composed: "+err.Error())
	}
	if err := c.send(ctx, to, raw, sendKey(o.MessageID), mid); err != nil {
		var perm *permanentError
		var unsure *unconfirmedError
		if errors.As(err, &unsure) {
			log.Warn("email: the SMTP session broke before the server confirmed the reply; not retrying", "err", err)
			return c.fail(ctx, o, errUnconfirmed)
		}
		if errors.As(err, &perm) {
			log.Warn("email: the SMTP server refused the reply", "err", err)
			return c.fail(ctx, o, perm.Error())
		}
		log.Warn("email: sending failed; will retry", "err", err)
		return ticketing.Retry(err, 0)
	}
	if err := c.o.Store.PutState(ctx, sendKey(o.MessageID), sendRecord{At: c.now().UTC(), MessageID: mid, State: sendSent}); err != nil {
		log.Error("email: reply sent but its send record was not saved", "err", err)
	}
	log.Info("email: reply sent", "to", to)
	return c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliverySent, Channel: ticketing.ChannelEmail, ProviderID: mid})
}

// report records a delivery report; a failing reporter is retried (the
// send record keeps the reply from going out again).
func (c *Channel) report(ctx context.Context, o *ticketing.Outbound, d ticketing.Delivery) error {
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = c.now().UTC()
	}
	_, err := c.o.Deliveries.ReportDelivery(ctx, o.MessageID, d)
	if err != nil && !ticketing.IsNotFound(err) {
		return ticketing.Retry(errorf("report delivery of "+o.MessageID, err), 0)
	}
	return nil
}

// fail reports the reply failed and returns the final error.
func (c *Channel) fail(ctx context.Context, o *ticketing.Outbound, reason string) error {
	if err := c.report(ctx, o, ticketing.Delivery{Status: ticketing.DeliveryFailed, Error: clip(reason, 1000), Channel: ticketing.ChannelEmail}); err != nil {
		return err
	}
	return fmt.Errorf("email: reply %s failed: %s", o.MessageID, reason)
}

// permanentError is an SMTP refusal that no retry will change (5xx to
// MAIL, RCPT or DATA).
type permanentError struct{ err *smtp.SMTPError }

func (e *permanentError) Error() string {
	return fmt.Sprintf("%d %s", e.err.Code, strings.TrimSpace(e.err.Message))
}

// unconfirmedError is a session that broke after the whole mail and its
// final "." were handed over, before the server answered: the server may
// have accepted it. Retrying could deliver it twice.
type unconfirmedError struct{ err error }

func (e *unconfirmedError) Error() string { return "SMTP end of data: " + e.err.Error() }
func (e *unconfirmedError) Unwrap() error { return e.err }

// send delivers raw to one recipient. Failures before MAIL FROM
// (connecting, TLS, authentication) are always temporary: they are the
// server's or the configuration's, not the reply's, and must not mark
// every reply failed. 5xx answers to MAIL, RCPT and DATA are permanent.
//
// After the mail's data and before its final ".", the send record at key
// is written as sending: from there on the server may accept the mail. A
// failure to write it aborts the session without the "." (nothing is
// sent). When the server answers the "." with an error, the record is taken
// back (the mail was refused, so a retry may send it); when no answer
// comes, the error is an *unconfirmedError and the record stays.
func (c *Channel) send(ctx context.Context, to string, raw []byte, key, mid string) error {
	client, err := c.dialSMTP(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()

	classify := func(op string, err error) error {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return &permanentError{err: se}
		}
		return errorf("SMTP "+op, err)
	}
	if err := client.Mail(c.addr, nil); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := client.Rcpt(to, nil); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := client.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return errorf("SMTP write", err)
	}
	if err := c.o.Store.PutState(ctx, key, sendRecord{At: c.now().UTC(), MessageID: mid, State: sendSending}); err != nil {
		return errorf("record the send before the end of data", err) // Close without the final "."
	}
	if err := w.Close(); err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			return &unconfirmedError{err: err}
		}
		if derr := c.o.Store.DeleteState(ctx, key); derr != nil {
			c.log.Error("email: the server refused a reply but its send record could not be taken back", "err", derr)
		}
		return classify("DATA", err)
	}
	_ = client.Quit()
	return nil
}

// dialSMTP connects, says hello, upgrades to TLS and authenticates.
func (c *Channel) dialSMTP(ctx context.Context) (*smtp.Client, error) {
	o := c.o.SMTP
	d := &net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	var err error
	if o.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsConfig(o.TLSConfig, o.Addr)}).DialContext(ctx, "tcp", o.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", o.Addr)
	}
	if err != nil {
		return nil, errorf("SMTP connect "+o.Addr, err)
	}
	var client *smtp.Client
	if o.TLS == TLSStartTLS {
		client, err = smtp.NewClientStartTLS(conn, tlsConfig(o.TLSConfig, o.Addr))
		if err != nil {
			conn.Close()
			return nil, errorf("SMTP STARTTLS (set SVAR_SMTP_TLS=tls if the server expects TLS from the start)", err)
		}
	} else {
		client = smtp.NewClient(conn)
	}
	client.CommandTimeout = time.Minute
	if err := client.Hello(c.domain); err != nil {
		client.Close()
		return nil, errorf("SMTP EHLO", err)
	}
	if o.Username != "" {
		if err := client.Auth(sasl.NewPlainClient("", o.Username, o.Password)); err != nil {
			client.Close()
			return nil, errorf("SMTP AUTH as "+o.Username, err)
		}
	}
	return client, nil
}

// compose builds the reply mail: multipart/alternative with the text
// (ending with the signature) and simple HTML made from it, inside
// multipart/mixed with the attachments when there are any; From
// "<from name>" <support address>, Svar's own fixed Message-ID, threading
// headers and the [#number] subject token. It returns the mail and its
// Message-ID.
func (c *Channel) compose(o *ticketing.Outbound, to string, x composeExtras) ([]byte, string, error) {
	var h mail.Header
	from := &mail.Address{Name: x.fromName, Address: c.addr}
	if from.Name == "" {
		from.Name = c.name
	}
	h.SetAddressList("From", []*mail.Address{from})
	h.SetAddressList("To", []*mail.Address{{Address: to}})
	h.SetSubject(replySubject(o.Subject, o.TicketNumber))
	date := o.CreatedAt
	if date.IsZero() {
		date = c.now()
	}
	h.SetDate(date)
	mid := ownMessageID(o.MessageID, c.domain)
	h.SetMessageID(strings.Trim(mid, "<>"))
	refs := threadRefs(o.InReplyTo, o.References)
	if irt := firstMsgID(o.InReplyTo); irt != "" {
		h.SetMsgIDList("In-Reply-To", []string{strings.Trim(irt, "<>")})
	}
	if len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	if o.Auto {
		h.Set("Auto-Submitted", "auto-replied")
	}
	h.Set("X-Svar-Message-Id", o.MessageID)
	if o.TicketNumber > 0 {
		h.Set("X-Svar-Ticket", fmt.Sprint(o.TicketNumber))
	}

	var buf bytes.Buffer
	var mixed *mail.Writer
	var w *mail.InlineWriter
	var err error
	if len(x.files) > 0 {
		if mixed, err = mail.CreateWriter(&buf, h); err == nil {
			w, err = mixed.CreateInline()
		}
	} else {
		w, err = mail.CreateInlineWriter(&buf, h)
	}
	if err != nil {
		return nil, "", err
	}
	text := mailsettings.AppendSignature(strings.ReplaceAll(o.Text, "\r\n", "\n"), x.signature)
	htmlBody := o.HTML // a system mail (a survey) brings its own
	if htmlBody == "" {
		htmlBody = textToHTML(text)
	}
	for _, part := range []struct{ ctype, body string }{
		{"text/plain", text},
		{"text/html", htmlBody},
	} {
		var ph mail.InlineHeader
		ph.SetContentType(part.ctype, map[string]string{"charset": "utf-8"})
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, "", err
		}
		if _, err := pw.Write([]byte(part.body)); err != nil {
			return nil, "", err
		}
		if err := pw.Close(); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	if mixed != nil {
		for _, b := range x.files {
			var ah mail.AttachmentHeader
			ctype := b.ContentType
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			ah.SetContentType(ctype, nil)
			ah.SetFilename(b.Filename)
			aw, err := mixed.CreateAttachment(ah)
			if err != nil {
				return nil, "", err
			}
			if _, err := aw.Write(b.Data); err != nil {
				return nil, "", err
			}
			if err := aw.Close(); err != nil {
				return nil, "", err
			}
		}
		if err := mixed.Close(); err != nil {
			return nil, "", err
		}
	}
	return buf.Bytes(), mid, nil
}

// composeExtras is what a reply's mail needs beyond the Outbound: the
// shop's email identity and the attachments' content.
type composeExtras struct {
	fromName  string
	signature string
	files     []*ticketing.Blob
}

// extras reads the email settings (one _id lookup) and the attachments.
// An attachment missing from the store is a permanent failure.
func (c *Channel) extras(ctx context.Context, o *ticketing.Outbound) (composeExtras, error) {
	var x composeExtras
	st, err := mailsettings.Get(ctx, c.o.Store)
	if err != nil {
		return x, err
	}
	x.fromName = st.FromName
	x.signature = st.SignatureFor(o.Language)
	for _, a := range o.Attachments {
		b, err := c.o.Store.GetBlob(ctx, a.Key)
		if ticketing.IsNotFound(err) {
			return x, &permanentError{err: &smtp.SMTPError{Code: 554, Message: "attachment " + a.Filename + " is no longer stored"}}
		}
		if err != nil {
			return x, errorf("read attachment "+a.Key, err)
		}
		if b.Filename == "" {
			b.Filename = a.Filename
		}
		if b.ContentType == "" {
			b.ContentType = a.ContentType
		}
		x.files = append(x.files, b)
	}
	return x, nil
}

// replySubject is "Re: <subject> [#number]", with earlier reply prefixes
// and tokens taken off so they never stack.
func replySubject(subject string, number int64) string {
	s := ticketing.CleanSubject(subject)
	out := "Re:"
	if s != "" {
		out += " " + s
	}
	if number > 0 {
		out += fmt.Sprintf(" [#%d]", number)
	}
	return out
}

// threadRefs returns the References of a reply (without angle brackets,
// as go-message wants them): the customer's references and the mail
// replied to last, at most 20.
func threadRefs(inReplyTo string, refs []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		for _, id := range msgIDs(v) {
			if !seen[id] {
				seen[id] = true
				out = append(out, strings.Trim(id, "<>"))
			}
		}
		if len(msgIDs(v)) == 0 {
			if id := firstMsgID(v); id != "" && !seen[id] {
				seen[id] = true
				out = append(out, strings.Trim(id, "<>"))
			}
		}
	}
	for _, r := range refs {
		add(r)
	}
	add(inReplyTo)
	if len(out) > 20 {
		out = append(out[:1], out[len(out)-19:]...)
	}
	return out
}

// textToHTML is the simple HTML alternative of a reply: the escaped text,
// paragraphs and line breaks kept.
func textToHTML(text string) string {
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html><body>\n")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		lines := strings.Split(para, "\n")
		for i := range lines {
			lines[i] = html.EscapeString(lines[i])
		}
		sb.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	sb.WriteString("</body></html>\n")
	return sb.String()
}
