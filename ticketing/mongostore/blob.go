package mongostore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// Blobs are stored as _id-keyed documents rather than GridFS: GridFS reads
// a file's chunks with {files_id: X} sorted by n, which the embedded server
// answers by scanning every chunk of every file.
//
// A blob is a head document {_id: key, filename, content_type, size,
// created_at, chunks, data} holding the first chunk, plus one document per
// further chunk {_id: "key#i", data} in blob_chunks. The head is written
// last, so a reader that finds it finds every chunk it names; rewriting a
// key may leave stale chunks past the new count, which nothing reads.
const (
	// MaxBlobSize is the largest blob PutBlob accepts.
	MaxBlobSize = 32 << 20
	// blobChunkSize keeps each document well under MongoDB's 16 MiB.
	blobChunkSize = 4 << 20
)

type blobDoc struct {
	ID          string    `bson:"_id"`
	Filename    string    `bson:"filename"`
	ContentType string    `bson:"content_type"`
	Size        int64     `bson:"size"`
	Chunks      int       `bson:"chunks"`
	CreatedAt   time.Time `bson:"created_at"`
	Data        []byte    `bson:"data"`
}

type blobChunkDoc struct {
	ID   string `bson:"_id"`
	Data []byte `bson:"data"`
}

func blobChunkID(key string, i int) string { return key + "#" + strconv.Itoa(i) }

// PutBlob stores b under b.Key, replacing a blob stored there before.
func (s *Store) PutBlob(ctx context.Context, b *ticketing.Blob) error {
	if b.Key == "" {
		return ticketing.FieldError("key", "is empty")
	}
	if len(b.Data) > MaxBlobSize {
		return ticketing.Errorf(ticketing.ETooLarge, "blob %s is %d bytes; the limit is %d MiB", b.Key, len(b.Data), MaxBlobSize>>20)
	}
	chunks := max(1, (len(b.Data)+blobChunkSize-1)/blobChunkSize)
	part := func(i int) []byte {
		lo := min(i*blobChunkSize, len(b.Data))
		hi := min(lo+blobChunkSize, len(b.Data))
		return b.Data[lo:hi]
	}
	for i := 1; i < chunks; i++ {
		id := blobChunkID(b.Key, i)
		if err := s.upsert(ctx, collBlobChunks, id, blobChunkDoc{ID: id, Data: part(i)}); err != nil {
			return fmt.Errorf("mongostore: put blob %s: chunk %d: %w", b.Key, i, err)
		}
	}
	created := b.CreatedAt
	if created.IsZero() {
		created = time.Now().UTC()
	}
	head := blobDoc{
		ID: b.Key, Filename: b.Filename, ContentType: b.ContentType, Size: int64(len(b.Data)),
		Chunks: chunks, CreatedAt: created, Data: part(0),
	}
	if err := s.upsert(ctx, collBlobs, b.Key, head); err != nil {
		return fmt.Errorf("mongostore: put blob %s: %w", b.Key, err)
	}
	return nil
}

// GetBlob reads the blob stored under key.
func (s *Store) GetBlob(ctx context.Context, key string) (*ticketing.Blob, error) {
	var head blobDoc
	if err := s.blobs.FindOne(ctx, byID(key)).Decode(&head); err != nil {
		return nil, fmt.Errorf("mongostore: get blob %s: %w", key, notFound(err))
	}
	data := make([]byte, 0, head.Size)
	data = append(data, head.Data...)
	for i := 1; i < head.Chunks; i++ {
		var c blobChunkDoc
		if err := s.blobChunks.FindOne(ctx, byID(blobChunkID(key, i))).Decode(&c); err != nil {
			return nil, fmt.Errorf("mongostore: get blob %s: chunk %d: %w", key, i, err)
		}
		data = append(data, c.Data...)
	}
	if int64(len(data)) != head.Size {
		return nil, fmt.Errorf("mongostore: get blob %s: read %d bytes, want %d", key, len(data), head.Size)
	}
	return &ticketing.Blob{
		Key: key, Filename: head.Filename, ContentType: head.ContentType, Data: data, CreatedAt: head.CreatedAt,
	}, nil
}

// upsert replaces or inserts document id of collection coll.
func (s *Store) upsert(ctx context.Context, coll, id string, doc any) error {
	unlock, err := s.lock(ctx, coll, id)
	if err != nil {
		return err
	}
	defer unlock()
	c := s.db.Collection(coll)
	return upsertRetry(func() error {
		_, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		return err
	})
}
