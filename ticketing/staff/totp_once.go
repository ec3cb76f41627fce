package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/svar-dev/svar/ticketing"
)

// Second factors are usable once. A TOTP code is accepted for its time
// step (and one step either side, for clocks that drift) only if the step
// is later than the last step the agent used ("totp:last:<agent>") and no
// other sign-in took the same step first: "totp:used:<agent>:<step>" is
// inserted, and only one insert of a key succeeds, on any number of nodes.
// Recovery codes (made when two-factor sign-in is turned on) are kept as
// hashes on the agent; one spent is removed, under a once-marker too.

const (
	recoveryCodes = 10
	totpPeriod    = 30
)

var errCodeUsed = ticketing.FieldError("code", "was used already; wait for the next code")

type lastStep struct {
	Step int64 `bson:"step"`
}

// spendSecondFactor checks code (a TOTP code or a recovery code) for a
// and spends it.
func (s *Service) spendSecondFactor(ctx context.Context, a *ticketing.Agent, code string) error {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))
	if strings.Contains(code, "-") {
		return s.spendRecoveryCode(ctx, a, code)
	}
	step, ok := matchTOTP(a.TOTPSecret, code, s.now())
	if !ok {
		return ticketing.FieldError("code", "the two-factor code is wrong")
	}
	var last lastStep
	lastKey := "totp:last:" + a.ID
	if err := s.store.GetState(ctx, lastKey, &last); err != nil && !ticketing.IsNotFound(err) {
		return err
	}
	if step <= last.Step {
		return errCodeUsed
	}
	if err := s.store.InsertState(ctx, fmt.Sprintf("totp:used:%s:%d", a.ID, step), lastStep{Step: step}); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) {
			return errCodeUsed
		}
		return err
	}
	if err := s.store.PutState(ctx, lastKey, lastStep{Step: step}); err != nil {
		return err
	}
	if last.Step > 0 {
		_ = s.store.DeleteState(ctx, fmt.Sprintf("totp:used:%s:%d", a.ID, last.Step))
	}
	return nil
}

// matchTOTP returns the time step code belongs to, within one step of now.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	if secret == "" || len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0),
			totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

func recoveryHash(code string) string {
	sum := sha256.Sum256([]byte("svar-recovery:" + code))
	return hex.EncodeToString(sum[:])
}

// newRecoveryCodes returns codes to show once and their hashes to keep.
func newRecoveryCodes() (codes, hashes []string) {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	for range recoveryCodes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		c := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, c)
		hashes = append(hashes, recoveryHash(c))
	}
	return codes, hashes
}

func (s *Service) spendRecoveryCode(ctx context.Context, a *ticketing.Agent, code string) error {
	h := recoveryHash(code)
	if !slices.Contains(a.TOTPRecovery, h) {
		return ticketing.FieldError("code", "the two-factor code is wrong")
	}
	if err := s.store.InsertState(ctx, "totp:recovery:"+h, lastStep{Step: s.now().Unix()}); err != nil {
		if errors.Is(err, ticketing.ErrDuplicate) {
			return errCodeUsed
		}
		return err
	}
	_, err := s.ChangeMe(ctx, a, func(fresh *ticketing.Agent) error {
		fresh.TOTPRecovery = slices.DeleteFunc(fresh.TOTPRecovery, func(x string) bool { return x == h })
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(ctx, "agent.recovery_code_used", "agent:"+a.ID)
	return nil
}
