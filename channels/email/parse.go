package email

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-8859-x, Windows-125x and friends
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/text/encoding/charmap"

	"github.com/svar-dev/svar/ticketing"
)

// limits bound what one mail may cost.
type limits struct {
	MaxDepth           int   // MIME nesting
	MaxParts           int   // MIME parts in one mail
	MaxHeaderBytes     int64 // the top-level header
	MaxAttachmentBytes int64 // one attachment
	MaxTotalBytes      int64 // all attachments of one mail
	MaxTextBytes       int   // decoded text or HTML of one part
}

func defaultLimits() limits {
	return limits{
		MaxDepth:           20,
		MaxParts:           500,
		MaxHeaderBytes:     256 << 10,
		MaxAttachmentBytes: 25 << 20,
		MaxTotalBytes:      50 << 20,
		MaxTextBytes:       4 << 20,
	}
}

// Envelope size bounds: an envelope travels as one bus message, so the
// text, the full text and the HTML together stay well under 1 MiB.
const (
	maxEnvText     = 96 << 10
	maxEnvFullText = 96 << 10
	maxEnvHTML     = 512 << 10
	maxAttachments = 100
)

// parsed is what the parser makes of one mail.
type parsed struct {
	MessageID  string   // with angle brackets; "" when the mail has none
	InReplyTo  string   // the first msg-id of In-Reply-To, with angle brackets
	References []string // oldest first, with angle brackets
	From       string   // lower-cased address; "" when there is none
	Name       string   // From's display name
	// ViaReplyTo is set when From is the support address and the sender is
	// its Reply-To (a contact form): nobody vouches for that address.
	ViaReplyTo bool
	// Sender is what the shop's receiving server found about From.
	Sender   senderCheck
	To       string
	Subject  string
	Date     time.Time
	Text     string // quoted history folded away
	FullText string // the whole text, when folding removed something
	HTML     string // sanitized
	Files    []*file
	// Dropped names the parts and attachments that were not imported (too
	// large, too many, too deep); the raw mail still has them.
	Dropped    ticketing.Truncation
	Auto       bool
	AutoReason string
	// BounceOf is the Svar message id a bounce reports; BounceReason the
	// server's diagnostic.
	BounceOf     string
	BounceReason string
	// Problems are non-fatal parse problems (bad charset, broken part).
	Problems []string
	// ContentHash identifies the mail's content, ignoring trace headers
	// added on the way (Received, Delivered-To, ...).
	ContentHash string
}

// file is an attachment or inline part, with its content.
type file struct {
	Key         string // random blob key, assigned by the parser
	Filename    string
	ContentType string
	ContentID   string // without angle brackets
	Part        string // MIME part number
	Data        []byte
}

// parser turns raw mail into parsed. It is safe for concurrent use.
type parser struct {
	own     string   // the support address
	servIDs []string // authserv-ids whose Authentication-Results are trusted
	lim     limits
	policy  *bluemonday.Policy
	newKey  func() string
}

func newParser(own string, lim limits, servIDs ...string) *parser {
	return &parser{own: own, servIDs: servIDs, lim: lim, policy: newPolicy(), newKey: randomKey}
}

// randomKey returns an unguessable blob key for an attachment.
func randomKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "email/att/" + hex.EncodeToString(b[:])
}

// rawKey is the blob key of a raw mail: derived from its bytes, so storing
// it twice writes the same blob.
func rawKey(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "email/raw/" + hex.EncodeToString(sum[:])
}

// errNotMail is returned for input that has no header at all.
var errNotMail = errors.New("not a mail message")

