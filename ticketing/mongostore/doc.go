// Package mongostore implements ticketing.Store on MongoDB through
// go.mongodb.org/mongo-driver/v2, and runs the embedded default, FerretDB v1
// on SQLite, inside the process (StartEmbedded). It is the only package
// that imports the driver or FerretDB.
//
// # Only _id is fast
//
// The embedded server pushes exactly one filter down to SQLite: a single
// string {_id: X}. Anything else, even {_id: X, status: Y}, decodes and
// filters every document of the collection in Go, and its secondary indexes
// only enforce uniqueness. So every hot path here is an _id read or an
// _id-keyed write:
//
//   - identities are keyed "kind:value", so finding a customer by email or
//     phone is one _id read and claiming an identity is an insert whose
//     duplicate key means "taken";
//   - customers, tickets and messages are keyed by their ids, which the
//     core derives deterministically (a ticket is "<customer>-<n>", a
//     message comes from its channel and external id), so a duplicate
//     insert is the idempotency check and the lock;
//   - a ticket lists its message ids and a customer its ticket ids, so a
//     ticket view or a history is a handful of _id reads (GetMessages),
//     never a scan of all messages;
//   - ticket numbers are looked up through ticket_numbers {_id: "1001",
//     ticket_id}, the number sequence is one counters document, state and
//     counters are {_id: key, v: ...}, blobs are _id-keyed chunks;
//   - updates are findOneAndUpdate({_id: X}) and callers check the
//     returned document instead of filtering on its state.
//
// # One path for both servers
//
// Every write runs the same commands on MongoDB and on the embedded
// server, so what CI tests on the embedded server is what production runs:
// no conditional filter for MongoDB only (it would be a scan on the
// embedded server, and untested). Delivery reports are kept per status
// (delivery_reports.<status>) and the most advanced is chosen when a
// message is read, so a report is one $set by _id that commutes with the
// others; identities are added with $addToSet after an _id read. The
// document lock only matters on the embedded server. The one difference
// left is which indexes Open creates (the embedded server skips the
// non-unique ones it never uses); TestEveryIndexBuilds builds MongoDB's
// whole set on the embedded server.
//
// CheckSharing notes each process in the svar:store-processes state
// document, so a node can warn when an embedded store is used by a second
// process, where its locks do not reach.
//
// ListTickets and the agent lookups filter on other fields; they are
// index-backed on MongoDB (Open creates the indexes) and scan on the
// embedded server, where the core serves lists from its read model.
//
// # The _id expression index
//
// FerretDB's SQLite backend answers {_id: X} with
//
//	WHERE _ferretdb_sjson->'$._id' = ?
//
// but builds its own _id index on the expression _ferretdb_sjson->"_id".
// SQLite uses an expression index only for the same expression, so every
// _id lookup, update and delete was a full table scan (measured at 4,000
// documents: findOne 370/s, updateOne 72/s). Embedded.IndexIDs, which Open
// calls for the embedded server, opens the database's SQLite file beside
// the server and adds
//
//	CREATE INDEX IF NOT EXISTS "<table>_svar_id" ON "<table>" (_ferretdb_sjson->'$._id')
//
// to every collection's table (measured after: findOne 4,358/s, updateOne
// 1,110/s). FerretDB does not know about the index; SQLite keeps it current
// and drops it with the table. TestIndexIDs checks the query plan and
// BenchmarkFindOneByID compares with and without it.
//
// # Document locks on the embedded server
//
// FerretDB v1 runs findAndModify and update as a read followed by a
// separate write, not atomically: two concurrent $inc on one document lose
// one increment, two concurrent $addToSet lose one element. Every Store
// opened with Options.Embedded therefore takes a per-document lock (shared
// through the Embedded value, so several stores in one process, "nodes" in
// tests, are covered) around each read-modify-write. On MongoDB the same
// operations are atomic on the server and take no lock. A process that
// reaches the embedded server only through its URI does not share the locks.
package mongostore
