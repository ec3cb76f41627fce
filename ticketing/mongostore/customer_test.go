package mongostore_test

import (
	"testing"

	"github.com/svar-dev/svar/ticketing"
	"github.com/svar-dev/svar/ticketing/mongostore/mongotest"
)

func TestIdentities(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	anna := ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna@example.se"}

	_, err := s.LookupIdentity(ctx, anna.Key())
	mustNotFound(t, err)

	mustNil(t, s.InsertIdentity(ctx, anna, "c1"))
	got, err := s.LookupIdentity(ctx, anna.Key())
	mustNil(t, err)
	equal(t, "customer", got, "c1")

	// A second claim on the same key fails and leaves the owner alone.
	mustDuplicate(t, s.InsertIdentity(ctx, anna, "c2"))
	got, err = s.LookupIdentity(ctx, anna.Key())
	mustNil(t, err)
	equal(t, "customer", got, "c1")

	// Same value, other kind: another key.
	phone := ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "anna@example.se"}
	mustNil(t, s.InsertIdentity(ctx, phone, "c2"))
	got, err = s.LookupIdentity(ctx, phone.Key())
	mustNil(t, err)
	equal(t, "customer", got, "c2")
}

func TestEnsureCustomer(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()

	_, err := s.GetCustomer(ctx, "c1")
	mustNotFound(t, err)

	first := &ticketing.Customer{
		ID: "c1", Name: "Anna Svensson", CreatedAt: at(1), UpdatedAt: at(1),
		Identities: []ticketing.Identity{{Kind: ticketing.IdentityEmail, Value: "anna@example.se", Verified: true}},
		Attributes: ticketing.Attributes{"tier": "gold"},
	}
	c, err := s.EnsureCustomer(ctx, first)
	mustNil(t, err)
	equal(t, "name", c.Name, "Anna Svensson")
	equal(t, "created_at", c.CreatedAt, at(1))
	equal(t, "identities", len(c.Identities), 1)
	equal(t, "verified", c.Identities[0].Verified, true)
	equal(t, "tier", c.Attributes["tier"], "gold")

	// A second node's EnsureCustomer with other data gets the stored one.
	c, err = s.EnsureCustomer(ctx, &ticketing.Customer{ID: "c1", Name: "Someone else", CreatedAt: at(2)})
	mustNil(t, err)
	equal(t, "name", c.Name, "Anna Svensson")
	equal(t, "created_at", c.CreatedAt, at(1))
}

func TestAddCustomerIdentity(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	email := ticketing.Identity{Kind: ticketing.IdentityEmail, Value: "anna@example.se"}
	verified := email
	verified.Verified = true
	phone := ticketing.Identity{Kind: ticketing.IdentityPhone, Value: "+46701234567"}
	_, err := s.EnsureCustomer(ctx, &ticketing.Customer{ID: "c1", Identities: []ticketing.Identity{email}})
	mustNil(t, err)

	for _, tc := range []struct {
		name string
		add  ticketing.Identity
		want []ticketing.Identity
	}{
		{"known identity changes nothing", email, []ticketing.Identity{email}},
		{"new identity is appended", phone, []ticketing.Identity{email, phone}},
		{"verified replaces unverified", verified, []ticketing.Identity{phone, verified}},
		{"unverified does not downgrade", email, []ticketing.Identity{phone, verified}},
		{"verified twice stays once", verified, []ticketing.Identity{phone, verified}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustNil(t, s.AddCustomerIdentity(ctx, "c1", tc.add))
			c, err := s.GetCustomer(ctx, "c1")
			mustNil(t, err)
			equalSlice(t, "identities", c.Identities, tc.want)
		})
	}
	mustNotFound(t, s.AddCustomerIdentity(ctx, "nobody", phone))
	mustNotFound(t, s.AddCustomerIdentity(ctx, "nobody", verified))
}

