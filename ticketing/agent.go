package ticketing

import "time"

// Agent is a person who works tickets in the console.
type Agent struct {
	ID           string `json:"id" bson:"_id"`
	Email        string `json:"email" bson:"email"`
	Name         string `json:"name" bson:"name"`
	Role         string `json:"role" bson:"role"`
	Language     string `json:"language" bson:"language"` // en or sv
	Active       bool   `json:"active" bson:"active"`
	PasswordHash string `json:"-" bson:"password_hash"`
	TOTPSecret   string `json:"-" bson:"totp_secret,omitempty"`
	TOTPEnabled  bool   `json:"totp_enabled" bson:"totp_enabled"`
	// TOTPRecovery are hashes of the unused recovery codes for two-factor
	// sign-in (ticketing/staff).
	TOTPRecovery []string  `json:"-" bson:"totp_recovery,omitempty"`
	CreatedAt    time.Time `json:"created_at" bson:"created_at"`
	// SessionEpoch grows when the agent is deactivated or their password
	// changes; sessions and tokens minted under an older epoch are void.
	SessionEpoch int64 `json:"-" bson:"session_epoch"`
	// TeamIDs are the teams the agent belongs to.
	TeamIDs []string `json:"team_ids" bson:"team_ids,omitempty"`
	// Capacity is how many open tickets auto-assignment gives the agent at
	// once; nil means DefaultCapacity.
	Capacity *int `json:"capacity" bson:"capacity,omitempty"`
	// Status is the availability the agent chose (online, away, offline;
	// empty: online while a console is open).
	Status string `json:"-" bson:"status,omitempty"`
	// Availability is derived when the agent is shown: online, away or
	// offline (the chosen status and whether a console is open anywhere).
	Availability string `json:"availability,omitempty" bson:"-"`
}

// DefaultCapacity is an agent's capacity when none was set.
const DefaultCapacity = 10

// Availability states.
const (
	AvailabilityOnline  = "online"
	AvailabilityAway    = "away"
	AvailabilityOffline = "offline"
)

// MaxOpen is the agent's capacity for auto-assignment.
func (a *Agent) MaxOpen() int {
	if a.Capacity == nil {
		return DefaultCapacity
	}
	return *a.Capacity
}

// Team is a group of agents that owns tickets.
type Team struct {
	ID   string `json:"id" bson:"id"`
	Name string `json:"name" bson:"name"`
	// AutoAssign gives the team's new and reopened unassigned tickets to
	// its online agents (ticketing/assign).
	AutoAssign bool `json:"auto_assign" bson:"auto_assign"`
	// VisibleToAll lets every agent see the team's tickets.
	VisibleToAll bool      `json:"visible_to_all" bson:"visible_to_all"`
	AgentIDs     []string  `json:"agent_ids" bson:"-"`
	CreatedAt    time.Time `json:"created_at" bson:"created_at"`
}

// Session is a signed-in console session or an API token.
type Session struct {
	ID      string `bson:"_id"` // a hash of the secret, never the secret itself
	AgentID string `bson:"agent_id"`
	Epoch   int64  `bson:"epoch"`
	Kind    string `bson:"kind"` // "session" or "token"
	Name    string `bson:"name,omitempty"`
	// Scopes are what a token may do (ticketing/staff scopes); empty on a
	// session, and on tokens from before scopes, which may do all their
	// agent may.
	Scopes    []string  `bson:"scopes,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	// Pending2FA is set between the password and the TOTP code.
	Pending2FA bool `bson:"pending_2fa,omitempty"`
}
