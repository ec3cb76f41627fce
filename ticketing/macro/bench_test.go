package macro_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/macro"
)

// BenchmarkReplyWithMacro sends replies on the real stores, alternating a
// plain reply (the baseline) with the same text sent from a macro (every
// placeholder rendered), on two tickets of the same shape, and reports
// both p99s and what the macro adds. A third series adds actions (a tag
// and a status), which cost a ticket update of their own.
//
//	go test -run '^$' -bench ReplyWithMacro -benchtime 300x ./ticketing/macro/
func BenchmarkReplyWithMacro(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	m := f.mustCreate(b, macro.Input{Name: ptr("Where is my order"), Text: ptr(everyPlaceholder), Shared: ptr(true)})
	withActions := f.mustCreate(b, macro.Input{Name: ptr("Order + tag"), Text: ptr(everyPlaceholder), Shared: ptr(true),
		Actions: &macro.Actions{TagsAdd: []string{"order"}, Status: "pending"}})
	plainT := f.ticketFor(b, "plain@example.se", "Anna Svensson")
	macroT := f.ticketFor(b, "macro@example.se", "Anna Svensson")
	actT := f.ticketFor(b, "act@example.se", "Anna Svensson")
	orders := &[]ticketing.Order{{ID: "1042", Status: "shipped", TrackingURL: "https://track.example/1042", CreatedAt: time.Now()}}
	for _, tk := range []*ticketing.Ticket{plainT, macroT, actT} {
		if _, err := f.core.PatchCustomer(ctx, tk.CustomerID, ticketing.CustomerPatch{Orders: orders}); err != nil {
			b.Fatal(err)
		}
	}
	text, err := f.macros.Preview(ctx, f.agent, plainT.ID, m.ID)
	if err != nil {
		b.Fatal(err)
	}
	var plain, withMacro, withAct, overhead []time.Duration
	cust, err := f.store.GetCustomer(ctx, macroT.CustomerID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := f.core.Reply(ctx, plainT.ID, f.agent, ticketing.ReplyInput{Text: text}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := f.macros.Send(ctx, macroT.ID, f.agent, ticketing.ReplyInput{}, m.ID); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := f.macros.Send(ctx, actT.ID, f.agent, ticketing.ReplyInput{}, withActions.ID); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		// What the macro itself adds, alone: its _id read and the render.
		got, err := f.store.GetMacro(ctx, m.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := got.Render(macroT, cust, f.agent); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		plain, withMacro, withAct = append(plain, t1.Sub(t0)), append(withMacro, t2.Sub(t1)), append(withAct, t3.Sub(t2))
		overhead = append(overhead, t4.Sub(t3))
	}
	b.StopTimer()
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(float64(len(s))*q))].Microseconds()) / 1000
	}
	b.ReportMetric(p(plain, 0.5), "reply-p50-ms")
	b.ReportMetric(p(plain, 0.99), "reply-p99-ms")
	b.ReportMetric(p(withMacro, 0.5), "macro-p50-ms")
	b.ReportMetric(p(withMacro, 0.99), "macro-p99-ms")
	b.ReportMetric(p(withMacro, 0.99)-p(plain, 0.99), "macro-added-p99-ms")
	b.ReportMetric(p(withAct, 0.99), "macro+actions-p99-ms")
	b.ReportMetric(p(overhead, 0.5), "lookup+render-p50-ms")
	b.ReportMetric(p(overhead, 0.99), "lookup+render-p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRender is the macro's own work on the reply path: parsing and
// filling every placeholder.
func BenchmarkRender(b *testing.B) {
	m := &macro.Macro{ID: "m", Text: everyPlaceholder}
	t := &ticketing.Ticket{Number: 1042}
	c := &ticketing.Customer{Name: "Anna Svensson", Orders: []ticketing.Order{{ID: "1042", Status: "shipped", TrackingURL: "https://track.example/1042"}}}
	a := &ticketing.Agent{Name: "Agnes Berg"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Render(t, c, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderParsed is the render with the template already parsed, as
// the Service caches it by text.
func BenchmarkRenderParsed(b *testing.B) {
	tpl, err := macro.Parse("text", everyPlaceholder)
	if err != nil {
		b.Fatal(err)
	}
	t := &ticketing.Ticket{Number: 1042}
	c := &ticketing.Customer{Name: "Anna Svensson", Orders: []ticketing.Order{{ID: "1042", Status: "shipped", TrackingURL: "https://track.example/1042"}}}
	a := &ticketing.Agent{Name: "Agnes Berg"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(macro.Values(t, c, a)); err != nil {
			b.Fatal(err)
		}
	}
}
