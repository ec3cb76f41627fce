package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// Texts put into envelopes that could not be read normally. They are the
// message text agents see, in English and Swedish.
const (
	textUnreadable = "(this mail could not be read; the original is attached)\n(det här mejlet kunde inte läsas; originalet är bifogat)"
	textEmpty      = "(empty mail)\n(tomt mejl)"
	// textUnreadableKept is for a mail too large to keep a copy of: the
	// mailbox name and UID fill it in.
	textUnreadableKept = "(this mail could not be read; it is still in the mailbox %[1]s, UID %[2]d)\n(det här mejlet kunde inte läsas; det ligger kvar i brevlådan %[1]s, UID %[2]d)"
)

// Meta keys set on email envelopes (and so on their messages).
const (
	MetaMessageID  = "message_id"  // the Message-ID header, with angle brackets
	MetaInReplyTo  = "in_reply_to" // the In-Reply-To header's msg-id
	MetaReferences = "references"  // the References header's msg-ids, space-separated
	MetaRawKey     = "raw_key"     // blob key of the raw mail
	MetaFullText   = "full_text"   // the text with its quoted history, when folding removed some
	MetaProblems   = "parse_problems"
	MetaTo         = "to"
	MetaIMAPUID    = "imap_uid" // uidvalidity/uid in the mailbox
)

// Bounds on what the bus carries for one envelope (NATS' default maximum
// payload is 1 MiB).
const maxEnvelopeJSON = 900 << 10

// mailInfo is what the mailbox says about a mail.
type mailInfo struct {
	UIDValidity uint32
	UID         uint32
	Internal    time.Time // INTERNALDATE: when the mailbox received it
}

func (m mailInfo) String() string {
	return strconv.FormatUint(uint64(m.UIDValidity), 10) + "/" + strconv.FormatUint(uint64(m.UID), 10)
}

// midRecord is the state document email:mid:<Message-ID>: the content
// hash of the first mail seen with that Message-ID.
type midRecord struct {
	Hash string `bson:"hash" json:"hash"`
}

// importMail stores the raw mail, parses it and publishes its envelope.
// An error means the mail should be tried again (the store or the bus
// failed); a mail that cannot be parsed is published with its original
// attached, never dropped.
func (c *Channel) importMail(ctx context.Context, raw []byte, info mailInfo) error {
	if c.parser.fromSupport(raw) {
		c.dropOwn(info)
		return nil
	}
	key := rawKey(raw)
	err := c.putBlob(ctx, &ticketing.Blob{Key: key, Filename: "message.eml", ContentType: "message/rfc822", Data: raw})
	switch {
	case ticketing.ErrorCode(err) == ticketing.ETooLarge:
		// The mail stays in the mailbox; import what can be read of it.
		c.log.Warn("email: the mail is too large to keep a copy of; importing it without", "uid", info.String(), "size", len(raw))
		key = ""
	case err != nil:
		return errorf("store raw mail "+info.String(), err)
	}
	env, err := c.buildEnvelope(ctx, raw, key, info)
	if err != nil {
		return err
	}
	if env.From.Value == c.addr { // read only now (an unreadable mail's loose From)
		c.dropOwn(info)
		return nil
	}
	if err := c.o.Publisher.PublishInbound(ctx, env); err != nil {
		return publishError{errorf("publish mail "+info.String(), err)}
	}
	c.log.Debug("email: imported", "uid", info.String(), "external_id", env.ExternalID, "auto", env.Auto)
	return nil
}

// DropOwnMail is the reason (Options.Dropped) for mail From the support
// address itself: it is never a customer's, so it makes no customer and no
// ticket. It stays in the mailbox.
const DropOwnMail = "own-address"

// dropOwn leaves out a mail From the support address, saying so.
func (c *Channel) dropOwn(info mailInfo) {
	c.log.Info("email: a mail From the support address itself is not imported; it stays in the mailbox",
		"uid", info.String(), "mailbox", c.mailbox)
	if c.o.Dropped != nil {
		c.o.Dropped(DropOwnMail)
	}
}

