package ticketing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestReplyReferencesTheWholeChain: a reply's References carry what the
// first mail referenced and every mail of the ticket since, in and out,
// bounded to the first and the latest ten; In-Reply-To is the latest
// customer mail. The customer's language rides along for the signature.
func TestReplyReferencesTheWholeChain(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *ticketing.Outbound, 100)
	go f.bus.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(_ context.Context, o *ticketing.Outbound, _ int) error {
		got <- o
		return nil
	})
	next := func() *ticketing.Outbound {
		t.Helper()
		select {
		case o := <-got:
			return o
		case <-time.After(10 * time.Second):
			t.Fatal("no outbound")
			return nil
		}
	}
	var tk *ticketing.Ticket
	var want []string
	for i := 1; i <= 8; i++ {
		mid := fmt.Sprintf("<c%d@mail.example>", i)
		env := emailEnv("eva@example.se", mid, "Question "+fmt.Sprint(i))
		env.Meta = map[string]string{"message_id": mid}
		if i == 1 {
			env.Meta["references"] = "<shop-newsletter@shop.example>"
			want = append(want, "<shop-newsletter@shop.example>")
		}
		f.MustIngest(t, env)
		want = append(want, mid)
		tk = f.customerTicket(t, "email:eva@example.se").Ticket
		if i == 1 {
			if _, err := f.svc.PatchCustomer(ctx, tk.CustomerID, ticketing.CustomerPatch{Attributes: ticketing.Attributes{"language": "sv"}}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := f.svc.Reply(ctx, tk.ID, f.agent, ticketing.ReplyInput{Text: "Answer " + fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		o := next()
		if o.InReplyTo != mid || o.Language != "sv" {
			t.Fatalf("reply %d: in-reply-to %q, language %q", i, o.InReplyTo, o.Language)
		}
		chain := want
		if len(chain) > 11 {
			chain = append(append([]string{}, chain[:1]...), chain[len(chain)-10:]...)
		}
		if strings.Join(o.References, " ") != strings.Join(chain, " ") {
			t.Fatalf("reply %d references\n got %v\nwant %v", i, o.References, chain)
		}
		// The adapter reports it sent under Svar's own Message-ID.
		own := fmt.Sprintf("<svar.%s@shop.example>", r.ID)
		if _, err := f.svc.ReportDelivery(ctx, r.ID, ticketing.Delivery{Status: ticketing.DeliverySent, Channel: ticketing.ChannelEmail, ProviderID: own}); err != nil {
			t.Fatal(err)
		}
		want = append(want, own)
	}
}
