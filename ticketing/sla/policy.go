package sla

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// PoliciesKey is the _id of the state document that holds every policy
// (an admin-sized list, read by _id and cached for a moment).
const PoliciesKey = "sla:policies"

// Metrics, as they appear in SLAState.Breaches and notifications.
const (
	FirstResponse = "first_response"
	NextResponse  = "next_response"
	Resolution    = "resolution"
)

// Match selects tickets; an empty list matches anything.
type Match struct {
	Priority []string `json:"priority" bson:"priority"`
	Type     []string `json:"type" bson:"type"`
	Channel  []string `json:"channel" bson:"channel"`
	Tier     []string `json:"tier" bson:"tier"`
	TeamID   []string `json:"team_id" bson:"team_id"`
}

// Policy is a set of response targets for the tickets it matches. The
// first policy in Position order whose Match fits a ticket applies.
type Policy struct {
	ID            string   `json:"id" bson:"id"`
	Name          string   `json:"name" bson:"name"`
	Match         Match    `json:"match" bson:"match"`
	FirstResponse Duration `json:"first_response,omitzero" bson:"first_response"`
	NextResponse  Duration `json:"next_response,omitzero" bson:"next_response"`
	Resolution    Duration `json:"resolution,omitzero" bson:"resolution"`
	// BusinessHours counts only open hours (the ticket's team's hours, or
	// the shop's); otherwise calendar time.
	BusinessHours bool      `json:"business_hours" bson:"business_hours"`
	Position      int       `json:"position" bson:"position"`
	CreatedAt     time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt     time.Time `json:"updated_at" bson:"updated_at"`
}

// Target returns the policy's target for metric (0: none).
func (p *Policy) Target(metric string) time.Duration {
	switch metric {
	case FirstResponse:
		return time.Duration(p.FirstResponse)
	case NextResponse:
		return time.Duration(p.NextResponse)
	case Resolution:
		return time.Duration(p.Resolution)
	}
	return 0
}

// Duration is a Go duration string in JSON ("90s", "4h"); a JSON number
// is seconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads what MarshalJSON writes, or seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	raw := json.RawMessage(b)
	v, err := parseTarget("duration", &raw)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Input is a policy as an admin sends it; nil fields are left alone by
// PATCH. Durations are kept raw so that a bad one is a 422 naming its
// field.
type Input struct {
	Name          *string          `json:"name"`
	Match         *Match           `json:"match"`
	FirstResponse *json.RawMessage `json:"first_response"`
	NextResponse  *json.RawMessage `json:"next_response"`
	Resolution    *json.RawMessage `json:"resolution"`
	BusinessHours *bool            `json:"business_hours"`
	Position      *int             `json:"position"`
}

func parseTarget(field string, raw *json.RawMessage) (Duration, error) {
	b := bytes.TrimSpace(*raw)
	if bytes.Equal(b, []byte("null")) {
		return 0, nil
	}
	var d time.Duration
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		var perr error
		if d, perr = time.ParseDuration(strings.TrimSpace(s)); perr != nil {
			if n, nerr := strconv.ParseFloat(s, 64); nerr == nil {
				d = time.Duration(n * float64(time.Second))
			} else {
				return 0, ticketing.FieldError(field, "%q is not a duration (\"90s\", \"4h\")", s)
			}
		}
	} else {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return 0, ticketing.FieldError(field, "must be a duration string or a number of seconds")
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d <= 0 {
		return 0, ticketing.FieldError(field, "must be positive")
	}
	return Duration(d), nil
}

var (
	priorities = []string{ticketing.PriorityLow, ticketing.PriorityNormal, ticketing.PriorityHigh, ticketing.PriorityUrgent}
	channels   = []string{string(ticketing.ChannelEmail), string(ticketing.ChannelChat), string(ticketing.ChannelSMS)}
)

