package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// ReportStore answers the aggregate questions of the roll-out report
// (package report) without reading the sign-in log record by record: a
// report over 100k users and a million sign-ins has to answer in well
// under a second, and a GROUP BY over the log does not. So AppendSignIn
// keeps small per-day counters up to date in the same transaction as the
// record, and these methods read them.
//
// What the counters count: a sign-in record is counted when it succeeded,
// names a user (UserID set) and is not a back-channel record (an App with
// no Client: an app's server redeeming a code). Days are UTC calendar
// days; a day is given as the time.Time of its midnight (UTC). The
// counters per group are kept by group ID, so renaming a group keeps its
// history; they count a user's groups as of the sign-in. Retention
// (DeleteSignInsBefore) drops the counters of the days wholly before the
// cutoff, and the report-only users last seen before it.
type ReportStore interface {
	// EachUserPasskeys calls fn once per user, in username order, with a
	// summary of the user's passkeys. An error from fn stops the walk and
	// is returned.
	EachUserPasskeys(ctx context.Context, fn func(UserPasskeys) error) error
	// EachMembership calls fn once per (group, user) membership.
	EachMembership(ctx context.Context, fn func(groupID, userID string) error) error
	// SignInDays returns the counted sign-ins of the days since the day of
	// since (inclusive), per day, group ("" for all users) and method,
	// ordered by day, group and method.
	SignInDays(ctx context.Context, since time.Time) ([]SignInDay, error)
	// RegistrationDays returns how many of the passkeys that exist now
	// were registered on each day since the day of since, ordered by day
	// (days with none are left out).
	RegistrationDays(ctx context.Context, since time.Time) ([]RegistrationDay, error)
	// ReportOnlyDays returns, per day since the day of since, policy and
	// outcome, how many counted sign-ins a report-only policy would have
	// blocked or stepped up (see ReportOnlyOutcomes), ordered by day,
	// policy and outcome.
	ReportOnlyDays(ctx context.Context, since time.Time) ([]ReportOnlyDay, error)
	// ReportOnlyUsers returns, per policy, user and outcome, how many
	// counted sign-ins a report-only policy would have blocked or stepped
	// up, and when last; only those last seen at or after since, ordered
	// by policy, user ID and outcome.
	ReportOnlyUsers(ctx context.Context, since time.Time) ([]ReportOnlyUser, error)
	// CampaignUsers returns which users reached which outcome of the
	// registration campaign ("shown", "snoozed", "registered"), from the
	// audit log's "campaign.<outcome>" records of existing users; each
	// (user, outcome) once, ordered by user ID and outcome.
	CampaignUsers(ctx context.Context) ([]CampaignUser, error)
}

// UserPasskeys is what the roll-out report knows of one user.
type UserPasskeys struct {
	UserID   string
	Username string
	Admin    bool
	Disabled bool
	HasTAP   bool // a temporary access pass is set (whatever its dates)
	// Passkeys counts the user's passkeys; Synced those backup-eligible,
	// DeviceBound the others; SecurityKeys the device-bound ones that
	// travel by USB, NFC or Bluetooth (FIDO2 hardware keys); Models the
	// distinct AAGUIDs among all of them, counted up to 2 (the lock-out
	// rule asks only whether they all share one).
	Passkeys, Synced, DeviceBound, SecurityKeys, Models int
}

// SignInDay is one counter of counted sign-ins.
type SignInDay struct {
	Day     time.Time
	GroupID string // "" for all users
	Method  string // as recorded, e.g. "passkey", "tap", "password+totp"
	Count   int
}

// RegistrationDay counts the passkeys registered on one day.
type RegistrationDay struct {
	Day                 time.Time
	Synced, DeviceBound int
}

// ReportOnlyDay counts what report-only policies recorded on one day.
type ReportOnlyDay struct {
	Day     time.Time
	Policy  string
	Outcome string // "block" or "step-up"
	Count   int
}

// ReportOnlyUser is what one report-only policy recorded for one user.
type ReportOnlyUser struct {
	Policy  string
	UserID  string
	Outcome string // "block" or "step-up"
	Count   int
	Last    time.Time
}

// CampaignUser is one user's outcome of the registration campaign.
type CampaignUser struct {
	UserID  string
	Outcome string
}

// PolicyOutcome is one report-only policy's outcome in a sign-in record.
type PolicyOutcome struct {
	Policy  string
	Outcome string
}

// ReportOnlyOutcomes reads from a sign-in record's Access field (the JSON
// array of Conditional Access results the access package writes, each
// with "policy", "state" and "outcome") the report-only policies that
// would have blocked the sign-in ("block") or demanded more ("step-up").
// Anything else, including a damaged value, gives none: the counters are
// a report, never a reason to refuse a sign-in record.
func ReportOnlyOutcomes(accessJSON string) []PolicyOutcome {
	if !strings.Contains(accessJSON, `"report-only"`) {
		return nil
	}
	var rs []struct {
		Policy  string `json:"policy"`
		State   string `json:"state"`
		Outcome string `json:"outcome"`
	}
	if json.Unmarshal([]byte(accessJSON), &rs) != nil {
		return nil
	}
	var out []PolicyOutcome
	for _, r := range rs {
		if r.State == "report-only" && r.Policy != "" && (r.Outcome == "block" || r.Outcome == "step-up") {
			out = append(out, PolicyOutcome{Policy: r.Policy, Outcome: r.Outcome})
		}
	}
	return out
}

// CountedSignIn says whether the report counters count a sign-in record.
func CountedSignIn(e SignInEvent) bool {
	return e.Result == ResultSuccess && e.UserID != "" && !(e.App != "" && e.Client == "")
}

// DayNumber is the UTC calendar day of t, counted from 1970-01-01 (the
// key the counters are stored under).
func DayNumber(t time.Time) int64 {
	ms := t.UnixMilli()
	d := ms / 86_400_000
	if ms < 0 && ms%86_400_000 != 0 {
		d--
	}
	return d
}

// DayTime is the midnight (UTC) of day number d.
func DayTime(d int64) time.Time {
	return time.UnixMilli(d * 86_400_000).UTC()
}
