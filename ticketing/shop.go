package ticketing

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
)

// ShopCustomer is what a shop's own backend pushes about one of its
// customers. It comes with an API token, so it is trusted: it links the
// shop's customer id to the customer's email and phone, which is how a
// signed-in chat visitor and their earlier mails become one customer.
type ShopCustomer struct {
	ExternalID string     `json:"external_id" validate:"required,max=200"`
	Name       *string    `json:"name" validate:"omitempty,max=200"`
	Email      string     `json:"email" validate:"omitempty,email,max=320"`
	Phone      string     `json:"phone" validate:"omitempty,max=20"`
	Attributes Attributes `json:"attributes"`
	Tier       *string    `json:"tier" validate:"omitempty,max=50"`
	Orders     *[]Order   `json:"orders" validate:"omitempty,max=100,dive"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// normalizePhone reads a phone number the shop or an agent typed: E.164,
// or national form in the default region (Options.NormalizePhone).
func (s *Service) normalizePhone(raw string) (string, error) {
	if s.phone != nil {
		p, err := s.phone(raw)
		if err != nil {
			return "", FieldError("phone", "is not a phone number (%v)", err)
		}
		return p, nil
	}
	if !e164.MatchString(raw) {
		return "", FieldError("phone", "must be in E.164 form, such as +46701234567")
	}
	return raw, nil
}

// PushCustomer creates or updates the customer a shop describes. Each of
// its identities (external id, email, phone) that nobody owns is attached
// to that customer as verified; one that already belongs to another
// customer is left there (never merged) and reported in conflicts.
func (s *Service) PushCustomer(ctx context.Context, in ShopCustomer) (c *Customer, conflicts []Identity, err error) {
	if err := s.valid.Struct(&in); err != nil {
		return nil, nil, err
	}
	if in.Phone != "" {
		p, err := s.normalizePhone(in.Phone)
		if err != nil {
			return nil, nil, err
		}
		in.Phone = p
	}
	attrs, err := NormalizeAttributes(in.Attributes)
	if err != nil {
		return nil, nil, err
	}
	in.Attributes = attrs
	if in.Tier != nil {
		t := strings.ToLower(strings.TrimSpace(*in.Tier))
		in.Tier = &t
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
	c, err = s.store.PatchCustomer(ctx, cid, CustomerPatch{Name: in.Name, ExternalID: &ext, Attributes: in.Attributes, Tier: in.Tier, Orders: in.Orders})
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
