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
	ErrTAPNotAllowed = problem.New(http.StatusForbidden, "tap_not_allowed",
		"Your organisation does not allow temporary access passes for your account. Ask your administrator.")
	ErrTooManyAttempts = problem.New(http.StatusTooManyRequests, "rate_limited",
		"Too many attempts. Wait 15 minutes and try again, or ask your administrator.")
	ErrTAPUserDisabled = problem.New(http.StatusForbidden, "user_disabled",
		"Your account is disabled. Contact your administrator.")
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
	// Policies, when set, is the source of truth: the stored methods
	// policy's TAP settings replace Policy at every issue, and a user the
	// TAP method does not apply to can neither be issued nor use a pass.
	Policies *Policies
}

// Issued is a freshly issued pass: Pass is shown once and never stored.
type Issued struct {
	Pass string
	TAP  store.TAP
}

// Issue creates a pass for the user, replacing any previous one.
func (t *TAPs) Issue(ctx context.Context, actor audit.Actor, u store.User, lifetime time.Duration, oneTime bool) (Issued, error) {
	return t.IssueWith(ctx, actor, u, TAPRequest{Lifetime: lifetime, OneTime: oneTime})
}

// IssueWith creates a pass as requested (lifetime, one-time, delayed
// start) within the policy, replacing any previous one. Issued.TAP says
// what was issued: with a one-time-only policy a pass is one-time even if
// multi-use was asked for.
func (t *TAPs) IssueWith(ctx context.Context, actor audit.Actor, u store.User, req TAPRequest) (Issued, error) {
	policy := t.Policy
	if t.Policies != nil {
		p, err := t.Policies.Load(ctx)
		if err != nil {
			return Issued{}, err
		}
		groups, err := GroupNames(ctx, t.Store, u.ID)
		if err != nil {
			return Issued{}, err
		}
		if ok, why := MethodAllowed(p, MethodTAP, groups); !ok {
			return Issued{}, ErrTAPNotAllowed.WithDetail("%s", why)
		}
		policy = p.TAP.Policy
	}
	now := t.Now()
	plan, err := policy.Plan(req, now)
	if err != nil {
		return Issued{}, problem.BadRequest(err.Error())
	}
	if u.Disabled {
		return Issued{}, problem.New(http.StatusConflict, "user_disabled", "This user is disabled; enable the user before issuing a temporary access pass.")
	}
	pass := GeneratePass(policy.Length)
	tap := store.TAP{
		UserID: u.ID, Hash: HashPass(t.Key, u.ID, pass), OneTime: plan.OneTime, CreatedBy: string(actor),
		CreatedAt: now, StartsAt: plan.StartsAt, ExpiresAt: plan.ExpiresAt,
	}
	if err := t.Store.PutTAP(ctx, tap); err != nil {
		return Issued{}, err
	}
	detail := map[string]any{"expires": tap.ExpiresAt.UTC().Format(time.RFC3339), "one_time": tap.OneTime}
	if tap.StartsAt.After(now) {
		detail["starts"] = tap.StartsAt.UTC().Format(time.RFC3339)
	}
	audit.Log(ctx, t.Store, now, actor, "tap.issue", u.Username, detail)
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
	// Refused only once the pass matched (a guesser learns nothing about the
	// account) and before it is used, so that a disabled user's attempt
	// changes nothing: a one-time pass is still there if the user is enabled
	// again.
	if u.Disabled {
		return tap, ErrTAPUserDisabled
	}
	if t.Policies != nil {
		// Checked only once the pass matched, so the answer reveals nothing
		// to someone guessing.
		p, err := t.Policies.Load(ctx)
		if err != nil {
			return tap, err
		}
		groups, err := GroupNames(ctx, t.Store, u.ID)
		if err != nil {
			return tap, err
		}
		if ok, why := MethodAllowed(p, MethodTAP, groups); !ok {
			return tap, ErrTAPNotAllowed.WithDetail("%s", why)
		}
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

// GroupNames lists the names of the groups a user belongs to: the form
// every policy decision (MethodAllowed, PasskeyAllowed, ShouldPrompt, ...)
// takes.
func GroupNames(ctx context.Context, st store.Store, userID string) ([]string, error) {
	groups, err := st.ListUserGroups(ctx, userID)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(groups))
	for _, g := range groups {
		names = append(names, g.Name)
	}
	return names, nil
}
