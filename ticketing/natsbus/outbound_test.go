package natsbus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

func outbound(id string, ch ticketing.Channel) *ticketing.Outbound {
	return &ticketing.Outbound{
		MessageID:    id,
		TicketID:     "t1",
		TicketNumber: 1042,
		CustomerID:   "c1",
		Channel:      ch,
		To:           ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "kund@example.se"},
		Subject:      "Re: Var är mitt paket? [#1042]",
		Text:         "Hej! Paketet skickades i går.",
		AgentName:    "Agnes",
		InReplyTo:    "<abc@example.se>",
		CreatedAt:    time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
	}
}

// attempts records the attempt numbers a handler saw per message.
type attempts struct {
	mu sync.Mutex
	m  map[string][]int
}

func (a *attempts) add(id string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string][]int{}
	}
	a.m[id] = append(a.m[id], n)
}

func (a *attempts) get(id string) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.m[id])
}

func TestOutboundRetryThenSuccess(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	var seen attempts
	got := make(chan *ticketing.Outbound, 10)
	run(t, func(ctx context.Context) error {
		return b.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(_ context.Context, o *ticketing.Outbound, attempt int) error {
			seen.add(o.MessageID, attempt)
			switch {
			case o.MessageID == "retry" && attempt < 3:
				return ticketing.Retry(errors.New("smtp: 451 try again later"), 0)
			case o.MessageID == "final":
				return errors.New("smtp: 550 no such user")
			}
			got <- o
			return nil
		})
	})
	want := outbound("retry", ticketing.ChannelEmail)
	for _, o := range []*ticketing.Outbound{want, outbound("final", ticketing.ChannelEmail)} {
		if err := b.PublishOutbound(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case o := <-got:
		if o.MessageID != want.MessageID || o.Subject != want.Subject || o.To != want.To || !o.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("delivered %+v, want %+v", o, want)
		}
	case <-ctx.Done():
		t.Fatal("the retried message was never delivered")
	}
	if a := seen.get("retry"); !slices.Equal(a, []int{1, 2, 3}) {
		t.Errorf("attempts = %v, want [1 2 3]", a)
	}
	eventually(t, 10*time.Second, "outbound stream empty", func() bool {
		return streamMsgs(t, b, natsbus.StreamOutbound) == 0
	})
	if a := seen.get("final"); !slices.Equal(a, []int{1}) {
		t.Errorf("a final error was retried: attempts %v", a)
	}
	if n := streamMsgs(t, b, natsbus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

func TestOutboundGivesUpIntoDLQ(t *testing.T) {
	url := natstest.NewServer(t)
	b := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: natstest.Namespace(t), OutboundMaxDeliver: 3})
	ctx := ctxTimeout(t, 20*time.Second)
	var seen attempts
	run(t, func(ctx context.Context) error {
		return b.ConsumeOutbound(ctx, ticketing.ChannelSMS, func(_ context.Context, o *ticketing.Outbound, attempt int) error {
			seen.add(o.MessageID, attempt)
			return ticketing.Retry(errors.New("provider down"), 10*time.Millisecond)
		})
	})
	if err := b.PublishOutbound(ctx, outbound("sms-1", ticketing.ChannelSMS)); err != nil {
		t.Fatal(err)
	}
	dl := waitDLQ(t, b, 1)
	if dl[0].Subject != b.DLQSubject("outbound.sms") {
		t.Errorf("dead letter on %q", dl[0].Subject)
	}
	if r := dl[0].Header.Get(natsbus.HeaderReason); !strings.Contains(r, "provider down") {
		t.Errorf("reason %q", r)
	}
	if a := seen.get("sms-1"); !slices.Equal(a, []int{1, 2, 3}) {
		t.Errorf("attempts = %v, want [1 2 3]", a)
	}
}

func TestOutboundDedupeAndChannelFilter(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 20*time.Second)
	o := outbound("m1", ticketing.ChannelEmail)
	fb := outbound("m1", ticketing.ChannelEmail)
	fb.Fallback = ticketing.ChannelChat // the same message mailed as a chat fallback: distinct
	for _, x := range []*ticketing.Outbound{o, o, fb, fb, outbound("c1", ticketing.ChannelChat)} {
		if err := b.PublishOutbound(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, b, natsbus.StreamOutbound); n != 3 {
		t.Fatalf("outbound stream holds %d, want 3", n)
	}
	var seen attempts
	var mu sync.Mutex
	var fallbacks []ticketing.Channel
	run(t, func(ctx context.Context) error {
		return b.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(_ context.Context, o *ticketing.Outbound, attempt int) error {
			seen.add(o.MessageID, attempt)
			mu.Lock()
			fallbacks = append(fallbacks, o.Fallback)
			mu.Unlock()
			return nil
		})
	})
	eventually(t, 10*time.Second, "both email messages delivered", func() bool { return len(seen.get("m1")) == 2 })
	eventually(t, 10*time.Second, "only the chat message left", func() bool {
		return streamMsgs(t, b, natsbus.StreamOutbound) == 1
	})
	if a := seen.get("c1"); len(a) != 0 {
		t.Errorf("the email consumer got a chat message")
	}
	mu.Lock()
	slices.Sort(fallbacks)
	mu.Unlock()
	if !slices.Equal(fallbacks, []ticketing.Channel{"", ticketing.ChannelChat}) {
		t.Errorf("fallbacks delivered %q", fallbacks)
	}
}

// A handler slower than AckWait is kept alive with InProgress, so it is
// not delivered a second time while it works.
func TestOutboundSlowHandlerNotRedelivered(t *testing.T) {
	url := natstest.NewServer(t)
	b := natstest.ConnectOptions(t, natsbus.Options{URL: url, Namespace: natstest.Namespace(t), AckWait: 400 * time.Millisecond})
	ctx := ctxTimeout(t, 20*time.Second)
	var seen attempts
	done := make(chan struct{})
	run(t, func(ctx context.Context) error {
		return b.ConsumeOutbound(ctx, ticketing.ChannelEmail, func(ctx context.Context, o *ticketing.Outbound, attempt int) error {
			seen.add(o.MessageID, attempt)
			if attempt == 1 {
				select {
				case <-time.After(1500 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
				close(done)
			}
			return nil
		})
	})
	if err := b.PublishOutbound(ctx, outbound("slow", ticketing.ChannelEmail)); err != nil {
		t.Fatal(err)
	}
	<-done
	eventually(t, 10*time.Second, "acknowledged", func() bool {
		return streamMsgs(t, b, natsbus.StreamOutbound) == 0
	})
	if a := seen.get("slow"); !slices.Equal(a, []int{1}) {
		t.Errorf("attempts = %v, want [1]: redelivered while the handler worked", a)
	}
}

func TestPublishRejectsBadChannel(t *testing.T) {
	b := natstest.New(t)
	ctx := ctxTimeout(t, 5*time.Second)
	e := envelope("x")
	e.Channel = "e.mail"
	if err := b.PublishInbound(ctx, e); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Errorf("PublishInbound with channel %q: %v, want invalid", e.Channel, err)
	}
	o := outbound("x", "*")
	if err := b.PublishOutbound(ctx, o); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Errorf("PublishOutbound with channel %q: %v, want invalid", o.Channel, err)
	}
	if err := b.ConsumeOutbound(ctx, ">", nil); ticketing.ErrorCode(err) != ticketing.EInvalid {
		t.Errorf("ConsumeOutbound(>): %v, want invalid", err)
	}
}
