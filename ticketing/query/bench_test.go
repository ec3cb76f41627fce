package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

var benchVocab = strings.Fields(`paket leverans retur returnera faktura betalning storlek byta skor jacka cykel punktering
	lampa trasig kvitto rabattkod beställning order refund delivery invoice shipping broken size exchange parcel tracking
	klarna swish kundtjänst garanti reklamation ersättning present presentkort leveransadress postnord budbil hämtställe
	frakt fraktfri lager återbetalning kampanj medlem konto lösenord inloggning nyhetsbrev`)

// benchIndex builds (once per path) an index of nt tickets with per
// messages each, written directly.
func benchIndex(b *testing.B, nt, per int) *Index {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("svar-query-bench-%d-%d.db", nt, per))
	_, statErr := os.Stat(path)
	ix, err := Open(Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	if statErr == nil && ix.Len() == nt {
		return ix
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	now := time.Now()
	statuses := []string{"open", "open", "pending", "solved", "solved", "solved", "solved", "closed", "closed", "solved"}
	for c := 0; c < nt; c += 1000 {
		err := ix.write(ctx, func(bt *batch) error {
			for i := c; i < min(nt, c+1000); i++ {
				cid := fmt.Sprintf("c%07d", i)
				cu := &ticketing.Customer{ID: cid, Name: fmt.Sprintf("Kund%d Seedsson", i), UpdatedAt: now,
					Identities: []ticketing.Identity{{Kind: "email", Value: fmt.Sprintf("seed%07d@kund.test", i)}, {Kind: "phone", Value: fmt.Sprintf("+4670%07d", i)}}}
				if err := bt.customer(cu); err != nil {
					return err
				}
				t := &ticketing.Ticket{ID: cid + "-1", Number: int64(1001 + i), Status: statuses[i%10], Priority: "normal", CustomerID: cid,
					CustomerName: cu.Name, Channel: "email", Subject: "Fråga om " + benchVocab[i%len(benchVocab)],
					CreatedAt: now.Add(-time.Duration(rng.IntN(1e6)) * time.Second), LastMessageAt: now.Add(-time.Duration(rng.IntN(1e6)) * time.Second), Version: 1}
				if _, err := bt.ticket(t); err != nil {
					return err
				}
				for k := 0; k < per; k++ {
					var w []string
					for range 12 + rng.IntN(20) {
						w = append(w, benchVocab[rng.IntN(len(benchVocab))])
					}
					m := &ticketing.Message{ID: fmt.Sprintf("m%07d-%d", i, k), TicketID: t.ID, CustomerID: cid, Text: strings.Join(w, " ")}
					if err := bt.message(m); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

func BenchmarkListQ(b *testing.B) {
	ix := benchIndex(b, 20000, 10)
	ctx := context.Background()
	for _, q := range []string{"", "punktering", "retur cykel", "seed0001234@kund.test", "070 000 12 34"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := ix.List(ctx, ticketing.System, ticketing.TicketFilter{Query: q, Status: "open"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	ix := benchIndex(b, 20000, 10)
	ctx := context.Background()
	for _, q := range []string{"punktering", "retur cykel", "seed0001234@kund.test", "070 000 12 34", "1042"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := ix.Search(ctx, ticketing.System, q, 20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStemColumn(b *testing.B) {
	text := strings.Join(benchVocab[:25], " ")
	var c stemCache
	for b.Loop() {
		c.column(text)
	}
}

// BenchmarkApplyMessageEvents: what one inbound message costs the index
// (its message.created and ticket.updated events), in batches of 64.
func BenchmarkApplyMessageEvents(b *testing.B) {
	ix, err := Open(Options{Path: filepath.Join(b.TempDir(), "ix.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	i := 0
	var evs []*ticketing.Event
	for b.Loop() {
		cid := fmt.Sprintf("c%d", i%2000)
		var w []string
		for range 25 {
			w = append(w, benchVocab[rng.IntN(len(benchVocab))])
		}
		t := &ticketing.Ticket{ID: cid + "-1", Number: int64(1001 + i%2000), Status: "open", Priority: "normal", CustomerID: cid,
			CustomerName: "Kund", Subject: "Var är min order?", CreatedAt: now, LastMessageAt: now.Add(time.Duration(i)), Version: int64(i + 1)}
		m := &ticketing.Message{ID: fmt.Sprintf("m%d", i), TicketID: t.ID, CustomerID: cid, Text: strings.Join(w, " ")}
		evs = append(evs, &ticketing.Event{Type: ticketing.EventMessageCreated, Ticket: t, Message: m},
			&ticketing.Event{Type: ticketing.EventTicketUpdated, Ticket: t})
		if len(evs) == 128 {
			if err := ix.write(ctx, func(bt *batch) error {
				bt.missing = map[string]bool{} // no store in this benchmark
				for _, ev := range evs {
					if err := bt.event(ev); err != nil {
						return err
					}
				}
				bt.missing = map[string]bool{}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
		i++
	}
}
