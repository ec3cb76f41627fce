package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/svar-dev/svar/ticketing"
)

// statusOf maps domain error codes to HTTP statuses: the one table.
var statusOf = map[string]int{
	ticketing.EInvalid:      http.StatusUnprocessableEntity,
	ticketing.ENotFound:     http.StatusNotFound,
	ticketing.EConflict:     http.StatusConflict,
	ticketing.EUnauthorized: http.StatusUnauthorized,
	ticketing.EForbidden:    http.StatusForbidden,
	ticketing.ETooMany:      http.StatusTooManyRequests,
	ticketing.EUnavailable:  http.StatusServiceUnavailable,
	ticketing.ETooLarge:     http.StatusRequestEntityTooLarge,
	ticketing.EOptedOut:     http.StatusUnprocessableEntity,
	ticketing.EInternal:     http.StatusInternalServerError,
	codeBadRequest:          http.StatusBadRequest,
}

// codeBadRequest is for bodies that are not JSON at all or of the wrong
// shape (a 400, where well-formed but invalid values are a 422).
const codeBadRequest = "bad_request"

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// writeError writes err in the contract's shape. Internal errors are
// logged and shown as "internal error" only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	var de *ticketing.Error
	if errors.As(err, &de) {
		body.Error.Code, body.Error.Message, body.Error.Field = de.Code, de.Message, de.Field
	} else {
		body.Error.Code, body.Error.Message = ticketing.EInternal, "internal error"
	}
	status, ok := statusOf[body.Error.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		slog.Default().Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// respond writes v with status, or err when there is one: the end of most
// API handlers (204 writes no body).
func respond(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	switch {
	case err != nil:
		writeError(w, r, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

// readBody decodes the JSON body into a new T. On failure it has written
// the error and returns false.
func readBody[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	var in T
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return in, false
	}
	return in, true
}

// readInput decodes a JSON body into v and validates it. On failure it has
// written the error and returns false.
func (s *Server) readInput(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(w, r, v); err != nil {
		writeError(w, r, err)
		return false
	}
	if err := s.valid.Struct(v); err != nil {
		writeError(w, r, err)
		return false
	}
	return true
}

// maxBody caps JSON request bodies.
const maxBody = 1 << 20

// decodeJSON reads a JSON object into v with errors that name the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	err := dec.Decode(v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		if dec.More() {
			return &ticketing.Error{Code: codeBadRequest, Message: "body: must be a single JSON object"}
		}
		return nil
	case errors.Is(err, io.EOF):
		return &ticketing.Error{Code: codeBadRequest, Message: "body: is empty; a JSON object is required"}
	case errors.As(err, &tooBig):
		return ticketing.Errorf(ticketing.ETooLarge, "body: larger than %d bytes", maxBody)
	case errors.As(err, &syn):
		return &ticketing.Error{Code: codeBadRequest, Message: fmt.Sprintf("body: malformed JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &ticketing.Error{Code: codeBadRequest, Message: "body: must be a JSON object"}
		}
		return &ticketing.Error{Code: codeBadRequest, Field: field, Message: fmt.Sprintf("%s: must be a %s", field, jsonType(typ.Type.Kind().String()))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ticketing.Error{Code: codeBadRequest, Message: "body: malformed JSON (cut short)"}
	default:
		return &ticketing.Error{Code: codeBadRequest, Message: "body: " + err.Error()}
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	default:
		return "number"
	}
}
