package mongostore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

// benchDocs is the collection size of the benchmarks: a few thousand ~1 KB
// documents, where a scan per lookup already dominates.
const benchDocs = 4000

// BenchmarkFindOneByID measures findOne({_id}) and updateOne({_id}) on the
// embedded server before and after IndexIDs, in the same run:
//
//	go test -run '^$' -bench FindOneByID ./ticketing/mongostore/
func BenchmarkFindOneByID(b *testing.B) {
	e := mongotest.NewEmbedded(b)
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(e.URI()))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database("bench").Collection("docs")
	pad := strings.Repeat("x", 900)
	for lo := 0; lo < benchDocs; lo += 1000 {
		docs := make([]any, 0, 1000)
		for i := lo; i < lo+1000; i++ {
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%05d", i)}, {Key: "n", Value: i}, {Key: "pad", Value: pad}})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	find := func(b *testing.B) {
		i := 0
		for b.Loop() {
			var d struct{ N int }
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%05d", i%benchDocs)}}).Decode(&d); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	}
	update := func(b *testing.B) {
		i := 0
		for b.Loop() {
			res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("doc-%05d", i%benchDocs)}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}})
			if err != nil || res.MatchedCount != 1 {
				b.Fatal(err, res)
			}
			i += 7
		}
	}
	b.Run("find/without-index", find)
	b.Run("update/without-index", update)
	if err := e.IndexIDs(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	b.Run("find/with-index", find)
	b.Run("update/with-index", update)
}

// BenchmarkTickets measures the store's hot paths at a few thousand
// tickets next to a raw driver call on the same documents:
//
//	go test -run '^$' -bench Tickets ./ticketing/mongostore/
func BenchmarkTickets(b *testing.B) {
	e := mongotest.NewEmbedded(b)
	s := mongotest.Open(b, e, "svar")
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(e.URI()))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(ctx)
	raw := client.Database("svar").Collection("tickets")
	for i := range benchDocs {
		t := newTicket(fmt.Sprintf("c%05d-1", i), 0, i%60)
		t.Subject = strings.Repeat("Var är mitt paket? ", 20)
		if err := s.InsertTicket(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	id := func(i int) string { return fmt.Sprintf("c%05d-1", (i*7)%benchDocs) }
	b.Run("GetTicket", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetTicket(ctx, id(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("ApplyToTicket", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_, err := s.ApplyToTicket(ctx, id(i), ticketing.TicketChange{
				AddMessageID: fmt.Sprintf("bm-%d", i), LastMessage: at(i % 60), Preview: ptr("Hej"),
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw-FindOneAndUpdate", func(b *testing.B) {
		i := 0
		for b.Loop() {
			var t ticketing.Ticket
			err := raw.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id(i)}}, bson.D{
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
				{Key: "$addToSet", Value: bson.D{{Key: "message_ids", Value: fmt.Sprintf("rm-%d", i)}}},
			}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&t)
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetMessages-20", func(b *testing.B) {
		var msgs []*ticketing.Message
		var ids []string
		for i := range 20 {
			m := newMessage(fmt.Sprintf("gm-%02d", i), i)
			msgs = append(msgs, m)
			ids = append(ids, m.ID)
		}
		if _, err := s.InsertMessages(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			got, err := s.GetMessages(ctx, ids)
			if err != nil || len(got) != len(ids) {
				b.Fatal(err, len(got))
			}
		}
	})
}
