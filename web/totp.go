package web

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"net/http"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/svar-dev/svar/ticketing"
)

// Two-factor sign-in with TOTP (RFC 6238, as authenticator apps use it).
// Setting it up takes two steps so that nobody locks themselves out: the
// first stores a new secret, not yet enforced, and shows it as a QR code;
// the second enables it once the agent proves, with a code from the app,
// that the app has the secret. While two-factor sign-in is on, a new
// secret is refused: the agent turns it off first, with a code.

const (
	totpIssuer = "Svar"
	qrSize     = 240
)

// totpKey rebuilds the key of a stored secret, for its QR code.
func totpKey(a *ticketing.Agent) (*otp.Key, error) {
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a.TOTPSecret)
	if err != nil {
		return nil, err
	}
	return totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: a.Email, Secret: secret})
}

func qrPNG(k *otp.Key) ([]byte, error) {
	img, err := k.Image(qrSize, qrSize)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// handleTOTPSetup stores a new, not yet enabled secret and returns it with
// its otpauth URL and QR code (a PNG data: URL).
func (s *Server) handleTOTPSetup(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	if me.TOTPEnabled {
		writeError(w, r, ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is already on; turn it off first"))
		return
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: me.Email})
	if err != nil {
		writeError(w, r, err)
		return
	}
	_, err = s.changeMe(r.Context(), me, func(a *ticketing.Agent) error {
		if a.TOTPEnabled {
			return ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is already on; turn it off first")
		}
		a.TOTPSecret = k.Secret()
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	img, err := qrPNG(k)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"secret":  k.Secret(),
		"url":     k.URL(),
		"qr":      "data:image/png;base64," + base64.StdEncoding.EncodeToString(img),
		"qr_path": "/api/v1/me/totp/qr.png",
	})
}

// handleTOTPImage serves the QR code of the pending secret as a PNG.
func (s *Server) handleTOTPImage(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	if a.TOTPSecret == "" || a.TOTPEnabled {
		writeError(w, r, ticketing.Errorf(ticketing.ENotFound, "no two-factor setup in progress"))
		return
	}
	k, err := totpKey(a)
	if err != nil {
		writeError(w, r, err)
		return
	}
	img, err := qrPNG(k)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(img)
}

type totpCode struct {
	Code string `json:"code" validate:"required,max=10"`
}

func (s *Server) readCode(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in totpCode
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, r, err)
		return "", false
	}
	if err := s.valid.Struct(&in); err != nil {
		writeError(w, r, err)
		return "", false
	}
	return in.Code, true
}

// handleTOTPConfirm enables two-factor sign-in with a code for the
// pending secret.
func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	code, ok := s.readCode(w, r)
	if !ok {
		return
	}
	a, err := s.changeMe(r.Context(), me, func(a *ticketing.Agent) error {
		switch {
		case a.TOTPEnabled:
			return ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is already on")
		case a.TOTPSecret == "":
			return ticketing.Errorf(ticketing.EConflict, "start the two-factor setup first")
		case !totp.Validate(code, a.TOTPSecret):
			return ticketing.FieldError("code", "is wrong; check the time on your phone and try the next code")
		}
		a.TOTPEnabled = true
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}

// handleTOTPDisable turns two-factor sign-in off with a current code.
func (s *Server) handleTOTPDisable(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	code, ok := s.readCode(w, r)
	if !ok {
		return
	}
	a, err := s.changeMe(r.Context(), me, func(a *ticketing.Agent) error {
		switch {
		case !a.TOTPEnabled:
			return ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is off")
		case !totp.Validate(code, a.TOTPSecret):
			return ticketing.FieldError("code", "is wrong")
		}
		a.TOTPEnabled, a.TOTPSecret = false, ""
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}
