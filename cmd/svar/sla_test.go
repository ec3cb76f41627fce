package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The settings and policy endpoints: admins' round trips, and bad input
// as a 422 that names the field.
func TestBusinessHoursAndSLAPolicyAPI(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)

	bad := []struct {
		path, body, field string
	}{
		{"/api/v1/settings/business-hours", `{"timezone":"Mars/Olympus"}`, "timezone"},
		{"/api/v1/settings/business-hours", `{"week":{"mon":[["08:00","25:00"]]}}`, "week.mon[0]"},
		{"/api/v1/settings/business-hours", `{"week":{"tue":[["17:00","08:00"]]}}`, "week.tue[0]"},
		{"/api/v1/settings/business-hours", `{"week":{"wed":[["08:00","12:00"],["11:00","17:00"]]}}`, "week.wed"},
		{"/api/v1/settings/business-hours", `{"closed_dates":["24 dec"]}`, "closed_dates[0]"},
	}
	for _, b := range bad {
		res := c.do("PUT", b.path, b.body)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), b.field) {
			t.Errorf("PUT %s %s = %d %s, want 422 naming %s", b.path, b.body, res.status, res.body, b.field)
		}
	}
	badPolicies := []struct{ body, field string }{
		{`{"name":"x","first_response":"0s"}`, "first_response"},
		{`{"name":"x","next_response":"-5m"}`, "next_response"},
		{`{"name":"x","resolution":"soon"}`, "resolution"},
		{`{"name":"x"}`, "first_response"},
		{`{"first_response":"1h"}`, "name"},
		{`{"name":"x","first_response":"1h","match":{"priority":["asap"]}}`, "match.priority[0]"},
		{`{"name":"x","first_response":"1h","match":{"channel":["fax"]}}`, "match.channel[0]"},
	}
	for _, b := range badPolicies {
		res := c.do("POST", "/api/v1/sla-policies", b.body)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), b.field) {
			t.Errorf("POST policy %s = %d %s, want 422 naming %s", b.body, res.status, res.body, b.field)
		}
	}

	res := c.do("PUT", "/api/v1/settings/business-hours", `{"timezone":"Europe/Stockholm","week":{"mon":[["08:00","12:00"],["13:00","17:00"]]},"holidays":"SE","closed_dates":["2026-12-24"],"open_dates":[]}`)
	if res.status != http.StatusOK {
		t.Fatalf("put hours: %d %s", res.status, res.body)
	}
	var hrs struct {
		Timezone string
		Week     map[string][][]string
	}
	c.do("GET", "/api/v1/settings/business-hours", nil).decode(t, &hrs)
	if hrs.Timezone != "Europe/Stockholm" || len(hrs.Week["mon"]) != 2 || hrs.Week["mon"][1][0] != "13:00" {
		t.Errorf("hours read back %+v", hrs)
	}
	var status struct {
		Open     bool      `json:"open"`
		NextOpen time.Time `json:"next_open"`
	}
	c.do("GET", "/api/v1/settings/business-hours/status", nil).decode(t, &status)
	if status.NextOpen.IsZero() {
		t.Errorf("status %+v", status)
	}

	res = c.do("POST", "/api/v1/sla-policies", `{"name":"VIP chat","match":{"channel":["chat"],"tier":["vip"]},"first_response":"90s","resolution":3600,"business_hours":true,"position":1}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create policy: %d %s", res.status, res.body)
	}
	var created struct {
		Policy map[string]any `json:"policy"`
	}
	res.decode(t, &created)
	id, _ := created.Policy["id"].(string)
	if created.Policy["first_response"] != "1m30s" || created.Policy["resolution"] != "1h0m0s" || id == "" {
		t.Errorf("created %v", created.Policy)
	}
	res = c.do("PATCH", "/api/v1/sla-policies/"+id, `{"first_response":"2m"}`)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"2m0s"`) {
		t.Errorf("patch: %d %s", res.status, res.body)
	}
	var list struct {
		Policies []json.RawMessage `json:"policies"`
	}
	c.do("GET", "/api/v1/sla-policies", nil).decode(t, &list)
	if len(list.Policies) != 1 {
		t.Errorf("list %d policies", len(list.Policies))
	}
	if res := c.do("DELETE", "/api/v1/sla-policies/"+id, nil); res.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", res.status, res.body)
	}
	if res := c.do("GET", "/api/v1/sla-policies/"+id, nil); res.status != http.StatusNotFound {
		t.Errorf("get deleted: %d", res.status)
	}
	if res := c.do("PUT", "/api/v1/settings/auto-reply", `{"enabled":true,"text":{"sv":"Vi öppnar {{next_open}}."}}`); res.status != http.StatusOK {
		t.Errorf("auto-reply: %d %s", res.status, res.body)
	}
}

// The chat widget's welcome says when the shop opens.
func TestChatWelcomeSaysClosed(t *testing.T) {
	m := startNode(t, "", nil)
	c := login(t, m)
	day := time.Now().UTC().AddDate(0, 0, 3)
	wd := strings.ToLower(day.Weekday().String()[:3])
	body := `{"timezone":"UTC","week":{"` + wd + `":[["00:00","24:00"]]}}`
	if res := c.do("PUT", "/api/v1/settings/business-hours", body); res.status != http.StatusOK {
		t.Fatalf("put hours: %d %s", res.status, res.body)
	}
	cust := dialChat(t, m)
	cust.send(map[string]string{"type": "hello"})
	var w struct {
		Type     string    `json:"type"`
		Open     *bool     `json:"open"`
		NextOpen time.Time `json:"next_open"`
	}
	cust.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := cust.ws.ReadJSON(&w); err != nil {
		t.Fatal(err)
	}
	y, mo, d := day.Date()
	if w.Type != "welcome" || w.Open == nil || *w.Open || !w.NextOpen.Equal(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("welcome %+v", w)
	}
	cust.say("Hej, är ni där?", "c1") // still takes messages
}