func TestLinkTicket(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	_, err := s.EnsureCustomer(ctx, &ticketing.Customer{ID: "c1"})
	mustNil(t, err)

	for _, tc := range []struct {
		name, ticket string
		gen          int
		wantCurrent  string
		wantIDs      []string
		wantCount    int
	}{
		{"first ticket", "c1-1", 1, "c1-1", []string{"c1-1"}, 1},
		{"same link again is idempotent", "c1-1", 1, "c1-1", []string{"c1-1"}, 1},
		{"next ticket", "c1-2", 2, "c1-2", []string{"c1-1", "c1-2"}, 2},
		{"count never goes down", "c1-1", 1, "c1-1", []string{"c1-1", "c1-2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.LinkTicket(ctx, "c1", tc.ticket, tc.gen)
			mustNil(t, err)
			equal(t, "current", c.CurrentTicketID, tc.wantCurrent)
			equalSlice(t, "ticket ids", c.TicketIDs, tc.wantIDs)
			equal(t, "count", c.TicketCount, tc.wantCount)
			stored, err := s.GetCustomer(ctx, "c1")
			mustNil(t, err)
			equalSlice(t, "stored ticket ids", stored.TicketIDs, tc.wantIDs)
		})
	}
	_, err = s.LinkTicket(ctx, "nobody", "x-1", 1)
	mustNotFound(t, err)
}

func TestPatchCustomer(t *testing.T) {
	s := mongotest.New(t)
	ctx := t.Context()
	_, err := s.EnsureCustomer(ctx, &ticketing.Customer{
		ID: "c1", Name: "Anna", Attributes: ticketing.Attributes{"tier": "gold", "city": "Malmö"}, UpdatedAt: at(1),
	})
	mustNil(t, err)

	orders := []ticketing.Order{{ID: "o-1", Total: "499 SEK", Status: "shipped", CreatedAt: at(2)}}
	c, err := s.PatchCustomer(ctx, "c1", ticketing.CustomerPatch{
		Name:       ptr("Anna Svensson"),
		ExternalID: ptr("shop-42"),
		Attributes: ticketing.Attributes{"tier": "vip", "lifetime_value": "12000"},
		Orders:     &orders,
		OptOut:     map[string]string{"sms": "STOP"},
	})
	mustNil(t, err)
	equal(t, "name", c.Name, "Anna Svensson")
	equal(t, "external id", c.ExternalID, "shop-42")
	equal(t, "tier", c.Attributes["tier"], "vip")
	equal(t, "city (kept)", c.Attributes["city"], "Malmö")
	equal(t, "lifetime value", c.Attributes["lifetime_value"], "12000")
	equal(t, "orders", len(c.Orders), 1)
	equal(t, "order", c.Orders[0], orders[0])
	equal(t, "opt out", c.OptOuts["sms"], "STOP")
	if !c.UpdatedAt.After(at(1)) {
		t.Fatalf("updated_at = %v, not moved", c.UpdatedAt)
	}

	// Nil fields are left alone; an empty reason clears the opt-out.
	c, err = s.PatchCustomer(ctx, "c1", ticketing.CustomerPatch{OptOut: map[string]string{"sms": ""}})
	mustNil(t, err)
	equal(t, "name", c.Name, "Anna Svensson")
	equal(t, "orders", len(c.Orders), 1)
	if _, ok := c.OptOuts["sms"]; ok {
		t.Fatalf("opt outs = %v, want sms cleared", c.OptOuts)
	}

	_, err = s.PatchCustomer(ctx, "c1", ticketing.CustomerPatch{Attributes: ticketing.Attributes{"a.b": "x"}})
	mustCode(t, err, ticketing.EInvalid)
	_, err = s.PatchCustomer(ctx, "c1", ticketing.CustomerPatch{Attributes: ticketing.Attributes{"$where": "x"}})
	mustCode(t, err, ticketing.EInvalid)
	_, err = s.PatchCustomer(ctx, "nobody", ticketing.CustomerPatch{Name: ptr("x")})
	mustNotFound(t, err)
}
