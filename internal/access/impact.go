package access

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Recorded is one sign-in from the log, as report-only impact and replay
// need it.
type Recorded struct {
	ID   int64
	Time time.Time
	// User identifies the person, for counting distinct users (the user ID,
	// or the username when the record has none).
	User string
	// Context is the sign-in rebuilt from its record; group membership is
	// as of now, since the log does not keep it.
	Context Context
	// Results are the Conditional Access results recorded with the
	// sign-in; nil when it carries none (recorded before policies were
	// recorded), in which case impact re-evaluates it.
	Results []Result
}

// Window is a period of the sign-in log.
type Window struct {
	Name  string
	Since time.Time // inclusive
	Until time.Time // exclusive
}

// Contains reports whether t is in the window.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Since) && t.Before(w.Until)
}

// StandardWindows are the periods impact is shown for: the last 24 hours,
// 7 days and 30 days up to now.
func StandardWindows(now time.Time) []Window {
	return []Window{
		{Name: "24h", Since: now.Add(-24 * time.Hour), Until: now},
		{Name: "7d", Since: now.Add(-7 * 24 * time.Hour), Until: now},
		{Name: "30d", Since: now.Add(-30 * 24 * time.Hour), Until: now},
	}
}

// Impact is what one policy did, or would have done if enforced, to the
// sign-ins of a period.
type Impact struct {
	Policy string
	Window Window
	// SignIns and Users count the sign-ins the policy was evaluated on
	// (and their distinct users); Replayed is how many of them were
	// re-evaluated rather than read from their record.
	SignIns, Users int
	Replayed       int
	// Applied: the policy applied. Blocked: it would block (or blocked).
	// StepUp: it would require (or required) a stronger method or a fresh
	// sign-in.
	Applied, AppliedUsers int
	Blocked, BlockedUsers int
	StepUp, StepUpUsers   int
}

// Summary is the impact in one sentence.
func (i Impact) Summary() string {
	if i.SignIns == 0 {
		return "no sign-ins to evaluate in this period"
	}
	var parts []string
	if i.Blocked > 0 {
		parts = append(parts, fmt.Sprintf("would block %s of %s", count(i.Blocked, "sign-in"), count(i.BlockedUsers, "user")))
	}
	if i.StepUp > 0 {
		parts = append(parts, fmt.Sprintf("would require a step-up for %s of %s", count(i.StepUp, "sign-in"), count(i.StepUpUsers, "user")))
	}
	if len(parts) == 0 {
		parts = append(parts, "would change nothing")
	}
	return fmt.Sprintf("%s (applies to %s of %s; %s of %s evaluated)", strings.Join(parts, " and "),
		count(i.Applied, "sign-in"), count(i.AppliedUsers, "user"), count(i.SignIns, "sign-in"), count(i.Users, "user"))
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ImpactOf computes a policy's impact over the sign-ins in w from the
// results recorded with them; a record that carries no results at all is
// re-evaluated against set, and one whose results do not mention the
// policy (it did not exist yet) is left out.
func ImpactOf(set *Set, policy string, recs []Recorded, w Window) Impact {
	return impact(set, policy, recs, w, true)
}

// Replay computes what a policy would have done, had it been enforced, to
// the sign-ins in w, by evaluating it against each one's context: the
// answer to "what if I switch this draft on" before anyone is affected.
func Replay(set *Set, policy string, recs []Recorded, w Window) Impact {
	return impact(set, policy, recs, w, false)
}

func impact(set *Set, policy string, recs []Recorded, w Window, useRecorded bool) Impact {
	im := Impact{Policy: policy, Window: w}
	users := map[string]bool{}
	applied, blocked, stepUp := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range recs {
		rec := &recs[i]
		if !w.Contains(rec.Time) {
			continue
		}
		var r Result
		found := false
		if useRecorded && rec.Results != nil {
			for _, x := range rec.Results {
				if x.Policy == policy {
					r, found = x, true
					break
				}
			}
			if !found {
				continue
			}
		}
		if !found {
			if r, found = set.EvaluatePolicy(policy, rec.Context); !found {
				continue
			}
			im.Replayed++
		}
		im.SignIns++
		users[rec.User] = true
		switch r.Outcome {
		case OutcomeNotApplied:
			continue
		case OutcomeBlock:
			im.Blocked++
			blocked[rec.User] = true
		case OutcomeStepUp:
			im.StepUp++
			stepUp[rec.User] = true
		}
		im.Applied++
		applied[rec.User] = true
	}
	im.Users, im.AppliedUsers, im.BlockedUsers, im.StepUpUsers = len(users), len(applied), len(blocked), len(stepUp)
	return im
}

// MarshalResults is how a sign-in record keeps Conditional Access results:
// a JSON array of Result, every policy's outcome including report-only
// ones. Nil and empty give "" (no results recorded).
func MarshalResults(rs []Result) string {
	if len(rs) == 0 {
		return ""
	}
	b, err := json.Marshal(rs)
	if err != nil { // cannot happen: Result has only strings and bools
		return ""
	}
	return string(b)
}

// UnmarshalResults reads what MarshalResults wrote; "" reads as nil.
func UnmarshalResults(s string) ([]Result, error) {
	if s == "" {
		return nil, nil
	}
	var rs []Result
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		return nil, fmt.Errorf("damaged Conditional Access results: %w", err)
	}
	if rs == nil {
		rs = []Result{}
	}
	return rs, nil
}

// EventResults returns the Conditional Access results recorded with a
// sign-in (its Access field, written with MarshalResults), or nil when it
// carries none or they are damaged.
func EventResults(ev store.SignInEvent) []Result {
	rs, err := UnmarshalResults(ev.Access)
	if err != nil {
		return nil
	}
	return rs
}

// EventContext rebuilds as much of a sign-in's context as its record
// keeps: who, which app or action, from where (address and country), how
// (client type) and on what device, when. The caller adds what the log
// does not hold (groups, admin role, what the sign-in satisfied). The
// record is of an authentication ceremony, so it counts as fresh.
func EventContext(ev store.SignInEvent) Context {
	ip, _ := netip.ParseAddr(ev.IP)
	client := ClientType(ev.Client)
	if client != ClientLegacy {
		client = ClientBrowser
	}
	return Context{
		Username: ev.Username,
		App:      ev.App,
		Action:   ev.Action,
		IP:       ip.Unmap(),
		Country:  ev.Country,
		Client:   client,
		Device:   Device{BoundPasskey: ev.BoundPasskeyDevice, Trusted: ev.TrustedDevice},
		Now:      ev.Time,
		AuthTime: ev.Time,
		Fresh:    true,
	}
}

// BackChannel reports whether a record is of an app's server talking to
// Sesame (a token request) rather than of a person signing in: it names an
// app but no client type, which every sign-in Conditional Access saw
// records. Impact and replay leave such records out, since their address
// is the app server's.
func BackChannel(ev store.SignInEvent) bool {
	return ev.App != "" && ev.Client == ""
}
