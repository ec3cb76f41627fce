package ticketing

import "time"

// Agent is a person who works tickets in the console.
type Agent struct {
	ID           string    `json:"id" bson:"_id"`
	Email        string    `json:"email" bson:"email"`
	Name         string    `json:"name" bson:"name"`
	Role         string    `json:"role" bson:"role"`
	Language     string    `json:"language" bson:"language"` // en or sv
	Active       bool      `json:"active" bson:"active"`
	PasswordHash string    `json:"-" bson:"password_hash"`
	TOTPSecret   string    `json:"-" bson:"totp_secret,omitempty"`
	TOTPEnabled  bool      `json:"totp_enabled" bson:"totp_enabled"`
	CreatedAt    time.Time `json:"created_at" bson:"created_at"`
	// SessionEpoch grows when the agent is deactivated or their password
	// changes; sessions and tokens minted under an older epoch are void.
	SessionEpoch int64 `json:"-" bson:"session_epoch"`
}

// Session is a signed-in console session or an API token.
type Session struct {
	ID        string    `bson:"_id"` // a hash of the secret, never the secret itself
	AgentID   string    `bson:"agent_id"`
	Epoch     int64     `bson:"epoch"`
	Kind      string    `bson:"kind"` // "session" or "token"
	Name      string    `bson:"name,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	// Pending2FA is set between the password and the TOTP code.
	Pending2FA bool `bson:"pending_2fa,omitempty"`
}
