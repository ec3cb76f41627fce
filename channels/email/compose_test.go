package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mailsettings"
)

// TestSendReplyIdentityAndAttachments: a reply with a file goes out From
// the shop's name with the signature in the customer's language and the
// file as a MIME attachment with its name and type.
func TestSendReplyIdentityAndAttachments(t *testing.T) {
	srv := startSMTP(t, "", nil)
	st, bus := newMemStore(), newQueueOutbound()
	st.putMessage(queuedMessage("r7"))
	ctx := context.Background()
	admin := &ticketing.Agent{ID: "a1", Role: ticketing.RoleAdmin}
	if _, err := mailsettings.Put(ctx, st, admin, mailsettings.Settings{FromName: "Kundtjänst Skoaffären",
		Signature: "Best regards\nThe Shoe Shop", Signatures: map[string]string{"sv": "Vänliga hälsningar\nSkoaffären"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 3000)...)
	if err := st.PutBlob(ctx, &ticketing.Blob{Key: "out/k1", Filename: "returnsedel.pdf", ContentType: "application/pdf", Data: pdf}); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, startIMAP(t, true, nil).addr, srv.addr, st, &recPublisher{}, bus, st)
	c := newChannel(t, o)
	start(t, c)
	out := testOutbound("r7")
	out.Language = "sv"
	out.Attachments = []ticketing.Attachment{{Key: "out/k1", Filename: "returnsedel.pdf", ContentType: "application/pdf", Size: int64(len(pdf))}}
	bus.q <- out
	checkFor(t, 10*time.Second, func() error {
		if d := st.delivery("r7"); d == nil || d.Status != ticketing.DeliverySent {
			return fmt.Errorf("delivery %+v, want sent", d)
		}
		return nil
	})
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	r, err := mail.CreateReader(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if from := r.Header.Get("From"); !strings.Contains(from, "<support@shop.example>") || !strings.Contains(decodeWord(from), "Kundtjänst Skoaffären") {
		t.Errorf("From %q", from)
	}
	var text string
	var names, types []string
	var body []byte
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			if ct == "text/plain" {
				b, _ := io.ReadAll(p.Body)
				text = strings.ReplaceAll(string(b), "\r\n", "\n")
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			names, types = append(names, name), append(types, ct)
			body, _ = io.ReadAll(p.Body)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(text), "-- \nVänliga hälsningar\nSkoaffären") {
		t.Errorf("text does not end with the Swedish signature:\n%s", text)
	}
	if strings.Join(names, ",") != "returnsedel.pdf" || strings.Join(types, ",") != "application/pdf" || !bytes.Equal(body, pdf) {
		t.Errorf("attachments %v %v (%d bytes)", names, types, len(body))
	}
}

func decodeWord(s string) string {
	var h mail.Header
	h.Set("X", s)
	v, err := h.Text("X")
	if err != nil {
		return s
	}
	return v
}
