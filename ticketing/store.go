package ticketing

import (
	"context"
	"fmt"
	"time"
)

// Store is the persistence the ticketing core needs. ticketing/mongostore
// implements it on MongoDB (or the embedded FerretDB). Every hot path is an
// _id lookup or an _id-keyed write: the embedded store scans the whole
// collection for anything else.
//
// Errors: lookups that find nothing return ErrNotFound; inserts whose _id
// exists return ErrDuplicate; a failing server returns a wrapped error.
type Store interface {
	CustomerStore
	TicketStore
	MessageStore
	AgentStore
	StateStore
	BlobStore
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// CustomerStore keeps customers and the identities that find them.
type CustomerStore interface {
	// LookupIdentity returns the id of the customer that owns key (kind:value).
	LookupIdentity(ctx context.Context, key string) (customerID string, err error)
	// InsertIdentity records that the identity belongs to customerID. If the
	// key is taken it returns ErrDuplicate and changes nothing.
	InsertIdentity(ctx context.Context, id Identity, customerID string) error
	// EnsureCustomer inserts c if no customer with c.ID exists and returns
	// the stored customer either way.
	EnsureCustomer(ctx context.Context, c *Customer) (*Customer, error)
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// AddCustomerIdentity adds id to the customer's identity list (a set).
	AddCustomerIdentity(ctx context.Context, customerID string, id Identity) error
	// LinkTicket makes ticketID the customer's current ticket, adds it to
	// TicketIDs (a set) and raises TicketCount to at least gen. Idempotent.
	LinkTicket(ctx context.Context, customerID, ticketID string, gen int) (*Customer, error)
	// PatchCustomer sets the given fields and returns the customer.
	PatchCustomer(ctx context.Context, customerID string, p CustomerPatch) (*Customer, error)
}

// CustomerPatch changes a customer; nil fields are left alone.
type CustomerPatch struct {
	Name       *string
	ExternalID *string
	Attributes Attributes // merged key by key
	// RemoveAttributes are attribute keys to delete (applied after
	// Attributes; a key in both is removed).
	RemoveAttributes []string
	Tier             *string // "" clears
	Orders           *[]Order
	// OptOut sets (non-empty reason) or clears (empty reason) an opt-out
	// per channel.
	OptOut map[string]string
}

// TicketStore keeps tickets.
type TicketStore interface {
	// NextTicketNumber returns the next human-friendly ticket number.
	NextTicketNumber(ctx context.Context) (int64, error)
	// InsertTicket inserts t and its number's lookup entry; ErrDuplicate
	// if t.ID exists (the insert is the lock that keeps one customer from
	// getting two tickets at once).
	InsertTicket(ctx context.Context, t *Ticket) error
	GetTicket(ctx context.Context, id string) (*Ticket, error)
	// GetTicketByNumber finds a ticket by number (an _id-keyed lookup).
	GetTicketByNumber(ctx context.Context, number int64) (*Ticket, error)
	// ApplyToTicket applies c to ticket id in one atomic findOneAndUpdate
	// keyed by _id alone, and returns the ticket after the change
	// (ErrNotFound if it does not exist). The embedded store scans for any
	// other filter, so callers check the returned status instead of
	// filtering on it. Applying the same message id twice lists it once.
	ApplyToTicket(ctx context.Context, id string, c TicketChange) (*Ticket, error)
	// ListTickets returns tickets matching f, newest activity first. On the
	// embedded store this scans; the inbox read model serves the console.
	ListTickets(ctx context.Context, f TicketFilter) (*TicketPage, error)
	// ScanTickets calls fn for every ticket, in no order, for read models.
	ScanTickets(ctx context.Context, fn func(*Ticket) error) error
	// ReplaceTicket replaces ticket t.ID whole (an erased ticket's
	// tombstone); ErrNotFound if it does not exist.
	ReplaceTicket(ctx context.Context, t *Ticket) error
}

// TicketChange is an idempotent change to a ticket. Zero fields are left
// alone. Version always grows by one.
type TicketChange struct {
	AddMessageID       string // appended once ($addToSet); MessageCount is len(MessageIDs)
	RemoveMessageID    string // pulled again (a message threaded elsewhere after a race)
	Preview            *string
	LastMessage        time.Time // kept as the maximum
	LastInbound        time.Time // kept as the maximum
	LastOutbound       time.Time // kept as the maximum
	LastInboundChannel Channel
	Status             *string
	SolvedAt           *time.Time // set with Status solved; zero time clears
	AssigneeID         *string
	TeamID             *string // "" clears
	AssignmentReason   *string
	Priority           *string
	Tags               *[]string
	Type               *string
	CustomerName       *string
	AddOrderNumber     string  // appended once ($addToSet) to OrderNumbers
	CustomerID         *string // the ticket moves to another customer (a customer merge or its undo)
	CSAT               *CSAT   // replaces the ticket's survey answer
	// SLA replaces the ticket's response clocks (ticketing/sla).
	SLA *SLAState
	// AddMessageIDs, RemoveMessageIDs, MergedInto, AddMergedFrom,
	// AddSplitInto, AddTags, AddOrderNumbers and Timeline are the writes of
	// ticket merges and splits (ticketing/ticketmerge): sets grow with
	// $addToSet, RemoveMessageIDs is a $pullAll. A change never both adds
	// and removes message ids.
	AddMessageIDs    []string
	RemoveMessageIDs []string
	MergedInto       *string
	AddMergedFrom    string
	AddSplitInto     string
	AddTags          []string
	AddOrderNumbers  []string
	// Timeline sets the preview and the latest message times outright
	// (not as maxima): the timeline lost messages to a split. It is not
	// combined with Preview or the Last* maxima, nor AddTags with Tags.
	Timeline  *Timeline
	UpdatedAt time.Time
}

// Timeline is what a ticket shows of its latest messages.
type Timeline struct {
	Preview      string
	LastMessage  time.Time
	LastInbound  time.Time // zero: unset
	LastOutbound time.Time // zero: unset
}

// MessageStore keeps messages. A message's _id is derived from its channel
// and external id, so a duplicate insert is the idempotency check.
type MessageStore interface {
	// InsertMessages inserts msgs (unordered). dup[i] is true where msgs[i]
	// already existed; that is not an error. When the messages fare
	// differently (the store refuses one for its shape or size and keeps
	// the others) the error is an *InsertErrors naming each one's fate;
	// any other error leaves every message's fate unknown.
	InsertMessages(ctx context.Context, msgs []*Message) (dup []bool, err error)
	GetMessage(ctx context.Context, id string) (*Message, error)
	// GetMessages returns the messages with the given ids in that order,
	// leaving out ids that do not exist.
	GetMessages(ctx context.Context, ids []string) ([]*Message, error)
	// SetMessageThread records the ticket a message is on and why, when
	// threading corrects its first choice (the ticket reopened or closed).
	SetMessageThread(ctx context.Context, id, ticketID, reason string) error
	// SetDelivery records delivery state. A final state (delivered, failed)
	// is not overwritten by an earlier one (queued, sent) arriving late.
	SetDelivery(ctx context.Context, id string, d Delivery) (*Message, error)
	// DeleteMessages deletes messages by id; absent ones are no error.
	DeleteMessages(ctx context.Context, ids []string) error
}

// AgentStore keeps agents and their sessions.
type AgentStore interface {
	InsertAgent(ctx context.Context, a *Agent) error // ErrDuplicate on a taken email
	GetAgent(ctx context.Context, id string) (*Agent, error)
	GetAgentByEmail(ctx context.Context, email string) (*Agent, error)
	ListAgents(ctx context.Context) ([]*Agent, error)
	UpdateAgent(ctx context.Context, a *Agent) error
	CountAgents(ctx context.Context) (int64, error)
	InsertSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, id string) (*Session, error)
	DeleteSession(ctx context.Context, id string) error
	UpdateSession(ctx context.Context, s *Session) error
}

