package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// Collection names.
const (
	collIdentities        = "identities"
	collCustomers         = "customers"
	collTickets           = "tickets"
	collTicketNumbers     = "ticket_numbers"
	collCounters          = "counters"
	collMessages          = "messages"
	collAgents            = "agents"
	collSessions          = "sessions"
	collState             = "state"
	collBlobs             = "blobs"
	collBlobChunks        = "blob_chunks"
	collOrders            = "orders"             // ticketing/order
	collCustomerOrders    = "customer_orders"    // ticketing/order
	collWebhooks          = "webhooks"           // ticketing/webhook
	collWebhookDeliveries = "webhook_deliveries" // ticketing/webhook
	collMacros            = "macros"             // macro.go
	collAudit             = "audit"              // audit.go
)

// collections lists every collection Open creates.
func collections() []string {
	return []string{
		collIdentities, collCustomers, collTickets, collTicketNumbers, collCounters, collMessages,
		collAgents, collSessions, collState, collBlobs, collBlobChunks,
		collOrders, collCustomerOrders, collWebhooks, collWebhookDeliveries,
		collMacros, collAudit,
	}
}

// DefaultDatabase is the database name used when Options.Database is empty.
const DefaultDatabase = "svar"

// Options configure Open.
type Options struct {
	// URI is the mongodb:// URI. Empty with Embedded set: Embedded.URI().
	URI string
	// Database is the database name; default "svar".
	Database string
	// Embedded is the in-process server the URI points at, nil for an
	// external MongoDB. With it the store indexes _id lookups in SQLite
	// and serialises read-modify-write operations per document.
	Embedded *Embedded
	// Logger; nil discards.
	Logger *slog.Logger
}

// Store implements ticketing.Store on MongoDB or the embedded server.
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	embedded *Embedded
	locks    *docLocks // nil on an external server
	ferret   bool      // the server is FerretDB (the embedded store)
	domain   string    // names this process's locks in CheckSharing
	log      *slog.Logger
	commands *commandCounts

	identities, customers, tickets, ticketNumbers, counters, messages,
	agents, sessions, state, blobs, blobChunks *mongo.Collection
}

var _ ticketing.Store = (*Store)(nil)

// Open connects, creates the collections and indexes that are missing and,
// on the embedded server, indexes _id lookups. It is safe for several nodes
// to Open the same database at once.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.URI == "" {
		if o.Embedded == nil {
			return nil, errors.New("mongostore: open: URI is empty")
		}
		o.URI = o.Embedded.URI()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	commands := &commandCounts{}
	copts := options.Client().ApplyURI(o.URI).
		SetAppName("svar").
		SetMonitor(commands.monitor()).
		SetBSONOptions(&options.BSONOptions{NilSliceAsEmpty: true})
	client, err := mongo.Connect(copts)
	if err != nil {
		return nil, fmt.Errorf("mongostore: open: %w", err)
	}
	s := &Store{
		client:   client,
		db:       client.Database(o.Database),
		embedded: o.Embedded,
		log:      o.Logger,
		commands: commands,
	}
	s.domain = newDomain()
	if o.Embedded != nil {
		s.locks = o.Embedded.locks
		s.domain = o.Embedded.domain
	}
	for name, c := range map[string]**mongo.Collection{
		collIdentities: &s.identities, collCustomers: &s.customers, collTickets: &s.tickets,
		collTicketNumbers: &s.ticketNumbers, collCounters: &s.counters, collMessages: &s.messages,
		collAgents: &s.agents, collSessions: &s.sessions, collState: &s.state,
		collBlobs: &s.blobs, collBlobChunks: &s.blobChunks,
	} {
		*c = s.db.Collection(name)
	}
	if err := s.setup(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	if s.ferret, err = s.isFerretDB(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	s.log.Debug("mongostore: opened", "database", o.Database, "embedded", o.Embedded != nil)
	return s, nil
}

// setup creates collections, indexes and the embedded _id indexes.
func (s *Store) setup(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongostore: open: ping: %w", err)
	}
	existing, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongostore: open: list collections: %w", err)
	}
	have := make(map[string]bool, len(existing))
	for _, n := range existing {
		have[n] = true
	}
	for _, n := range collections() {
		if have[n] {
			continue
		}
		if err := s.db.CreateCollection(ctx, n); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongostore: open: create collection %s: %w", n, err)
		}
	}
	// The embedded server's queries never use a non-unique index; each
	// would cost every write. TestEveryIndexBuilds runs the same code with
	// all of them on the embedded server, so MongoDB's set is tested too.
	if err := createIndexes(ctx, s.db, s.embedded == nil); err != nil {
		return err
	}
	if s.embedded != nil {
		if err := s.embedded.IndexIDs(ctx, s.db.Name()); err != nil {
			return fmt.Errorf("mongostore: open: %w", err)
		}
	}
	return nil
}