// apply validates in onto p (a new policy when creating).
func (in *Input) apply(p *Policy, creating bool) error {
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
	}
	if creating || in.Name != nil {
		if p.Name == "" {
			return ticketing.FieldError("name", "is required")
		}
		if len(p.Name) > 100 {
			return ticketing.FieldError("name", "is longer than 100 characters")
		}
	}
	if in.Match != nil {
		m := *in.Match
		for i, v := range m.Priority {
			if !slices.Contains(priorities, v) {
				return ticketing.FieldError(fmt.Sprintf("match.priority[%d]", i), "must be one of %s", strings.Join(priorities, ", "))
			}
		}
		for i, v := range m.Channel {
			if !slices.Contains(channels, v) {
				return ticketing.FieldError(fmt.Sprintf("match.channel[%d]", i), "must be one of %s", strings.Join(channels, ", "))
			}
		}
		for name, list := range map[string][]string{"type": m.Type, "tier": m.Tier, "team_id": m.TeamID} {
			for i, v := range list {
				if v == "" || len(v) > 64 {
					return ticketing.FieldError(fmt.Sprintf("match.%s[%d]", name, i), "must be 1 to 64 characters")
				}
			}
		}
		p.Match = m
	}
	for _, t := range []struct {
		field string
		raw   *json.RawMessage
		dst   *Duration
	}{
		{FirstResponse, in.FirstResponse, &p.FirstResponse},
		{NextResponse, in.NextResponse, &p.NextResponse},
		{Resolution, in.Resolution, &p.Resolution},
	} {
		if t.raw == nil {
			continue
		}
		d, err := parseTarget(t.field, t.raw)
		if err != nil {
			return err
		}
		*t.dst = d
	}
	if p.FirstResponse == 0 && p.NextResponse == 0 && p.Resolution == 0 {
		return ticketing.FieldError(FirstResponse, "a policy needs a target: first_response, next_response or resolution")
	}
	if in.BusinessHours != nil {
		p.BusinessHours = *in.BusinessHours
	}
	if in.Position != nil {
		if *in.Position < 0 || *in.Position > 1_000_000 {
			return ticketing.FieldError("position", "must be 0 to 1000000")
		}
		p.Position = *in.Position
	}
	return nil
}

// matches reports whether p applies to a ticket with these attributes.
func (p *Policy) matches(a attrs) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return in(p.Match.Priority, a.Priority) && in(p.Match.Type, a.Type) && in(p.Match.Channel, a.Channel) &&
		in(p.Match.Tier, a.Tier) && in(p.Match.TeamID, a.Team)
}

// policyDoc is the stored list.
type policyDoc struct {
	Policies []Policy `bson:"policies"`
}

// policies keeps the list with a short cache (another node's change is
// seen within cacheFor).
type policies struct {
	store ticketing.StateStore
	now   func() time.Time
	mu    sync.Mutex
	list  []Policy
	at    time.Time
}

const cacheFor = 2 * time.Second

func (ps *policies) all(ctx context.Context) ([]Policy, error) {
	ps.mu.Lock()
	if !ps.at.IsZero() && ps.now().Sub(ps.at) < cacheFor {
		l := ps.list
		ps.mu.Unlock()
		return l, nil
	}
	ps.mu.Unlock()
	var doc policyDoc
	if err := ps.store.GetState(ctx, PoliciesKey, &doc); err != nil && !ticketing.IsNotFound(err) {
		return nil, err
	}
	sortPolicies(doc.Policies)
	ps.mu.Lock()
	ps.list, ps.at = doc.Policies, ps.now()
	ps.mu.Unlock()
	return doc.Policies, nil
}

func (ps *policies) put(ctx context.Context, list []Policy) error {
	sortPolicies(list)
	if err := ps.store.PutState(ctx, PoliciesKey, policyDoc{Policies: list}); err != nil {
		return err
	}
	ps.mu.Lock()
	ps.list, ps.at = list, ps.now()
	ps.mu.Unlock()
	return nil
}

func sortPolicies(l []Policy) {
	slices.SortStableFunc(l, func(a, b Policy) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}
