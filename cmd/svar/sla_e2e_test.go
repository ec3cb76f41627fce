package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestServiceLevelsInBrowser: an admin sets business hours and adds an
// SLA policy on the Service levels page, bad input is shown naming the
// field, and a ticket with a running clock shows its SLA badge in the
// list and the ticket view.
func TestServiceLevelsInBrowser(t *testing.T) {
	browser := newBrowser(t)
	m := startNode(t, "", nil)
	admin := login(t, m)
	var team struct {
		Team struct {
			ID string `json:"id"`
		} `json:"team"`
	}
	admin.do("POST", "/api/v1/teams", `{"name":"Kundtjänst Göteborg"}`).decode(t, &team)
	if team.Team.ID == "" {
		t.Fatal("no team created")
	}
	if res := admin.do("POST", "/api/v1/sla-policies", `{"name":"Everything","first_response":"1h"}`); res.status != http.StatusCreated {
		t.Fatalf("policy: %d %s", res.status, res.body)
	}
	if err := m.Bus.PublishInbound(context.Background(), envelope("sla-badge@example.se", "<badge-1@example.se>", "Hej, var är mitt paket?")); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, browser, "sla")
	b.signIn(m.URL(), m.Config.AdminEmail, testPassword)
	b.waitFor("the SLA badge on the ticket's row", `[...document.querySelectorAll('#rows .badge.sla')].some(e => e.textContent.startsWith('SLA in '))`)

	b.do("open Service levels", chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('nav.account a')].find(a => a.textContent.trim() === 'Service levels')`)))
	b.waitFor("the page", `document.querySelector('#main h2') && document.querySelector('#main h2').textContent === 'Service levels' && document.querySelector('#bh-mon')`)
	checkAccessible(t, b, "service levels")

	b.do("a bad block", chromedp.SetValue(chromedp.JSPath(byLabel("Monday")), "08:00-25:00"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Save business hours"))))
	b.waitFor("the error naming the field", `[...document.querySelectorAll('.form-status')].some(e => e.textContent.includes('week.mon[0]'))`)
	b.do("a good block", chromedp.SetValue(chromedp.JSPath(byLabel("Monday")), "08:00-12:00, 13:00-17:00"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Save business hours"))))
	b.waitFor("saved", `[...document.querySelectorAll('.form-status')].some(e => e.textContent.startsWith('Saved'))`)
	var hrs struct {
		Week map[string][][]string `json:"week"`
	}
	admin.do("GET", "/api/v1/settings/business-hours", nil).decode(t, &hrs)
	if len(hrs.Week["mon"]) != 2 || hrs.Week["mon"][1][1] != "17:00" {
		t.Errorf("stored hours %+v", hrs.Week)
	}

	// A team's own hours: picked, shown from the shop's until saved, then
	// the team's alone.
	b.do("pick the team", chromedp.SetValue(chromedp.JSPath(byLabel("Hours for")), team.Team.ID),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#bh-whose').dispatchEvent(new Event('change'))`))
	b.waitFor("the hint that a team keeps the shop's hours", `[...document.querySelectorAll('.hint')].some(e => !e.hidden && e.textContent.includes("keeps the shop's"))`)
	b.waitFor("the team's hours loaded: the shop's", `document.querySelector('#bh-mon').closest('form').dataset.hoursOf === '`+team.Team.ID+`' && document.querySelector('#bh-mon').value === '08:00-12:00, 13:00-17:00'`)
	b.do("the team's Monday", chromedp.SetValue(chromedp.JSPath(byLabel("Monday")), "10:00-18:00"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Save business hours"))))
	b.waitFor("saved for the team", `[...document.querySelectorAll('.form-status')].some(e => e.textContent.startsWith('Saved'))`)
	admin.do("GET", "/api/v1/settings/business-hours?team_id="+team.Team.ID, nil).decode(t, &hrs)
	if len(hrs.Week["mon"]) != 1 || hrs.Week["mon"][0][0] != "10:00" {
		t.Errorf("the team's hours %+v", hrs.Week)
	}
	admin.do("GET", "/api/v1/settings/business-hours", nil).decode(t, &hrs)
	if len(hrs.Week["mon"]) != 2 {
		t.Errorf("the shop's hours changed with the team's: %+v", hrs.Week)
	}
	if res := admin.do("GET", "/api/v1/settings/business-hours?team_id=nope", nil); res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "team_id") {
		t.Errorf("unknown team: %d %s, want 422 naming team_id", res.status, res.body)
	}
	b.do("back to the shop", chromedp.SetValue(chromedp.JSPath(byLabel("Hours for")), ""),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#bh-whose').dispatchEvent(new Event('change'))`))
	b.waitFor("the shop's hours again", `document.querySelector('#bh-mon').closest('form').dataset.hoursOf === 'shop' && document.querySelector('#bh-mon').value === '08:00-12:00, 13:00-17:00'`)

	b.do("a policy without a target", chromedp.SendKeys(chromedp.JSPath(byLabel("Name")), "VIP chat"),
		chromedp.Click(chromedp.JSPath(buttonNamed("Add SLA policy"))))
	b.waitFor("the error naming first_response", `[...document.querySelectorAll('.form-status')].some(e => e.textContent.includes('first_response'))`)
	b.do("a policy", chromedp.SendKeys(chromedp.JSPath(byLabel("First response")), "15m"+kb.Enter))
	b.waitFor("the policy in the table", `[...document.querySelectorAll('table.policies td')].some(td => td.textContent === 'VIP chat')`)
	if dir := os.Getenv("SVAR_SCREENSHOTS"); dir != "" {
		b.do("viewport", chromedp.EmulateViewport(1280, 800))
		b.screenshot(dir, "service-levels.png")
	}
	if shot := os.Getenv("SVAR_SLA_SHOT"); shot != "" {
		b.screenshot(filepath.Dir(shot), filepath.Base(shot))
	}
	if hasViolation(b.messages()) {
		t.Error("CSP violations on the page")
	}
}
