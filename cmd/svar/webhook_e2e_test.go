package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// received is one request a fake receiver got.
type received struct {
	EventID string
	Type    string
	Status  int
}

// verify checks a delivery the documented way: split
// Svar-Signature into t and v1, HMAC-SHA256 "<t>.<body>" with the secret,
// compare in constant time, and refuse a t more than 5 minutes away.
func verify(secret, header string, body []byte) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fmt.Errorf("signature %q, want %q", sig, want)
	}
	return nil
}

func TestWebhookRetriesInOrderAndSigns(t *testing.T) {
	m := startNode(t, "", func(m *Main) { m.Config.WebhookAllowPrivate = true })
	c := login(t, m)
	const secret = "s3cret-s3cret-s3cret"
	var (
		mu    sync.Mutex
		got   []received
		fails = 2
		bad   []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			ID     string            `json:"id"`
			Type   string            `json:"type"`
			Ticket *ticketing.Ticket `json:"ticket"`
		}
		mu.Lock()
		defer mu.Unlock()
		if err := verify(secret, r.Header.Get("Svar-Signature"), body); err != nil {
			bad = append(bad, err.Error())
		}
		if err := json.Unmarshal(body, &p); err != nil || p.ID != r.Header.Get("Svar-Event-Id") || p.Ticket == nil {
			bad = append(bad, fmt.Sprintf("payload %s (event id header %q)", body, r.Header.Get("Svar-Event-Id")))
		}
		status := http.StatusOK
		if fails > 0 {
			fails--
			status = http.StatusServiceUnavailable
		}
		got = append(got, received{EventID: p.ID, Type: p.Type, Status: status})
		w.WriteHeader(status)
	}))
	defer srv.Close()

	res := c.do("POST", "/api/v1/webhooks", map[string]any{"url": srv.URL + "/hook", "events": []string{"ticket.created", "message.created"}, "secret": secret})
	if res.status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", res.status, res.body)
	}
	var created struct{ Webhook struct{ ID string } }
	res.decode(t, &created)
	if strings.Contains(string(res.body), secret) {
		t.Fatalf("the secret is shown: %s", res.body)
	}

	ctx := context.Background()
	for i, text := range []string{"first", "second", "third"} {
		if err := m.Bus.PublishInbound(ctx, envelope("hook@example.se", fmt.Sprintf("<h%d@x>", i), text)); err != nil {
			t.Fatal(err)
		}
	}
	// ticket.created, then three message.created: four events, the first
	// tried three times.
	eventually(t, "deliveries", func() error {
		mu.Lock()
		defer mu.Unlock()
		ok := 0
		for _, r := range got {
			if r.Status == 200 {
				ok++
			}
		}
		if ok < 4 {
			return fmt.Errorf("%d delivered: %+v", ok, got)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad deliveries: %v", bad)
	}
	if len(got) != 6 {
		t.Fatalf("requests = %+v, want 3 attempts at the first event and one at each other", got)
	}
	first := got[0].EventID
	if got[1].EventID != first || got[2].EventID != first || got[0].Status != 503 || got[1].Status != 503 || got[2].Status != 200 {
		t.Fatalf("attempts = %+v", got)
	}
	types := map[string]int{}
	for _, r := range got[2:] {
		types[r.Type]++
	}
	if types["ticket.created"] != 1 || types["message.created"] != 3 {
		t.Fatalf("events delivered = %v", types)
	}
	last := int64(0)
	for _, r := range got[2:] {
		seq, err := strconv.ParseInt(strings.TrimPrefix(r.EventID, "evt_"), 10, 64)
		if err != nil || seq <= last {
			t.Fatalf("events out of order or repeated: %+v", got)
		}
		last = seq
	}
	var log struct {
		Deliveries []struct {
			EventID string `json:"event_id"`
			OK      bool   `json:"ok"`
			Status  int    `json:"status"`
			Attempt int    `json:"attempt"`
		}
	}
	// The log is written in the background: it shows every attempt soon.
	eventually(t, "the delivery log", func() error {
		log.Deliveries = nil
		c.do("GET", "/api/v1/webhooks/"+created.Webhook.ID+"/deliveries", nil).decode(t, &log)
		if len(log.Deliveries) < 6 {
			return fmt.Errorf("%d attempts logged", len(log.Deliveries))
		}
		return nil
	})
	if len(log.Deliveries) != 6 || log.Deliveries[5].Status != 503 || log.Deliveries[5].Attempt != 1 || log.Deliveries[3].Attempt != 3 || !log.Deliveries[3].OK {
		t.Fatalf("delivery log = %+v", log.Deliveries)
	}

	var list struct{ Webhooks []map[string]any }
	c.do("GET", "/api/v1/webhooks", nil).decode(t, &list)
	if len(list.Webhooks) != 1 {
		t.Fatalf("webhooks = %+v", list)
	}
	if res := c.do("DELETE", "/api/v1/webhooks/"+created.Webhook.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	if res := c.do("GET", "/api/v1/webhooks/"+created.Webhook.ID+"/deliveries", nil); res.status != http.StatusNotFound {
		t.Fatalf("deleted webhook's deliveries: %d", res.status)
	}
}

func TestWebhookRefusesPrivateTargets(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	for _, u := range []string{srv.URL, "http://localhost:9/x", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/", "http://10.0.0.1/"} {
		res := c.do("POST", "/api/v1/webhooks", map[string]any{"url": u, "events": []string{"ticket.created"}, "secret": "s3cret-s3cret-s3cret"})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "url") {
			t.Errorf("%s: %d %s, want 422 naming url", u, res.status, res.body)
		}
	}
	for name, body := range map[string]map[string]any{
		"events": {"url": "https://93.184.216.34/h", "events": []string{"ticket.exploded"}, "secret": "s3cret-s3cret-s3cret"},
		"secret": {"url": "https://93.184.216.34/h", "events": []string{"ticket.created"}, "secret": "short"},
	} {
		res := c.do("POST", "/api/v1/webhooks", body)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), name) {
			t.Errorf("bad %s: %d %s", name, res.status, res.body)
		}
	}
	if hit {
		t.Fatal("the private receiver was called")
	}
}
