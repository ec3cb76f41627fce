package gdpr

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/audit"
)

// ticketExport is tickets/<number>.json.
type ticketExport struct {
	Ticket   *ticketing.Ticket    `json:"ticket"`
	Messages []*ticketing.Message `json:"messages"`
}

// Export writes a zip of everything Svar holds about customer id:
// customer.json, tickets/<number>.json (with messages), orders.json and
// attachments/<number>/<message id>/<file name>. It checks the customer
// before writing anything, so an unknown id is a clean not-found.
func (s *Service) Export(ctx context.Context, id string, open func() io.Writer) error {
	c, err := s.customer(ctx, id)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(open())
	put := func(name string, v any) error {
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if err := put("customer.json", c); err != nil {
		return err
	}
	orders := c.Orders
	if orders == nil {
		orders = []ticketing.Order{}
	}
	if err := put("orders.json", orders); err != nil {
		return err
	}
	for _, tid := range c.TicketIDs {
		t, err := s.o.Store.GetTicket(ctx, tid)
		if ticketing.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		msgs, err := s.o.Store.GetMessages(ctx, t.MessageIDs)
		if err != nil {
			return err
		}
		if msgs == nil {
			msgs = []*ticketing.Message{}
		}
		if err := put(fmt.Sprintf("tickets/%d.json", t.Number), ticketExport{Ticket: t, Messages: msgs}); err != nil {
			return err
		}
		for _, m := range msgs {
			for i, a := range m.Attachments {
				b, err := s.o.Store.GetBlob(ctx, a.Key)
				if ticketing.IsNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				name := safeName(a.Filename)
				if name == "" {
					name = fmt.Sprintf("file-%d", i+1)
				}
				w, err := zw.Create(fmt.Sprintf("attachments/%d/%s/%d-%s", t.Number, m.ID, i+1, name))
				if err != nil {
					return err
				}
				if _, err := w.Write(b.Data); err != nil {
					return err
				}
			}
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	s.o.Audit.Record(ctx, audit.Entry{Action: "customer.exported", Target: "customer:" + c.ID})
	return nil
}

// safeName keeps a file name's last element, without path tricks.
func safeName(n string) string {
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	if n == "." || n == "/" || n == ".." {
		return ""
	}
	return n
}
