package ticketing

import (
	"strings"
	"time"
)

// Identity kinds. An identity's key, kind:value, is unique across customers.
const (
	IdentityEmail    = "email"    // lower-cased address
	IdentityPhone    = "phone"    // E.164, or a short code / alphanumeric sender kept as is
	IdentityChat     = "chat"     // an anonymous chat visitor id (bound to a visitor token)
	IdentityExternal = "external" // the shop's own customer id, verified by signature or pushed by the shop
)

// Identity is one way to reach or recognise a customer.
type Identity struct {
	Kind     string `json:"kind" bson:"kind" validate:"required,oneof=email phone chat external"`
	Value    string `json:"value" bson:"value" validate:"required,max=320"`
	Verified bool   `json:"verified" bson:"verified"`
}

// Key is the identity's unique key, kind:value.
func (i Identity) Key() string { return i.Kind + ":" + i.Value }

// NormalizeEmail lower-cases and trims an address; it does not validate it.
func NormalizeEmail(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// Customer is one person, however many channels they use.
type Customer struct {
	ID         string     `json:"id" bson:"_id"`
	Name       string     `json:"name" bson:"name"`
	Identities []Identity `json:"identities" bson:"identities"`
	ExternalID string     `json:"external_id,omitempty" bson:"external_id,omitempty"`
	// Attributes are the fields the shop pushes (vip, lifetime value, ...):
	// strings, numbers, booleans and dates (see Attributes).
	Attributes Attributes `json:"attributes,omitempty" bson:"attributes,omitempty"`
	// Tier is the customer's level in the shop ("vip", "gold"), for
	// routing, SLA policies and reports.
	Tier      string    `json:"tier,omitempty" bson:"tier,omitempty"`
	Orders    []Order   `json:"orders,omitempty" bson:"orders,omitempty"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`

	// CurrentTicketID is the customer's latest ticket, whatever its status.
	CurrentTicketID string `json:"current_ticket_id,omitempty" bson:"current_ticket_id,omitempty"`
	// TicketCount is how many tickets the customer has had. Ticket n's id
	// is "<customer id>-<n>", so two nodes that both decide to open the
	// customer's next ticket insert the same _id and one of them loses.
	TicketCount int `json:"ticket_count" bson:"ticket_count"`
	// TicketIDs lists every ticket of the customer, oldest first, so that
	// their history is read by _id.
	TicketIDs []string `json:"-" bson:"ticket_ids,omitempty"`
	// LastInboundChannel is where the customer last wrote from; replies go
	// there unless the agent picks another channel.
	LastInboundChannel Channel `json:"last_inbound_channel,omitempty" bson:"last_inbound_channel,omitempty"`
	// OptOuts lists channels the customer asked not to be contacted on
	// (SMS STOP), with the reason shown to agents.
	OptOuts map[string]string `json:"opt_outs,omitempty" bson:"opt_outs,omitempty"`
	// MergedInto is the customer this one was merged into (ticketing/merge):
	// its identities, tickets and orders are there now.
	MergedInto string `json:"merged_into,omitempty" bson:"merged_into,omitempty"`
	// Erased marks a customer whose erasure (ticketing/gdpr) has begun: the
	// store no longer finds them, and threading that meets the mark on a
	// document it just wrote knows the eraser may not have seen its write.
	Erased bool `json:"-" bson:"erased,omitempty"`
}

// Identity returns the customer's first identity of the kind, if any.
func (c *Customer) Identity(kind string) (Identity, bool) {
	for _, id := range c.Identities {
		if id.Kind == kind {
			return id, true
		}
	}
	return Identity{}, false
}

// Reachable lists the channels an agent's reply can go out on.
func (c *Customer) Reachable() []Channel {
	var out []Channel
	seen := map[Channel]bool{}
	add := func(ch Channel) {
		if !seen[ch] {
			seen[ch] = true
			out = append(out, ch)
		}
	}
	for _, id := range c.Identities {
		switch id.Kind {
		case IdentityEmail:
			add(ChannelEmail)
		case IdentityPhone:
			add(ChannelSMS)
		case IdentityChat, IdentityExternal:
			add(ChannelChat)
		}
	}
	return out
}

// Order is a purchase the shop pushed, shown in the agent's sidebar.
type Order struct {
	ID     string `json:"id" bson:"id" validate:"required,max=100"`
	Total  string `json:"total,omitempty" bson:"total,omitempty" validate:"max=50"`
	Status string `json:"status,omitempty" bson:"status,omitempty" validate:"max=50"`
	// TrackingURL is where the customer follows the delivery ({{order.tracking_url}} in macros).
	TrackingURL string    `json:"tracking_url,omitempty" bson:"tracking_url,omitempty" validate:"omitempty,max=2000,url"`
	CreatedAt   time.Time `json:"created_at,omitzero" bson:"created_at,omitempty"`
}
