package mongostore_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

type checkpoint struct {
	UIDValidity uint32    `bson:"uid_validity"`
	LastUID     uint32    `bson:"last_uid"`
	Seen        []string  `bson:"seen"`
	At          time.Time `bson:"at"`
}

func TestState(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()

	var cp checkpoint
	mustNotFound(t, s.GetState(ctx, "imap:INBOX", &cp))

	want := checkpoint{UIDValidity: 7, LastUID: 42, Seen: []string{"a"}, At: at(1)}
	mustNil(t, s.PutState(ctx, "imap:INBOX", want))
	mustNil(t, s.GetState(ctx, "imap:INBOX", &cp))
	equal(t, "validity", cp.UIDValidity, want.UIDValidity)
	equal(t, "last uid", cp.LastUID, want.LastUID)
	equalSlice(t, "seen", cp.Seen, want.Seen)
	equal(t, "at", cp.At, want.At)

	want.LastUID = 43
	want.Seen = nil
	mustNil(t, s.PutState(ctx, "imap:INBOX", &want))
	cp = checkpoint{}
	mustNil(t, s.GetState(ctx, "imap:INBOX", &cp))
	equal(t, "replaced", cp.LastUID, uint32(43))
	equal(t, "seen", len(cp.Seen), 0)

	// Scalars work too.
	mustNil(t, s.PutState(ctx, "greeting", "hej"))
	var str string
	mustNil(t, s.GetState(ctx, "greeting", &str))
	equal(t, "string", str, "hej")

	mustNil(t, s.InsertState(ctx, "send:r1", map[string]string{"provider_id": "SM1"}))
	mustDuplicate(t, s.InsertState(ctx, "send:r1", map[string]string{"provider_id": "SM2"}))
	var rec map[string]string
	mustNil(t, s.GetState(ctx, "send:r1", &rec))
	equal(t, "first insert kept", rec["provider_id"], "SM1")

	mustNil(t, s.DeleteState(ctx, "send:r1"))
	mustNotFound(t, s.GetState(ctx, "send:r1", &rec))
	mustNil(t, s.DeleteState(ctx, "send:r1"))
}

func TestIncCounters(t *testing.T) {
	nodes := mongotest.NewNodes(t, 2)
	ctx := t.Context()
	const key = "report:2025-03-14"

	mustNil(t, nodes[0].IncCounters(ctx, key, map[string]int64{"inbound": 2, "email": 1}))
	mustNil(t, nodes[1].IncCounters(ctx, key, map[string]int64{"inbound": 1, "sms": 1}))
	mustNil(t, nodes[0].IncCounters(ctx, key, nil))
	var got map[string]int64
	mustNil(t, nodes[1].GetState(ctx, key, &got))
	equal(t, "inbound", got["inbound"], int64(3))
	equal(t, "email", got["email"], int64(1))
	equal(t, "sms", got["sms"], int64(1))

	// Concurrent increments from both nodes all count.
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := nodes[w%2].IncCounters(ctx, "busy", map[string]int64{"n": 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mustNil(t, nodes[0].GetState(ctx, "busy", &got))
	equal(t, "concurrent", got["n"], int64(60))

	mustCode(t, nodes[0].IncCounters(ctx, key, map[string]int64{"a.b": 1}), ticketing.EInvalid)
	mustCode(t, nodes[0].IncCounters(ctx, key, map[string]int64{"$x": 1}), ticketing.EInvalid)
}

func TestBlobs(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()

	_, err := s.GetBlob(ctx, "raw/none")
	mustNotFound(t, err)

	small := &ticketing.Blob{Key: "raw/m1.eml", Filename: "m1.eml", ContentType: "message/rfc822",
		Data: []byte("From: anna@example.se\r\n\r\nHej!\r\n"), CreatedAt: at(1)}
	mustNil(t, s.PutBlob(ctx, small))
	got, err := s.GetBlob(ctx, small.Key)
	mustNil(t, err)
	equal(t, "filename", got.Filename, small.Filename)
	equal(t, "content type", got.ContentType, small.ContentType)
	equal(t, "created", got.CreatedAt, small.CreatedAt)
	equal(t, "data", string(got.Data), string(small.Data))

	// Several chunks, then rewritten smaller under the same key.
	big := make([]byte, 9<<20+123)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	mustNil(t, s.PutBlob(ctx, &ticketing.Blob{Key: "att/big.bin", Data: big}))
	got, err = s.GetBlob(ctx, "att/big.bin")
	mustNil(t, err)
	if !bytes.Equal(got.Data, big) {
		t.Fatalf("big blob: got %d bytes, not the %d stored", len(got.Data), len(big))
	}
	mustNil(t, s.PutBlob(ctx, &ticketing.Blob{Key: "att/big.bin", Data: []byte("small now")}))
	got, err = s.GetBlob(ctx, "att/big.bin")
	mustNil(t, err)
	equal(t, "rewritten", string(got.Data), "small now")

	empty := &ticketing.Blob{Key: "att/empty", Data: nil}
	mustNil(t, s.PutBlob(ctx, empty))
	got, err = s.GetBlob(ctx, "att/empty")
	mustNil(t, err)
	equal(t, "empty", len(got.Data), 0)

	mustCode(t, s.PutBlob(ctx, &ticketing.Blob{Key: "att/huge", Data: make([]byte, mongostore.MaxBlobSize+1)}), ticketing.ETooLarge)
	mustCode(t, s.PutBlob(ctx, &ticketing.Blob{Data: []byte("x")}), ticketing.EInvalid)
}
