package mongostore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/svar-dev/svar/ticketing"
)

// identityDoc is an identities document: its _id is the identity key
// (kind:value), so looking a customer up by email or phone is an _id read
// and claiming an identity is an insert.
type identityDoc struct {
	ID         string    `bson:"_id"`
	CustomerID string    `bson:"customer_id"`
	Kind       string    `bson:"kind"`
	Value      string    `bson:"value"`
	Verified   bool      `bson:"verified"`
	CreatedAt  time.Time `bson:"created_at"`
}

// LookupIdentity returns the id of the customer that owns key (kind:value).
func (s *Store) LookupIdentity(ctx context.Context, key string) (string, error) {
	var d identityDoc
	if err := s.identities.FindOne(ctx, byID(key)).Decode(&d); err != nil {
		return "", fmt.Errorf("mongostore: lookup identity %s: %w", key, notFound(err))
	}
	return d.CustomerID, nil
}

// InsertIdentity records that id belongs to customerID; ErrDuplicate if the
// key is taken (by this or another customer).
func (s *Store) InsertIdentity(ctx context.Context, id ticketing.Identity, customerID string) error {
	d := identityDoc{
		ID: id.Key(), CustomerID: customerID, Kind: id.Kind, Value: id.Value,
		Verified: id.Verified, CreatedAt: time.Now().UTC(),
	}
	if _, err := s.identities.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("mongostore: insert identity %s: %w", d.ID, duplicate(err))
	}
	return nil
}

// EnsureCustomer inserts c unless a customer with c.ID exists, and returns
// the stored customer either way.
func (s *Store) EnsureCustomer(ctx context.Context, c *ticketing.Customer) (*ticketing.Customer, error) {
	if _, err := s.customers.InsertOne(ctx, c); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("mongostore: ensure customer %s: %w", c.ID, err)
		}
	}
	return s.GetCustomer(ctx, c.ID)
}

// GetCustomer reads a customer by id. A customer whose erasure has begun
// (MarkCustomerErased) is not found.
func (s *Store) GetCustomer(ctx context.Context, id string) (*ticketing.Customer, error) {
	var c ticketing.Customer
	if err := s.customers.FindOne(ctx, byID(id)).Decode(&c); err != nil {
		return nil, fmt.Errorf("mongostore: get customer %s: %w", id, notFound(err))
	}
	if c.Erased {
		return nil, fmt.Errorf("mongostore: get customer %s: erased: %w", id, ticketing.ErrNotFound)
	}
	return &c, nil
}

// AddCustomerIdentity adds id to the customer's identities. The list is a
// set by kind and value: adding a known identity changes nothing, except
// that a verified one replaces an unverified one.
func (s *Store) AddCustomerIdentity(ctx context.Context, customerID string, id ticketing.Identity) error {
	unlock, err := s.lock(ctx, collCustomers, customerID)
	if err != nil {
		return err
	}
	defer unlock()
	fail := func(err error) error {
		return fmt.Errorf("mongostore: add identity %s to customer %s: %w", id.Key(), customerID, err)
	}
	elem := bson.D{{Key: "kind", Value: id.Kind}, {Key: "value", Value: id.Value}}
	if id.Verified {
		// Add first, then drop the unverified twin: a reader may briefly
		// see both, never neither.
		res, err := s.customers.UpdateOne(ctx, byID(customerID), bson.D{{Key: "$addToSet", Value: bson.D{{Key: "identities", Value: id}}}})
		if err != nil {
			return fail(err)
		}
		if res.MatchedCount == 0 {
			return fail(ticketing.ErrNotFound)
		}
		unverified := append(elem, bson.E{Key: "verified", Value: false})
		if _, err := s.customers.UpdateOne(ctx, byID(customerID), bson.D{{Key: "$pull", Value: bson.D{{Key: "identities", Value: unverified}}}}); err != nil {
			return fail(err)
		}
		return nil
	}
	// One path on both servers, reads and writes by _id only (a filter on
	// identities would scan the collection on the embedded server): read,
	// check, then $addToSet, which is idempotent should two nodes add the
	// same identity at once on MongoDB (where the document lock is per
	// process). On the embedded server the lock makes it atomic.
	c, err := s.GetCustomer(ctx, customerID)
	if err != nil {
		return err
	}
	if _, ok := findIdentity(c.Identities, id); ok {
		return nil
	}
	res, err := s.customers.UpdateOne(ctx, byID(customerID), bson.D{{Key: "$addToSet", Value: bson.D{{Key: "identities", Value: id}}}})
	if err != nil {
		return fail(err)
	}
	if res.MatchedCount == 0 {
		return fail(ticketing.ErrNotFound)
	}
	return nil
}

func findIdentity(ids []ticketing.Identity, id ticketing.Identity) (int, bool) {
	for i, x := range ids {
		if x.Kind == id.Kind && x.Value == id.Value {
			return i, true
		}
	}
	return -1, false
}

// LinkTicket makes ticketID the customer's current ticket, adds it to
// TicketIDs and raises TicketCount to at least gen.
func (s *Store) LinkTicket(ctx context.Context, customerID, ticketID string, gen int) (*ticketing.Customer, error) {
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "current_ticket_id", Value: ticketID}}},
		{Key: "$addToSet", Value: bson.D{{Key: "ticket_ids", Value: ticketID}}},
		{Key: "$max", Value: bson.D{{Key: "ticket_count", Value: gen}}},
	}
	c, err := s.updateCustomer(ctx, customerID, update)
	if err != nil {
		return nil, fmt.Errorf("mongostore: link ticket %s to customer %s: %w", ticketID, customerID, err)
	}
	return c, nil
}

