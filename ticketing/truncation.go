package ticketing

// Reasons a part or file of an inbound message was not imported
// (Dropped.Reason). The console shows each in the agent's language.
const (
	DropTooManyFiles  = "too_many_attachments"  // over the attachment count cap
	DropFileTooLarge  = "attachment_too_large"  // over the per-file size cap
	DropFilesTooLarge = "attachments_too_large" // over the per-message total
	DropStoreTooLarge = "store_too_large"       // the blob store refused its size
	DropTooDeep       = "too_deep"              // nested deeper than the MIME depth cap
	DropTooManyParts  = "too_many_parts"        // past the MIME part cap
	DropNotScanned    = "not_scanned"           // past even the names-only scan: the list is incomplete
	MaxDroppedListed  = 500                     // Truncation.Dropped is at most this long
)

// Truncation says what of an inbound message was not imported and why.
// The original (for email, the stored raw mail) still has all of it.
type Truncation struct {
	// Dropped names each part or file that was left out, in mail order.
	Dropped []Dropped `json:"dropped" bson:"dropped" validate:"max=500,dive"`
	// More counts dropped items beyond the ones listed.
	More int `json:"more,omitempty" bson:"more,omitempty" validate:"min=0"`
}

// Dropped is one part or file that was not imported.
type Dropped struct {
	// Filename is the attachment's name, when it has one.
	Filename string `json:"filename,omitempty" bson:"filename,omitempty" validate:"max=255"`
	// Part is the MIME part number ("1.2.3"), for parts without a name.
	Part        string `json:"part,omitempty" bson:"part,omitempty" validate:"max=200"`
	ContentType string `json:"content_type,omitempty" bson:"content_type,omitempty" validate:"max=255"`
	// Size is the decoded size in bytes when it is known (0: not read).
	Size   int64  `json:"size,omitempty" bson:"size,omitempty" validate:"min=0"`
	Reason string `json:"reason" bson:"reason" validate:"required,max=50"`
}

// Add appends d, counting it in More once the list is full.
func (t *Truncation) Add(d Dropped) {
	if len(t.Dropped) >= MaxDroppedListed {
		t.More++
		return
	}
	t.Dropped = append(t.Dropped, d)
}

// Empty reports whether nothing was dropped.
func (t *Truncation) Empty() bool { return t == nil || (len(t.Dropped) == 0 && t.More == 0) }
