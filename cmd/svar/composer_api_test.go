package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// chatFile is an attachment as the widget gets it.
type chatFile struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// postFiles sends a reply as multipart/form-data.
func (c *agentClient) postFiles(path string, msg any, files map[string][]byte) response {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	j, _ := json.Marshal(msg)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="message"`)
	h.Set("Content-Type", "application/json")
	pw, _ := w.CreatePart(h)
	pw.Write(j)
	for name, data := range files {
		fw, _ := w.CreateFormFile("files", name)
		fw.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest("POST", c.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: b, header: res.Header}
}

// TestAgentFilesReachTheChatVisitor: an agent's file reaches the chat
// widget as a signed link that downloads it; without the signature, or
// with a tampered one, it does not. A 20 MB file is a 413 naming the limit.
func TestAgentFilesReachTheChatVisitor(t *testing.T) {
	m := startNode(t, "", nil)
	agent := login(t, m)
	live := agent.live("")
	cust := dialChat(t, m)
	cust.send(map[string]string{"type": "hello"})
	cust.next("welcome")
	cust.say("Kan jag få en returetikett?", "f-1")
	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "f-1"
	})
	path := "/api/v1/tickets/" + ev.Ticket.ID + "/messages"

	big := make([]byte, 20<<20)
	res := agent.postFiles(path, map[string]any{"text": "too big"}, map[string][]byte{"huge.bin": big})
	if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(res.body), "10 MB") {
		t.Fatalf("20 MB file: %d %s, want 413 naming the 10 MB limit", res.status, res.body)
	}

	eleven := map[string][]byte{}
	for i := range 11 {
		eleven[fmt.Sprintf("f%d.txt", i)] = []byte("x")
	}
	res = agent.postFiles(path, map[string]any{"text": "too many"}, eleven)
	if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(res.body), "at most 10 files") {
		t.Fatalf("11 files: %d %s, want 413 naming the limit of 10", res.status, res.body)
	}
	if v, _ := m.Service.TicketView(t.Context(), ev.Ticket.ID); len(v.Messages) != 1 {
		t.Fatalf("a refused upload stored a message: %d messages", len(v.Messages))
	}

	pdf := append([]byte("%PDF-1.4\n%âãÏÓ\n"), bytes.Repeat([]byte("label "), 500)...)
	res = agent.postFiles(path, map[string]any{"text": "Här är etiketten.", "client_id": "att-1"},
		map[string][]byte{"returetikett.pdf": pdf})
	if res.status != http.StatusCreated {
		t.Fatalf("reply with a file: %d %s", res.status, res.body)
	}
	var out struct{ Message ticketing.Message }
	res.decode(t, &out)
	if len(out.Message.Attachments) != 1 || out.Message.Attachments[0].ContentType != "application/pdf" ||
		out.Message.Attachments[0].Filename != "returetikett.pdf" || !strings.HasPrefix(out.Message.Attachments[0].Key, "out/") {
		t.Fatalf("attachments %+v", out.Message.Attachments)
	}

	var got struct {
		Type    string
		Message struct {
			ID          string
			Text        string
			Attachments []chatFile
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for got.Message.ID != out.Message.ID {
		cust.ws.SetReadDeadline(deadline)
		if err := cust.ws.ReadJSON(&got); err != nil {
			t.Fatalf("waiting for the reply in the widget: %v", err)
		}
	}
	if len(got.Message.Attachments) != 1 || got.Message.Attachments[0].Filename != "returetikett.pdf" {
		t.Fatalf("the widget got %+v", got.Message)
	}
	link := got.Message.Attachments[0].URL
	if !strings.HasPrefix(link, "/files/out/") || !strings.Contains(link, "sig=") {
		t.Fatalf("link %q", link)
	}
	visitor := &http.Client{Timeout: 10 * time.Second} // no session
	fetch := func(u string) (int, []byte, http.Header) {
		r, err := visitor.Get(m.URL() + u)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b, r.Header
	}
	status, body, h := fetch(link)
	if status != 200 || !bytes.Equal(body, pdf) || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download with the link: %d, %d bytes, %q", status, len(body), h.Get("Content-Disposition"))
	}
	bare := link[:strings.Index(link, "?")]
	i := strings.Index(link, "sig=") + 4
	flipped := "0"
	if link[i] == '0' {
		flipped = "1"
	}
	for name, u := range map[string]string{
		"without the signature": bare,
		"with a tampered one":   link[:i] + flipped + link[i+1:],
		"another key":           strings.Replace(link, "/files/out/", "/files/out/0", 1),
		"a later expiry":        strings.Replace(link, "exp=", "exp=9", 1),
	} {
		if status, body, _ := fetch(u); status != http.StatusForbidden || bytes.Equal(body, pdf) {
			t.Errorf("download %s: %d", name, status)
		}
	}
}

// TestMacroOverTheAPI: an unknown placeholder is a 422; a macro reply is
// rendered, retried with the same client_id it is one message and its
// actions are applied once; the preview shows the text.
func TestMacroOverTheAPI(t *testing.T) {
	m := startNode(t, "", nil)
	agent := login(t, m)
	live := agent.live("")
	cust := dialChat(t, m)
	cust.send(map[string]string{"type": "hello"})
	cust.next("welcome")
	cust.say("Var är min beställning?", "m-1")
	ev := waitEvent(t, live, func(ev *ticketing.Event) bool {
		return ev.Type == ticketing.EventMessageCreated && ev.Message.ClientID == "m-1"
	})
	tk := "/api/v1/tickets/" + ev.Ticket.ID

	res := agent.do("POST", "/api/v1/macros", map[string]any{"name": "x", "text": "Hi {{customer.nickname}}"})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), "customer.nickname") {
		t.Fatalf("unknown placeholder: %d %s", res.status, res.body)
	}
	res = agent.do("POST", "/api/v1/macros", map[string]any{"name": "Order status",
		"text":    "Hej {{customer.first_name | default: \"där\"}}! Ärende {{ticket.number}}. /{{agent.first_name}}",
		"actions": map[string]any{"status": "pending", "tags_add": []string{"order"}}, "shared": true})
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var mc struct{ Macro struct{ ID string } }
	res.decode(t, &mc)
	want := fmt.Sprintf("Hej där! Ärende %d. /Admin", ev.Ticket.Number)
	res = agent.do("GET", tk+"/macros/"+mc.Macro.ID+"/preview", nil)
	var pv struct{ Text string }
	res.decode(t, &pv)
	if res.status != 200 || pv.Text != want {
		t.Fatalf("preview: %d %q, want %q", res.status, pv.Text, want)
	}
	res = agent.do("GET", "/api/v1/macros?q=ordr", nil)
	if !strings.Contains(string(res.body), mc.Macro.ID) {
		t.Fatalf("fuzzy list: %s", res.body)
	}
	var ids []string
	for i := 0; i < 2; i++ {
		res = agent.do("POST", tk+"/messages", map[string]any{"macro_id": mc.Macro.ID, "client_id": "macro-1"})
		if res.status != http.StatusCreated {
			t.Fatalf("send %d: %d %s", i, res.status, res.body)
		}
		var out struct{ Message ticketing.Message }
		res.decode(t, &out)
		if out.Message.Text != want {
			t.Fatalf("sent %q", out.Message.Text)
		}
		ids = append(ids, out.Message.ID)
		if i == 0 { // between the two tries someone reopens the ticket
			if r := agent.do("PATCH", tk, map[string]any{"status": "open"}); r.status != 200 {
				t.Fatalf("patch: %d %s", r.status, r.body)
			}
		}
	}
	v, err := m.Service.TicketView(t.Context(), ev.Ticket.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != ids[1] || len(v.Messages) != 2 || v.Ticket.Status != "open" || strings.Join(v.Ticket.Tags, ",") != "order" {
		t.Fatalf("after a retried macro: ids %v, %d messages, status %s, tags %v", ids, len(v.Messages), v.Ticket.Status, v.Ticket.Tags)
	}
}

// TestBulkChange: one request assigns, sets the status of and tags several
// tickets; an unknown id fails alone.
func TestBulkChange(t *testing.T) {
	m := startNode(t, "", nil)
	agent := login(t, m)
	ctx := t.Context()
	var ids []string
	for i, addr := range []string{"a@example.se", "b@example.se"} {
		if err := m.Bus.PublishInbound(ctx, envelope(addr, fmt.Sprintf("<bulk%d@x>", i), "Hej")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "ticket of "+addr, func() error {
			c, err := m.Service.CustomerByIdentity(ctx, "email:"+addr)
			if err != nil || c.CurrentTicketID == "" {
				return fmt.Errorf("no ticket yet (%v)", err)
			}
			ids = append(ids, c.CurrentTicketID)
			return nil
		})
	}
	if _, err := m.Service.UpdateTicket(ctx, ids[0], nil, ticketing.TicketUpdate{Tags: &[]string{"vip"}}); err != nil {
		t.Fatal(err)
	}
	res := agent.do("POST", "/api/v1/tickets/bulk", map[string]any{"ids": append(ids, "nope"),
		"update": map[string]any{"status": "pending", "assignee_id": "me"}, "tags_add": []string{"Black-Friday"}})
	if res.status != 200 {
		t.Fatalf("bulk: %d %s", res.status, res.body)
	}
	var out struct {
		Results []struct {
			ID     string
			Ticket *ticketing.Ticket
			Error  *struct{ Code string }
		}
	}
	res.decode(t, &out)
	if len(out.Results) != 3 || out.Results[2].Error == nil || out.Results[2].Error.Code != "not_found" {
		t.Fatalf("results %s", res.body)
	}
	for i, id := range ids {
		v, err := m.Service.TicketView(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantTags := "black-friday"
		if i == 0 {
			wantTags = "vip,black-friday"
		}
		if v.Ticket.Status != "pending" || v.Ticket.AssigneeID == "" || strings.Join(v.Ticket.Tags, ",") != wantTags {
			t.Errorf("ticket %d: %s %q %v", i, v.Ticket.Status, v.Ticket.AssigneeID, v.Ticket.Tags)
		}
	}
	if res := agent.do("POST", "/api/v1/tickets/bulk", map[string]any{"ids": []string{}}); res.status != 422 {
		t.Errorf("empty ids: %d %s", res.status, res.body)
	}
}