// AddCustomerTicket adds ticketID to the customer's TicketIDs (a set) and
// raises TicketCount to at least gen, leaving the current ticket alone: a
// ticket split off another (ticketing/ticketmerge). Idempotent.
func (s *Store) AddCustomerTicket(ctx context.Context, customerID, ticketID string, gen int) (*ticketing.Customer, error) {
	update := bson.D{
		{Key: "$addToSet", Value: bson.D{{Key: "ticket_ids", Value: ticketID}}},
		{Key: "$max", Value: bson.D{{Key: "ticket_count", Value: gen}}},
	}
	c, err := s.updateCustomer(ctx, customerID, update)
	if err != nil {
		return nil, fmt.Errorf("mongostore: add ticket %s to customer %s: %w", ticketID, customerID, err)
	}
	return c, nil
}

// PatchCustomer sets the given fields and returns the customer.
func (s *Store) PatchCustomer(ctx context.Context, customerID string, p ticketing.CustomerPatch) (*ticketing.Customer, error) {
	set := bson.D{{Key: "updated_at", Value: time.Now().UTC()}}
	var unset bson.D
	if p.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *p.Name})
	}
	if p.ExternalID != nil {
		set = append(set, bson.E{Key: "external_id", Value: *p.ExternalID})
	}
	for k, v := range p.Attributes {
		if err := checkFieldName(k); err != nil {
			return nil, ticketing.FieldError("attributes", "key %q: %v", k, err)
		}
		set = append(set, bson.E{Key: "attributes." + k, Value: v})
	}
	for _, k := range p.RemoveAttributes {
		if err := checkFieldName(k); err != nil {
			return nil, ticketing.FieldError("remove_attributes", "key %q: %v", k, err)
		}
		if _, both := p.Attributes[k]; both {
			set = slices.DeleteFunc(set, func(e bson.E) bool { return e.Key == "attributes."+k })
		}
		unset = append(unset, bson.E{Key: "attributes." + k, Value: ""})
	}
	if p.Tier != nil {
		if *p.Tier == "" {
			unset = append(unset, bson.E{Key: "tier", Value: ""})
		} else {
			set = append(set, bson.E{Key: "tier", Value: *p.Tier})
		}
	}
	if p.Orders != nil {
		orders := *p.Orders
		if orders == nil {
			orders = []ticketing.Order{}
		}
		set = append(set, bson.E{Key: "orders", Value: orders})
	}
	for ch, reason := range p.OptOut {
		if err := checkFieldName(ch); err != nil {
			return nil, ticketing.FieldError("opt_out", "channel %q: %v", ch, err)
		}
		if reason == "" {
			unset = append(unset, bson.E{Key: "opt_outs." + ch, Value: ""})
		} else {
			set = append(set, bson.E{Key: "opt_outs." + ch, Value: reason})
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	c, err := s.updateCustomer(ctx, customerID, update)
	if err != nil {
		return nil, fmt.Errorf("mongostore: patch customer %s: %w", customerID, err)
	}
	return c, nil
}

// updateCustomer applies update to customer id and returns it after.
func (s *Store) updateCustomer(ctx context.Context, id string, update bson.D) (*ticketing.Customer, error) {
	unlock, err := s.lock(ctx, collCustomers, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var c ticketing.Customer
	err = s.customers.FindOneAndUpdate(ctx, byID(id), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&c)
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// checkFieldName refuses names that MongoDB would read as a path or an
// operator.
func checkFieldName(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("is empty")
	case strings.ContainsAny(k, ".\x00"), strings.HasPrefix(k, "$"):
		return fmt.Errorf("must not contain '.' or start with '$'")
	}
	return nil
}

// PutCustomer replaces the customer document whole (a merge's before-image
// restored, or the merged result).
func (s *Store) PutCustomer(ctx context.Context, c *ticketing.Customer) error {
	if err := s.upsert(ctx, collCustomers, c.ID, c); err != nil {
		return fmt.Errorf("mongostore: put customer %s: %w", c.ID, err)
	}
	return nil
}

// SetIdentityOwner points the identity's lookup document at customerID,
// creating it if missing.
func (s *Store) SetIdentityOwner(ctx context.Context, id ticketing.Identity, customerID string) error {
	_, err := s.identities.UpdateOne(ctx, byID(id.Key()), bson.D{
		{Key: "$set", Value: bson.D{{Key: "customer_id", Value: customerID}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "kind", Value: id.Kind}, {Key: "value", Value: id.Value},
			{Key: "verified", Value: id.Verified}, {Key: "created_at", Value: time.Now().UTC()}}},
	}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: set identity owner %s: %w", id.Key(), err)
	}
	return nil
}

var _ ticketing.IdentityRemover = (*Store)(nil)

// RemoveCustomerIdentity pulls the identity (any verified state) from the
// customer's list: an _id-keyed $pull.
func (s *Store) RemoveCustomerIdentity(ctx context.Context, customerID string, id ticketing.Identity) error {
	unlock, err := s.lock(ctx, collCustomers, customerID)
	if err != nil {
		return err
	}
	defer unlock()
	// Both servers match a $pull by whole element, so pull the verified
	// and the unverified form (fields in Identity's order).
	for _, verified := range []bool{true, false} {
		elem := bson.D{{Key: "kind", Value: id.Kind}, {Key: "value", Value: id.Value}, {Key: "verified", Value: verified}}
		res, err := s.customers.UpdateOne(ctx, byID(customerID), bson.D{{Key: "$pull", Value: bson.D{{Key: "identities", Value: elem}}}})
		if err != nil {
			return fmt.Errorf("mongostore: remove identity %s from customer %s: %w", id.Key(), customerID, err)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("mongostore: remove identity %s from customer %s: %w", id.Key(), customerID, ticketing.ErrNotFound)
		}
	}
	return nil
}