// parse reads one raw mail. A non-nil error means the mail could not be
// read at all; problems with single parts are reported in Problems.
func (p *parser) parse(raw []byte) (out *parsed, err error) {
	defer func() {
		// go-message and the charset decoders are well tested, but a mail
		// from the internet must never take the process down.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("parse: panic: %v", r)
		}
	}()
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: p.lim.MaxHeaderBytes})
	if e == nil {
		if err == nil {
			err = errNotMail
		}
		return nil, fmt.Errorf("parse: header: %w", err)
	}
	if e.Header.Len() == 0 {
		return nil, fmt.Errorf("parse: %w", errNotMail)
	}
	out = &parsed{ContentHash: contentHash(raw, e.Header)}
	if err != nil {
		out.Problems = append(out.Problems, err.Error())
	}
	h := mail.Header{Header: e.Header}
	p.readHeader(h, out)

	w := &walker{p: p, out: out}
	w.walk(e, 0, "", "")
	if w.cut {
		out.Problems = append(out.Problems, "the mail has too many parts or is nested too deeply; the rest was not read")
	}

	text := strings.Join(w.texts, "\n\n")
	forward := isForward(out.Subject, text)
	doc := p.processHTML(strings.Join(w.htmls, "\n"), w.cids, func(derived string) bool {
		if strings.TrimSpace(text) == "" {
			forward = isForward(out.Subject, derived)
		}
		return forward
	})
	if strings.TrimSpace(text) == "" {
		text = doc.Text
	}
	text = normalizeText(text)
	folded := text
	if !forward {
		folded = foldQuotes(text)
	}
	if strings.TrimSpace(folded) == "" {
		folded = text
	}
	out.Text = folded
	if folded != text {
		out.FullText = text
	}
	out.HTML = doc.HTML
	if doc.TooLarge {
		out.Problems = append(out.Problems, "the HTML was too large to keep; the original mail has it")
	}

	p.detectAuto(h, w, raw, out)
	return out, nil
}

// readHeader fills in the header fields of out.
func (p *parser) readHeader(h mail.Header, out *parsed) {
	out.MessageID = firstMsgID(validUTF8(h.Get("Message-Id")))
	out.InReplyTo = firstMsgID(validUTF8(h.Get("In-Reply-To")))
	out.References = msgIDs(validUTF8(h.Get("References")))
	out.Subject = headerText(h.Header, "Subject")
	if d, err := h.Date(); err == nil {
		out.Date = d
	}
	out.From, out.Name, out.ViaReplyTo = senderOf(h, p.own)
	out.Sender = checkSender(h, out.From, p.servIDs)
	if out.ViaReplyTo {
		out.Sender = senderCheck{Verified: new(bool), Summary: "reply-to"}
	}
	if to, err := h.AddressList("To"); err == nil && len(to) > 0 {
		out.To = ticketing.NormalizeEmail(strings.ToValidUTF8(to[0].Address, "\uFFFD"))
	}
}

// senderOf returns a mail's sender: the From address, lower-cased, and its
// display name. Mail From the support address itself with a Reply-To of
// someone else (a shop's contact form sends that way) is the Reply-To's:
// viaReplyTo says so, and that address is vouched for by nobody.
func senderOf(h mail.Header, own string) (addr, name string, viaReplyTo bool) {
	addr, name = fromAddress(h)
	if addr != own || own == "" {
		return addr, name, false
	}
	if l, err := h.AddressList("Reply-To"); err == nil && len(l) > 0 {
		if rt := ticketing.NormalizeEmail(strings.ToValidUTF8(l[0].Address, "\uFFFD")); rt != "" && rt != own {
			return rt, cleanName(l[0].Name), true
		}
	}
	return addr, name, false
}

// fromAddress returns the sender's lower-cased address and display name,
// leniently: a broken From header still yields the address in it.
func fromAddress(h mail.Header) (addr, name string) {
	for _, key := range []string{"From", "Sender", "Reply-To"} {
		if l, err := h.AddressList(key); err == nil && len(l) > 0 && l[0].Address != "" {
			return ticketing.NormalizeEmail(strings.ToValidUTF8(l[0].Address, "\uFFFD")), cleanName(l[0].Name)
		}
		raw := headerText(h.Header, key)
		if m := looseAddress.FindString(raw); m != "" {
			name := strings.TrimSpace(strings.Split(raw, "<")[0])
			if strings.Contains(name, "@") {
				name = ""
			}
			return ticketing.NormalizeEmail(m), cleanName(name)
		}
	}
	return "", ""
}

// fromSupport reports whether a raw mail is From the support address
// itself (and not on behalf of someone in its Reply-To), reading only its
// header.
func (p *parser) fromSupport(raw []byte) bool {
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(bytes.NewReader(raw), p.lim.MaxHeaderBytes)))
	if err != nil && h.Len() == 0 {
		return false
	}
	addr, _, _ := senderOf(mail.Header{Header: message.Header{Header: h}}, p.own)
	return addr == p.own
}

var looseAddress = regexp.MustCompile(`[A-Za-z0-9._%+\-=!#$&'*/?^{|}~]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?`)

func cleanName(s string) string {
	s = fixC1(toUTF8([]byte(s)))
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"'`))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200])
	}
	return s
}

