package sla

import (
	"context"
	"slices"

	"github.com/svar-dev/svar/ticketing"
)

// Policies lists the policies in the order they are tried.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) {
	l, err := s.pol.all(ctx)
	if err != nil {
		return nil, err
	}
	if l == nil {
		l = []Policy{}
	}
	return slices.Clone(l), nil
}

// Policy returns one policy.
func (s *Service) Policy(ctx context.Context, id string) (*Policy, error) {
	l, err := s.pol.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range l {
		if p.ID == id {
			return &p, nil
		}
	}
	return nil, ticketing.Errorf(ticketing.ENotFound, "sla policy %s not found", id)
}

// fresh reads the list from the store, not the cache, for changes.
func (s *Service) fresh(ctx context.Context) ([]Policy, error) {
	s.pol.mu.Lock()
	s.pol.at = s.pol.at.AddDate(-1, 0, 0)
	s.pol.mu.Unlock()
	l, err := s.pol.all(ctx)
	return slices.Clone(l), err
}

// CreatePolicy validates and adds a policy. Without a position it goes
// last. Changes apply to the clocks that tickets start or move afterwards.
func (s *Service) CreatePolicy(ctx context.Context, in Input) (*Policy, error) {
	l, err := s.fresh(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	p := Policy{ID: ticketing.NewID(), CreatedAt: now, UpdatedAt: now}
	if in.Position == nil {
		for _, q := range l {
			p.Position = max(p.Position, q.Position+1)
		}
	}
	if err := in.apply(&p, true); err != nil {
		return nil, err
	}
	if err := s.pol.put(ctx, append(l, p)); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdatePolicy changes the given fields of a policy.
func (s *Service) UpdatePolicy(ctx context.Context, id string, in Input) (*Policy, error) {
	l, err := s.fresh(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(l, func(p Policy) bool { return p.ID == id })
	if i < 0 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "sla policy %s not found", id)
	}
	p := l[i]
	if err := in.apply(&p, false); err != nil {
		return nil, err
	}
	p.UpdatedAt = s.now().UTC()
	l[i] = p
	if err := s.pol.put(ctx, l); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeletePolicy removes a policy.
func (s *Service) DeletePolicy(ctx context.Context, id string) error {
	l, err := s.fresh(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(l, func(p Policy) bool { return p.ID == id })
	if i < 0 {
		return ticketing.Errorf(ticketing.ENotFound, "sla policy %s not found", id)
	}
	return s.pol.put(ctx, slices.Delete(l, i, i+1))
}
