package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/natsbus"
)

// sharedServers is one NATS server and one store process that several
// nodes of a test share, so that any node can die without taking them.
type sharedServers struct {
	natsURL string
	store   *mongostore.Embedded
}

func startSharedServers(t *testing.T) *sharedServers {
	t.Helper()
	dir := t.TempDir()
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	st, err := mongostore.StartEmbedded(context.Background(), mongostore.EmbeddedOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &sharedServers{natsURL: ns.ClientURL(), store: st}
}

// use points a node at the shared servers.
func (s *sharedServers) use(m *Main) {
	m.Config.NATSURL = s.natsURL
	m.StoreServer = s.store
	demo := false
	m.Config.Demo = &demo
}

// kill stops a node the way a crash does as far as the others can tell:
// its NATS connection drops first, so it releases no lease, acknowledges
// nothing more and publishes nothing more; then its parts are stopped.
func kill(t *testing.T, m *Main) {
	t.Helper()
	m.Bus.Conn().Close()
	_ = m.Close()
}

// TestMailboxLeaseTakeover: two nodes read one mailbox; exactly one holds
// its lease. Mail keeps arriving while the holder dies; the other node
// takes over, and every mail is stored once.
func TestMailboxLeaseTakeover(t *testing.T) {
	srv := startSharedServers(t)
	mb, out := startMailbox(t), startSMTPServer(t)
	var nodes []*Main
	for range 2 {
		nodes = append(nodes, startNode(t, "", func(m *Main) {
			srv.use(m)
			m.Config.LeaseTTL = 2 * time.Second
			e := &m.Config.Email
			e.Address = "Shop Support <support@shop.example>"
			e.Mailbox = "INBOX"
			e.IMAP.Addr, e.IMAP.Username, e.IMAP.Password, e.IMAP.TLS = mb.addr, e2eMailUser, e2eMailPassword, "none"
			e.SMTP.Addr, e.SMTP.TLS = out.addr, "none"
		}))
	}
	lease := "email:mailbox:" + e2eMailUser + "@" + mb.addr + "/INBOX"
	holder := func(m *Main) *Main {
		h, err := m.Leases.Holder(context.Background(), lease)
		if err != nil {
			t.Fatalf("lease holder: %v", err)
		}
		for _, n := range nodes {
			if n.Leases.Node() == h {
				return n
			}
		}
		return nil
	}
	var first *Main
	eventually(t, "a node holds the mailbox lease", func() error {
		if first = holder(nodes[0]); first == nil {
			return fmt.Errorf("no holder")
		}
		return nil
	})
	survivor := nodes[0]
	if survivor == first {
		survivor = nodes[1]
	}

	const mails = 30
	mail := func(i int) string {
		return fmt.Sprintf("From: Kund %d <kund%d@example.se>\r\nTo: support@shop.example\r\nSubject: Fråga %d\r\n"+
			"Message-ID: <lease-%d@mail.example.se>\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\n\r\nHej, fråga nummer %d.\r\n", i, i, i, i, i)
	}
	var wg sync.WaitGroup
	killed := make(chan struct{})
	wg.Go(func() {
		for i := range mails {
			if i == mails/3 {
				<-killed // the rest arrives while the holder is dead
			}
			mb.deliver(t, mail(i))
		}
	})
	c := login(t, survivor)
	eventually(t, "the first mails are stored", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &page)
		if len(page.Tickets) < mails/3 {
			return fmt.Errorf("%d tickets", len(page.Tickets))
		}
		return nil
	})
	kill(t, first)
	close(killed)
	eventually(t, "the survivor takes the lease", func() error {
		if h := holder(survivor); h != survivor {
			return fmt.Errorf("holder %v", h)
		}
		return nil
	})
	wg.Wait()

	eventually(t, "every mail stored once", func() error {
		var page ticketing.TicketPage
		c.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &page)
		if len(page.Tickets) != mails {
			return fmt.Errorf("%d tickets, want %d", len(page.Tickets), mails)
		}
		return nil
	})
	var page ticketing.TicketPage
	c.do("GET", "/api/v1/tickets?limit=200", nil).decode(t, &page)
	seen := map[string]bool{}
	for _, tk := range page.Tickets {
		var v ticketing.TicketView
		c.do("GET", "/api/v1/tickets/"+tk.ID, nil).decode(t, &v)
		if len(v.Messages) != 1 {
			t.Errorf("ticket %s %q has %d messages, want 1", tk.ID, tk.Subject, len(v.Messages))
		}
		if seen[tk.Subject] {
			t.Errorf("two tickets with subject %q", tk.Subject)
		}
		seen[tk.Subject] = true
	}
	t.Logf("mails %d, tickets %d, lease moved from %s to %s", mails, len(page.Tickets), first.Leases.Node(), survivor.Leases.Node())
}