// indexes are the secondary indexes real MongoDB needs for lists and
// lookups. The embedded server's queries never use an index (only _id is
// pushed down), so there setup creates only the unique ones, which enforce
// uniqueness: each other index is an expression index in SQLite that every
// write of the collection would update for nothing. Unique indexes on optional fields must be sparse: the embedded server
// accepts many documents without the field, real MongoDB does not.
func indexes() []indexSpec {
	return []indexSpec{
		{coll: collTickets, name: "status_last_message_at", keys: bson.D{{Key: "status", Value: 1}, {Key: "last_message_at", Value: -1}}},
		{coll: collTickets, name: "assignee_last_message_at", keys: bson.D{{Key: "assignee_id", Value: 1}, {Key: "last_message_at", Value: -1}}},
		{coll: collTickets, name: "customer_id", keys: bson.D{{Key: "customer_id", Value: 1}}},
		{coll: collTickets, name: "last_message_at", keys: bson.D{{Key: "last_message_at", Value: -1}}},
		{coll: collAgents, name: "email", keys: bson.D{{Key: "email", Value: 1}}, unique: true}, // required: not sparse
		{coll: collMessages, name: "ticket_created_at", keys: bson.D{{Key: "ticket_id", Value: 1}, {Key: "created_at", Value: 1}}},
	}
}

// createIndexes creates the unique indexes, and with all the others too,
// one per command: FerretDB v1 panics on a createIndexes that lists more
// than one index that already exists.
func createIndexes(ctx context.Context, db *mongo.Database, all bool) error {
	for _, ix := range indexes() {
		if !all && !ix.unique {
			continue
		}
		m := mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)}
		if ix.unique {
			m.Options.SetUnique(true)
		}
		if _, err := db.Collection(ix.coll).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mongostore: open: create index %s on %s: %w", ix.name, ix.coll, err)
		}
	}
	return nil
}

type indexSpec struct {
	coll, name string
	keys       bson.D
	unique     bool
}

// Close disconnects. It does not stop an embedded server: its owner does,
// after closing every store that uses it.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongostore: close: %w", err)
	}
	return nil
}

// diskFullBytes is the free space below which the embedded store's disk
// counts as full.
const diskFullBytes = 1 << 20

// healthProbeID is the state document Ping writes: one for all nodes.
const healthProbeID = "health:probe"

// Ping checks that the server answers and can write: a server on a full
// disk still answers pings and reads.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongostore: ping: %w", err)
	}
	if e := s.embedded; e != nil {
		// A small write still fits in the pages SQLite has; a real one
		// does not.
		if free, err := freeBytes(e.dir); err == nil && free < diskFullBytes {
			return fmt.Errorf("mongostore: ping: the data dir's disk is full (%d bytes free): the store cannot write", free)
		}
	}
	err := upsertRetry(func() error {
		_, err := s.state.UpdateOne(ctx, byID(healthProbeID),
			bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().UTC()}}}}, options.UpdateOne().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: ping: cannot write: %w", err)
	}
	return nil
}

// Database is the database the store uses.
func (s *Store) Database() string { return s.db.Name() }

// Drop deletes the store's database and everything in it. Tests use it to
// clean up after themselves on a shared server.
func (s *Store) Drop(ctx context.Context) error {
	if err := s.db.Drop(ctx); err != nil {
		return fmt.Errorf("mongostore: drop %s: %w", s.db.Name(), err)
	}
	return nil
}

// byID is the only filter hot paths use: the embedded server pushes exactly
// {_id: X} down to SQLite and scans for anything else.
func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// lock takes the per-document lock on the embedded server (a no-op on an
// external one).
func (s *Store) lock(ctx context.Context, coll, id string) (func(), error) {
	unlock, err := s.locks.lock(ctx, coll, id)
	if err != nil {
		return nil, fmt.Errorf("mongostore: lock %s %s: %w", coll, id, err)
	}
	return unlock, nil
}

// upsertRetry runs an upsert once more when it fails with a duplicate key:
// two concurrent upserts of a new _id can both miss and both insert, and the
// second then finds the document the first inserted.
func upsertRetry(fn func() error) error {
	err := fn()
	if err != nil && isDuplicateKey(err) {
		err = fn()
	}
	return err
}

// notFound maps "no document" to ticketing.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ticketing.ErrNotFound
	}
	return err
}

// duplicate maps a duplicate key to ticketing.ErrDuplicate.
func duplicate(err error) error {
	if isDuplicateKey(err) {
		return ticketing.ErrDuplicate
	}
	return err
}

// isDuplicateKey reports a duplicate key. The embedded server answers an
// insert with E11000 but an update or replace that breaks a unique index
// with an internal error carrying SQLite's message.
func isDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err) ||
		err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isNamespaceExists reports the error of creating a collection that exists.
func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

// replace replaces document id of c with doc: ErrNotFound if there is none,
// ErrDuplicate if doc breaks a unique index.
func (s *Store) replace(ctx context.Context, c *mongo.Collection, id string, doc any) error {
	unlock, err := s.lock(ctx, c.Name(), id)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := c.ReplaceOne(ctx, byID(id), doc)
	if err != nil {
		return duplicate(err)
	}
	if res.MatchedCount == 0 {
		return ticketing.ErrNotFound
	}
	return nil
}
