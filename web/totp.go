package web

import (
	"encoding/base64"
	"net/http"

	"github.com/svar-dev/svar/ticketing"
)

// Two-factor sign-in (staff.Service does the work).

// handleTOTPSetup stores a new, not yet enabled secret and returns it with
// its otpauth URL and QR code (a PNG data: URL).
func (s *Server) handleTOTPSetup(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	st, err := s.staff.StartTOTP(r.Context(), me)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"secret":  st.Secret,
		"url":     st.URL,
		"qr":      "data:image/png;base64," + base64.StdEncoding.EncodeToString(st.QR),
		"qr_path": "/api/v1/me/totp/qr.png",
	})
}

// handleTOTPImage serves the QR code of the pending secret as a PNG.
func (s *Server) handleTOTPImage(w http.ResponseWriter, r *http.Request, a *ticketing.Agent) {
	img, err := s.staff.TOTPImage(a)
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
	if !s.readInput(w, r, &in) {
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
	a, codes, err := s.staff.ConfirmTOTP(r.Context(), me, code)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": a, "recovery_codes": codes})
}

// handleTOTPDisable turns two-factor sign-in off with a current code.
func (s *Server) handleTOTPDisable(w http.ResponseWriter, r *http.Request, me *ticketing.Agent) {
	code, ok := s.readCode(w, r)
	if !ok {
		return
	}
	a, err := s.staff.DisableTOTP(r.Context(), me, code)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": a})
}
