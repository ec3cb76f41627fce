package ticketing

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// MaxContacts bounds how many emails, and how many phones, one customer
// may be given at once by an agent.
const MaxContacts = 10

// Contacts replaces a customer's email and phone identities, kind by
// kind; a nil list leaves that kind alone. Phones may be in national form
// (normalized with Options.NormalizePhone, SVAR_SMS_DEFAULT_REGION).
type Contacts struct {
	Emails *[]string
	Phones *[]string
}

// IdentityRemover is the optional store capability to take an identity
// off a customer: removing a contact needs it.
type IdentityRemover interface {
	// RemoveCustomerIdentity pulls the identity (by kind and value) from
	// the customer's list; absent is no error.
	RemoveCustomerIdentity(ctx context.Context, customerID string, id Identity) error
	// DeleteIdentities deletes identity lookup documents by key; absent
	// ones are no error.
	DeleteIdentities(ctx context.Context, keys []string) error
}

// EditCustomer is PatchCustomer plus the customer's contacts, as an agent
// edits them in the console. Everything is checked before anything is
// written: a bad value is a 422 naming it (emails[1], phones[0]); an
// email or phone that belongs to another customer is a 409 naming it and
// is never moved (merging customers is ticketing/merge's). New contacts
// are unverified (an agent typed them); removed ones are released, so a
// message from that address afterwards starts a new customer.
func (s *Service) EditCustomer(ctx context.Context, id string, p CustomerPatch, cs Contacts) (*Customer, error) {
	attrs, err := NormalizeAttributes(p.Attributes)
	if err != nil {
		return nil, err
	}
	p.Attributes = attrs
	if len(p.RemoveAttributes) > MaxAttributes {
		return nil, FieldError("remove_attributes", "at most %d keys", MaxAttributes)
	}
	for i, k := range p.RemoveAttributes {
		if k == "" || len(k) > MaxAttributeKey || strings.ContainsAny(k, ".$\x00") {
			return nil, FieldError(fmt.Sprintf("remove_attributes[%d]", i), "keys are 1 to %d characters without '.' or '$'", MaxAttributeKey)
		}
	}
	if p.Tier != nil {
		t := strings.ToLower(strings.TrimSpace(*p.Tier))
		if len(t) > 50 {
			return nil, FieldError("tier", "must be at most 50 characters")
		}
		p.Tier = &t
	}
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if len(n) > 200 {
			return nil, FieldError("name", "must be at most 200 characters")
		}
		p.Name = &n
	}
	var have *Customer
	if cs.Emails != nil || cs.Phones != nil {
		if have, err = s.store.GetCustomer(ctx, id); IsNotFound(err) {
			return nil, Errorf(ENotFound, "customer %s not found", id)
		} else if err != nil {
			return nil, err
		}
	}
	want, err := s.contactIdentities(cs, have)
	if err != nil {
		return nil, err
	}
	if len(want) > 0 {
		if err := s.setContacts(ctx, id, want); err != nil {
			return nil, err
		}
	}
	c, err := s.store.PatchCustomer(ctx, id, p)
	if IsNotFound(err) {
		return nil, Errorf(ENotFound, "customer %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	s.remember(c)
	s.publish(ctx, &Event{Type: EventCustomerUpdated, Customer: c})
	if p.Name != nil {
		s.nameTickets(ctx, c)
	}
	return c, nil
}

// contactIdentities checks and normalizes the lists: kind → identities.
// A value the customer has already (a short code an SMS came from, an
// address from before the checks) is kept as it is.
func (s *Service) contactIdentities(cs Contacts, have *Customer) (map[string][]Identity, error) {
	out := map[string][]Identity{}
	add := func(kind, field string, list *[]string, norm func(string) (string, error)) error {
		if list == nil {
			return nil
		}
		if len(*list) > MaxContacts {
			return FieldError(field, "at most %d", MaxContacts)
		}
		ids := []Identity{}
		seen := map[string]bool{}
		for i, raw := range *list {
			f := fmt.Sprintf("%s[%d]", field, i)
			v := strings.TrimSpace(raw)
			if have == nil || !hasIdentity(have, Identity{Kind: kind, Value: v}) {
				var err error
				if v, err = norm(v); err != nil {
					return FieldError(f, "%s", err.Error())
				}
			}
			if !seen[v] {
				seen[v] = true
				ids = append(ids, Identity{Kind: kind, Value: v})
			}
		}
		out[kind] = ids
		return nil
	}
	if err := add(IdentityEmail, "emails", cs.Emails, normalizeContactEmail); err != nil {
		return nil, err
	}
	if err := add(IdentityPhone, "phones", cs.Phones, func(raw string) (string, error) {
		p, err := s.normalizePhone(raw)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return "", errors.New(strings.TrimPrefix(e.Message, "phone: "))
			}
			return "", err
		}
		return p, nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func normalizeContactEmail(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("is empty")
	}
	if len(raw) > 320 {
		return "", errors.New("must be at most 320 characters")
	}
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw || !strings.Contains(raw[strings.LastIndexByte(raw, '@')+1:], ".") {
		return "", errors.New("is not an email address")
	}
	return NormalizeEmail(raw), nil
}

// setContacts makes the customer's identities of each kind in want
// exactly those listed.
func (s *Service) setContacts(ctx context.Context, id string, want map[string][]Identity) error {
	c, err := s.store.GetCustomer(ctx, id)
	if IsNotFound(err) || (err == nil && c.MergedInto != "") {
		return Errorf(ENotFound, "customer %s not found", id)
	}
	if err != nil {
		return err
	}
	var adds, removes []Identity
	for kind, ids := range want {
		field := map[string]string{IdentityEmail: "emails", IdentityPhone: "phones"}[kind]
		keep := map[string]bool{}
		for i, w := range ids {
			keep[w.Key()] = true
			if hasIdentity(c, w) {
				continue
			}
			owner, err := s.store.LookupIdentity(ctx, w.Key())
			switch {
			case IsNotFound(err):
				adds = append(adds, w)
			case err != nil:
				return err
			case owner == id:
				adds = append(adds, w) // the lookup names them; the list lacks it
			default:
				return &Error{Code: EConflict, Field: fmt.Sprintf("%s[%d]", field, i),
					Message: fmt.Sprintf("%s[%d]: %s belongs to another customer (merge the two customers instead)", field, i, w.Value)}
			}
		}
		for _, have := range c.Identities {
			if have.Kind == kind && !keep[have.Key()] {
				removes = append(removes, have)
			}
		}
	}
	var rm IdentityRemover
	if len(removes) > 0 {
		var ok bool
		if rm, ok = s.store.(IdentityRemover); !ok {
			return Errorf(EUnavailable, "this store cannot remove contacts")
		}
	}
	for _, a := range adds {
		err := s.store.InsertIdentity(ctx, a, id)
		if errors.Is(err, ErrDuplicate) {
			owner, lerr := s.store.LookupIdentity(ctx, a.Key())
			if lerr != nil || owner != id {
				return &Error{Code: EConflict, Field: contactField(a.Kind),
					Message: fmt.Sprintf("%s: %s belongs to another customer", contactField(a.Kind), a.Value)}
			}
		} else if err != nil {
			return err
		}
		if err := s.store.AddCustomerIdentity(ctx, id, a); err != nil {
			return err
		}
		s.identities.put(a.Key(), id)
	}
	for _, r := range removes {
		if err := rm.RemoveCustomerIdentity(ctx, id, r); err != nil {
			return err
		}
		// Release the lookup only while it still names this customer.
		if owner, err := s.store.LookupIdentity(ctx, r.Key()); err == nil && owner == id {
			if err := rm.DeleteIdentities(ctx, []string{r.Key()}); err != nil {
				return err
			}
		}
		s.identities.drop(func(k, v string) bool { return k == r.Key() && v == id })
	}
	return nil
}

func contactField(kind string) string {
	if kind == IdentityPhone {
		return "phones"
	}
	return "emails"
}
