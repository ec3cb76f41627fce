// Package mailsettings keeps the shop's email identity: the From name
// outgoing mail carries and the signature it ends with, per language. It
// is one _id-keyed state document that the email adapter reads for each
// reply (one _id lookup), so a change applies on every node at once.
package mailsettings

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// stateKey is the state document holding the settings.
const stateKey = "settings:email"

// Settings are the email identity.
type Settings struct {
	// FromName is the display name of From; empty: the address's own name
	// (SVAR_EMAIL_ADDRESS only).
	FromName string `json:"from_name" bson:"from_name" validate:"max=100"`
	// Signature ends every reply; Signatures holds per-language ones ("en",
	// "sv") that win for customers of that language.
	Signature  string            `json:"signature" bson:"signature" validate:"max=4000"`
	Signatures map[string]string `json:"signatures,omitempty" bson:"signatures,omitempty" validate:"omitempty,max=2,dive,keys,oneof=en sv,endkeys,max=4000"`
	UpdatedAt  time.Time         `json:"updated_at,omitzero" bson:"updated_at"`
	UpdatedBy  string            `json:"updated_by,omitempty" bson:"updated_by,omitempty"`
}

// SignatureFor is the signature for a customer writing in lang.
func (s *Settings) SignatureFor(lang string) string {
	if s == nil {
		return ""
	}
	if v := strings.TrimSpace(s.Signatures[lang]); v != "" {
		return v
	}
	return strings.TrimSpace(s.Signature)
}

// Get reads the settings; none saved yet is the zero Settings.
func Get(ctx context.Context, state ticketing.StateStore) (*Settings, error) {
	var s Settings
	err := state.GetState(ctx, stateKey, &s)
	if ticketing.IsNotFound(err) {
		return &Settings{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("email settings: %w", err)
	}
	return &s, nil
}

// Put validates and saves the settings (admins only).
func Put(ctx context.Context, state ticketing.StateStore, by *ticketing.Agent, in Settings, now time.Time) (*Settings, error) {
	if by == nil || by.Role != ticketing.RoleAdmin {
		return nil, ticketing.Errorf(ticketing.EForbidden, "only admins change the email settings")
	}
	if err := ticketing.NewValidator().Struct(&in); err != nil {
		return nil, err
	}
	in.FromName = strings.TrimSpace(in.FromName)
	if strings.ContainsAny(in.FromName, "\r\n<>\"") {
		return nil, ticketing.FieldError("from_name", "must not contain line breaks, quotes or angle brackets")
	}
	in.UpdatedAt, in.UpdatedBy = now.UTC(), by.ID
	if err := state.PutState(ctx, stateKey, in); err != nil {
		return nil, fmt.Errorf("email settings: save: %w", err)
	}
	return &in, nil
}

// AppendSignature ends text with sig, separated by the usual "-- " line.
func AppendSignature(text, sig string) string {
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return text
	}
	return strings.TrimRight(text, "\n ") + "\n\n-- \n" + sig
}
