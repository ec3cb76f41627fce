package ticketing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// TestReplyOnlyOnConfiguredChannels: a reply on a channel that is not set
// up (here SMS, the customer's only way back) is refused naming channel,
// and nothing is stored or queued; the ticket view lists what can send.
func TestReplyOnlyOnConfiguredChannels(t *testing.T) {
	f := newFixture(t)
	svc := ticketing.New(ticketing.Options{Store: f.store, Bus: f.bus, Now: f.clock,
		ReplyChannels: []ticketing.Channel{ticketing.ChannelChat, ticketing.ChannelEmail}})
	ctx := context.Background()
	env := &ticketing.Envelope{Channel: ticketing.ChannelSMS, ExternalID: "SM-rc-1", Text: "Hej, var är paketet?",
		From: ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}, ReceivedAt: time.Now().UTC()}
	for i, err := range svc.Ingest(ctx, []*ticketing.Envelope{env}) {
		if err != nil {
			t.Fatalf("envelope %d: %v", i, err)
		}
	}
	c, err := svc.CustomerByIdentity(ctx, "phone:+46701234567")
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []ticketing.Channel{ticketing.ChannelSMS, ""} {
		_, err := svc.Reply(ctx, c.CurrentTicketID, f.agent, ticketing.ReplyInput{Text: "Hej!", Channel: ch})
		var de *ticketing.Error
		if err == nil || ticketing.ErrorCode(err) != ticketing.EInvalid || !asError(err, &de) || de.Field != "channel" {
			t.Fatalf("reply by %q: %v, want a field error on channel", ch, err)
		}
	}
	v, err := svc.TicketView(ctx, c.CurrentTicketID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) != 1 {
		t.Fatalf("%d messages, want only the customer's", len(v.Messages))
	}
	if !slices.Equal(v.ReplyChannels, []ticketing.Channel{ticketing.ChannelEmail, ticketing.ChannelChat}) {
		t.Fatalf("reply_channels = %v", v.ReplyChannels)
	}
	// A note is not a reply: it needs no channel.
	if _, err := svc.Reply(ctx, c.CurrentTicketID, f.agent, ticketing.ReplyInput{Text: "Ring honom", Note: true}); err != nil {
		t.Fatalf("note: %v", err)
	}
}

func asError(err error, target **ticketing.Error) bool {
	e, ok := err.(*ticketing.Error)
	if ok {
		*target = e
	}
	return ok
}
