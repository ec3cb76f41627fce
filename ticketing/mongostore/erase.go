package mongostore

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/svar-dev/svar/ticketing"
)

// Erasure (ticketing/gdpr): every delete is by _id, one at a time (the
// embedded server scans the collection for $in), a few at once.

const eraseConcurrency = 8

func (s *Store) deleteIDs(ctx context.Context, c *mongo.Collection, ids []string) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan string)
	for range min(eraseConcurrency, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if _, err := c.DeleteOne(ctx, byID(id)); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("mongostore: delete from %s: %w", c.Name(), first)
	}
	return nil
}

// DeleteIdentities deletes identity keys (kind:value); absent ones are
// no error.
func (s *Store) DeleteIdentities(ctx context.Context, keys []string) error {
	return s.deleteIDs(ctx, s.identities, keys)
}

// DeleteCustomer deletes a customer document.
func (s *Store) DeleteCustomer(ctx context.Context, id string) error {
	return s.deleteIDs(ctx, s.customers, []string{id})
}

// DeleteMessages deletes messages by id.
func (s *Store) DeleteMessages(ctx context.Context, ids []string) error {
	return s.deleteIDs(ctx, s.messages, ids)
}

// DeleteBlob deletes a blob and its chunks.
func (s *Store) DeleteBlob(ctx context.Context, key string) error {
	var head blobDoc
	err := s.blobs.FindOne(ctx, byID(key)).Decode(&head)
	if err != nil {
		if ticketing.IsNotFound(notFound(err)) {
			return nil
		}
		return fmt.Errorf("mongostore: delete blob %s: %w", key, err)
	}
	chunks := make([]string, 0, head.Chunks)
	for i := 1; i < head.Chunks; i++ {
		chunks = append(chunks, blobChunkID(key, i))
	}
	if err := s.deleteIDs(ctx, s.blobChunks, chunks); err != nil {
		return err
	}
	return s.deleteIDs(ctx, s.blobs, []string{key})
}

// ReplaceTicket replaces a ticket document whole (an erased ticket's
// tombstone).
func (s *Store) ReplaceTicket(ctx context.Context, t *ticketing.Ticket) error {
	if err := s.replace(ctx, s.tickets, t.ID, t); err != nil {
		return fmt.Errorf("mongostore: replace ticket %s: %w", t.ID, err)
	}
	return nil
}
