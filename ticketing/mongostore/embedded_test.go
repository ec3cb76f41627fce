package mongostore_test

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func TestStartEmbeddedRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.10:27017", "[::]:0", "example.com:27017", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			e, err := mongostore.StartEmbedded(t.Context(), mongostore.EmbeddedOptions{DataDir: t.TempDir(), Addr: addr})
			if err == nil {
				e.Close()
				t.Fatalf("StartEmbedded(%q) started; want an error", addr)
			}
			if addr != "127.0.0.1" && !strings.Contains(err.Error(), "loopback") {
				t.Fatalf("error %q does not say why", err)
			}
		})
	}
	_, err := mongostore.StartEmbedded(t.Context(), mongostore.EmbeddedOptions{})
	if err == nil {
		t.Fatal("StartEmbedded without DataDir started")
	}
}

func TestEmbeddedURIAnswers(t *testing.T) {
	e := mongotest.NewEmbedded(t)
	if !strings.HasPrefix(e.URI(), "mongodb://127.0.0.1:") {
		t.Fatalf("URI = %q, want a loopback mongodb:// URI", e.URI())
	}
	client, err := mongo.Connect(options.Client().ApplyURI(e.URI()))
	mustNil(t, err)
	defer client.Disconnect(context.Background())
	mustNil(t, client.Ping(t.Context(), nil))
}

// TestIndexIDs proves with SQLite's own query plan that the lookup FerretDB
// runs for {_id: X} scans without IndexIDs and uses the index with it.
func TestIndexIDs(t *testing.T) {
	e := mongotest.NewEmbedded(t)
	ctx := t.Context()

	// IndexIDs on a database that does not exist yet does nothing and
	// does not create it.
	mustNil(t, e.IndexIDs(ctx, "later"))
	if _, err := e.ExplainIDLookup(ctx, "later", "c"); err == nil {
		t.Fatal("IndexIDs created the database")
	}
	if err := e.IndexIDs(ctx, "../escape"); err == nil {
		t.Fatal("IndexIDs accepted a database name with a path in it")
	}

	client, err := mongo.Connect(options.Client().ApplyURI(e.URI()))
	mustNil(t, err)
	defer client.Disconnect(context.Background())
	coll := client.Database("plain").Collection("things")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}})
	mustNil(t, err)

	plan, err := e.ExplainIDLookup(ctx, "plain", "things")
	mustNil(t, err)
	if !strings.Contains(plan, "SCAN") || strings.Contains(plan, "svar_id") {
		t.Fatalf("plan before IndexIDs = %q, want a scan", plan)
	}

	mustNil(t, e.IndexIDs(ctx, "plain"))
	mustNil(t, e.IndexIDs(ctx, "plain")) // idempotent
	plan, err = e.ExplainIDLookup(ctx, "plain", "things")
	mustNil(t, err)
	if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_svar_id") {
		t.Fatalf("plan after IndexIDs = %q, want the _svar_id index", plan)
	}

	// FerretDB still reads and writes the table.
	_, err = coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}})
	mustNil(t, err)
	var doc struct{ N int }
	mustNil(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc))
	equal(t, "n", doc.N, 2)

	// Open indexes every collection of the store's database.
	mongotest.Open(t, e, "svar")
	for _, c := range []string{"tickets", "messages", "identities", "customers", "ticket_numbers", "counters", "state", "blobs"} {
		plan, err := e.ExplainIDLookup(ctx, "svar", c)
		mustNil(t, err)
		if !strings.Contains(plan, "_svar_id") {
			t.Fatalf("plan for %s = %q, want the _svar_id index", c, plan)
		}
	}
}

// TestRestartPersists closes the embedded server and starts it again on the
// same data directory: everything is still there and the ticket numbers
// go on where they stopped.
func TestRestartPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	open := func() (*mongostore.Embedded, *mongostore.Store) {
		e, err := mongostore.StartEmbedded(ctx, mongostore.EmbeddedOptions{DataDir: dir, Logger: mongotest.Logger(t)})
		mustNil(t, err)
		s, err := mongostore.Open(ctx, mongostore.Options{Embedded: e, Logger: mongotest.Logger(t)})
		if err != nil {
			e.Close()
			t.Fatal(err)
		}
		return e, s
	}
	stop := func(e *mongostore.Embedded, s *mongostore.Store) {
		mustNil(t, s.Close(ctx))
		mustNil(t, e.Close())
	}

	e, s := open()
	n, err := s.NextTicketNumber(ctx)
	mustNil(t, err)
	tk := newTicket("c1-1", n, 1)
	mustNil(t, s.InsertTicket(ctx, tk))
	_, err = s.ApplyToTicket(ctx, "c1-1", ticketing.TicketChange{AddMessageID: "m2"})
	mustNil(t, err)
	_, err = s.EnsureCustomer(ctx, &ticketing.Customer{ID: "c1", Name: "Anna"})
	mustNil(t, err)
	mustNil(t, s.InsertIdentity(ctx, ticketing.Identity{Kind: "email", Value: "anna@example.se"}, "c1"))
	_, err = s.InsertMessages(ctx, []*ticketing.Message{newMessage("m2", 2)})
	mustNil(t, err)
	mustNil(t, s.PutBlob(ctx, &ticketing.Blob{Key: "raw/m2", Data: []byte("mail")}))
	mustNil(t, s.IncCounters(ctx, "report", map[string]int64{"n": 5}))
	stop(e, s)

	e, s = open()
	defer stop(e, s)
	got, err := s.GetTicketByNumber(ctx, n)
	mustNil(t, err)
	equalSlice(t, "message ids", got.MessageIDs, []string{"m-c1-1", "m2"})
	equal(t, "version", got.Version, int64(2))
	cid, err := s.LookupIdentity(ctx, "email:anna@example.se")
	mustNil(t, err)
	c, err := s.GetCustomer(ctx, cid)
	mustNil(t, err)
	equal(t, "customer", c.Name, "Anna")
	m, err := s.GetMessage(ctx, "m2")
	mustNil(t, err)
	equal(t, "message", m.Text, "Text of m2")
	b, err := s.GetBlob(ctx, "raw/m2")
	mustNil(t, err)
	equal(t, "blob", string(b.Data), "mail")
	var counters map[string]int64
	mustNil(t, s.GetState(ctx, "report", &counters))
	equal(t, "counter", counters["n"], int64(5))
	next, err := s.NextTicketNumber(ctx)
	mustNil(t, err)
	equal(t, "next number", next, n+1)
	plan, err := e.ExplainIDLookup(ctx, "svar", "tickets")
	mustNil(t, err)
	if !strings.Contains(plan, "_svar_id") {
		t.Fatalf("plan after restart = %q, want the _svar_id index", plan)
	}
}
