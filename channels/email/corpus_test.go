package email

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// corpusCase is what one testdata mail must become.
type corpusCase struct {
	file       string
	externalID string // "" → "sha256:" + content hash
	from, name string
	subject    string
	// text must contain each of hasText and none of notText.
	hasText, notText []string
	// fullText must contain each of these (quoted history kept aside).
	fullText         []string
	hasHTML, notHTML []string
	noHTML           bool
	auto             bool
	autoReason       string
	bounce           *ticketing.Bounce
	ticketNumber     int64
	inReplyTo        string
	messageIDs       []string // ThreadHints.MessageIDs, in order
	attachments      []string // filenames
}

func corpusCases() []corpusCase {
	email := func(mid string) string { return ticketing.InboundMessageID(ticketing.ChannelEmail, mid) }
	return []corpusCase{
		{
			file: "gmail_reply.eml", externalID: "<CAJx1Q3NhZk2p+Vb8rT-Qw=reply@mail.gmail.com>",
			from: "anna.lindqvist@gmail.com", name: "Anna Lindqvist", subject: "Re: Where is my order? [#1042]",
			hasText:   []string{"The parcel still hasn't arrived.", "Thanks,\nAnna"},
			notText:   []string{"wrote:", "Your order 1001 was shipped", ">"},
			fullText:  []string{"On Mon, 3 Jun 2024 at 10:02, Svar Support", "> Your order 1001 was shipped on Friday."},
			hasHTML:   []string{"The parcel still hasn&#39;t arrived."},
			notHTML:   []string{"gmail_quote", "Your order 1001 was shipped"},
			inReplyTo: "<svar.r5f2a9c01d3e4b5a6c7d8e9f0@shop.example>", ticketNumber: 1042,
			messageIDs:  []string{"r5f2a9c01d3e4b5a6c7d8e9f0", email("<CAJx1Q3M0a=first@mail.gmail.com>")},
			attachments: []string{"receipt-1001.pdf"},
		},
		{
			file: "outlook_reply.eml", externalID: "<AM7PR02MB5761A1B2C3D4E5F6A7B8C9D0E1F2A3@AM7PR02MB5761.eurprd02.prod.outlook.com>",
			from: "bjorn.akesson@outlook.com", name: "Björn Åkesson", subject: "SV: Din beställning [#1043]",
			hasText:   []string{"Jag vill returnera skorna, de var för små. Hur gör jag?", "Mvh\nBjörn"},
			notText:   []string{"Från:", "Skickat:", "Tack för din beställning", "____"},
			fullText:  []string{"Skickat: den 3 juni 2024 10:02", "Tack för din beställning!"},
			hasHTML:   []string{"Jag vill returnera skorna, de var för små."},
			notHTML:   []string{"divRplyFwdMsg", "Tack för din beställning", "Skickat", "<style", "P {margin-top"},
			inReplyTo: "<svar.r6a7b8c9d0e1f2a3b4c5d6e7f@shop.example>", ticketNumber: 1043,
			messageIDs: []string{"r6a7b8c9d0e1f2a3b4c5d6e7f"},
		},
		{
			file: "apple_reply.eml", externalID: "<0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@icloud.com>",
			from: "chris.berg@icloud.com", name: "Chris Berg", subject: "Re: Damaged package [#1044]",
			hasText:  []string{"Here is a photo of the damaged box.", "Regards\nChris"},
			notText:  []string{"wrote:", "Could you send us a photo"},
			fullText: []string{"> Could you send us a photo of the package?"},
			// The inline image points at its stored blob, not at cid:.
			hasHTML:   []string{"Here is a photo of the damaged box.", `data-svar-attachment="email/att/`},
			notHTML:   []string{"cid:", "Could you send us a photo", "blockquote"},
			inReplyTo: "<svar.r7b8c9d0e1f2a3b4c5d6e7f80@shop.example>", ticketNumber: 1044,
			messageIDs:  []string{"r7b8c9d0e1f2a3b4c5d6e7f80"},
			attachments: []string{"IMG_2041.png"},
		},
		{
			file: "swedish_latin1.eml", externalID: "<20240604065951.3F2A1C0B9E@telia.example>",
			from: "asa.oberg@telia.example", name: "Åsa Öberg", subject: "Fråga om min beställning",
			hasText: []string{"Jag beställde en tröja förra veckan (order 1050) men fick fel storlek.",
				"Kan jag byta den mot en större? Priset var 499 €.", "Hälsningar\nÅsa Öberg"},
			notText: []string{"\uFFFD"},
			noHTML:  true,
		},
		{
			file: "newsletter_html.eml", externalID: "<news-2024-06-05-12345@news.example>",
			from: "news@news.example", name: "Fashion Weekly", subject: "Summer sale – 30% off",
			// Text derived from the HTML; no script source leaks into it.
			hasText: []string{"Summer sale – 30% off", "Our biggest sale of the year starts today.", "Shop now"},
			notText: []string{"document.cookie", "alert(", "@import"},
			hasHTML: []string{
				`<a href="https://shop.example/sale?utm=news" rel="nofollow noreferrer noopener" target="_blank">Shop now</a>`,
				`data-svar-src="https://cdn.tracker.example/banner.jpg"`, `data-svar-src="https://cdn.tracker.example/open.gif?id=12345"`,
				"<b>today</b>", `style="color: #d6336c"`,
			},
			notHTML: []string{"<script", "document.cookie", "onload", "onclick", "javascript:", "<form", "<input", "<iframe",
				"<object", "<svg", "<link", "<style", "@import", "url(", "expression", ` src="https://`, "hero.jpg", "evil.example"},
			auto: true, autoReason: "precedence: bulk",
		},
		{
			file: "ooo_autoreply.eml", externalID: "<6f5e4d3c2b1a4f0e9d8c7b6a5f4e3d2c@company.example>",
			from: "karin.nilsson@company.example", name: "Karin Nilsson", subject: "Autosvar: Din beställning [#1045]",
			hasText: []string{"Jag är på semester till och med 12 augusti"},
			noHTML:  true, auto: true, autoReason: "auto-submitted: auto-replied",
			inReplyTo: "<svar.r8c9d0e1f2a3b4c5d6e7f8091@shop.example>", ticketNumber: 1045,
			messageIDs: []string{"r8c9d0e1f2a3b4c5d6e7f8091"},
		},
		{
			file: "dsn_bounce.eml", externalID: "<20240606120102.4Vx1Y2Z3@mx.shop.example>",
			from: "mailer-daemon@mx.shop.example", name: "Mail Delivery System", subject: "Undelivered Mail Returned to Sender",
			hasText: []string{"could not\nbe delivered"},
			noHTML:  true, auto: true, autoReason: AutoBounce,
			bounce: &ticketing.Bounce{MessageID: "r9d0e1f2a3b4c5d6e7f8091a2",
				Reason: "550 5.1.1 <nobody@customer.example>: Recipient address rejected: User unknown in virtual mailbox table"},
		},
		{
			file: "no_message_id.eml", from: "erik.sand@example.net", name: "Web shop contact form",
			subject: "Contact form: invoice question",
			hasText: []string{"I was charged twice for order 1061."}, noHTML: true,
		},
		{
			file: "forwarded.eml", externalID: "<CAFwd0001+xyz@mail.gmail.com>",
			from: "maria.holm@gmail.com", name: "Maria Holm", subject: "Fwd: Your order 1001 has shipped",
			// A forward is the point of the mail: nothing is folded away.
			hasText: []string{"the package never came", "---------- Forwarded message ---------",
				"Tracking number: 00370712345678901234", "> This line is quoted inside the forwarded mail."},
			hasHTML: []string{"Tracking number: 00370712345678901234", "Forwarded message"},
		},
		{
			file: "windows1252.eml", externalID: "<000601dab9a1$2c3d4e50$8596a7b8$@example.de>",
			from: "jose.mueller@example.de", name: "José Müller", subject: "Wrong price – order 1070",
			hasText: []string{"The “Premium” jacket costs €129 – but I was charged €159…", "José Müller"},
			notText: []string{"\uFFFD"}, noHTML: true,
		},
	}
}

