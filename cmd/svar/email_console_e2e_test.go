package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/svar-dev/svar/ticketing"
)

// mailWithManyFiles is a mail with n small attachments f001.txt… and one
// file nested past the MIME depth cap.
func mailWithManyFiles(headers string, n int) string {
	var sb strings.Builder
	sb.WriteString(headers + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n" +
		"--top\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHär är kvittona.\r\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "--top\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"f%03d.txt\"\r\n\r\nfile %d\r\n", i, i)
	}
	sb.WriteString("--top\r\nContent-Type: multipart/mixed; boundary=d1\r\n\r\n")
	const deep = 25
	for i := 1; i < deep; i++ {
		fmt.Fprintf(&sb, "--d%d\r\nContent-Type: multipart/mixed; boundary=d%d\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&sb, "--d%d\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"deep.pdf\"\r\n\r\n%%PDF\r\n--d%d--\r\n--top--\r\n", deep, deep)
	return sb.String()
}

// TestConsoleShowsWhatAMailLacks: in the browser, a mail cut at the caps
// names what is missing and why, offers its original, warns that its
// sender failed verification and hides the customer's orders, in English
// and in Swedish, with accessible names throughout.
func TestConsoleShowsWhatAMailLacks(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no browser at %s: skipping", chromiumPath)
	}
	mb, out := startMailbox(t), startSMTPServer(t)
	m := startNode(t, "", func(m *Main) {
		e := &m.Config.Email
		e.Address = "Shop Support <support@shop.example>"
		e.Mailbox = "INBOX"
		e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
		e.SMTP.Addr, e.SMTP.Username, e.SMTP.Password, e.SMTP.TLS = out.addr, "", "", "none"
		e.AuthServIDs = []string{"mx.shop.example"}
	})
	admin := login(t, m)
	if res := admin.do("POST", "/api/v1/customers", map[string]any{"external_id": "shop-9", "email": "greta@example.se",
		"name": "Greta Holm", "orders": []map[string]any{{"id": "2002", "total": "1 299 SEK", "status": "shipped"}}}); res.status != 200 {
		t.Fatalf("push customer: %d %s", res.status, res.body)
	}
	mb.deliver(t, mailWithManyFiles("Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom=example.se; dkim=none; dmarc=fail header.from=example.se\r\n"+
		"From: Greta Holm <greta@example.se>\r\nTo: support@shop.example\r\nSubject: Kvitton\r\nMessage-ID: <kvitton@example.se>\r\n", 105))
	var view ticketing.TicketView
	eventually(t, "Greta's ticket", func() error {
		var page ticketing.TicketPage
		admin.do("GET", "/api/v1/tickets", nil).decode(t, &page)
		if len(page.Tickets) != 1 {
			return fmt.Errorf("%d tickets", len(page.Tickets))
		}
		view = ticketing.TicketView{}
		admin.do("GET", "/api/v1/tickets/"+page.Tickets[0].ID, nil).decode(t, &view)
		if len(view.Messages) != 1 || view.Ticket.CustomerName != "Greta Holm" {
			return fmt.Errorf("ticket of %q with %d messages", view.Ticket.CustomerName, len(view.Messages))
		}
		return nil
	})
	msgID := view.Messages[0].ID

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "en-US"))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := newTab(t, browser, "mail")
	b.signIn(m.URL(), m.Config.AdminEmail, testPassword)

	msg := fmt.Sprintf(`document.querySelector('#m-%s')`, msgID)
	check := func(lang string, want []string) {
		t.Helper()
		b.do("open the ticket "+lang, chromedp.Navigate(m.URL()+"/tickets/"+view.Ticket.ID))
		b.waitFor("the message", msg+` !== null`)
		b.waitFor("the sidebar", `document.querySelector('aside.customer .cust-name') !== null`)
		text := evalIn[string](b, "message text", msg+`.textContent`)
		side := evalIn[string](b, "sidebar text", `document.querySelector('aside.customer').textContent`)
		for _, w := range want {
			if !strings.Contains(text+side, w) {
				t.Errorf("%s: the ticket does not say %q\nmessage: %s\nsidebar: %s", lang, w, text, side)
			}
		}
		for _, f := range []string{"f101.txt", "f102.txt", "f103.txt", "f104.txt", "f105.txt", "deep.pdf"} {
			if !strings.Contains(evalIn[string](b, "dropped", msg+`.querySelector('.truncated').textContent`), f) {
				t.Errorf("%s: %s is not named as missing", lang, f)
			}
		}
		if n := evalIn[int](b, "attachments", msg+`.querySelectorAll('ul.attachments li').length`); n != 100 {
			t.Errorf("%s: %d attachments listed, want 100", lang, n)
		}
		href := evalIn[string](b, "original link", msg+`.querySelector('.msg-original a').getAttribute('href')`)
		if href != "/api/v1/messages/"+msgID+"/original" {
			t.Errorf("%s: original link %q", lang, href)
		}
		if strings.Contains(side, "2002") {
			t.Errorf("%s: the sidebar shows order 2002 after an unverified mail", lang)
		}
		checkAccessible(t, b, "ticket ("+lang+")")
		b.do("scroll to the note", chromedp.Evaluate[chromedp.Void](msg+`.querySelector('.truncated').scrollIntoView()`))
		b.screenshot(os.Getenv("SVAR_SCREENSHOTS"), "ticket-truncated-"+lang+".png")
	}
	check("en", []string{"Parts of this mail are missing here", "more than 100 attachments", "nested too deeply",
		"The sender could not be verified", "dmarc=fail", "Download the original (.eml)", "Orders are not shown"})
	if res := admin.do("PATCH", "/api/v1/me", map[string]string{"language": "sv"}); res.status != 200 {
		t.Fatalf("language: %d %s", res.status, res.body)
	}
	check("sv", []string{"Delar av mejlet saknas här", "fler än 100 bilagor", "för djupt inbäddad",
		"Avsändaren kunde inte verifieras", "Ladda ner originalet (.eml)", "Beställningarna visas inte"})
}
