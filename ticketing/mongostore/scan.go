package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// Read-model support: whole-collection scans for rebuilding the query
// index (ticketing/query), which happen when an index is missing, never
// per request.

// ScanMessages calls fn for every message, in no order.
func (s *Store) ScanMessages(ctx context.Context, fn func(*ticketing.Message) error) error {
	return scan(ctx, s.messages, "messages", fn)
}

// ScanCustomers calls fn for every customer, in no order.
func (s *Store) ScanCustomers(ctx context.Context, fn func(*ticketing.Customer) error) error {
	return scan(ctx, s.customers, "customers", fn)
}

func scan[T any](ctx context.Context, c *mongo.Collection, what string, fn func(*T) error) error {
	cur, err := c.Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("mongostore: scan %s: %w", what, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		v := new(T)
		if err := cur.Decode(v); err != nil {
			return fmt.Errorf("mongostore: scan %s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongostore: scan %s: %w", what, err)
	}
	return nil
}

// LastTicketNumber is the highest ticket number handed out (0: none), read
// by _id from the counter behind NextTicketNumber.
func (s *Store) LastTicketNumber(ctx context.Context) (int64, error) {
	var doc struct {
		N int64 `bson:"n"`
	}
	err := s.counters.FindOne(ctx, byID(ticketNumberCounter)).Decode(&doc)
	if err != nil {
		if ticketing.IsNotFound(notFound(err)) {
			return 0, nil
		}
		return 0, fmt.Errorf("mongostore: last ticket number: %w", err)
	}
	return ticketNumberBase + doc.N, nil
}

// InsertTicketsBulk inserts tickets and their number entries with
// unordered insertMany, for seeding large stores (benchmarks, imports).
// It does not check for existing ids beyond the server's duplicate errors,
// which it returns.
func (s *Store) InsertTicketsBulk(ctx context.Context, ts []*ticketing.Ticket) error {
	if len(ts) == 0 {
		return nil
	}
	nums := make([]any, 0, len(ts))
	docs := make([]any, 0, len(ts))
	for _, t := range ts {
		if t.Number > 0 {
			nums = append(nums, ticketNumberDoc{ID: fmt.Sprint(t.Number), TicketID: t.ID})
		}
		docs = append(docs, t)
	}
	if len(nums) > 0 {
		if _, err := s.ticketNumbers.InsertMany(ctx, nums, options.InsertMany().SetOrdered(false)); err != nil {
			return fmt.Errorf("mongostore: bulk insert ticket numbers: %w", err)
		}
	}
	if _, err := s.tickets.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("mongostore: bulk insert tickets: %w", err)
	}
	return nil
}

// InsertCustomersBulk inserts customers with unordered insertMany (no
// identity entries), for seeding large stores.
func (s *Store) InsertCustomersBulk(ctx context.Context, cs []*ticketing.Customer) error {
	if len(cs) == 0 {
		return nil
	}
	docs := make([]any, len(cs))
	for i, c := range cs {
		docs[i] = c
	}
	if _, err := s.customers.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		return fmt.Errorf("mongostore: bulk insert customers: %w", err)
	}
	return nil
}

// SetTicketNumberCounter raises the ticket number counter so that the next
// number is after n (seeding).
func (s *Store) SetTicketNumberCounter(ctx context.Context, n int64) error {
	_, err := s.counters.UpdateOne(ctx, byID(ticketNumberCounter),
		bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: n - ticketNumberBase}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: set ticket number counter: %w", err)
	}
	return nil
}
