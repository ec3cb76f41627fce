package sms

import (
	"net/http"
	"strings"
	"testing"

	"github.com/svar-dev/svar/ticketing"
)

func TestReplyReachesProvider(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		o := u.outbound("m-reply-1", "Hej Anna! Paketet kommer i morgon. 📦")
		if _, err := u.drive(o, 1); err != nil {
			t.Fatal(err)
		}
		sent := u.api.Accepted()
		if len(sent) != 1 {
			t.Fatalf("%d sends accepted, want 1", len(sent))
		}
		f := sent[0]
		if f.Get(k.sentTo) != testCustomerNum || f.Get(k.sentFrom) != testFrom || f.Get(k.sentText) != o.Text {
			t.Fatalf("sent form %v", f)
		}
		if p := pathOf(t, testPublicURL, f.Get(k.sentStatusURL)); !strings.Contains(p, "m=m-reply-1") {
			t.Fatalf("status URL %q does not name the message", f.Get(k.sentStatusURL))
		}
		reps := u.svc.Reports()
		if len(reps) != 1 || reps[0].Status != ticketing.DeliverySent || reps[0].ProviderID == "" {
			t.Fatalf("reports %+v, want one sent with the provider id", reps)
		}
		if !u.store.hasState(sentKey("m-reply-1")) {
			t.Fatal("no send record")
		}
		// A redelivery after the report changes nothing.
		if _, err := u.drive(o, 1); err != nil {
			t.Fatal(err)
		}
		if n := len(u.api.Accepted()); n != 1 {
			t.Fatalf("redelivery sent again: %d sends", n)
		}
	})
}

func TestServerErrorsRetryAndSendOnce(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		u.api.FailNext(2)
		attempts, err := u.drive(u.outbound("m-retry", "Tack för din beställning"), 10)
		if err != nil {
			t.Fatal(err)
		}
		if attempts != 3 || u.api.Attempts() != 3 {
			t.Fatalf("handler attempts %d, provider attempts %d; want 3 and 3", attempts, u.api.Attempts())
		}
		if n := len(u.api.Accepted()); n != 1 {
			t.Fatalf("%d accepted sends, want exactly 1", n)
		}
		if reps := u.svc.Reports(); len(reps) != 1 || reps[0].Status != ticketing.DeliverySent {
			t.Fatalf("reports %+v", reps)
		}
	})
}

func TestNetworkErrorRetries(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	u.api.srv.Close()
	err := u.ch.deliver(t.Context(), u.outbound("m-net", "Hej"), 1)
	if !ticketing.IsRetry(err) {
		t.Fatalf("err = %v, want a retry", err)
	}
	if len(u.svc.Reports()) != 0 {
		t.Fatal("reported a network error as final")
	}
}

func TestClientErrorFailsWithProviderText(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		u.api.RefuseNext("The 'To' number is not a valid phone number.")
		attempts, err := u.drive(u.outbound("m-4xx", "Hej"), 10)
		if err == nil || ticketing.IsRetry(err) || attempts != 1 {
			t.Fatalf("err %v after %d attempts, want a final error at once", err, attempts)
		}
		reps := u.svc.Reports()
		if len(reps) != 1 || reps[0].Status != ticketing.DeliveryFailed || !strings.Contains(reps[0].Error, "not a valid phone number") {
			t.Fatalf("reports %+v, want failed with the provider's text", reps)
		}
	})
}

func TestSendRecordPreventsSecondSend(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		// The send goes out, then the core is down through every report
		// attempt (as if the node had died before reporting).
		u.svc.failReport = 3
		o := u.outbound("m-crash", "Hej")
		err := u.ch.deliver(t.Context(), o, 1)
		if !ticketing.IsRetry(err) {
			t.Fatalf("err = %v, want a retry to report later", err)
		}
		if err := u.ch.deliver(t.Context(), o, 2); err != nil {
			t.Fatal(err)
		}
		if n := len(u.api.Accepted()); n != 1 {
			t.Fatalf("%d sends, want 1", n)
		}
		m, _ := u.store.GetMessage(t.Context(), "m-crash")
		if m.Delivery.Status != ticketing.DeliverySent || m.Delivery.ProviderID == "" {
			t.Fatalf("delivery %+v", m.Delivery)
		}
	})
}