// buildEnvelope parses raw into a valid envelope, storing its attachments.
func (c *Channel) buildEnvelope(ctx context.Context, raw []byte, key string, info mailInfo) (*ticketing.Envelope, error) {
	p, perr := c.parser.parse(raw)
	if perr != nil {
		c.log.Warn("email: unreadable mail; publishing it with the original attached", "uid", info.String(), "err", perr)
		return c.unreadable(ctx, raw, key, info, perr.Error())
	}
	kept := p.Files[:0]
	for _, f := range p.Files {
		b := &ticketing.Blob{Key: f.Key, Filename: f.Filename, ContentType: f.ContentType, Data: f.Data, CreatedAt: c.now().UTC()}
		err := c.putBlob(ctx, b)
		switch {
		case ticketing.ErrorCode(err) == ticketing.ETooLarge:
			p.Dropped.Add(ticketing.Dropped{Filename: clip(f.Filename, 255), Part: f.Part, ContentType: clip(f.ContentType, 255),
				Size: int64(len(f.Data)), Reason: ticketing.DropStoreTooLarge})
			continue
		case err != nil:
			return nil, errorf("store attachment of "+info.String(), err)
		}
		kept = append(kept, f)
	}
	p.Files = kept
	extID, err := c.externalID(ctx, p.MessageID, p.ContentHash)
	if err != nil {
		return nil, err
	}
	env := c.envelope(p, extID, key, int64(len(raw)), info)
	if err := c.valid.Validate(env); err != nil {
		c.log.Warn("email: mail made an invalid envelope; publishing it with the original attached", "uid", info.String(), "err", err)
		return c.unreadable(ctx, raw, key, info, err.Error())
	}
	return env, nil
}

// putBlob stores b; a blob already stored under its key is fine.
func (c *Channel) putBlob(ctx context.Context, b *ticketing.Blob) error {
	if b.CreatedAt.IsZero() {
		b.CreatedAt = c.now().UTC()
	}
	err := c.o.Store.PutBlob(ctx, b)
	if err != nil && isDuplicate(err) {
		return nil
	}
	return err
}

func isDuplicate(err error) bool {
	return errors.Is(err, ticketing.ErrDuplicate) || ticketing.ErrorCode(err) == ticketing.EConflict
}

// externalID returns a mail's external id: its Message-ID, or
// "sha256:<hash>" without one. A Message-ID first seen with other content
// (a sender reusing ids) gets "#<hash>" appended, so the two mails are not
// taken for one.
func (c *Channel) externalID(ctx context.Context, mid, hash string) (string, error) {
	if mid == "" || len(mid) > 900 {
		return "sha256:" + hash, nil
	}
	key := "email:mid:" + mid
	if len(key) > 400 {
		sum := sha256.Sum256([]byte(mid))
		key = "email:mid:sha256:" + hex.EncodeToString(sum[:])
	}
	err := c.o.Store.InsertState(ctx, key, midRecord{Hash: hash})
	if err == nil {
		return mid, nil
	}
	if !isDuplicate(err) {
		return "", errorf("record Message-ID", err)
	}
	var rec midRecord
	if err := c.o.Store.GetState(ctx, key, &rec); err != nil {
		return "", errorf("read Message-ID record", err)
	}
	if rec.Hash == hash || rec.Hash == "" {
		return mid, nil
	}
	return mid + "#" + hash, nil
}

