// Package order keeps the shop's orders: the shop's backend upserts them
// by order number, each linked to the customer owning the identity it
// names, and order numbers that a customer writes link their ticket to
// that order when it is theirs.
//
// Orders live in their own collection keyed by order number; each
// customer's order numbers are an _id-keyed document of their own, so
// every read is by _id.
package order

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/svar-dev/svar/ticketing"
)

// Limits.
const (
	MaxItems       = 1000 // items per order
	MaxQuantity    = 1_000_000
	CustomerOrders = 50 // orders shown on a customer, newest first
)

// Order is one purchase in the shop.
type Order struct {
	Number       string    `json:"number" bson:"_id"`
	CustomerID   string    `json:"customer_id" bson:"customer_id"`
	Status       string    `json:"status,omitempty" bson:"status,omitempty"`
	PlacedAt     time.Time `json:"placed_at,omitzero" bson:"placed_at,omitempty"`
	Total        Amount    `json:"total,omitempty" bson:"total,omitempty"`
	Currency     string    `json:"currency,omitempty" bson:"currency,omitempty"`
	Items        []Item    `json:"items" bson:"items"`
	Carrier      string    `json:"carrier,omitempty" bson:"carrier,omitempty"`
	TrackingURL  string    `json:"tracking_url,omitempty" bson:"tracking_url,omitempty"`
	ReturnStatus string    `json:"return_status,omitempty" bson:"return_status,omitempty"`
	AdminURL     string    `json:"admin_url,omitempty" bson:"admin_url,omitempty"`
	// TicketIDs are the tickets linked to the order, oldest first.
	TicketIDs []string  `json:"ticket_ids" bson:"ticket_ids"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`
}

// Item is one line of an order.
type Item struct {
	SKU      string `json:"sku,omitempty" bson:"sku,omitempty" validate:"max=100"`
	Name     string `json:"name,omitempty" bson:"name,omitempty" validate:"max=300"`
	Quantity int    `json:"quantity" bson:"quantity"`
	Price    Amount `json:"price,omitempty" bson:"price,omitempty"`
}

// Amount is a decimal money amount, kept as its decimal text so that no
// float rounding touches it. JSON takes a number or a numeric string and
// gives a number.
type Amount string

var amountRe = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,6})?$`)

// UnmarshalJSON takes 12.50 or "12.50"; Input's validation checks the
// text, naming the field.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch {
	case s == "null":
		*a = ""
		return nil
	case strings.HasPrefix(s, `"`):
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	*a = Amount(s)
	return nil
}

// check reports whether the amount is empty or a non-negative decimal.
func (a Amount) check(field string) error {
	if a == "" {
		return nil
	}
	if !amountRe.MatchString(string(a)) {
		return ticketing.FieldError(field, "must be a decimal amount, such as 249.50")
	}
	if strings.HasPrefix(string(a), "-") {
		return ticketing.FieldError(field, "must not be negative")
	}
	return nil
}

// MarshalJSON writes the amount as a JSON number.
func (a Amount) MarshalJSON() ([]byte, error) {
	if a == "" {
		return []byte("null"), nil
	}
	return []byte(a), nil
}

// Input is what the shop's backend sends for one order.
type Input struct {
	Customer struct {
		ExternalID string `json:"external_id"`
		Email      string `json:"email"`
		Phone      string `json:"phone"`
	} `json:"customer"`
	Status       string    `json:"status"`
	PlacedAt     time.Time `json:"placed_at"`
	Total        Amount    `json:"total"`
	Currency     string    `json:"currency"`
	Items        []Item    `json:"items"`
	Carrier      string    `json:"carrier"`
	TrackingURL  string    `json:"tracking_url"`
	ReturnStatus string    `json:"return_status"`
	AdminURL     string    `json:"admin_url"`
}

