package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// stack is the SMS channel on the real pieces: embedded NATS, the embedded
// store and the ticketing core, with its webhooks on a loopback HTTP
// server. Only the provider's API is a fake.
type stack struct {
	t     *testing.T
	bus   *natsbus.Bus
	store *mongostore.Store
	svc   *ticketing.Service
	ch    *Channel
	api   *fakeAPI
	srv   *httptest.Server
	kit   *kit
	agent *ticketing.Agent
}

func newStack(t *testing.T, provider string) *stack {
	t.Helper()
	s := &stack{t: t, store: mongotest.New(t), bus: natstest.New(t), api: newFakeAPI(t, provider),
		agent: &ticketing.Agent{ID: "agent-1", Name: "Agnes", Role: ticketing.RoleAgent, Active: true}}
	mux := http.NewServeMux()
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)

	checks := map[ticketing.Channel]func(string) (map[string]string, error){
		ticketing.ChannelSMS: func(text string) (map[string]string, error) { return s.ch.CheckReply(text) },
	}
	s.svc = ticketing.New(ticketing.Options{Store: s.store, Bus: s.bus, ReplyChecks: checks, Logger: natstest.Logger(t)})
	ch, err := New(Options{
		Provider: provider, From: testFrom, PublicURL: s.srv.URL,
		Twilio:    TwilioOptions{AccountSID: testSID, AuthToken: testToken, APIBase: s.api.URL()},
		Elks:      ElksOptions{Username: testElksUser, Password: testElksPass, APIBase: s.api.URL(), WebhookSecret: testElksSecret},
		Publisher: s.bus, Outbound: s.bus, Store: s.store, Service: s.svc,
		Logger: natstest.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ch = ch
	ch.Routes(mux)
	if provider == ProviderTwilio {
		s.kit = twilioKit(t, s.srv.URL)
	} else {
		s.kit = elksKit(t, s.srv.URL)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.bus.ConsumeInbound(ctx, s.svc.Ingest); err != nil && ctx.Err() == nil {
			t.Errorf("consume inbound: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := ch.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("sms run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s
}

// send sends a webhook request built by the kit to the real server.
func (s *stack) send(r *http.Request) int {
	s.t.Helper()
	req, err := http.NewRequest(r.Method, s.srv.URL+r.URL.RequestURI(), r.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header = r.Header.Clone()
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// eventually polls cond until it returns nil, failing after a generous
// deadline with cond's last error.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inboundStored waits until the message with the provider id is stored
// and returns it.
func (s *stack) inboundStored(providerID string) *ticketing.Message {
	s.t.Helper()
	var m *ticketing.Message
	// Stored, and on its ticket: the core stores a message first and then
	// adds it to the ticket.
	eventually(s.t, "inbound "+providerID+" stored", func() (err error) {
		ctx := context.Background()
		if m, err = s.store.GetMessage(ctx, ticketing.InboundMessageID(ticketing.ChannelSMS, providerID)); err != nil || m.TicketID == "" {
			return err
		}
		t, err := s.store.GetTicket(ctx, m.TicketID)
		if err == nil && !slices.Contains(t.MessageIDs, m.ID) {
			err = errors.New("not on its ticket yet")
		}
		return err
	})
	return m
}

func (s *stack) delivery(id string) (*ticketing.Delivery, error) {
	m, err := s.store.GetMessage(context.Background(), id)
	if err != nil {
		return nil, err
	}
	if m.Delivery == nil {
		return nil, errors.New("no delivery state")
	}
	return m.Delivery, nil
}

func (s *stack) waitDelivery(id, status string) *ticketing.Delivery {
	s.t.Helper()
	var d *ticketing.Delivery
	eventually(s.t, "message "+id+" "+status, func() (err error) {
		if d, err = s.delivery(id); err == nil && d.Status != status {
			err = fmt.Errorf("delivery %+v", d)
		}
		return err
	})
	return d
}

// TestEndToEnd walks each provider through the acceptance list on
// the real bus, store and core.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded NATS and the embedded store")
	}
	for _, provider := range []string{ProviderTwilio, ProviderElks} {
		t.Run(provider, func(t *testing.T) {
			s := newStack(t, provider)
			ctx := t.Context()
			k := s.kit

			// A signed inbound message makes a ticket with the phone identity.
			if code := s.send(k.inbound("SM0000000001", "070-123 45 67", "Hej, var är min order 1001?")); code != http.StatusOK {
				t.Fatalf("inbound: %d", code)
			}
			first := s.inboundStored("SM0000000001")
			if first.TicketID == "" || first.Text != "Hej, var är min order 1001?" || first.Channel != ticketing.ChannelSMS {
				t.Fatalf("stored %+v", first)
			}
			cust, err := s.svc.CustomerByIdentity(ctx, "phone:"+testCustomerNum)
			if err != nil {
				t.Fatalf("no customer with the E.164 phone identity: %v", err)
			}
			if cust.ID != first.CustomerID {
				t.Fatalf("message customer %s, identity customer %s", first.CustomerID, cust.ID)
			}

			// A bad signature or secret is refused and stores nothing.
			for name, forge := range k.forged {
				if code := s.send(forge("SM0000000666", testCustomerNum, "forged")); code != k.refusedWith {
					t.Fatalf("%s: %d, want %d", name, code, k.refusedWith)
				}
			}

			// A replay is stored once.
			if code := s.send(k.inbound("SM0000000001", "+46701234567", "Hej, var är min order 1001?")); code != http.StatusOK {
				t.Fatalf("replay: %d", code)
			}
			if code := s.send(k.inbound("SM0000000002", "+46 70 123 45 67", "Ordernummer 1001")); code != http.StatusOK {
				t.Fatalf("second: %d", code)
			}
			second := s.inboundStored("SM0000000002")
			if second.TicketID != first.TicketID {
				t.Fatalf("the same number in another format made another ticket: %s vs %s", second.TicketID, first.TicketID)
			}
			view, err := s.svc.TicketView(ctx, first.TicketID)
			if err != nil {
				t.Fatal(err)
			}
			if len(view.Messages) != 2 {
				t.Fatalf("ticket has %d messages, want 2 (the replay stored once)", len(view.Messages))
			}
			if _, err := s.store.GetMessage(ctx, ticketing.InboundMessageID(ticketing.ChannelSMS, "SM0000000666")); !ticketing.IsNotFound(err) {
				t.Fatalf("a forged message was stored: %v", err)
			}

			// The agent's reply reaches the fake with the right fields, and
			// two 500s followed by success send exactly once.
			s.api.FailNext(2)
			reply, err := s.svc.Reply(ctx, first.TicketID, s.agent, ticketing.ReplyInput{Text: "Hej! Din order 1001 skickades i dag."})
			if err != nil {
				t.Fatal(err)
			}
			if reply.Channel != ticketing.ChannelSMS || reply.Meta["sms_segments"] != "1" || reply.Meta["sms_encoding"] != EncodingGSM7 {
				t.Fatalf("reply %+v", reply)
			}
			sent := s.waitDelivery(reply.ID, ticketing.DeliverySent)
			accepted := s.api.Accepted()
			if len(accepted) != 1 || s.api.Attempts() != 3 {
				t.Fatalf("%d accepted of %d attempts, want 1 of 3", len(accepted), s.api.Attempts())
			}
			f := accepted[0]
			if f.Get(k.sentTo) != testCustomerNum || f.Get(k.sentFrom) != testFrom || f.Get(k.sentText) != reply.Text {
				t.Fatalf("sent %v", f)
			}
			if sent.ProviderID == "" {
				t.Fatal("no provider id recorded")
			}

			// A delivered callback shows as delivered, and the consoles hear.
			if code := s.send(k.status(f.Get(k.sentStatusURL), sent.ProviderID, "delivered")); code != http.StatusOK {
				t.Fatalf("status callback: %d", code)
			}
			s.waitDelivery(reply.ID, ticketing.DeliveryDelivered)
			eventually(t, "message.updated event with delivered", func() error {
				evs, err := s.bus.EventsAfter(ctx, 0, 1000)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					if ev.Type == ticketing.EventMessageUpdated && ev.Message != nil && ev.Message.ID == reply.ID &&
						ev.Message.Delivery != nil && ev.Message.Delivery.Status == ticketing.DeliveryDelivered {
						return nil
					}
				}
				return fmt.Errorf("not among %d events", len(evs))
			})

			// STOP from a known customer: the core refuses replies and
			// agents see why.
			if code := s.send(k.inbound("SM0000000003", testCustomerNum, "STOPP")); code != http.StatusOK {
				t.Fatalf("stop: %d", code)
			}
			s.inboundStored("SM0000000003")
			_, err = s.svc.Reply(ctx, first.TicketID, s.agent, ticketing.ReplyInput{Text: "Är du säker?", Channel: ticketing.ChannelSMS})
			if ticketing.ErrorCode(err) != ticketing.EOptedOut {
				t.Fatalf("reply after STOP: %v, want opted_out", err)
			}

			// STOP as a new number's first message: the customer does not
			// exist yet, so the adapter's own record blocks the send.
			const other = "+4520123456" // a Danish mobile
			if code := s.send(k.inbound("SM0000000004", "0045 20 12 34 56", "stop")); code != http.StatusOK {
				t.Fatalf("stop from new number: %d", code)
			}
			otherMsg := s.inboundStored("SM0000000004")
			before := s.api.Attempts()
			if !strings.HasPrefix(otherMsg.Meta["sms_opt_out"], "STOP at ") {
				t.Fatalf("the STOP message does not say why: %v", otherMsg.Meta)
			}
			blocked, err := s.svc.Reply(ctx, otherMsg.TicketID, s.agent, ticketing.ReplyInput{Text: "Hej!"})
			if err != nil {
				t.Fatalf("the core could not know of the opt-out yet: %v", err)
			}
			if d := s.waitDelivery(blocked.ID, ticketing.DeliveryFailed); d.Error != optedOutError {
				t.Fatalf("delivery %+v", d)
			}
			if s.api.Attempts() != before {
				t.Fatal("texted a number that sent STOP")
			}
			c2, err := s.svc.CustomerByIdentity(ctx, "phone:"+other)
			if err != nil || c2.OptOuts["sms"] == "" {
				t.Fatalf("agents cannot see the opt-out: %+v %v", c2, err)
			}

			// START opts back in.
			if code := s.send(k.inbound("SM0000000005", testCustomerNum, "Start")); code != http.StatusOK {
				t.Fatalf("start: %d", code)
			}
			s.inboundStored("SM0000000005")
			again, err := s.svc.Reply(ctx, first.TicketID, s.agent, ticketing.ReplyInput{Text: "Välkommen tillbaka!", Channel: ticketing.ChannelSMS})
			if err != nil {
				t.Fatalf("reply after START: %v", err)
			}
			s.waitDelivery(again.ID, ticketing.DeliverySent)
			if n := len(s.api.Accepted()); n != 2 {
				t.Fatalf("%d sends in all, want 2", n)
			}

			// An overlong reply is refused before it is stored.
			_, err = s.svc.Reply(ctx, first.TicketID, s.agent, ticketing.ReplyInput{Text: strings.Repeat("ж", 67*10+1), Channel: ticketing.ChannelSMS})
			if e, ok := err.(*ticketing.Error); !ok || e.Field != "text" {
				t.Fatalf("overlong reply: %v", err)
			}
		})
	}
}

// TestGarbageNumberRefused: a sender that libphonenumber does not call a
// valid number is refused at the webhook and stored nowhere, while a real
// number sent next is threaded.
func TestGarbageNumberRefused(t *testing.T) {
	for _, provider := range []string{ProviderTwilio, ProviderElks} {
		t.Run(provider, func(t *testing.T) {
			s := newStack(t, provider)
			ctx := context.Background()
			for i, from := range []string{"0000000000", "+46000000000", "+46 10 000 00 00"} {
				id := fmt.Sprintf("SM90000000%02d", i)
				if code := s.send(s.kit.inbound(id, from, "Hej")); code != http.StatusBadRequest {
					t.Fatalf("from %q: webhook answered %d, want 400", from, code)
				}
				if _, err := s.store.GetMessage(ctx, ticketing.InboundMessageID(ticketing.ChannelSMS, id)); !ticketing.IsNotFound(err) {
					t.Fatalf("from %q: message stored (err %v)", from, err)
				}
			}
			if code := s.send(s.kit.inbound("SM9100000001", "070-123 45 67", "Hej igen")); code != http.StatusOK {
				t.Fatalf("a real number: webhook answered %d", code)
			}
			s.inboundStored("SM9100000001")
			for _, key := range []string{"phone:+46000000000", "phone:+4600000000", "phone:+46100000000"} {
				if _, err := s.store.LookupIdentity(ctx, key); !ticketing.IsNotFound(err) {
					t.Fatalf("identity %s exists (err %v)", key, err)
				}
			}
		})
	}
}
