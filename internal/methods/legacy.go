package methods

// The legacy exception as a service: a user's password, TOTP secret and
// passwordless-only flag, kept in the store's settings under per-user keys
// (user/<id>/password, user/<id>/totp, user/<id>/passwordless-only) until
// the store grows columns for them; attempts counted atomically in the
// store (CountHit) before anything is checked.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// LegacyState is what the rules need to know about a user's legacy
// methods.
type LegacyState struct {
	HasPassword      bool
	PasswordlessOnly bool
	TOTPEnrolled     bool // a confirmed TOTP secret
}

// PasswordAllowed decides whether a member of userGroups in state st may
// sign in with a password to an app (legacyApp: the app is marked
// legacy-capable). A passwordless-only user never may, whatever the
// policy says.
func PasswordAllowed(p Policy, userGroups []string, st LegacyState, legacyApp bool) (bool, string) {
	switch {
	case st.PasswordlessOnly:
		return false, "the user is passwordless-only"
	case !legacyApp:
		return false, "the app is not marked legacy-capable"
	}
	if ok, why := MethodAllowed(p, MethodPassword, userGroups); !ok {
		return false, why
	}
	if !st.HasPassword {
		return false, "the user has no password"
	}
	return true, "password allowed"
}

// LegacySteps lists what a password sign-in asks for, in order: the
// password, then a TOTP code when the TOTP method applies to the user and
// they have enrolled. Nil when a password is not allowed.
func LegacySteps(p Policy, userGroups []string, st LegacyState, legacyApp bool) []Method {
	if ok, _ := PasswordAllowed(p, userGroups, st, legacyApp); !ok {
		return nil
	}
	steps := []Method{MethodPassword}
	if ok, _ := MethodAllowed(p, MethodTOTP, userGroups); ok && st.TOTPEnrolled {
		steps = append(steps, MethodTOTP)
	}
	return steps
}

// Attempt limits for passwords and TOTP codes, per account and per address,
// in LegacyAttemptWindow.
const (
	LegacyAttemptWindow = 15 * time.Minute
	PasswordUserLimit   = 10
	PasswordIPLimit     = 50
	TOTPUserLimit       = 5
)

// Refusals. Until the password matches, every failure reads the same.
var (
	ErrPasswordInvalid = problem.New(http.StatusUnauthorized, "password_invalid",
		"That username and password do not match. Check both and try again.")
	ErrPasswordNotAllowed = problem.New(http.StatusForbidden, "password_not_allowed",
		"Passwords are not accepted for your account. Sign in with a passkey.")
	ErrPasswordlessOnly = problem.New(http.StatusConflict, "passwordless_only",
		"This user is passwordless-only: no password can be set. Undo that first if a password is really needed.")
	ErrTOTPInvalid = problem.New(http.StatusUnauthorized, "totp_invalid",
		"That code is not right, or it was already used. Wait for the next code in your authenticator app and try again.")
	ErrTOTPNotEnrolled = problem.New(http.StatusConflict, "totp_not_enrolled",
		"No authenticator app is set up for this account.")
)

// Legacy manages passwords and TOTP for users.
type Legacy struct {
	Store  store.Store
	Params Argon2Params
	// TOTPKey seals TOTP secrets (32 bytes, App.DeriveKey("sesame/totp/v1")).
	TOTPKey []byte
	// Issuer is the name authenticator apps show beside the codes.
	Issuer string
	Now    func() time.Time
}

func passwordKey(id string) string     { return "user/" + id + "/password" }
func totpKey(id string) string         { return "user/" + id + "/totp" }
func passwordlessKey(id string) string { return "user/" + id + "/passwordless-only" }

// totpRecord is the stored TOTP state of a user.
type totpRecord struct {
	Sealed    []byte    `json:"sealed,omitempty"` // the confirmed secret
	Confirmed bool      `json:"confirmed"`
	LastStep  int64     `json:"last_step"`
	CreatedAt time.Time `json:"created_at"`
	// Pending is a new secret being enrolled: the confirmed one keeps
	// working until a code from the new one confirms it.
	Pending []byte `json:"pending,omitempty"`
}

// secret returns the sealed secret a code is checked against: the
// confirmed one for a sign-in, the pending one to confirm an enrolment.
func (r totpRecord) secret(confirmed bool) []byte {
	if !confirmed {
		return r.Pending
	}
	if !r.Confirmed {
		return nil
	}
	return r.Sealed
}