var (
	numberRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	e164     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// ValidNumber reports whether s can be an order number.
func ValidNumber(s string) bool { return numberRe.MatchString(s) }

// identity is the one identity the input names: the external id, else the
// email, else the phone.
func (in *Input) identity() (ticketing.Identity, error) {
	c := in.Customer
	switch {
	case c.ExternalID != "":
		if len(c.ExternalID) > 200 {
			return ticketing.Identity{}, ticketing.FieldError("customer.external_id", "must be at most 200 characters")
		}
		return ticketing.Identity{Kind: ticketing.IdentityExternal, Value: c.ExternalID, Verified: true}, nil
	case c.Email != "":
		e := ticketing.NormalizeEmail(c.Email)
		if len(e) > 320 || !strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>") {
			return ticketing.Identity{}, ticketing.FieldError("customer.email", "is not an email address")
		}
		return ticketing.Identity{Kind: ticketing.IdentityEmail, Value: e, Verified: true}, nil
	case c.Phone != "":
		if !e164.MatchString(c.Phone) {
			return ticketing.Identity{}, ticketing.FieldError("customer.phone", "must be in E.164 form, such as +46701234567")
		}
		return ticketing.Identity{Kind: ticketing.IdentityPhone, Value: c.Phone, Verified: true}, nil
	}
	return ticketing.Identity{}, ticketing.FieldError("customer", "needs one of external_id, email or phone")
}

// validate checks the input, naming the field at fault.
func (in *Input) validate() error {
	short := func(field, v string, max int) error {
		if len(v) > max {
			return ticketing.FieldError(field, "must be at most %d characters", max)
		}
		return nil
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"status", in.Status, 50}, {"carrier", in.Carrier, 100}, {"return_status", in.ReturnStatus, 50}} {
		if err := short(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"tracking_url", in.TrackingURL}, {"admin_url", in.AdminURL}} {
		if f.v == "" {
			continue
		}
		if len(f.v) > 2000 || !(strings.HasPrefix(f.v, "https://") || strings.HasPrefix(f.v, "http://")) {
			return ticketing.FieldError(f.name, "must be an http(s) URL of at most 2000 characters")
		}
	}
	if in.Currency != "" {
		u, err := currency.ParseISO(in.Currency)
		if err != nil || u.String() != strings.ToUpper(in.Currency) || len(in.Currency) != 3 {
			return ticketing.FieldError("currency", "must be an ISO 4217 code, such as SEK")
		}
		in.Currency = u.String()
	}
	if err := in.Total.check("total"); err != nil {
		return err
	}
	if len(in.Items) > MaxItems {
		return ticketing.FieldError("items", "must be at most %d items", MaxItems)
	}
	for i, it := range in.Items {
		field := func(f string) string { return "items[" + itoa(i) + "]." + f }
		if it.Quantity <= 0 || it.Quantity > MaxQuantity {
			return ticketing.FieldError(field("quantity"), "must be 1 to %d", MaxQuantity)
		}
		if err := it.Price.check(field("price")); err != nil {
			return err
		}
		if err := short(field("sku"), it.SKU, 100); err != nil {
			return err
		}
		if err := short(field("name"), it.Name, 300); err != nil {
			return err
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// Store keeps orders. ticketing/mongostore implements it on the orders
// and customer_orders collections; every call is keyed by _id.
type Store interface {
	// GetOrder returns the order; ticketing.ErrNotFound if none.
	GetOrder(ctx context.Context, number string) (*Order, error)
	// PutOrder replaces (or inserts) the order, whole.
	PutOrder(ctx context.Context, o *Order) error
	// AddOrderTicket adds ticketID to the order's TicketIDs (a set).
	AddOrderTicket(ctx context.Context, number, ticketID string) error
	// CustomerOrderNumbers lists the customer's order numbers, in the
	// order they were first linked (none: empty, no error).
	CustomerOrderNumbers(ctx context.Context, customerID string) ([]string, error)
	// AddCustomerOrder adds number to the customer's order numbers (a set).
	AddCustomerOrder(ctx context.Context, customerID, number string) error
	// RemoveCustomerOrder removes number from them.
	RemoveCustomerOrder(ctx context.Context, customerID, number string) error
}
