package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/order"
)

// Orders are {_id: number, ...} in "orders"; each customer's order
// numbers are {_id: customer id, numbers: [...]} in "customer_orders".

var _ order.Store = (*Store)(nil)

// GetOrder returns the order; ticketing.ErrNotFound if none.
func (s *Store) GetOrder(ctx context.Context, number string) (*order.Order, error) {
	var o order.Order
	if err := s.db.Collection(collOrders).FindOne(ctx, byID(number)).Decode(&o); err != nil {
		return nil, fmt.Errorf("mongostore: get order %s: %w", number, notFound(err))
	}
	if o.TicketIDs == nil {
		o.TicketIDs = []string{}
	}
	if o.Items == nil {
		o.Items = []order.Item{}
	}
	return &o, nil
}

// PutOrder replaces (or inserts) the order.
func (s *Store) PutOrder(ctx context.Context, o *order.Order) error {
	if err := s.upsert(ctx, collOrders, o.Number, o); err != nil {
		return fmt.Errorf("mongostore: put order %s: %w", o.Number, err)
	}
	return nil
}

// AddOrderTicket adds ticketID to the order's ticket_ids.
func (s *Store) AddOrderTicket(ctx context.Context, number, ticketID string) error {
	_, err := s.db.Collection(collOrders).UpdateOne(ctx, byID(number),
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "ticket_ids", Value: ticketID}}}})
	if err != nil {
		return fmt.Errorf("mongostore: link order %s: %w", number, err)
	}
	return nil
}

type customerOrders struct {
	Numbers []string `bson:"numbers"`
}

// CustomerOrderNumbers lists the customer's order numbers, first linked first.
func (s *Store) CustomerOrderNumbers(ctx context.Context, customerID string) ([]string, error) {
	var d customerOrders
	err := s.db.Collection(collCustomerOrders).FindOne(ctx, byID(customerID)).Decode(&d)
	if err != nil {
		if err = notFound(err); ticketing.IsNotFound(err) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("mongostore: customer orders %s: %w", customerID, err)
	}
	return d.Numbers, nil
}

// AddCustomerOrder adds number to the customer's order numbers.
func (s *Store) AddCustomerOrder(ctx context.Context, customerID, number string) error {
	return s.customerOrders(ctx, customerID, "$addToSet", number)
}

// RemoveCustomerOrder removes number from the customer's order numbers.
func (s *Store) RemoveCustomerOrder(ctx context.Context, customerID, number string) error {
	return s.customerOrders(ctx, customerID, "$pull", number)
}

func (s *Store) customerOrders(ctx context.Context, customerID, op, number string) error {
	unlock, err := s.lock(ctx, collCustomerOrders, customerID)
	if err != nil {
		return err
	}
	defer unlock()
	err = upsertRetry(func() error {
		_, err := s.db.Collection(collCustomerOrders).UpdateOne(ctx, byID(customerID),
			bson.D{{Key: op, Value: bson.D{{Key: "numbers", Value: number}}}}, options.UpdateOne().SetUpsert(op == "$addToSet"))
		return err
	})
	if err != nil {
		return fmt.Errorf("mongostore: customer orders %s: %w", customerID, err)
	}
	return nil
}
