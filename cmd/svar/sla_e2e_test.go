package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
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