// StateStore is a small _id-keyed document store for adapters' state
// (IMAP checkpoints, send records, rate windows). v is encoded as BSON.
type StateStore interface {
	// GetState decodes the value at key into v; ErrNotFound if absent.
	GetState(ctx context.Context, key string, v any) error
	// PutState stores v at key, replacing what was there.
	PutState(ctx context.Context, key string, v any) error
	// InsertState stores v at key only if key is absent; ErrDuplicate if not.
	InsertState(ctx context.Context, key string, v any) error
	DeleteState(ctx context.Context, key string) error
	// IncCounters adds to named counters in the document at key (report
	// counters kept current as events happen).
	IncCounters(ctx context.Context, key string, inc map[string]int64) error
}

// BlobStore keeps raw mail and attachments.
type BlobStore interface {
	PutBlob(ctx context.Context, b *Blob) error
	GetBlob(ctx context.Context, key string) (*Blob, error)
}

// Blob is a stored file.
type Blob struct {
	Key         string
	Filename    string
	ContentType string
	Data        []byte
	CreatedAt   time.Time
}

// InsertErrors is InsertMessages' error when some messages were stored and
// others were not: Errs[i] is msgs[i]'s own error, nil where it is stored
// (or dup[i]). An error with code EInvalid means the store refuses that
// message for what it is, on every attempt.
type InsertErrors struct{ Errs []error }

func (e *InsertErrors) Error() string {
	n := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("%d of %d messages not stored, first: %v", n, len(e.Errs), first)
}