func TestAlreadySentIsSkipped(t *testing.T) {
	u := newUnit(t, ProviderElks)
	o := u.outbound("m-done", "Hej")
	u.store.messages["m-done"].Delivery.Status = ticketing.DeliveryDelivered
	if err := u.ch.deliver(t.Context(), o, 1); err != nil {
		t.Fatal(err)
	}
	if u.api.Attempts() != 0 || len(u.svc.Reports()) != 0 {
		t.Fatalf("sent %d times, reported %d times", u.api.Attempts(), len(u.svc.Reports()))
	}
}

func TestUnreachableRecipients(t *testing.T) {
	tests := map[string]ticketing.Identity{
		"email identity":   {Kind: ticketing.IdentityEmail, Value: "anna@example.se"},
		"short code":       {Kind: ticketing.IdentityPhone, Value: "72550"},
		"sender name":      {Kind: ticketing.IdentityPhone, Value: "PostNord"},
		"not a number":     {Kind: ticketing.IdentityPhone, Value: "+46 12"},
		"too long to send": {Kind: ticketing.IdentityPhone, Value: testCustomerNum},
	}
	for name, to := range tests {
		t.Run(name, func(t *testing.T) {
			u := newUnit(t, ProviderTwilio)
			o := u.outbound("m-bad", "Hej")
			o.To = to
			if name == "too long to send" {
				o.Text = strings.Repeat("a", 153*10+1)
			}
			err := u.ch.deliver(t.Context(), o, 1)
			if err == nil || ticketing.IsRetry(err) {
				t.Fatalf("err = %v, want final", err)
			}
			if u.api.Attempts() != 0 {
				t.Fatal("sent")
			}
			if reps := u.svc.Reports(); len(reps) != 1 || reps[0].Status != ticketing.DeliveryFailed || reps[0].Error == "" {
				t.Fatalf("reports %+v", reps)
			}
		})
	}
}

func TestStopBlocksSends(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		for _, stop := range []string{"STOP", "stopp", " Stoppa! ", "AVSLUTA", "unsubscribe"} {
			t.Run(stop, func(t *testing.T) {
				u := newUnit(t, k.provider)
				// The customer's first SMS is STOP: no customer exists yet.
				if w := u.post(k.inbound("SMstop1", "070-123 45 67", stop)); w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				envs := u.pub.Envelopes()
				if len(envs) != 1 || !strings.HasPrefix(envs[0].Meta["sms_opt_out"], strings.ToUpper(strings.Trim(stop, " !"))+" at ") {
					t.Fatalf("the STOP message must still be ingested with the reason: %+v", envs)
				}
				if !u.store.hasState(optOutKey(testCustomerNum)) {
					t.Fatal("opt-out not recorded for the number")
				}
				// Now the core has made the customer, without the opt-out.
				u.svc.customers["phone:"+testCustomerNum] = &ticketing.Customer{ID: "c1",
					Identities: []ticketing.Identity{{Kind: ticketing.IdentityPhone, Value: testCustomerNum}}}
				err := u.ch.deliver(t.Context(), u.outbound("m-after-stop", "Hej"), 1)
				if err == nil || ticketing.IsRetry(err) || ticketing.ErrorCode(err) != ticketing.EOptedOut {
					t.Fatalf("err = %v, want a final opted-out error", err)
				}
				if u.api.Attempts() != 0 {
					t.Fatal("texted a number that sent STOP")
				}
				reps := u.svc.Reports()
				if len(reps) != 1 || reps[0].Status != ticketing.DeliveryFailed || reps[0].Error != optedOutError {
					t.Fatalf("reports %+v", reps)
				}
				// The agent now sees the opt-out on the profile too.
				if c := u.svc.customers["phone:"+testCustomerNum]; c.OptOuts["sms"] == "" {
					t.Fatal("opt-out not copied to the customer")
				}

				// START opts back in.
				if w := u.post(k.inbound("SMstart1", testCustomerNum, "start")); w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				if u.store.hasState(optOutKey(testCustomerNum)) || u.svc.customers["phone:"+testCustomerNum].OptOuts["sms"] != "" {
					t.Fatal("START did not clear the opt-out")
				}
				if _, err := u.drive(u.outbound("m-after-start", "Välkommen tillbaka"), 1); err != nil {
					t.Fatal(err)
				}
				if n := len(u.api.Accepted()); n != 1 {
					t.Fatalf("%d sends after START, want 1", n)
				}
			})
		}
	})
}

