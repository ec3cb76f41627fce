package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// processesKey is the state document in which every process that writes
// to an embedded store notes itself: {_id, procs: {<lock domain>: {at,
// host, pid}}}. One document read and written by _id, so the check costs
// the same on both servers.
const processesKey = "svar:store-processes"

// sharingWindow is how recent another process's heartbeat must be to count.
const sharingWindow = time.Minute

// procEntry is one process's heartbeat.
type procEntry struct {
	At   time.Time `bson:"at"`
	Host string    `bson:"host"`
	PID  int       `bson:"pid"`
}

// Sharing is what CheckSharing found.
type Sharing struct {
	// Embedded: the store is the embedded server (FerretDB), whose
	// updates are a read and a write that Svar serialises with locks
	// held in one process.
	Embedded bool
	// Locked: this process holds those locks (it opened the store with
	// Options.Embedded); false on the embedded server means it reaches
	// it through its URI and takes no locks at all.
	Locked bool
	// Others are the other processes that wrote to the store within the
	// last minute ("host/pid").
	Others []string
}

// Unsafe reports whether writes may be lost: the embedded server is used
// by more than one process, or by this one without its locks.
func (s Sharing) Unsafe() bool { return s.Embedded && (!s.Locked || len(s.Others) > 0) }

// CheckSharing notes this process in the store and reports which other
// processes use it, for the warning a node logs at start-up and then every
// so often: on the embedded server the per-document locks cover one
// process only. On MongoDB it only reports Embedded false.
func (s *Store) CheckSharing(ctx context.Context) (Sharing, error) {
	sh := Sharing{Embedded: s.ferret, Locked: s.locks != nil}
	if !s.ferret {
		return sh, nil
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	_, err := s.state.UpdateOne(ctx, byID(processesKey),
		bson.D{{Key: "$set", Value: bson.D{{Key: "procs." + s.domain, Value: procEntry{At: now, Host: host, PID: os.Getpid()}}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return sh, fmt.Errorf("mongostore: note this process: %w", err)
	}
	var doc struct {
		Procs map[string]procEntry `bson:"procs"`
	}
	if err := s.state.FindOne(ctx, byID(processesKey)).Decode(&doc); err != nil {
		return sh, fmt.Errorf("mongostore: read the store's processes: %w", err)
	}
	for id, p := range doc.Procs {
		if id != s.domain && now.Sub(p.At) < sharingWindow {
			sh.Others = append(sh.Others, fmt.Sprintf("%s/%d", p.Host, p.PID))
		}
	}
	return sh, nil
}

// newDomain names a lock domain: an Embedded's locks, or a Store that
// takes none.
func newDomain() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isFerretDB asks the server whether it is FerretDB (the embedded store,
// in this process or another).
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	var info bson.M
	if err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongostore: buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}