// headerText decodes a header field's encoded words, leniently: unknown
// charsets and raw 8-bit bytes still give readable text.
func headerText(h message.Header, key string) string {
	v, err := h.Text(key)
	if err != nil {
		return decodeWords(h.Get(key))
	}
	return strings.TrimSpace(fixC1(toUTF8([]byte(v))))
}

// decodeWords decodes RFC 2047 encoded words, leniently.
func decodeWords(s string) string {
	if d, err := (&mime.WordDecoder{CharsetReader: lenientCharsetReader}).DecodeHeader(s); err == nil {
		s = d
	}
	return strings.TrimSpace(fixC1(toUTF8([]byte(s))))
}

// lenientCharsetReader decodes what it can and passes the rest through;
// toUTF8 repairs the result.
func lenientCharsetReader(charset string, input io.Reader) (io.Reader, error) {
	if message.CharsetReader != nil {
		if r, err := message.CharsetReader(charset, input); err == nil && r != nil {
			return r, nil
		}
	}
	return input, nil
}

// toUTF8 returns b as valid UTF-8. Mostly-UTF-8 input keeps its text with
// invalid bytes replaced by U+FFFD; other 8-bit input is decoded as
// Windows-1252 (a superset of ISO-8859-1, and what unlabelled 8-bit mail
// nearly always is).
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	multi, bad := 0, 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			bad++
		case n > 1:
			multi++
		}
		i += max(n, 1)
	}
	if multi > 0 && multi >= bad {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	if d, err := charmap.Windows1252.NewDecoder().Bytes(b); err == nil && utf8.Valid(d) {
		return string(d)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// fixC1 maps C1 control characters (U+0080–U+009F) to what Windows-1252
// puts there (€, ‘, ’, “, ”, –, …): mail labelled ISO-8859-1 is nearly
// always Windows-1252, and C1 controls never belong in text.
func fixC1(s string) string {
	if !strings.ContainsFunc(s, isC1) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if !isC1(r) {
			return r
		}
		d, err := charmap.Windows1252.NewDecoder().Bytes([]byte{byte(r)})
		if err != nil || len(d) == 0 {
			return -1
		}
		if dr, _ := utf8.DecodeRune(d); dr != utf8.RuneError && !isC1(dr) {
			return dr
		}
		return -1
	}, s)
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

var msgIDPattern = regexp.MustCompile(`<[^<>\s]{1,900}>`)

// firstMsgID returns the first msg-id of a header value, with angle
// brackets; a bare id with an @ is bracketed.
func firstMsgID(v string) string {
	if m := msgIDPattern.FindString(v); m != "" {
		return m
	}
	v = strings.TrimSpace(v)
	if v != "" && !strings.ContainsAny(v, " \t<>") && strings.Contains(v, "@") && len(v) <= 900 {
		return "<" + v + ">"
	}
	return ""
}

// msgIDs returns every msg-id of a header value, in order, without repeats.
func msgIDs(v string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range msgIDPattern.FindAllString(v, -1) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// contentHash hashes what identifies a mail's content: the originator
// fields and the body. Trace fields that relays and the mailbox add
// (Received, Delivered-To, Return-Path, X-*) are left out, so two copies of
// one mail hash alike while two different mails under one reused
// Message-ID do not.
func contentHash(raw []byte, h message.Header) string {
	s := sha256.New()
	for _, k := range []string{"From", "To", "Cc", "Subject", "Date", "Message-Id", "In-Reply-To", "Content-Type"} {
		fmt.Fprintf(s, "%s:%s\n", k, strings.TrimSpace(h.Get(k)))
	}
	s.Write(body(raw))
	return hex.EncodeToString(s.Sum(nil))
}

// body returns raw after its header (after the first empty line).
func body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(raw, []byte("\n\n")); j >= 0 && j < i {
			return raw[j+2:]
		}
		return raw[i+4:]
	}
	if j := bytes.Index(raw, []byte("\n\n")); j >= 0 {
		return raw[j+2:]
	}
	return nil
}

// rawHash is the hex SHA-256 of raw.
func rawHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// maxScanParts bounds the names-only scan of what lies past the MIME caps:
// parts beyond it are not even named (the list says so).
const maxScanParts = 10000

// maxScanDepth bounds the nesting the names-only scan follows.
const maxScanDepth = 200