// envelope turns a parsed mail into an envelope.
func (c *Channel) envelope(p *parsed, extID, key string, size int64, info mailInfo) *ticketing.Envelope {
	env := &ticketing.Envelope{
		Channel:    ticketing.ChannelEmail,
		ExternalID: extID,
		From:       ticketing.Identity{Kind: ticketing.IdentityEmail, Value: p.From},
		Name:       clip(p.Name, 200),
		To:         clip(p.To, 998),
		Subject:    clip(p.Subject, 998),
		Text:       clipText(p.Text, maxEnvText),
		HTML:       p.HTML,
		Thread:     c.hints(p),
		Auto:       p.Auto,
		AutoReason: clip(p.AutoReason, 200),
		ReceivedAt: receivedAt(info.Internal, p.Date, c.now()),
		Meta:       map[string]string{},
	}
	setMeta(env.Meta, MetaRawKey, key)
	if env.From.Value == "" || len(env.From.Value) > 320 {
		env.From.Value = unknownSender(p.ContentHash)
	}
	if p.BounceOf != "" {
		env.Bounce = &ticketing.Bounce{MessageID: p.BounceOf, Reason: clip(p.BounceReason, 2000)}
	}
	for _, f := range p.Files {
		env.Attachments = append(env.Attachments, ticketing.Attachment{
			Key: f.Key, Filename: clip(f.Filename, 255), ContentType: clip(f.ContentType, 255), Size: int64(len(f.Data)),
		})
	}
	setMeta(env.Meta, MetaMessageID, p.MessageID)
	setMeta(env.Meta, MetaInReplyTo, p.InReplyTo)
	setMeta(env.Meta, MetaReferences, strings.Join(p.References, " "))
	setMeta(env.Meta, MetaTo, p.To)
	setMeta(env.Meta, MetaFullText, clipText(p.FullText, maxEnvFullText))
	setMeta(env.Meta, MetaProblems, clip(strings.Join(p.Problems, "; "), 1000))
	env.SenderVerified = p.Sender.Verified
	setMeta(env.Meta, MetaSenderAuth, clip(p.Sender.Summary, 200))
	if p.ViaReplyTo {
		env.Meta[MetaSenderVia] = "reply-to"
	}
	if info.UID != 0 {
		env.Meta[MetaIMAPUID] = info.String()
	}
	if !p.Dropped.Empty() {
		// The original mail keeps what was left out: the console offers it
		// for download on every message (meta raw_key), so it takes no
		// attachment slot of its own.
		tr := p.Dropped
		env.Truncated = &tr
	}
	if strings.TrimSpace(env.Text) == "" && strings.TrimSpace(env.HTML) == "" && len(env.Attachments) == 0 {
		env.Text = textEmpty
	}
	fitEnvelope(env)
	return env
}

// fitEnvelope drops what does not fit on the bus: the full text, then the
// HTML (the raw mail keeps both), then text beyond what fits.
func fitEnvelope(env *ticketing.Envelope) {
	size := func() int {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as the bus encodes
		_ = enc.Encode(env)
		return buf.Len()
	}
	if size() <= maxEnvelopeJSON {
		return
	}
	delete(env.Meta, MetaFullText)
	if size() <= maxEnvelopeJSON {
		return
	}
	env.HTML = ""
	env.Meta[MetaProblems] = clip(strings.TrimPrefix(env.Meta[MetaProblems]+"; the HTML was too large to keep", "; "), 1000)
	for n := len(env.Text) / 2; size() > maxEnvelopeJSON && n > 1024; n /= 2 {
		env.Text = clipText(env.Text, n)
	}
}

func rawAttachment(key string, size int64) ticketing.Attachment {
	return ticketing.Attachment{Key: key, Filename: "original.eml", ContentType: "message/rfc822", Size: size}
}

func setMeta(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// clipText cuts text to at most n bytes and says so.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "\n[…]"
	return clip(s, n-len(more)) + more
}

func receivedAt(internal, date, now time.Time) time.Time {
	switch {
	case !internal.IsZero():
		return internal.UTC()
	case !date.IsZero() && date.Before(now.Add(24*time.Hour)):
		return date.UTC()
	}
	return now.UTC()
}

// unknownSender is the identity of a mail without a usable From: one per
// mail, so unrelated senders are never merged into one customer.
func unknownSender(hash string) string {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	return "unknown." + hash + "@invalid"
}

var ticketTokenRe = regexp.MustCompile(`\[#(\d{1,18})\]`)

// hints returns the threading hints of a mail: Svar message ids for its
// In-Reply-To and References (most specific first) and the [#number]
// subject token.
func (c *Channel) hints(p *parsed) ticketing.ThreadHints {
	h := ticketing.ThreadHints{InReplyTo: p.InReplyTo}
	refs := p.References
	if len(refs) > 100 {
		refs = refs[len(refs)-100:]
	}
	h.References = refs
	ordered := make([]string, 0, len(refs)+1)
	if p.InReplyTo != "" {
		ordered = append(ordered, p.InReplyTo)
	}
	for i := len(refs) - 1; i >= 0; i-- {
		ordered = append(ordered, refs[i])
	}
	seen := map[string]bool{}
	for _, mid := range ordered {
		id, ok := decodeOwnMessageID(mid)
		if !ok {
			id = ticketing.InboundMessageID(ticketing.ChannelEmail, mid)
		}
		if !seen[id] && len(h.MessageIDs) < 100 {
			seen[id] = true
			h.MessageIDs = append(h.MessageIDs, id)
		}
	}
	if m := ticketTokenRe.FindStringSubmatch(p.Subject); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			h.TicketNumber = n
		}
	}
	return h
}

