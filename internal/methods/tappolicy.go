package methods

// The TAP policy's rules beyond the lifetime: its bounds, one-time only,
// delayed start, and how long what a pass opens may last.

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Bounds every TAP policy must keep (Entra ID's).
const (
	TAPLifetimeFloor   = 10 * time.Minute
	TAPLifetimeCeiling = 30 * 24 * time.Hour
	TAPMinLength       = 8
	TAPMaxLength       = 48
	// TAPMaxStartDelayCeiling bounds how far ahead a delayed start may be.
	TAPMaxStartDelayCeiling = 90 * 24 * time.Hour
	// OneTimeTAPRegistrationWindow: a session begun with a one-time pass
	// must register a passkey within this time of the pass's use.
	OneTimeTAPRegistrationWindow = 10 * time.Minute
)

// Validate checks the policy, naming what to change.
func (p TAPPolicy) Validate() error {
	switch {
	case p.MinLifetime < TAPLifetimeFloor || p.MinLifetime > TAPLifetimeCeiling:
		return fmt.Errorf("the minimum lifetime must be between %s and %s, not %s", HumanDuration(TAPLifetimeFloor), HumanDuration(TAPLifetimeCeiling), HumanDuration(p.MinLifetime))
	case p.MaxLifetime < TAPLifetimeFloor || p.MaxLifetime > TAPLifetimeCeiling:
		return fmt.Errorf("the maximum lifetime must be between %s and %s, not %s", HumanDuration(TAPLifetimeFloor), HumanDuration(TAPLifetimeCeiling), HumanDuration(p.MaxLifetime))
	case p.MinLifetime > p.MaxLifetime:
		return fmt.Errorf("the minimum lifetime %s is longer than the maximum %s", HumanDuration(p.MinLifetime), HumanDuration(p.MaxLifetime))
	case p.DefaultLifetime < p.MinLifetime || p.DefaultLifetime > p.MaxLifetime:
		return fmt.Errorf("the default lifetime %s is outside the allowed %s to %s", HumanDuration(p.DefaultLifetime), HumanDuration(p.MinLifetime), HumanDuration(p.MaxLifetime))
	case p.Length < TAPMinLength || p.Length > TAPMaxLength:
		return fmt.Errorf("the length must be between %d and %d characters, not %d", TAPMinLength, TAPMaxLength, p.Length)
	case p.MaxStartDelay < 0 || p.MaxStartDelay > TAPMaxStartDelayCeiling:
		return fmt.Errorf("the maximum start delay must be between 0 and %s, not %s", HumanDuration(TAPMaxStartDelayCeiling), HumanDuration(p.MaxStartDelay))
	}
	return nil
}

// TAPRequest is what an issuer asks for. Zero values mean the defaults:
// the default lifetime, starting now, multi-use (unless the policy says
// one-time only).
type TAPRequest struct {
	Lifetime time.Duration
	OneTime  bool
	StartsAt time.Time
}

// TAPPlan is what will be issued.
type TAPPlan struct {
	StartsAt  time.Time
	ExpiresAt time.Time
	OneTime   bool
}

// Plan applies the policy to a request at now: the lifetime within range,
// one-time when the policy demands it, a start no earlier than now and no
// later than the allowed delay. The lifetime counts from the start.
func (p TAPPolicy) Plan(req TAPRequest, now time.Time) (TAPPlan, error) {
	life, err := p.Lifetime(req.Lifetime)
	if err != nil {
		return TAPPlan{}, err
	}
	start := now
	if !req.StartsAt.IsZero() {
		switch {
		case req.StartsAt.Before(now.Add(-time.Minute)):
			return TAPPlan{}, fmt.Errorf("the start time %s is in the past", req.StartsAt.UTC().Format(time.RFC3339))
		case req.StartsAt.After(now.Add(p.MaxStartDelay)):
			if p.MaxStartDelay == 0 {
				return TAPPlan{}, fmt.Errorf("the policy does not allow a delayed start: passes start when issued")
			}
			return TAPPlan{}, fmt.Errorf("a pass may start at most %s after it is issued", HumanDuration(p.MaxStartDelay))
		case req.StartsAt.After(now):
			start = req.StartsAt
		}
	}
	return TAPPlan{StartsAt: start, ExpiresAt: start.Add(life), OneTime: req.OneTime || p.OneTimeOnly}, nil
}

// TAPSessionEnd is when a session begun with the pass t must end, given the
// end it would otherwise have: never after the pass expires, and for a
// one-time pass no later than the registration window after its use
// (OneTimeTAPRegistrationWindow), since its only purpose is to register a
// passkey.
func TAPSessionEnd(t store.TAP, proposed time.Time) time.Time {
	end := proposed
	if t.ExpiresAt.Before(end) {
		end = t.ExpiresAt
	}
	if t.OneTime && !t.UsedAt.IsZero() {
		if w := t.UsedAt.Add(OneTimeTAPRegistrationWindow); w.Before(end) {
			end = w
		}
	}
	return end
}

// TAPSessionContinues reports whether a session, having just registered a
// passkey, goes on as a session of that passkey (normal lifetime, the
// strength of a passkey sign-in) instead of ending with its pass: a session
// begun with the one-time pass t (its only use, made when the session
// began). Registration proved the new passkey with user verification, so
// the session is then as good as a sign-in with it; without this, the one
// use of the pass would end 10 minutes later in the middle of the user's
// first day. Other sessions (multi-use passes, passkey sessions, a pass
// replaced or used since) keep what they have.
func TAPSessionContinues(methods []string, authTime time.Time, t store.TAP) bool {
	return len(methods) == 1 && methods[0] == "tap" &&
		t.OneTime && !t.UsedAt.IsZero() && !t.UsedAt.After(authTime)
}

// tapPolicyJSON is the document form of TAPPolicy.
type tapPolicyJSON struct {
	MinLifetime     Duration `json:"min_lifetime"`
	MaxLifetime     Duration `json:"max_lifetime"`
	DefaultLifetime Duration `json:"default_lifetime"`
	Length          int      `json:"length"`
	OneTimeOnly     bool     `json:"one_time_only"`
	MaxStartDelay   Duration `json:"max_start_delay"`
}

func (p TAPPolicy) MarshalJSON() ([]byte, error) {
	return json.Marshal(tapPolicyJSON{
		MinLifetime: Duration(p.MinLifetime), MaxLifetime: Duration(p.MaxLifetime), DefaultLifetime: Duration(p.DefaultLifetime),
		Length: p.Length, OneTimeOnly: p.OneTimeOnly, MaxStartDelay: Duration(p.MaxStartDelay),
	})
}

// UnmarshalJSON reads the document form; fields left out keep the
// defaults, so an admin can write only what they change.
func (p *TAPPolicy) UnmarshalJSON(b []byte) error {
	d := DefaultTAPPolicy
	j := tapPolicyJSON{
		MinLifetime: Duration(d.MinLifetime), MaxLifetime: Duration(d.MaxLifetime), DefaultLifetime: Duration(d.DefaultLifetime),
		Length: d.Length, OneTimeOnly: d.OneTimeOnly, MaxStartDelay: Duration(d.MaxStartDelay),
	}
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	*p = TAPPolicy{
		MinLifetime: time.Duration(j.MinLifetime), MaxLifetime: time.Duration(j.MaxLifetime), DefaultLifetime: time.Duration(j.DefaultLifetime),
		Length: j.Length, OneTimeOnly: j.OneTimeOnly, MaxStartDelay: time.Duration(j.MaxStartDelay),
	}
	return nil
}