func TestStopOnExistingCustomer(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	u.svc.customers["phone:"+testCustomerNum] = &ticketing.Customer{ID: "c1"}
	if w := u.post(twilioKit(t, testPublicURL).inbound("SMstop2", testCustomerNum, "Stop")); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if got := u.svc.customers["phone:"+testCustomerNum].OptOuts["sms"]; got != "STOP at 2025-03-04T10:00:00Z" {
		t.Fatalf("customer opt-out %q", got)
	}
	// "Stop the order" is a question for an agent, not an opt-out.
	if w := u.post(twilioKit(t, testPublicURL).inbound("SMnotstop", "+46709999999", "Stop the order please")); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	if u.store.hasState(optOutKey("+46709999999")) {
		t.Fatal("a sentence starting with stop opted out")
	}
}

func TestAgentOptOutOnCustomerBlocksSends(t *testing.T) {
	u := newUnit(t, ProviderElks)
	u.svc.customers["phone:"+testCustomerNum] = &ticketing.Customer{ID: "c1", OptOuts: map[string]string{"sms": "asked by phone"}}
	err := u.ch.deliver(t.Context(), u.outbound("m-x", "Hej"), 1)
	if ticketing.ErrorCode(err) != ticketing.EOptedOut || u.api.Attempts() != 0 {
		t.Fatalf("err %v, %d attempts", err, u.api.Attempts())
	}
}

func TestDeliveryCallbacks(t *testing.T) {
	forEachProvider(t, func(t *testing.T, k *kit) {
		u := newUnit(t, k.provider)
		if _, err := u.drive(u.outbound("m-cb", "Hej"), 1); err != nil {
			t.Fatal(err)
		}
		statusURL := u.api.Accepted()[0].Get(k.sentStatusURL)
		m, _ := u.store.GetMessage(t.Context(), "m-cb")
		pid := m.Delivery.ProviderID

		if w := u.post(k.forgedStatus(statusURL, pid, "failed")); w.Code != http.StatusForbidden && w.Code != http.StatusUnauthorized {
			t.Fatalf("forged report: status %d", w.Code)
		}
		if n := len(u.svc.Reports()); n != 1 {
			t.Fatalf("a forged report was applied: %d reports", n)
		}
		if w := u.post(k.status(statusURL, pid, "delivered")); w.Code != http.StatusOK {
			t.Fatalf("delivered report: status %d %s", w.Code, w.Body)
		}
		reps := u.svc.Reports()
		if last := reps[len(reps)-1]; len(reps) != 2 || last.Status != ticketing.DeliveryDelivered || last.ProviderID != pid {
			t.Fatalf("reports %+v", reps)
		}
		m, _ = u.store.GetMessage(t.Context(), "m-cb")
		if m.Delivery.Status != ticketing.DeliveryDelivered {
			t.Fatalf("delivery %+v", m.Delivery)
		}
	})
}

func TestFailedCallbackCarriesReason(t *testing.T) {
	u := newUnit(t, ProviderTwilio)
	k := twilioKit(t, testPublicURL)
	u.outbound("m-und", "Hej")
	w := u.post(k.status(u.ch.provider.StatusURL("m-und"), "SM0123", "undelivered"))
	if w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	reps := u.svc.Reports()
	if len(reps) != 1 || reps[0].Status != ticketing.DeliveryFailed || !strings.Contains(reps[0].Error, "30003") {
		t.Fatalf("reports %+v", reps)
	}
	// Interim states and unknown messages are acknowledged and change nothing.
	if w := u.post(k.status(u.ch.provider.StatusURL("m-und"), "SM0123", "queued")); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	if w := u.post(k.status(u.ch.provider.StatusURL("m-unknown"), "SM0124", "delivered")); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	if n := len(u.svc.Reports()); n != 2 {
		t.Fatalf("%d reports", n)
	}
	// The core being down makes the provider retry.
	u.svc.failReport = 1
	if w := u.post(k.status(u.ch.provider.StatusURL("m-und"), "SM0123", "delivered")); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
}
