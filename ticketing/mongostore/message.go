package mongostore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// getMessagesConcurrency bounds the parallel FindOnes of GetMessages.
const getMessagesConcurrency = 4

// duplicateKeyCode is MongoDB's E11000.
const duplicateKeyCode = 11000

// InsertMessages inserts msgs unordered. dup[i] is true where msgs[i]
// already existed. A message the store refuses (a key or size it does not
// take) fails alone: the others are stored and the error is a
// *ticketing.InsertErrors whose refused entries have code EInvalid. A batch
// that fails as a whole (not a per-document write error) is retried one
// message at a time, so that one message's failure never decides another's.
func (s *Store) InsertMessages(ctx context.Context, msgs []*ticketing.Message) ([]bool, error) {
	dup := make([]bool, len(msgs))
	if len(msgs) == 0 {
		return dup, nil
	}
	errs := make([]error, len(msgs))
	failed := false
	docs := make([]any, 0, len(msgs))
	at := make([]int, 0, len(msgs)) // docs[k] is msgs[at[k]]
	for i, m := range msgs {
		raw, err := bson.Marshal(m)
		if err != nil {
			errs[i], failed = refused(m.ID, err), true
			continue
		}
		docs = append(docs, bson.Raw(raw))
		at = append(at, i)
	}
	if len(docs) > 0 {
		_, err := s.messages.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		var bwe mongo.BulkWriteException
		switch {
		case err == nil:
		case errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0:
			for _, we := range bwe.WriteErrors {
				if we.Index < 0 || we.Index >= len(at) {
					return nil, fmt.Errorf("mongostore: insert %d messages: %w", len(msgs), err)
				}
				i := at[we.Index]
				if we.Code == duplicateKeyCode {
					dup[i] = true
					continue
				}
				if refusesDocument(we.Code) {
					errs[i] = refused(msgs[i].ID, we)
				} else {
					errs[i] = fmt.Errorf("mongostore: insert message %s: %w", msgs[i].ID, we)
				}
				failed = true
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("mongostore: insert %d messages: %w", len(msgs), err)
		default:
			// The batch failed as a whole: find out message by message.
			for k, doc := range docs {
				i := at[k]
				dup[i], errs[i] = s.insertOneMessage(ctx, msgs[i].ID, doc)
				if errs[i] != nil {
					failed = true
				}
			}
		}
	}
	if failed {
		return dup, &ticketing.InsertErrors{Errs: errs}
	}
	return dup, nil
}

// insertOneMessage inserts one marshalled message: dup when it exists.
func (s *Store) insertOneMessage(ctx context.Context, id string, doc any) (dup bool, err error) {
	_, err = s.messages.InsertOne(ctx, doc)
	var we mongo.WriteException
	switch {
	case err == nil:
		return false, nil
	case mongo.IsDuplicateKeyError(err):
		return true, nil
	case errors.As(err, &we) && we.WriteConcernError == nil && len(we.WriteErrors) > 0 && refusesDocument(we.WriteErrors[0].Code):
		return false, refused(id, we.WriteErrors[0])
	}
	return false, fmt.Errorf("mongostore: insert message %s: %w", id, err)
}

// refusesDocument reports write error codes that refuse a document for
// what it is, on every attempt: BadValue (the embedded server's invalid
// keys), TypeMismatch, DollarPrefixedFieldName, InvalidIdField,
// EmptyFieldName, DottedFieldName, DocumentValidationFailure,
// BSONObjectTooLarge, KeyTooLong. Anything else may pass and is retried.
func refusesDocument(code int) bool {
	switch code {
	case 2, 14, 52, 53, 56, 57, 121, 10334, 17280:
		return true
	}
	return false
}

// refused is the error of a message the store does not take as it is.
func refused(id string, err error) error {
	return ticketing.Errorf(ticketing.EInvalid, "mongostore: the store refuses message %s: %v", id, err)
}

// GetMessage reads a message by id.
func (s *Store) GetMessage(ctx context.Context, id string) (*ticketing.Message, error) {
	var d messageDoc
	if err := s.messages.FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return nil, fmt.Errorf("mongostore: get message %s: %w", id, notFound(err))
	}
	return d.message(), nil
}