// walker walks the MIME tree of one mail.
type walker struct {
	p     *parser
	out   *parsed
	parts int
	total int64
	// cut is set once a part was left out for the depth or part cap.
	cut bool
	// scanned counts parts seen by the names-only scan; stopped is set
	// when it gave up.
	scanned  int
	stopped  bool
	texts    []string
	htmls    []string
	cids     map[string]string // Content-ID → blob key
	report   bool              // a multipart/report; report-type=delivery-status
	status   string            // the delivery-status part
	origHdrs []string          // headers of the mail a report returns
}

// childPart numbers the i-th part of a multipart as IMAP does: "2" in the
// mail's top multipart, "2.1" inside that one.
func childPart(path string, i int) string {
	if path == "" {
		return strconv.Itoa(i)
	}
	return path + "." + strconv.Itoa(i)
}

// leafPart is the IMAP part number of a non-multipart part: a mail that is
// not multipart has its body as part "1".
func leafPart(path string) string {
	if path == "" {
		return "1"
	}
	return path
}

// drop records a part or file that is not imported.
func (w *walker) drop(d ticketing.Dropped) { w.out.Dropped.Add(d) }

// partInfo reads a part's media type, parameters and file name.
func partInfo(e *message.Entity) (mediaType string, params map[string]string, filename string, attachment bool) {
	mediaType, params, err := e.Header.ContentType()
	if err != nil || mediaType == "" {
		mediaType, params = "text/plain", map[string]string{}
	}
	mediaType = strings.ToLower(mediaType)
	disp, dparams, _ := e.Header.ContentDisposition()
	return mediaType, params, filenameOf(params, dparams), strings.EqualFold(disp, "attachment")
}

func (w *walker) walk(e *message.Entity, depth int, parent, path string) {
	w.parts++
	switch {
	case w.parts > w.p.lim.MaxParts:
		w.cut = true
		w.scan(e, depth, path, ticketing.DropTooManyParts, true)
		return
	case depth > w.p.lim.MaxDepth:
		w.cut = true
		w.scan(e, depth, path, ticketing.DropTooDeep, true)
		return
	}
	mediaType, params, filename, attachment := partInfo(e)

	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if mediaType == "multipart/report" && strings.EqualFold(params["report-type"], "delivery-status") {
			w.report = true
		}
		mr := e.MultipartReader()
		if mr == nil {
			return
		}
		for i := 1; ; i++ {
			part, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if part == nil {
				w.out.Problems = append(w.out.Problems, fmt.Sprintf("%s: %v", mediaType, err))
				return
			}
			if err != nil {
				w.out.Problems = append(w.out.Problems, err.Error())
			}
			w.walk(part, depth+1, mediaType, childPart(path, i))
			if w.stopped {
				return
			}
		}
	case mediaType == "message/delivery-status" || mediaType == "message/global-delivery-status":
		b, _ := w.read(e, 64<<10)
		w.status = toUTF8(b)
	case w.report && (mediaType == "message/rfc822" || mediaType == "text/rfc822-headers" || mediaType == "message/rfc822-headers" || mediaType == "message/global"):
		b, _ := w.read(e, 256<<10)
		w.origHdrs = append(w.origHdrs, headerBlock(b))
	case (mediaType == "text/plain" || mediaType == "text/html") && !attachment && filename == "":
		b, err := w.read(e, w.p.lim.MaxTextBytes)
		if err != nil {
			w.out.Problems = append(w.out.Problems, fmt.Sprintf("%s: %v", mediaType, err))
		}
		s := fixC1(toUTF8(b))
		if mediaType == "text/html" {
			w.htmls = append(w.htmls, s)
		} else if strings.EqualFold(params["format"], "flowed") {
			w.texts = append(w.texts, unflow(s, strings.EqualFold(params["delsp"], "yes")))
		} else {
			w.texts = append(w.texts, s)
		}
	default:
		w.attach(e, mediaType, filename, path)
	}
}

