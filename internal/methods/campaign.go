package methods

// The registration campaign: after a successful sign-in, a user in scope
// without a usable passkey is asked to register one, and may snooze the
// prompt a limited number of times.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
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
	b, err := s.Store.GetSetting(ctx, snoozeKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return SnoozeState{}, nil
	} else if err != nil {
		return SnoozeState{}, err
	}
	var st SnoozeState
	if err := json.Unmarshal(b, &st); err != nil {
		return SnoozeState{}, nil // a damaged state only means the prompt shows again
	}
	return st, nil
}

// Put stores the user's state.
func (s *Snoozes) Put(ctx context.Context, userID string, st SnoozeState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.Store.PutSetting(ctx, snoozeKey(userID), b)
}
