package methods

// The registration campaign: after a successful sign-in, a user in scope
// without a usable passkey is asked to register one, and may snooze the
// prompt a limited number of times.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Campaign settings bounds.
const (
	MaxSnoozeDays = 14
)

// Campaign is the registration campaign's settings.
type Campaign struct {
	Enabled bool        `json:"enabled"`
	Scope   scope.Scope `json:"scope"`
	// SnoozeDays is how long "Not now" hides the prompt: 0 to 14 days; 0
	// means until the next sign-in.
	SnoozeDays int `json:"snooze_days"`
	// SnoozesAllowed is how many times a user may snooze before the prompt
	// can no longer be dismissed.
	SnoozesAllowed int `json:"snoozes_allowed"`
}

// DefaultCampaign is off, for all users when turned on, one day per snooze,
// three snoozes.
func DefaultCampaign() Campaign {
	return Campaign{Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 3}
}

// Validate checks the settings.
func (c Campaign) Validate() error {
	if c.SnoozeDays < 0 || c.SnoozeDays > MaxSnoozeDays {
		return fmt.Errorf("snooze_days must be between 0 and %d, not %d", MaxSnoozeDays, c.SnoozeDays)
	}
	if c.SnoozesAllowed < 0 || c.SnoozesAllowed > 100 {
		return fmt.Errorf("snoozes_allowed must be between 0 and 100, not %d", c.SnoozesAllowed)
	}
	return c.Scope.Validate("registration campaign")
}

// SnoozeState is one user's history with the prompt.
type SnoozeState struct {
	Count int       `json:"count"` // snoozes used
	Until time.Time `json:"until"` // prompt hidden until then
}

// Prompt says what to show after a sign-in.
type Prompt struct {
	Show        bool
	CanSnooze   bool // false once the snoozes are used up: registration is required
	SnoozesLeft int
	Reason      string // for logs and what-if
}

// ShouldPrompt decides whether to show the registration prompt to a member
// of userGroups right after a successful sign-in.
func ShouldPrompt(c Campaign, userGroups []string, hasUsablePasskey bool, s SnoozeState, now time.Time) Prompt {
	if !c.Enabled {
		return Prompt{Reason: "the registration campaign is off"}
	}
	if ok, why := c.Scope.Match(userGroups); !ok {
		return Prompt{Reason: "not in the campaign: " + why}
	}
	if hasUsablePasskey {
		return Prompt{Reason: "the user has a usable passkey"}
	}
	if now.Before(s.Until) {
		return Prompt{Reason: "snoozed until " + s.Until.UTC().Format(time.RFC3339)}
	}
	left := max(c.SnoozesAllowed-s.Count, 0)
	p := Prompt{Show: true, CanSnooze: left > 0, SnoozesLeft: left, Reason: "in the campaign without a usable passkey"}
	if !p.CanSnooze {
		p.Reason += "; snoozes used up, registration required"
	}
	return p
}

// ErrNoSnoozesLeft: the user tried to snooze once more than allowed.
var ErrNoSnoozesLeft = errors.New("no snoozes left: registration is required")

// Snooze returns the state after the user chose "Not now" at now.
func Snooze(c Campaign, s SnoozeState, now time.Time) (SnoozeState, error) {
	if s.Count >= c.SnoozesAllowed {
		return s, ErrNoSnoozesLeft
	}
	s.Count++
	s.Until = now.Add(time.Duration(c.SnoozeDays) * 24 * time.Hour)
	return s, nil
}

// SnoozeIfPrompted decides a "Not now" from a member of userGroups at now:
// when the prompt would not show (campaign off, out of scope, a usable
// passkey, still snoozed) nothing changes and it reports false; otherwise it
// is Snooze. Deciding on the state as stored, not as the page saw it, makes
// a second "Not now" sent while the first is landing a no-op rather than a
// second snooze.
func SnoozeIfPrompted(c Campaign, userGroups []string, hasUsablePasskey bool, s SnoozeState, now time.Time) (SnoozeState, bool, error) {
	if !ShouldPrompt(c, userGroups, hasUsablePasskey, s, now).Show {
		return s, false, nil
	}
	next, err := Snooze(c, s, now)
	if err != nil {
		return s, false, err
	}
	return next, true, nil
}

// HasUsablePasskey reports whether any of the user's passkeys may sign in
// under the policy: a user whose only passkeys became non-compliant is
// prompted again.
func HasUsablePasskey(p Policy, userGroups []string, creds []store.Credential) bool {
	for _, c := range creds {
		if v := PasskeyAllowed(p, userGroups, passkey.FactsOf(c)); v.OK {
			return true
		}
	}
	return false
}

// Snoozes keeps users' snooze states in the store's settings.
type Snoozes struct {
	Store store.Store
}

func snoozeKey(userID string) string { return "campaign/snooze/" + userID }

// Get returns the user's state (zero when they never snoozed).
func (s *Snoozes) Get(ctx context.Context, userID string) (SnoozeState, error) {
	st, _, err := s.get(ctx, userID)
	return st, err
}

// get also returns the stored bytes (nil when nothing is stored), for the
// compare-and-set of a snooze.
func (s *Snoozes) get(ctx context.Context, userID string) (SnoozeState, []byte, error) {
	b, err := s.Store.GetSetting(ctx, snoozeKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return SnoozeState{}, nil, nil
	} else if err != nil {
		return SnoozeState{}, nil, err
	}
	var st SnoozeState
	if err := json.Unmarshal(b, &st); err != nil {
		// A damaged state only means the prompt shows again; the next
		// snooze replaces exactly these bytes.
		return SnoozeState{}, b, nil
	}
	return st, b, nil
}

// snoozeAttempts bounds how often a snooze that lost a race is decided
// again. Every lost race is another request's snooze landing, and while a
// snooze lasts a day or more the next request finds the prompt hidden and
// stops, so a second attempt settles it; only snooze_days 0 lets up to
// snoozes_allowed land in a burst.
const snoozeAttempts = 5

// ErrSnoozeBusy: the user's snooze state kept changing under a "Not now"
// (many sent at once); nothing was recorded for this one.
var ErrSnoozeBusy = problem.New(http.StatusConflict, "snooze_busy",
	"Your choice was not saved because it was being changed at the same moment. Try again.")

// Snooze records a "Not now" from userID at now as one atomic step: it
// reads the stored state, decides with SnoozeIfPrompted, and writes with a
// compare-and-set on the bytes it read, deciding again when another
// request (on any instance) wrote in between. So parallel requests cannot
// each count from the same old state and get more snoozes than c allows:
// once they are used up it is ErrNoSnoozesLeft, exactly as one request at a
// time. It returns the state now stored and whether this call snoozed
// (false, with no error, when the prompt does not apply).
func (s *Snoozes) Snooze(ctx context.Context, userID string, c Campaign, userGroups []string, hasUsablePasskey bool, now time.Time) (SnoozeState, bool, error) {
	for range snoozeAttempts {
		st, raw, err := s.get(ctx, userID)
		if err != nil {
			return SnoozeState{}, false, err
		}
		next, snoozed, err := SnoozeIfPrompted(c, userGroups, hasUsablePasskey, st, now)
		if err != nil || !snoozed {
			return st, false, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return st, false, err
		}
		err = s.Store.SwapSetting(ctx, snoozeKey(userID), raw, b)
		if errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return st, false, err
		}
		return next, true, nil
	}
	return SnoozeState{}, false, ErrSnoozeBusy.WithDetail("the snooze state of %s changed %d times during one snooze", userID, snoozeAttempts)
}