// scan names what lies in a part that is not read: the part itself when it
// is a leaf or the root of a cut subtree, and every named file inside it.
// It reads headers only, within maxScanParts and maxScanDepth overall.
func (w *walker) scan(e *message.Entity, depth int, path, reason string, root bool) {
	w.scanned++
	if w.scanned > maxScanParts || depth > w.p.lim.MaxDepth+maxScanDepth {
		if !w.stopped {
			w.stopped = true
			w.drop(ticketing.Dropped{Part: path, Reason: ticketing.DropNotScanned})
		}
		return
	}
	mediaType, _, filename, _ := partInfo(e)
	if !strings.HasPrefix(mediaType, "multipart/") {
		if filename == "" && strings.HasPrefix(mediaType, "message/") {
			filename = defaultFilename(mediaType, headerText(e.Header, "Subject"))
		}
		w.drop(ticketing.Dropped{Filename: clip(filename, 255), Part: leafPart(path), ContentType: clip(mediaType, 255), Reason: reason})
		return
	}
	if root {
		w.drop(ticketing.Dropped{Part: path, ContentType: clip(mediaType, 255), Reason: reason})
	}
	mr := e.MultipartReader()
	if mr == nil {
		return
	}
	for i := 1; ; i++ {
		part, err := mr.NextPart()
		if part == nil || err == io.EOF {
			return
		}
		w.scan(part, depth+1, childPart(path, i), reason, false)
		if w.stopped {
			return
		}
	}
}

// attach keeps a part as a file, within the caps; what is over them is
// named in Dropped.
func (w *walker) attach(e *message.Entity, mediaType, filename, path string) {
	if filename == "" {
		filename = defaultFilename(mediaType, headerText(e.Header, "Subject"))
	}
	d := ticketing.Dropped{Filename: clip(filename, 255), Part: leafPart(path), ContentType: clip(mediaType, 255)}
	if len(w.out.Files) >= maxAttachments {
		d.Reason = ticketing.DropTooManyFiles
		w.drop(d)
		return
	}
	b, err := w.read(e, int(w.p.lim.MaxAttachmentBytes)+1)
	if int64(len(b)) > w.p.lim.MaxAttachmentBytes {
		d.Reason = ticketing.DropFileTooLarge
		w.drop(d)
		_, _ = io.Copy(io.Discard, e.Body)
		return
	}
	if w.total+int64(len(b)) > w.p.lim.MaxTotalBytes {
		d.Reason, d.Size = ticketing.DropFilesTooLarge, int64(len(b))
		w.drop(d)
		return
	}
	if err != nil {
		w.out.Problems = append(w.out.Problems, fmt.Sprintf("%s: %v", filename, err))
	}
	w.total += int64(len(b))
	f := &file{Key: w.p.newKey(), Filename: filename, ContentType: mediaType, Part: leafPart(path), Data: b}
	if cid := strings.Trim(strings.TrimSpace(e.Header.Get("Content-Id")), "<>"); cid != "" {
		f.ContentID = cid
		if w.cids == nil {
			w.cids = map[string]string{}
		}
		w.cids[cid] = f.Key
	}
	w.out.Files = append(w.out.Files, f)
}

// read reads at most max bytes of a part's decoded body. Whatever was read
// before a decoding error is kept.
func (w *walker) read(e *message.Entity, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(e.Body, int64(max)))
	return b, err
}

func filenameOf(params, dparams map[string]string) string {
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if name == "" {
		return ""
	}
	name = decodeWords(name)
	// Keep the last path element only and drop control characters.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return strings.TrimSpace(name)
}

func defaultFilename(mediaType, subject string) string {
	switch mediaType {
	case "message/rfc822", "message/global":
		if subject != "" {
			return filenameOf(nil, map[string]string{"filename": subject}) + ".eml"
		}
		return "message.eml"
	case "text/calendar":
		return "invite.ics"
	case "text/plain":
		return "text.txt"
	case "text/html":
		return "page.html"
	}
	if exts, _ := mime.ExtensionsByType(mediaType); len(exts) > 0 {
		return "attachment" + exts[0]
	}
	return "attachment.bin"
}

// headerBlock returns the header section of a returned mail.
func headerBlock(b []byte) string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
	if err != nil && h.Len() == 0 {
		s := toUTF8(b)
		if i := strings.Index(s, "\n\n"); i >= 0 {
			return s[:i]
		}
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
			return s[:i]
		}
		return s
	}
	var sb strings.Builder
	fields := h.Fields()
	for fields.Next() {
		sb.WriteString(fields.Key() + ": " + fields.Value() + "\n")
	}
	return sb.String()
}

// unflow joins format=flowed soft line breaks (RFC 3676).
func unflow(s string, delsp bool) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var sb strings.Builder
	for i, l := range lines {
		soft := strings.HasSuffix(l, " ") && l != "-- " && i < len(lines)-1
		if soft && delsp {
			l = l[:len(l)-1]
		}
		sb.WriteString(l)
		if !soft && i < len(lines)-1 {
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// normalizeText turns CRLF into LF, drops NULs and trailing spaces, and
// collapses long runs of blank lines.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\x00", "")
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\u00a0")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
