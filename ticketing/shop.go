package ticketing

import (
	"context"
	"errors"
	"regexp"
	"time"
)

// ShopCustomer is what a shop's own backend pushes about one of its
// customers. It comes with an API token, so it is trusted: it links the
// shop's customer id to the customer's email and phone, which is how a
// signed-in chat visitor and their earlier mails become one customer.
type ShopCustomer struct {
	ExternalID string            `json:"external_id" validate:"required,max=200"`
	Name       *string           `json:"name" validate:"omitempty,max=200"`
	Email      string            `json:"email" validate:"omitempty,email,max=320"`
	Phone      string            `json:"phone" validate:"omitempty,max=20"`
	Attributes map[string]string `json:"attributes" validate:"omitempty,max=50,dive,keys,min=1,max=50,endkeys,max=500"`
	Orders     *[]Order          `json:"orders" validate:"omitempty,max=100,dive"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// PushCustomer creates or updates the customer a shop describes. Each of
// its identities (external id, email, phone) that nobody owns is attached
// to that customer as verified; one that already belongs to another
// customer is left there (never merged) and reported in conflicts.
func (s *Service) PushCustomer(ctx context.Context, in ShopCustomer) (c *Customer, conflicts []Identity, err error) {
	if err := s.valid.Struct(&in); err != nil {
		return nil, nil, err
	}
	if in.Phone != "" && !e164.MatchString(in.Phone) {
		return nil, nil, FieldError("phone", "must be in E.164 form, such as +46701234567")
	}
	ids := []Identity{{Kind: IdentityExternal, Value: in.ExternalID, Verified: true}}
	if in.Email != "" {
		ids = append(ids, Identity{Kind: IdentityEmail, Value: NormalizeEmail(in.Email), Verified: true})
	}
	if in.Phone != "" {
		ids = append(ids, Identity{Kind: IdentityPhone, Value: in.Phone, Verified: true})
	}
	owners := make([]string, len(ids))
	for i, id := range ids {
		owner, err := s.lookupIdentity(ctx, id.Key())
		if err != nil && !IsNotFound(err) {
			return nil, nil, err
		}
		owners[i] = owner
	}
	// The customer is the one the shop's id already names; otherwise the
	// owner of the email or phone, unless that customer is another of the
	// shop's customers (has another external id).
	cid := owners[0]
	for i := 1; cid == "" && i < len(ids); i++ {
		if owners[i] == "" {
			continue
		}
		owner, err := s.store.GetCustomer(ctx, owners[i])
		if err != nil {
			return nil, nil, err
		}
		if _, taken := owner.Identity(IdentityExternal); !taken {
			cid = owner.ID
		}
	}
	now := s.now().UTC()
	if cid == "" {
		cid = NewID()
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	if _, err := s.store.EnsureCustomer(ctx, &Customer{ID: cid, Name: name, ExternalID: in.ExternalID, CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, nil, err
	}
	for i, id := range ids {
		switch owners[i] {
		case cid:
			if err := s.store.AddCustomerIdentity(ctx, cid, id); err != nil {
				return nil, nil, err
			}
			continue
		case "":
			err := s.store.InsertIdentity(ctx, id, cid)
			if errors.Is(err, ErrDuplicate) { // claimed a moment ago by someone else
				conflicts = append(conflicts, id)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			s.identities.put(id.Key(), cid)
			if err := s.store.AddCustomerIdentity(ctx, cid, id); err != nil {
				return nil, nil, err
			}
		default:
			conflicts = append(conflicts, id)
		}
	}
	ext := in.ExternalID
	c, err = s.store.PatchCustomer(ctx, cid, CustomerPatch{Name: in.Name, ExternalID: &ext, Attributes: in.Attributes, Orders: in.Orders})
	if err != nil {
		return nil, nil, err
	}
	s.remember(c)
	s.publish(ctx, &Event{Type: EventCustomerUpdated, Customer: c, At: time.Now()})
	if in.Name != nil {
		s.nameTickets(ctx, c)
	}
	return c, conflicts, nil
}
