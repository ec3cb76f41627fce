package staff

import (
	"bytes"
	"context"
	"encoding/base32"
	"image/png"

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

// TOTPSetup is a pending two-factor secret.
type TOTPSetup struct {
	Secret string
	URL    string
	QR     []byte // PNG
}

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

var errTOTPOn = ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is already on; turn it off first")

// StartTOTP stores a new, not yet enabled secret and returns it with its
// otpauth URL and QR code.
func (s *Service) StartTOTP(ctx context.Context, me *ticketing.Agent) (*TOTPSetup, error) {
	if me.TOTPEnabled {
		return nil, errTOTPOn
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: me.Email})
	if err != nil {
		return nil, err
	}
	_, err = s.ChangeMe(ctx, me, func(a *ticketing.Agent) error {
		if a.TOTPEnabled {
			return errTOTPOn
		}
		a.TOTPSecret = k.Secret()
		return nil
	})
	if err != nil {
		return nil, err
	}
	img, err := qrPNG(k)
	if err != nil {
		return nil, err
	}
	return &TOTPSetup{Secret: k.Secret(), URL: k.URL(), QR: img}, nil
}

// TOTPImage is the QR code of the pending secret as a PNG.
func (s *Service) TOTPImage(a *ticketing.Agent) ([]byte, error) {
	if a.TOTPSecret == "" || a.TOTPEnabled {
		return nil, ticketing.Errorf(ticketing.ENotFound, "no two-factor setup in progress")
	}
	k, err := totpKey(a)
	if err != nil {
		return nil, err
	}
	return qrPNG(k)
}

// ConfirmTOTP enables two-factor sign-in with a code for the pending
// secret. It returns the recovery codes, shown this once (the agent keeps
// only their hashes).
func (s *Service) ConfirmTOTP(ctx context.Context, me *ticketing.Agent, code string) (*ticketing.Agent, []string, error) {
	codes, hashes := newRecoveryCodes()
	a, err := s.ChangeMe(ctx, me, func(a *ticketing.Agent) error {
		switch {
		case a.TOTPEnabled:
			return ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is already on")
		case a.TOTPSecret == "":
			return ticketing.Errorf(ticketing.EConflict, "start the two-factor setup first")
		case !totp.Validate(code, a.TOTPSecret):
			return ticketing.FieldError("code", "is wrong; check the time on your phone and try the next code")
		}
		a.TOTPEnabled = true
		a.TOTPRecovery = hashes
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.audit(ctx, "agent.totp_enabled", "agent:"+a.ID)
	return a, codes, nil
}

// DisableTOTP turns two-factor sign-in off with a current code.
func (s *Service) DisableTOTP(ctx context.Context, me *ticketing.Agent, code string) (*ticketing.Agent, error) {
	return s.ChangeMe(ctx, me, func(a *ticketing.Agent) error {
		switch {
		case !a.TOTPEnabled:
			return ticketing.Errorf(ticketing.EConflict, "two-factor sign-in is off")
		case !totp.Validate(code, a.TOTPSecret):
			return ticketing.FieldError("code", "is wrong")
		}
		a.TOTPEnabled, a.TOTPSecret, a.TOTPRecovery = false, "", nil
		return nil
	})
}
