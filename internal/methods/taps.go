package methods

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Refusals when a pass is typed. Until the pass itself matches, every
// failure reads the same, so a guesser learns nothing about which accounts
// exist or have a pass.
var (
	ErrTAPInvalid = problem.New(http.StatusUnauthorized, "tap_invalid",
		"That username and temporary access pass do not match. Check both and try again.")
	ErrTAPExpired = problem.New(http.StatusUnauthorized, "tap_expired",
		"This temporary access pass has expired. Ask your administrator for a new one.")
	ErrTAPUsed = problem.New(http.StatusUnauthorized, "tap_used",
		"This temporary access pass could be used only once and has been used. Ask your administrator for a new one.")
	ErrTAPNotStarted = problem.New(http.StatusUnauthorized, "tap_not_started",
		"This temporary access pass is not valid yet. Try again later.")
	ErrTooManyAttempts = problem.New(http.StatusTooManyRequests, "rate_limited",
		"Too many attempts. Wait 15 minutes and try again, or ask your administrator.")
)

// TAPAttemptWindow and TAPAttemptLimit bound how many passes can be tried
// for one account (and from one address) before further tries are refused.
const (
	TAPAttemptWindow = 15 * time.Minute
	TAPAttemptLimit  = 5
	tapIPLimit       = 30
)

// TAPs issues and checks temporary access passes.
type TAPs struct {
	Store  store.Store
	Key    []byte // server secret the pass hashes are keyed with
	Policy TAPPolicy
	Now    func() time.Time
}

// Issued is a freshly issued pass: Pass is shown once and never stored.
type Issued struct {
	Pass string
	TAP  store.TAP
}

// Issue creates a pass for the user, replacing any previous one.
func (t *TAPs) Issue(ctx context.Context, actor audit.Actor, u store.User, lifetime time.Duration, oneTime bool) (Issued, error) {
	life, err := t.Policy.Lifetime(lifetime)
	if err != nil {
		return Issued{}, problem.BadRequest(err.Error())
	}
	if u.Disabled {
		return Issued{}, problem.New(http.StatusConflict, "user_disabled", "This user is disabled; enable the user before issuing a temporary access pass.")
	}
	now := t.Now()
	pass := GeneratePass(t.Policy.Length)
	tap := store.TAP{
		UserID: u.ID, Hash: HashPass(t.Key, u.ID, pass), OneTime: oneTime, CreatedBy: string(actor),
		CreatedAt: now, StartsAt: now, ExpiresAt: now.Add(life),
	}
	if err := t.Store.PutTAP(ctx, tap); err != nil {
		return Issued{}, err
	}
	audit.Log(ctx, t.Store, now, actor, "tap.issue", u.Username, map[string]any{"expires": tap.ExpiresAt.UTC().Format(time.RFC3339), "one_time": oneTime})
	return Issued{Pass: pass, TAP: tap}, nil
}

// Verify checks a typed pass for user u (nil when the username is unknown)
// and consumes it when it is one-time. Attempts are counted per account and
// per address before anything is checked, atomically in the store, so
// parallel guesses cannot exceed the limit.
func (t *TAPs) Verify(ctx context.Context, username string, u *store.User, typed, ip string) (store.TAP, error) {
	now := t.Now()
	n, err := t.Store.CountHit(ctx, "tap:user:"+username, TAPAttemptWindow, now)
	if err != nil {
		return store.TAP{}, err
	}
	m, err := t.Store.CountHit(ctx, "tap:ip:"+ip, TAPAttemptWindow, now)
	if err != nil {
		return store.TAP{}, err
	}
	if n > TAPAttemptLimit || m > tapIPLimit {
		return store.TAP{}, ErrTooManyAttempts.WithDetail("attempt %d for user, %d for address", n, m)
	}
	if u == nil {
		return store.TAP{}, ErrTAPInvalid.WithDetail("unknown user")
	}
	tap, err := t.Store.GetTAP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.TAP{}, ErrTAPInvalid.WithDetail("user has no pass")
	} else if err != nil {
		return store.TAP{}, err
	}
	if !MatchPass(t.Key, tap, typed) {
		return store.TAP{}, ErrTAPInvalid.WithDetail("wrong pass")
	}
	switch CheckTAP(tap, now) {
	case TAPExpired:
		return tap, ErrTAPExpired
	case TAPUsed:
		return tap, ErrTAPUsed
	case TAPNotStarted:
		return tap, ErrTAPNotStarted
	}
	used, err := t.Store.UseTAP(ctx, u.ID, tap.Hash, now)
	if errors.Is(err, store.ErrNotFound) {
		// Lost a race with another use of the same one-time pass.
		return tap, ErrTAPUsed
	} else if err != nil {
		return tap, err
	}
	_ = t.Store.ResetHits(ctx, "tap:user:"+username)
	return used, nil
}
