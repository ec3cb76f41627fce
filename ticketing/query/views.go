package query

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/svar-dev/svar/ticketing"
)

// Views keeps saved list views in the store and counts them with the
// index.
type Views struct {
	store ticketing.ViewStore
	ix    *Index
	now   func() time.Time
}

// NewViews returns the views service.
func NewViews(store ticketing.ViewStore, ix *Index) *Views {
	return &Views{store: store, ix: ix, now: time.Now}
}

// viewParams are the filters a view may save (not limit or cursor).
var viewParams = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range ticketing.FilterParams {
		if p != "limit" && p != "cursor" {
			m[p] = true
		}
	}
	return m
}()

// Create saves a view owned by v.
func (vs *Views) Create(ctx context.Context, v ticketing.Viewer, in ticketing.ViewInput) (*ticketing.View, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 80 {
		return nil, ticketing.FieldError("name", "must be 1 to 80 characters")
	}
	if len(in.Filters) > len(viewParams) {
		return nil, ticketing.FieldError("filters", "has too many entries")
	}
	q := url.Values{}
	for k, val := range in.Filters {
		if !viewParams[k] {
			return nil, ticketing.FieldError("filters."+k, "is not a list filter")
		}
		q.Set(k, val)
	}
	if _, err := ticketing.ParseTicketFilter(q, v.AgentID); err != nil {
		e := err.(*ticketing.Error)
		return nil, ticketing.FieldError("filters."+e.Field, "%s", strings.TrimPrefix(e.Message, e.Field+": "))
	}
	if in.Filters == nil {
		in.Filters = map[string]string{}
	}
	view := &ticketing.View{ID: ticketing.NewID(), Name: name, Filters: in.Filters, Shared: in.Shared,
		OwnerID: v.AgentID, CreatedAt: vs.now().UTC()}
	if err := vs.store.InsertView(ctx, view); err != nil {
		return nil, err
	}
	n, err := vs.count(ctx, v, view)
	if err != nil {
		return nil, err
	}
	view.Count = &n
	return view, nil
}

// List returns the views v may use (shared ones and their own) with their
// counts, by name.
func (vs *Views) List(ctx context.Context, v ticketing.Viewer) ([]*ticketing.View, error) {
	all, err := vs.store.ListViews(ctx)
	if err != nil {
		return nil, err
	}
	out := []*ticketing.View{}
	for _, view := range all {
		if !view.Shared && view.OwnerID != v.AgentID {
			continue
		}
		n, err := vs.count(ctx, v, view)
		if err != nil {
			return nil, err
		}
		view.Count = &n
		out = append(out, view)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// Get returns a view v may use.
func (vs *Views) Get(ctx context.Context, v ticketing.Viewer, id string) (*ticketing.View, error) {
	if id == "" || len(id) > 64 {
		return nil, ticketing.Errorf(ticketing.ENotFound, "view not found")
	}
	view, err := vs.store.GetView(ctx, id)
	if ticketing.IsNotFound(err) || (err == nil && !view.Shared && view.OwnerID != v.AgentID) {
		return nil, ticketing.Errorf(ticketing.ENotFound, "view %s not found", id)
	}
	return view, err
}

// Delete removes a view: its owner or an admin may.
func (vs *Views) Delete(ctx context.Context, v ticketing.Viewer, id string) error {
	view, err := vs.Get(ctx, v, id)
	if err != nil {
		return err
	}
	if view.OwnerID != v.AgentID && v.Role != ticketing.RoleAdmin {
		return ticketing.Errorf(ticketing.EForbidden, "only the view's owner or an admin may delete it")
	}
	return vs.store.DeleteView(ctx, id)
}

// Filter is the view's filter for v ("me" is v).
func Filter(view *ticketing.View, v ticketing.Viewer) (ticketing.TicketFilter, error) {
	q := url.Values{}
	for k, val := range view.Filters {
		q.Set(k, val)
	}
	return ticketing.ParseTicketFilter(q, v.AgentID)
}

type viewCount struct {
	gen uint64
	n   int
}

// count is the view's count for v, cached until tickets change.
func (vs *Views) count(ctx context.Context, v ticketing.Viewer, view *ticketing.View) (int, error) {
	f, err := Filter(view, v)
	if err != nil {
		return 0, nil // a view saved under older rules counts nothing
	}
	teams := slices.Clone(v.TeamIDs)
	slices.Sort(teams)
	key := view.ID + "|" + v.AgentID + "|" + v.Role + "|" + strings.Join(teams, ",")
	gen := vs.ix.gen.Load()
	if c, ok := vs.ix.viewCounts.Load(key); ok && c.(viewCount).gen == gen {
		return c.(viewCount).n, nil
	}
	n, err := vs.ix.Count(ctx, v, f)
	if err != nil {
		return 0, err
	}
	vs.ix.viewCounts.Store(key, viewCount{gen: gen, n: n})
	return n, nil
}