func TestCorpusEnvelopes(t *testing.T) {
	for _, tc := range corpusCases() {
		t.Run(strings.TrimSuffix(tc.file, ".eml"), func(t *testing.T) {
			st := newMemStore()
			c := newChannel(t, testOptions(t, "127.0.0.1:1", "127.0.0.1:2", st, &recPublisher{}, nil, st))
			raw := readCorpus(t, tc.file)
			key := rawKey(raw)
			if err := st.PutBlob(context.Background(), &ticketing.Blob{Key: key, Data: raw}); err != nil {
				t.Fatal(err)
			}
			received := time.Date(2024, 6, 10, 8, 0, 0, 0, time.UTC)
			env, err := c.buildEnvelope(context.Background(), raw, key, mailInfo{UIDValidity: 7, UID: 3, Internal: received})
			if err != nil {
				t.Fatal(err)
			}
			if err := ticketing.NewValidator().Validate(env); err != nil {
				t.Fatalf("invalid envelope: %v", err)
			}
			want := tc.externalID
			if want == "" {
				p, _ := c.parser.parse(raw)
				want = "sha256:" + p.ContentHash
			}
			check := func(field string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %#v, want %#v", field, got, want)
				}
			}
			check("channel", env.Channel, ticketing.ChannelEmail)
			check("external id", env.ExternalID, want)
			check("from", env.From, ticketing.Identity{Kind: ticketing.IdentityEmail, Value: tc.from, Verified: false})
			check("name", env.Name, tc.name)
			check("subject", env.Subject, tc.subject)
			check("auto", env.Auto, tc.auto)
			check("auto reason", env.AutoReason, tc.autoReason)
			check("received at", env.ReceivedAt, received)
			check("meta raw_key", env.Meta[MetaRawKey], key)
			check("meta message_id", env.Meta[MetaMessageID], tc.externalID)
			check("meta imap_uid", env.Meta[MetaIMAPUID], "7/3")
			check("thread in-reply-to", env.Thread.InReplyTo, tc.inReplyTo)
			check("thread ticket number", env.Thread.TicketNumber, tc.ticketNumber)
			if !slices.Equal(env.Thread.MessageIDs, tc.messageIDs) {
				t.Errorf("thread message ids = %q, want %q", env.Thread.MessageIDs, tc.messageIDs)
			}
			switch {
			case tc.bounce == nil && env.Bounce != nil:
				t.Errorf("bounce = %+v, want none", env.Bounce)
			case tc.bounce != nil && (env.Bounce == nil || *env.Bounce != *tc.bounce):
				t.Errorf("bounce = %+v, want %+v", env.Bounce, tc.bounce)
			}
			for _, s := range tc.hasText {
				if !strings.Contains(env.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, env.Text)
				}
			}
			for _, s := range tc.notText {
				if strings.Contains(env.Text, s) {
					t.Errorf("text has %q:\n%s", s, env.Text)
				}
			}
			for _, s := range tc.fullText {
				if !strings.Contains(env.Meta[MetaFullText], s) {
					t.Errorf("full text lacks %q:\n%s", s, env.Meta[MetaFullText])
				}
			}
			if len(tc.fullText) == 0 && env.Meta[MetaFullText] != "" {
				t.Errorf("full text set, want none (nothing folded):\n%s", env.Meta[MetaFullText])
			}
			if tc.noHTML && env.HTML != "" {
				t.Errorf("html = %q, want none", env.HTML)
			}
			for _, s := range tc.hasHTML {
				if !strings.Contains(env.HTML, s) {
					t.Errorf("html lacks %q:\n%s", s, env.HTML)
				}
			}
			lower := strings.ToLower(env.HTML)
			for _, s := range tc.notHTML {
				if strings.Contains(lower, strings.ToLower(s)) {
					t.Errorf("html has %q:\n%s", s, env.HTML)
				}
			}
			var names []string
			for _, a := range env.Attachments {
				names = append(names, a.Filename)
				b, err := st.GetBlob(context.Background(), a.Key)
				if err != nil {
					t.Errorf("attachment %s not stored: %v", a.Filename, err)
					continue
				}
				if int64(len(b.Data)) != a.Size || b.ContentType != a.ContentType || len(b.Data) == 0 {
					t.Errorf("attachment %s: stored %d bytes of %s, envelope says %d of %s", a.Filename, len(b.Data), b.ContentType, a.Size, a.ContentType)
				}
				if !strings.HasPrefix(a.Key, "email/att/") || len(a.Key) != len("email/att/")+32 {
					t.Errorf("attachment key %q is not a random key", a.Key)
				}
				if bytes.Contains(raw, []byte(a.Key)) {
					t.Errorf("attachment key %q is derived from the mail", a.Key)
				}
			}
			if !slices.Equal(names, tc.attachments) {
				t.Errorf("attachments = %q, want %q", names, tc.attachments)
			}
		})
	}
}