// State returns the user's legacy state.
func (l *Legacy) State(ctx context.Context, userID string) (LegacyState, error) {
	var st LegacyState
	var err error
	if st.HasPassword, err = l.has(ctx, passwordKey(userID)); err != nil {
		return st, err
	}
	if st.PasswordlessOnly, err = l.has(ctx, passwordlessKey(userID)); err != nil {
		return st, err
	}
	rec, _, err := l.totp(ctx, userID)
	st.TOTPEnrolled = rec.Confirmed && len(rec.Sealed) > 0
	return st, err
}

func (l *Legacy) has(ctx context.Context, key string) (bool, error) {
	_, err := l.Store.GetSetting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// deleteSetting removes a setting whatever its value (the store offers
// compare-and-delete only).
func (l *Legacy) deleteSetting(ctx context.Context, key string) error {
	for range 3 {
		v, err := l.Store.GetSetting(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if ok, err := l.Store.DeleteSettingIf(ctx, key, v); err != nil || ok {
			return err
		}
	}
	return errors.New("the setting " + key + " keeps changing; try again")
}

// recheckPasswordless runs after a password or TOTP secret was written for
// a user who was not passwordless-only when the write began. If they are
// now, undo takes the write back and the answer is ErrPasswordlessOnly.
// SetPasswordlessOnly sets its flag before it removes the secrets, so a
// write that lands after the removal finds the flag here: a user made
// passwordless-only never keeps a secret set at the same moment.
func (l *Legacy) recheckPasswordless(ctx context.Context, userID string, undo func() error) error {
	only, err := l.has(ctx, passwordlessKey(userID))
	if err != nil || !only {
		return err
	}
	if err := undo(); err != nil {
		return err
	}
	return ErrPasswordlessOnly.WithDetail("made passwordless-only during the change")
}

// SetPassword sets (or replaces) the user's password.
func (l *Legacy) SetPassword(ctx context.Context, actor audit.Actor, u store.User, pw string) error {
	if only, err := l.has(ctx, passwordlessKey(u.ID)); err != nil {
		return err
	} else if only {
		return ErrPasswordlessOnly
	}
	if err := ValidateNewPassword(pw); err != nil {
		return problem.BadRequest(err.Error() + ".")
	}
	h, err := HashPassword(l.Params, pw)
	if err != nil {
		return err
	}
	if err := l.Store.PutSetting(ctx, passwordKey(u.ID), []byte(h)); err != nil {
		return err
	}
	if err := l.recheckPasswordless(ctx, u.ID, func() error {
		_, err := l.Store.DeleteSettingIf(ctx, passwordKey(u.ID), []byte(h))
		return err
	}); err != nil {
		return err
	}
	audit.Log(ctx, l.Store, l.Now(), actor, "password.set", u.Username, nil)
	return nil
}

// SetPasswordlessOnly makes the user passwordless-only (their password and
// TOTP are removed, and none can be set) or undoes it.
func (l *Legacy) SetPasswordlessOnly(ctx context.Context, actor audit.Actor, u store.User, on bool) error {
	if !on {
		if err := l.deleteSetting(ctx, passwordlessKey(u.ID)); err != nil {
			return err
		}
		audit.Log(ctx, l.Store, l.Now(), actor, "user.passwordless_only", u.Username, map[string]bool{"after": false})
		return nil
	}
	// The flag first: from this moment no password works, even one being
	// checked concurrently with the removal below.
	if err := l.Store.PutSetting(ctx, passwordlessKey(u.ID), []byte("1")); err != nil {
		return err
	}
	if err := l.deleteSetting(ctx, passwordKey(u.ID)); err != nil {
		return err
	}
	if err := l.deleteSetting(ctx, totpKey(u.ID)); err != nil {
		return err
	}
	audit.Log(ctx, l.Store, l.Now(), actor, "user.passwordless_only", u.Username, map[string]bool{"after": true})
	return nil
}

// VerifyPassword checks a typed password for user u (nil when the
// username is unknown). Attempts are counted per account and per address
// before anything else, atomically in the store, so parallel guesses cannot
// exceed the limits; an unknown user, a user without a password and a
// wrong password all cost one hash and read the same. On success the
// account's count is reset and the hash is upgraded when the parameters
// changed. Whether a password is allowed at all (PasswordAllowed) is the
// caller's check, after this one succeeds.
func (l *Legacy) VerifyPassword(ctx context.Context, username string, u *store.User, pw, ip string) error {
	now := l.Now()
	n, err := l.Store.CountHit(ctx, "password:user:"+username, LegacyAttemptWindow, now)
	if err != nil {
		return err
	}
	m, err := l.Store.CountHit(ctx, "password:ip:"+ip, LegacyAttemptWindow, now)
	if err != nil {
		return err
	}
	if n > PasswordUserLimit || m > PasswordIPLimit {
		return ErrTooManyAttempts.WithDetail("attempt %d for user, %d for address", n, m)
	}
	encoded := dummyHash(l.Params)
	found := false
	if u != nil {
		b, err := l.Store.GetSetting(ctx, passwordKey(u.ID))
		if err == nil {
			encoded, found = string(b), true
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	ok, err := VerifyPassword(encoded, pw)
	if err != nil && found {
		return ErrPasswordInvalid.WithDetail("stored hash unreadable: %v", err)
	}
	if !ok || !found {
		return ErrPasswordInvalid.WithDetail("unknown user, no password or wrong password")
	}
	if only, err := l.has(ctx, passwordlessKey(u.ID)); err != nil {
		return err
	} else if only {
		return ErrPasswordInvalid.WithDetail("user is passwordless-only")
	}
	_ = l.Store.ResetHits(ctx, "password:user:"+username)
	if NeedsRehash(encoded, l.Params) {
		// Only over the hash just checked: a password set or removed since
		// (by the user, an admin, passwordless-only) must not be replaced
		// by the old one. Losing that race only skips the upgrade.
		if h, err := HashPassword(l.Params, pw); err == nil {
			_ = l.Store.SwapSetting(ctx, passwordKey(u.ID), []byte(encoded), []byte(h))
		}
	}
	return nil
}

// totp returns the user's TOTP record and its stored bytes (nil when none
// is stored), for the compare-and-set of an update.
func (l *Legacy) totp(ctx context.Context, userID string) (totpRecord, []byte, error) {
	b, err := l.Store.GetSetting(ctx, totpKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return totpRecord{}, nil, nil
	} else if err != nil {
		return totpRecord{}, nil, err
	}
	var r totpRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return totpRecord{}, nil, err
	}
	return r, b, nil
}

// totpAttempts bounds how often an update of a TOTP record that lost a race
// is made again; a user's record is written by that user's own sign-ins
// and enrolments and by admins, so two attempts settle any real race.
const totpAttempts = 3

// ErrTOTPBusy: the user's TOTP record kept changing during an update.
var ErrTOTPBusy = problem.New(http.StatusConflict, "totp_busy",
	"Your authenticator app settings were being changed at the same moment. Wait for the next code and try again.")

// updateTOTP applies change to the user's TOTP record (stored: whether one
// exists) and writes the result with a compare-and-set on the bytes it
// read. When another write lands in between (a sign-in, an enrolment, a
// removal) change is made again on the record as it now is, so no update
// undoes another and a removed record is not written back from a stale
// copy. An error from change writes nothing.
func (l *Legacy) updateTOTP(ctx context.Context, userID string, change func(rec totpRecord, stored bool) (totpRecord, error)) error {
	for range totpAttempts {
		rec, raw, err := l.totp(ctx, userID)
		if err != nil {
			return err
		}
		next, err := change(rec, raw != nil)
		if err != nil {
			return err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		err = l.Store.SwapSetting(ctx, totpKey(userID), raw, b)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return ErrTOTPBusy.WithDetail("the TOTP record of %s changed %d times during one update", userID, totpAttempts)
}

// BeginTOTP starts (or restarts) enrolment: a new secret, stored sealed and
// pending until the user types a code from it (ConfirmTOTP); a secret
// already confirmed keeps working until then. The enrolment is shown once.
func (l *Legacy) BeginTOTP(ctx context.Context, u store.User) (TOTPEnrollment, error) {
	if only, err := l.has(ctx, passwordlessKey(u.ID)); err != nil {
		return TOTPEnrollment{}, err
	} else if only {
		return TOTPEnrollment{}, ErrPasswordlessOnly
	}
	e, err := NewTOTP(l.Issuer, u.Username)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed, err := SealTOTPSecret(l.TOTPKey, u.ID, e.Secret)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	err = l.updateTOTP(ctx, u.ID, func(rec totpRecord, _ bool) (totpRecord, error) {
		rec.Pending = sealed
		return rec, nil
	})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if err := l.recheckPasswordless(ctx, u.ID, func() error { return l.deleteSetting(ctx, totpKey(u.ID)) }); err != nil {
		return TOTPEnrollment{}, err
	}
	return e, nil
}

// ConfirmTOTP finishes enrolment with a first code.
func (l *Legacy) ConfirmTOTP(ctx context.Context, actor audit.Actor, u store.User, code, ip string) error {
	if err := l.verifyTOTP(ctx, u, code, ip, false); err != nil {
		return err
	}
	audit.Log(ctx, l.Store, l.Now(), actor, "totp.enroll", u.Username, nil)
	return nil
}

// VerifyTOTP checks a code of an enrolled user: rate limited per account,
// one step of skew, and a code once used is refused (replay).
func (l *Legacy) VerifyTOTP(ctx context.Context, u store.User, code, ip string) error {
	return l.verifyTOTP(ctx, u, code, ip, true)
}

func (l *Legacy) verifyTOTP(ctx context.Context, u store.User, code, ip string, confirmed bool) error {
	now := l.Now()
	n, err := l.Store.CountHit(ctx, "totp:user:"+u.ID, LegacyAttemptWindow, now)
	if err != nil {
		return err
	}
	m, err := l.Store.CountHit(ctx, "totp:ip:"+ip, LegacyAttemptWindow, now)
	if err != nil {
		return err
	}
	if n > TOTPUserLimit || m > PasswordIPLimit {
		return ErrTooManyAttempts.WithDetail("attempt %d for user, %d for address", n, m)
	}
	rec, _, err := l.totp(ctx, u.ID)
	if err != nil {
		return err
	}
	sealed := rec.secret(confirmed)
	if len(sealed) == 0 {
		return ErrTOTPNotEnrolled
	}
	secret, err := OpenTOTPSecret(l.TOTPKey, u.ID, sealed)
	if err != nil {
		return err
	}
	step, valid := CheckTOTP(secret, code, now, rec.LastStep)
	if !valid {
		return ErrTOTPInvalid.WithDetail("wrong, expired or already used code")
	}
	// Claim the step atomically: of parallel uses of one code exactly one
	// gets the first hit. The claim outlives every moment the code is valid.
	claims, err := l.Store.CountHit(ctx, "totp:step:"+u.ID+":"+strconv.FormatInt(step, 10), (2*TOTPSkew+2)*TOTPPeriod, now)
	if err != nil {
		return err
	}
	if claims != 1 {
		return ErrTOTPInvalid.WithDetail("replayed code for step %d", step)
	}
	err = l.updateTOTP(ctx, u.ID, func(rec totpRecord, stored bool) (totpRecord, error) {
		// The code was checked against sealed: if that secret was removed
		// or replaced meanwhile, the code proves nothing about what is
		// stored now (and a new pending secret must not be confirmed by
		// a code from the old one).
		if cur := rec.secret(confirmed); !stored || len(cur) == 0 {
			return rec, ErrTOTPNotEnrolled.WithDetail("the TOTP secret was removed during the check")
		} else if !bytes.Equal(cur, sealed) {
			return rec, ErrTOTPInvalid.WithDetail("the TOTP secret was replaced during the check")
		}
		rec.LastStep = max(rec.LastStep, step)
		if !confirmed {
			rec.Sealed, rec.Pending, rec.Confirmed, rec.CreatedAt = rec.Pending, nil, true, now
		}
		return rec, nil
	})
	if err != nil {
		return err
	}
	_ = l.Store.ResetHits(ctx, "totp:user:"+u.ID)
	return nil
}

// RemoveTOTP deletes the user's TOTP secret.
func (l *Legacy) RemoveTOTP(ctx context.Context, actor audit.Actor, u store.User) error {
	if err := l.deleteSetting(ctx, totpKey(u.ID)); err != nil {
		return err
	}
	audit.Log(ctx, l.Store, l.Now(), actor, "totp.remove", u.Username, nil)
	return nil
}