// GetMessages reads the messages with the given ids, in that order, leaving
// out ids that do not exist. It runs one FindOne per id (a few at a time)
// because the embedded server scans the collection for $in.
func (s *Store) GetMessages(ctx context.Context, ids []string) ([]*ticketing.Message, error) {
	found := make([]*ticketing.Message, len(ids))
	errs := make([]error, len(ids))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	next := make(chan int)
	for range min(getMessagesConcurrency, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m, err := s.GetMessage(ctx, ids[i])
				switch {
				case err == nil:
					found[i] = m
				case !ticketing.IsNotFound(err):
					errs[i] = err
					cancel()
				}
			}
		}()
	}
feed:
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mongostore: get messages: %w", err)
	}
	out := make([]*ticketing.Message, 0, len(ids))
	for _, m := range found {
		if m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// SetMessageThread records the ticket a message is on and why.
func (s *Store) SetMessageThread(ctx context.Context, id, ticketID, reason string) error {
	unlock, err := s.lock(ctx, collMessages, id)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := s.messages.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{
		{Key: "ticket_id", Value: ticketID}, {Key: "thread_reason", Value: reason}}}})
	if err != nil {
		return fmt.Errorf("mongostore: set thread of message %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongostore: set thread of message %s: %w", id, ticketing.ErrNotFound)
	}
	return nil
}

// messageDoc is a stored message: the message and the delivery reports
// received for it, one per status (delivery_reports.<status>). Reports are
// kept apart so that they commute: recording one is a single $set by _id
// on both servers, never a conditional update (which the embedded server
// would run as a scan), and the message's delivery is the most advanced
// report, chosen when it is read.
type messageDoc struct {
	ticketing.Message `bson:",inline"`
	Reports           map[string]ticketing.Delivery `bson:"delivery_reports,omitempty"`
}

func (d *messageDoc) message() *ticketing.Message {
	m := &d.Message
	for _, r := range d.Reports {
		if r.Status == "" {
			continue
		}
		if m.Delivery == nil || laterDelivery(r, *m.Delivery) {
			r := r
			m.Delivery = &r
		}
	}
	return m
}

// deliveryRank orders delivery states: a final one (delivered, failed)
// is never replaced by a queued or sent report arriving late.
func deliveryRank(status string) int {
	switch status {
	case ticketing.DeliveryQueued:
		return 1
	case ticketing.DeliverySent:
		return 2
	case ticketing.DeliveryDelivered, ticketing.DeliveryFailed:
		return 3
	}
	return 0
}

// laterDelivery reports whether a supersedes b: a higher rank, or the
// same rank and a later report (failed before delivered on a tie).
func laterDelivery(a, b ticketing.Delivery) bool {
	ra, rb := deliveryRank(a.Status), deliveryRank(b.Status)
	if ra != rb {
		return ra > rb
	}
	if !a.UpdatedAt.Equal(b.UpdatedAt) {
		return a.UpdatedAt.After(b.UpdatedAt)
	}
	return a.Status == ticketing.DeliveryFailed && b.Status != ticketing.DeliveryFailed
}

var deliveryStatusRE = regexp.MustCompile(`^[a-z_]{1,32}$`)

// SetDelivery records d and returns the message after it. A final state
// (delivered, failed) is never replaced by a queued or sent report arriving
// late; the message then keeps its final delivery.
//
// The report is stored under its status (see messageDoc) with one $set by
// _id: the same update on MongoDB and on the embedded server, where the
// document lock keeps FerretDB's read-then-write from losing a concurrent
// report.
func (s *Store) SetDelivery(ctx context.Context, id string, d ticketing.Delivery) (*ticketing.Message, error) {
	if !deliveryStatusRE.MatchString(d.Status) {
		return nil, ticketing.FieldError("status", "%q is not a delivery status", d.Status)
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = time.Now().UTC()
	}
	unlock, err := s.lock(ctx, collMessages, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var doc messageDoc
	err = s.messages.FindOneAndUpdate(ctx, byID(id), bson.D{{Key: "$set", Value: bson.D{{Key: "delivery_reports." + d.Status, Value: d}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		return nil, fmt.Errorf("mongostore: set delivery of message %s: %w", id, notFound(err))
	}
	return doc.message(), nil
}
