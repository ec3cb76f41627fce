package ticketing

import (
	"errors"
	"fmt"
)

// Error codes. The web layer maps each to one HTTP status; any other error is
// internal and is logged, never shown.
const (
	EInvalid      = "invalid"      // bad input; the message names the field
	ENotFound     = "not_found"    // the thing does not exist (or the caller may not see it)
	EConflict     = "conflict"     // the state changed underneath the caller
	EUnauthorized = "unauthorized" // no or bad credentials
	EForbidden    = "forbidden"    // credentials fine, action not allowed
	ETooMany      = "rate_limited" // slow down
	EUnavailable  = "unavailable"  // a dependency is down; try again
	EInternal     = "internal"     // a bug or an unexpected failure
	ETooLarge     = "too_large"    // the input exceeds a limit
	EOptedOut     = "opted_out"    // the recipient asked not to be contacted on this channel
)

// Error is a domain error with a code and a message that is safe to show to
// the caller. Field names the offending input field, when there is one.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error that names the field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EInternal when err carries none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrNotFound is returned by Store lookups that find nothing.
var ErrNotFound = &Error{Code: ENotFound, Message: "not found"}

// ErrDuplicate is returned by Store inserts whose _id already exists.
var ErrDuplicate = &Error{Code: EConflict, Message: "duplicate"}

// IsNotFound reports whether err means "does not exist".
func IsNotFound(err error) bool { return ErrorCode(err) == ENotFound }
