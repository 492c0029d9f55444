// Package methods holds the sign-in methods other than passkeys and the
// rules about them. This file: temporary access passes (TAPs).
package methods

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// TAPPolicy bounds what an admin may issue. Validate checks it; its JSON
// form (tappolicy.go) writes durations as "10m", "30d".
type TAPPolicy struct {
	MinLifetime     time.Duration
	MaxLifetime     time.Duration
	DefaultLifetime time.Duration
	Length          int
	// OneTimeOnly makes every pass one-time, whatever the issuer asks.
	OneTimeOnly bool
	// MaxStartDelay is how far in the future an issuer may set a pass's
	// start (delayed start, e.g. for a new hire's first day); 0 means
	// passes always start when issued.
	MaxStartDelay time.Duration
}

// DefaultTAPPolicy follows Entra ID's defaults: 10 minutes to 30 days, one
// hour unless the admin says otherwise, multi-use allowed.
var DefaultTAPPolicy = TAPPolicy{
	MinLifetime:     10 * time.Minute,
	MaxLifetime:     30 * 24 * time.Hour,
	DefaultLifetime: time.Hour,
	Length:          12,
	MaxStartDelay:   30 * 24 * time.Hour,
}

// Lifetime returns the lifetime to use for a requested one (zero means the
// default) or an error that names the allowed range.
func (p TAPPolicy) Lifetime(requested time.Duration) (time.Duration, error) {
	if requested == 0 {
		return p.DefaultLifetime, nil
	}
	if requested < p.MinLifetime || requested > p.MaxLifetime {
		return 0, fmt.Errorf("a temporary access pass must last between %s and %s, not %s",
			HumanDuration(p.MinLifetime), HumanDuration(p.MaxLifetime), HumanDuration(requested))
	}
	return requested, nil
}

// tapAlphabet leaves out characters people confuse when reading a pass
// aloud or copying it from a screen (0/O, 1/l/I).
const tapAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// GeneratePass returns a new random pass of n characters.
func GeneratePass(n int) string {
	// Rejection sampling keeps every character equally likely.
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	limit := byte(256 - 256%len(tapAlphabet))
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic("sesame: no randomness: " + err.Error())
		}
		for _, b := range buf {
			if b < limit && len(out) < n {
				out = append(out, tapAlphabet[int(b)%len(tapAlphabet)])
			}
		}
	}
	return string(out)
}

// NormalizePass forgives what people do when typing a pass: case, spaces
// and dashes (we may show it grouped).
func NormalizePass(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// HashPass is the keyed hash stored for a pass. The key (a server secret)
// makes a stolen database useless for guessing short passes offline; the
// user ID binds the hash to its owner.
func HashPass(key []byte, userID, pass string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sesame/tap/v1\x00"))
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(NormalizePass(pass)))
	return m.Sum(nil)
}

// TAPState says whether a stored pass can be used now, and if not why, in
// words for the user.
type TAPState int

const (
	TAPUsable TAPState = iota
	TAPNotStarted
	TAPExpired
	TAPUsed
)

// CheckTAP decides whether t can be used at now.
func CheckTAP(t store.TAP, now time.Time) TAPState {
	switch {
	case now.Before(t.StartsAt):
		return TAPNotStarted
	case !now.Before(t.ExpiresAt):
		return TAPExpired
	case t.OneTime && !t.UsedAt.IsZero():
		return TAPUsed
	}
	return TAPUsable
}

// MatchPass compares a typed pass with the stored hash in constant time.
func MatchPass(key []byte, t store.TAP, typed string) bool {
	return subtle.ConstantTimeCompare(HashPass(key, t.UserID, typed), t.Hash) == 1
}

// HumanDuration prints durations the way admins write them: 1h, 30m, 7d.
func HumanDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 24*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0 && d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// ParseDuration accepts Go durations plus a "d" suffix for days (7d, 1d12h).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		var days int
		if _, err := fmt.Sscanf(s[:i], "%d", &days); err != nil || days < 0 || fmt.Sprint(days) != s[:i] {
			return 0, fmt.Errorf("%q is not a duration such as 30m, 8h or 7d", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 8h or 7d", s)
	}
	return total + d, nil
}
