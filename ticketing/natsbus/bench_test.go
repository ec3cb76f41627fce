package natsbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/natsbus"
	"github.com/svar-dev/svar/ticketing/natsbus/natstest"
)

// Each benchmark has a baseline in the same run: encoding/json's defaults
// for the codec, a raw JetStream publish for the publishers.

func BenchmarkEnvelopeEncode(b *testing.B) {
	e := envelope("bench")
	b.Run("natsbus.Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := natsbus.Encode(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEnvelopeDecode(b *testing.B) {
	data, err := natsbus.Encode(envelope("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := natsbus.DecodeEnvelope(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishInbound(b *testing.B) {
	bus := natstest.New(b)
	ctx := context.Background()
	e := envelope("bench")
	data, _ := natsbus.Encode(e)
	var n atomic.Int64
	next := func() *ticketing.Envelope {
		x := *e
		x.ExternalID = fmt.Sprint("bench-", n.Add(1))
		return &x
	}
	b.Run("PublishInbound", func(b *testing.B) {
		for b.Loop() {
			if err := bus.PublishInbound(ctx, next()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PublishInbound/parallel", func(b *testing.B) {
		b.SetParallelism(8) // adapters publish from many connections' goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bus.PublishInbound(ctx, next()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline=raw-js.Publish", func(b *testing.B) {
		subj := bus.InboundSubject(ticketing.ChannelEmail)
		for b.Loop() {
			if _, err := bus.JetStream().Publish(ctx, subj, data, jetstream.WithMsgID(fmt.Sprint("raw-", n.Add(1)))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPublishEvent(b *testing.B) {
	bus := natstest.New(b)
	ctx := context.Background()
	ev := event(ticketing.EventMessageCreated, "t1")
	ev.Message = &ticketing.Message{ID: "m1", TicketID: "t1", Direction: "inbound", Channel: ticketing.ChannelEmail,
		Text: envelope("x").Text, HTML: envelope("x").HTML, CreatedAt: time.Now()}
	wait := func(b *testing.B) {
		select {
		case <-bus.JetStream().PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("async publishes never completed")
		}
	}
	b.Run("async", func(b *testing.B) {
		for b.Loop() {
			if err := bus.PublishEvent(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		wait(b) // count the acks too
	})
	b.Run("sync", func(b *testing.B) {
		for b.Loop() {
			if _, err := bus.PublishEventSync(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConsumeInbound measures envelopes through ConsumeInbound per
// second with a handler that does nothing; the baseline is JetStream's
// own Consume decoding and acking each message.
func BenchmarkConsumeInbound(b *testing.B) {
	fill := func(b *testing.B, bus *natsbus.Bus, n int) {
		b.Helper()
		data, _ := natsbus.Encode(envelope("bench"))
		js, subj := bus.JetStream(), bus.InboundSubject(ticketing.ChannelEmail)
		for i := range n {
			if _, err := js.PublishAsync(subj, data, jetstream.WithMsgID(fmt.Sprint("c-", i)),
				jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		<-js.PublishAsyncComplete()
	}
	b.Run("ConsumeInbound", func(b *testing.B) {
		bus := natstest.New(b)
		fill(b, bus, b.N)
		var seen, batches atomic.Int64
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		b.ResetTimer()
		go func() {
			defer close(done)
			_ = bus.ConsumeInbound(ctx, func(_ context.Context, envs []*ticketing.Envelope) []error {
				batches.Add(1)
				if seen.Add(int64(len(envs))) >= int64(b.N) {
					cancel()
				}
				return make([]error, len(envs))
			})
		}()
		<-done
		b.StopTimer()
		cancel()
		b.ReportMetric(float64(seen.Load())/float64(batches.Load()), "envs/batch")
	})
	b.Run("baseline=js.Consume+decode", func(b *testing.B) {
		bus := natstest.New(b)
		fill(b, bus, b.N)
		ctx := context.Background()
		cons, err := bus.JetStream().CreateOrUpdateConsumer(ctx, bus.StreamName(natsbus.StreamInbound),
			jetstream.ConsumerConfig{Durable: natsbus.CoreConsumer, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1, MaxAckPending: 2000})
		if err != nil {
			b.Fatal(err)
		}
		var seen atomic.Int64
		done := make(chan struct{})
		b.ResetTimer()
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if _, err := natsbus.DecodeEnvelope(m.Data()); err != nil {
				b.Error(err)
			}
			_ = m.Ack()
			if seen.Add(1) == int64(b.N) {
				close(done)
			}
		}, jetstream.PullMaxMessages(200))
		if err != nil {
			b.Fatal(err)
		}
		<-done
		b.StopTimer()
		cc.Stop()
	})
}
