package assign

import (
	"context"
	"fmt"
	"strings"

	"github.com/svar-dev/svar/ticketing"
)

// rulesKey is the state document that holds the routing rules.
const rulesKey = "assign:rules"

// maxRules bounds the rules.
const maxRules = 200

// Rule sends a new ticket that matches every condition it sets to a team.
type Rule struct {
	Channel string `json:"channel,omitempty" bson:"channel,omitempty"` // email, chat or sms
	Type    string `json:"type,omitempty" bson:"type,omitempty"`       // the ticket's type
	Tier    string `json:"tier,omitempty" bson:"tier,omitempty"`       // the customer's tier attribute
	// Words: any of them in the first message's subject or text (case
	// ignored).
	Words  []string `json:"words,omitempty" bson:"words,omitempty"`
	TeamID string   `json:"team_id" bson:"team_id"`
}

// Routing is the rules, first match wins, and the team of a new ticket
// that no rule matches.
type Routing struct {
	Rules         []Rule `json:"rules" bson:"rules"`
	DefaultTeamID string `json:"default_team_id" bson:"default_team_id"`
}

// TeamChecker says whether team ids exist (staff.Service.CheckTeams).
type TeamChecker interface {
	CheckTeams(ctx context.Context, field string, ids []string) error
}

// Validate checks r, naming the bad field.
func (r *Routing) Validate(ctx context.Context, teams TeamChecker) error {
	if len(r.Rules) > maxRules {
		return ticketing.FieldError("rules", "at most %d", maxRules)
	}
	ids := []string{}
	for i := range r.Rules {
		rule := &r.Rules[i]
		field := fmt.Sprintf("rules[%d]", i)
		switch ticketing.Channel(rule.Channel) {
		case "", ticketing.ChannelEmail, ticketing.ChannelChat, ticketing.ChannelSMS:
		default:
			return ticketing.FieldError(field+".channel", "must be email, chat or sms")
		}
		switch rule.Type {
		case "", "question", "order", "delivery", "return", "complaint":
		default:
			return ticketing.FieldError(field+".type", "must be question, order, delivery, return or complaint")
		}
		if len(rule.Tier) > 50 {
			return ticketing.FieldError(field+".tier", "at most 50 characters")
		}
		if len(rule.Words) > 50 {
			return ticketing.FieldError(field+".words", "at most 50 words")
		}
		words := rule.Words[:0]
		for _, w := range rule.Words {
			w = strings.ToLower(strings.TrimSpace(w))
			if len(w) > 100 {
				return ticketing.FieldError(field+".words", "a word has at most 100 characters")
			}
			if w != "" {
				words = append(words, w)
			}
		}
		rule.Words = words
		if rule.TeamID == "" {
			return ticketing.FieldError(field+".team_id", "is required")
		}
		if err := teams.CheckTeams(ctx, field+".team_id", []string{rule.TeamID}); err != nil {
			return err
		}
	}
	if r.DefaultTeamID != "" {
		ids = append(ids, r.DefaultTeamID)
	}
	if r.Rules == nil {
		r.Rules = []Rule{}
	}
	return teams.CheckTeams(ctx, "default_team_id", ids)
}

// route returns the team for a new ticket and why.
func (r *Routing) route(t *ticketing.Ticket, tier string) (string, string) {
	text := strings.ToLower(t.Subject + "\n" + t.Preview)
	for i, rule := range r.Rules {
		if rule.Channel != "" && rule.Channel != string(t.Channel) {
			continue
		}
		if rule.Type != "" && rule.Type != t.Type {
			continue
		}
		if rule.Tier != "" && !strings.EqualFold(rule.Tier, tier) {
			continue
		}
		if len(rule.Words) > 0 {
			found := ""
			for _, w := range rule.Words {
				if strings.Contains(text, w) {
					found = w
					break
				}
			}
			if found == "" {
				continue
			}
		}
		return rule.TeamID, fmt.Sprintf("rule %d", i+1)
	}
	if r.DefaultTeamID != "" {
		return r.DefaultTeamID, "default team"
	}
	return "", ""
}

// needsTier reports whether any rule looks at the customer's tier.
func (r *Routing) needsTier() bool {
	for _, rule := range r.Rules {
		if rule.Tier != "" {
			return true
		}
	}
	return false
}

func (r *Routing) empty() bool { return len(r.Rules) == 0 && r.DefaultTeamID == "" }