// unreadable is the envelope of a mail that could not be parsed or made an
// invalid envelope: the sender and subject as far as they can be read,
// a note, and the raw mail as an attachment.
func (c *Channel) unreadable(ctx context.Context, raw []byte, key string, info mailInfo, problem string) (*ticketing.Envelope, error) {
	hdr := looseHeader(raw)
	from := ""
	if m := looseAddress.FindString(hdr["from"]); m != "" {
		from = ticketing.NormalizeEmail(m)
	}
	hash := rawHash(raw)
	extID, err := c.externalID(ctx, firstMsgID(validUTF8(hdr["message-id"])), hash)
	if err != nil {
		return nil, err
	}
	if from == "" || len(from) > 320 {
		from = unknownSender(hash)
	}
	env := &ticketing.Envelope{
		Channel:    ticketing.ChannelEmail,
		ExternalID: extID,
		From:       ticketing.Identity{Kind: ticketing.IdentityEmail, Value: from},
		Subject:    clip(toUTF8([]byte(hdr["subject"])), 998),
		Text:       textUnreadable,
		ReceivedAt: receivedAt(info.Internal, time.Time{}, c.now()),
		Meta:       map[string]string{MetaProblems: clip(toUTF8([]byte(problem)), 1000)},
	}
	if key != "" {
		env.Attachments = []ticketing.Attachment{rawAttachment(key, int64(len(raw)))}
		env.Meta[MetaRawKey] = key
	} else {
		env.Text = fmt.Sprintf(textUnreadableKept, c.mailbox, info.UID)
	}
	setMeta(env.Meta, MetaMessageID, firstMsgID(validUTF8(hdr["message-id"])))
	if info.UID != 0 {
		env.Meta[MetaIMAPUID] = info.String()
	}
	if err := c.valid.Validate(env); err != nil {
		// Only the subject can still be at fault.
		env.Subject = ""
		if err := c.valid.Validate(env); err != nil {
			return nil, fmt.Errorf("email: unreadable mail %s: %w", info, err)
		}
	}
	return env, nil
}

// stub is the envelope of a mail that failed to import again and again:
// it tells agents the mail is still in the mailbox, and lets the mailbox
// move on. It needs neither the blob store nor the state store.
func (c *Channel) stub(raw []byte, info mailInfo, problem string) *ticketing.Envelope {
	hdr := looseHeader(raw)
	hash := rawHash(raw)
	from := unknownSender(hash)
	if m := looseAddress.FindString(hdr["from"]); m != "" && len(m) <= 320 {
		from = ticketing.NormalizeEmail(m)
	}
	text := fmt.Sprintf("(this mail could not be imported: %s. It is still in the mailbox %s, UID %d.)\n(det här mejlet kunde inte importeras; det ligger kvar i brevlådan %s, UID %d.)",
		clip(problem, 500), c.mailbox, info.UID, c.mailbox, info.UID)
	return &ticketing.Envelope{
		Channel: ticketing.ChannelEmail, ExternalID: "sha256:" + hash,
		From:    ticketing.Identity{Kind: ticketing.IdentityEmail, Value: from},
		Subject: clip(toUTF8([]byte(hdr["subject"])), 900), Text: toUTF8([]byte(text)),
		ReceivedAt: receivedAt(info.Internal, time.Time{}, c.now()),
		Meta:       map[string]string{MetaIMAPUID: info.String()},
	}
}

// looseHeader reads From, Subject and Message-ID from a mail that the MIME
// parser refused, line by line, with folded lines joined.
func looseHeader(raw []byte) map[string]string {
	out := map[string]string{}
	head := string(raw)
	if i := strings.Index(head, "\n\n"); i >= 0 {
		head = head[:i]
	}
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	}
	if len(head) > 256<<10 {
		head = head[:256<<10]
	}
	var last string
	for _, line := range strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && last != "" {
			out[last] += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "from", "subject", "message-id":
			if _, seen := out[k]; !seen {
				out[k] = strings.TrimSpace(v)
				last = k
				continue
			}
		}
		last = ""
	}
	if s, ok := out["subject"]; ok {
		out["subject"] = decodeWords(s)
	}
	if s, ok := out["from"]; ok {
		out["from"] = decodeWords(s)
	}
	return out
}
