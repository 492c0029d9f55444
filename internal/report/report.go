// Package report builds the roll-out report: who has passkeys (none, one,
// two or more; synced or device-bound; security keys), who is at risk of
// lock-out, how far the registration campaign got, how people sign in,
// and where each group stands on the way from pilot through report-only
// to enforced Conditional Access.
//
// Build is a plain function over plain values (Input): no clock, no SQL.
// Gather fills an Input from the store's aggregate reads
// (store.ReportStore), which read small per-day counters rather than the
// sign-in log, so the report stays fast with a million sign-ins.
package report

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Windows are the periods sign-ins are counted over, in UTC calendar days
// ending today (1: today only).
var Windows = []int{1, 7, 30}

// ChartDays is how many days the charts show.
const ChartDays = 30

// MaxListed bounds the usernames a list in the report names; the counts
// are always complete.
const MaxListed = 50

// Input is everything the report is built from.
type Input struct {
	Now             time.Time
	Groups          []store.Group
	Users           []store.UserPasskeys
	Members         map[string][]string // group ID -> user IDs
	SignIns         []store.SignInDay
	Registrations   []store.RegistrationDay
	ReportOnlyDays  []store.ReportOnlyDay
	ReportOnlyUsers []store.ReportOnlyUser
	Campaign        []store.CampaignUser
	Policies        access.Document
	CampaignConfig  methods.Campaign
}

// Phase is where a group is in the roll-out.
type Phase string

// The phases, in order.
const (
	PhaseNotStarted   Phase = "not started"
	PhaseRegistration Phase = "registration"
	PhaseReportOnly   Phase = "report-only"
	PhaseEnforced     Phase = "enforced"
)

// Report is the roll-out report.
type Report struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Group       string         `json:"group,omitempty"` // the one group asked for, if any
	Overall     Stats          `json:"overall"`
	Groups      []GroupReport  `json:"groups"`
	Policies    []PolicyReport `json:"policies"`
	Days        []Day          `json:"days"`
}

// Stats are the numbers of a set of users.
type Stats struct {
	Users               int      `json:"users"`
	NoPasskey           int      `json:"no_passkey"`
	OnePasskey          int      `json:"one_passkey"`
	TwoOrMore           int      `json:"two_or_more"`
	WithSynced          int      `json:"with_synced"`
	WithDeviceBound     int      `json:"with_device_bound"`
	SyncedPasskeys      int      `json:"synced_passkeys"`
	DeviceBoundPasskeys int      `json:"device_bound_passkeys"`
	WithSecurityKey     int      `json:"with_security_key"`
	TAPOnly             int      `json:"tap_only"`
	AtRisk              int      `json:"at_risk"`
	AtRiskUsers         []string `json:"at_risk_users"` // at most MaxListed
	Campaign            Campaign `json:"campaign"`
	SignIns             []Window `json:"sign_ins"`
}

// Campaign is the registration campaign's progress: distinct users.
type Campaign struct {
	Shown      int `json:"shown"`
	Snoozed    int `json:"snoozed"`
	Registered int `json:"registered"`
}

// Window counts sign-ins by method over the last Days days.
type Window struct {
	Days         int     `json:"days"`
	Passkey      int     `json:"passkey"`
	Password     int     `json:"password"`
	TAP          int     `json:"tap"`
	Other        int     `json:"other"`
	PasskeyShare float64 `json:"passkey_share"` // 0..1 of all counted sign-ins
}

// GroupReport is one group's line.
type GroupReport struct {
	Name     string   `json:"name"`
	HighRisk bool     `json:"high_risk"` // a policy demands phishing-resistant MFA of it
	Stats    Stats    `json:"stats"`
	Phase    Phase    `json:"phase"`
	Policies []string `json:"policies"` // the policies that cover it (not off)
	// Next says what stands between the group and the next phase.
	Next string `json:"next"`
	// MovePolicy is the report-only policy scoped to the group (it names
	// the group) that moving the group forward switches on.
	MovePolicy  string   `json:"move_policy,omitempty"`
	WouldBlock  []string `json:"would_block"`   // users report-only would have blocked (30 days)
	WouldStepUp []string `json:"would_step_up"` // ... or asked for more
}

// PolicyReport is one Conditional Access policy's phase and what
// report-only recorded.
type PolicyReport struct {
	Name        string         `json:"name"`
	State       access.State   `json:"state"`
	Groups      []string       `json:"groups"` // included groups; empty with AllUsers
	AllUsers    bool           `json:"all_users"`
	Windows     []PolicyWindow `json:"windows"`
	BlockUsers  []string       `json:"would_block_users"`   // 30 days, at most MaxListed
	StepUpUsers []string       `json:"would_step_up_users"` // 30 days, at most MaxListed
	Blocked     int            `json:"would_block_user_count"`
	SteppedUp   int            `json:"would_step_up_user_count"`
}

// PolicyWindow counts what report-only recorded over the last Days days.
type PolicyWindow struct {
	Days    int `json:"days"`
	Blocked int `json:"would_block"`
	StepUp  int `json:"would_step_up"`
}

// Day is one day of the charts.
type Day struct {
	Day                   time.Time `json:"day"`
	SyncedRegistered      int       `json:"synced_registered"`
	DeviceBoundRegistered int       `json:"device_bound_registered"`
	Passkey               int       `json:"passkey_sign_ins"`
	SignIns               int       `json:"sign_ins"`
}

// PasskeyShare is the day's passkey share of sign-ins (0 without any).
func (d Day) PasskeyShare() float64 {
	if d.SignIns == 0 {
		return 0
	}
	return float64(d.Passkey) / float64(d.SignIns)
}

// ErrUnknownGroup: the report was asked for a group that does not exist.
var ErrUnknownGroup = problem.New(http.StatusNotFound, "unknown_group", "There is no group with that name.")

// MethodClass sorts a recorded method into passkey, password, tap or
// other by its first factor ("password+totp" is a password sign-in).
func MethodClass(method string) string {
	first, _, _ := strings.Cut(method, "+")
	switch first {
	case "passkey", "password", "tap":
		return first
	}
	return "other"
}

// AtRisk applies methods.LockoutRisk's rule to a summary: fewer than two
// passkeys, or only device-bound passkeys of a single model.
func AtRisk(u store.UserPasskeys) bool {
	return u.Passkeys < 2 || (u.DeviceBound == u.Passkeys && u.Models == 1)
}

// Build builds the report; group, when not empty, limits it to that group
// (and its policies).
func Build(in Input, group string) (Report, error) {
	today := store.DayNumber(in.Now)
	r := Report{GeneratedAt: in.Now.UTC(), Group: group}
	byID := make(map[string]store.UserPasskeys, len(in.Users))
	for _, u := range in.Users {
		byID[u.UserID] = u
	}
	campaign := map[string]map[string]bool{}
	for _, c := range in.Campaign {
		if campaign[c.Outcome] == nil {
			campaign[c.Outcome] = map[string]bool{}
		}
		campaign[c.Outcome][c.UserID] = true
	}
	groupName := map[string]string{}
	var groups []store.Group
	for _, g := range in.Groups {
		groupName[g.ID] = g.Name
		if group == "" || g.Name == group {
			groups = append(groups, g)
		}
	}
	if group != "" && len(groups) == 0 {
		return Report{}, ErrUnknownGroup.WithDetail("%q", group)
	}
	// Report-only outcomes per policy, over the last 30 days.
	since := in.Now.Add(-30 * 24 * time.Hour)
	blockedBy, stepUpBy := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, u := range in.ReportOnlyUsers {
		if u.Last.Before(since) {
			continue
		}
		m := blockedBy
		if u.Outcome == "step-up" {
			m = stepUpBy
		}
		if m[u.Policy] == nil {
			m[u.Policy] = map[string]bool{}
		}
		m[u.Policy][u.UserID] = true
	}
	signInDays := func(groupID string) []store.SignInDay {
		var out []store.SignInDay
		for _, d := range in.SignIns {
			if d.GroupID == groupID {
				out = append(out, d)
			}
		}
		return out
	}
	if group == "" {
		ids := make([]string, 0, len(in.Users))
		for _, u := range in.Users {
			ids = append(ids, u.UserID)
		}
		r.Overall = stats(ids, byID, campaign, signInDays(""), today)
	}
	for _, g := range groups {
		gr := GroupReport{Name: g.Name, Stats: stats(in.Members[g.ID], byID, campaign, signInDays(g.ID), today)}
		phaseOf(&gr, in, in.Members[g.ID], byID, blockedBy, stepUpBy)
		r.Groups = append(r.Groups, gr)
		if group != "" {
			r.Overall = gr.Stats
		}
	}
	for _, p := range in.Policies.Policies {
		if group != "" && !covers(p, group) {
			continue
		}
		pr := PolicyReport{Name: p.Name, State: p.State, Groups: p.Users.IncludeGroups, AllUsers: p.Users.All}
		for _, n := range Windows {
			w := PolicyWindow{Days: n}
			for _, d := range in.ReportOnlyDays {
				if d.Policy == p.Name && store.DayNumber(d.Day) > today-int64(n) {
					if d.Outcome == "block" {
						w.Blocked += d.Count
					} else {
						w.StepUp += d.Count
					}
				}
			}
			pr.Windows = append(pr.Windows, w)
		}
		pr.BlockUsers, pr.Blocked = names(blockedBy[p.Name], byID)
		pr.StepUpUsers, pr.SteppedUp = names(stepUpBy[p.Name], byID)
		r.Policies = append(r.Policies, pr)
	}
	r.Days = days(in, r, groupIDOf(groups, group), today)
	return r, nil
}

func groupIDOf(groups []store.Group, group string) string {
	if group == "" {
		return ""
	}
	return groups[0].ID
}

// names lists (sorted, at most MaxListed) the usernames of ids, and how
// many there are.
func names(ids map[string]bool, byID map[string]store.UserPasskeys) ([]string, int) {
	out := []string{}
	for id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, u.Username)
		} else {
			out = append(out, "(deleted user)")
		}
	}
	sort.Strings(out)
	n := len(out)
	if len(out) > MaxListed {
		out = out[:MaxListed]
	}
	return out, n
}

func stats(ids []string, byID map[string]store.UserPasskeys, campaign map[string]map[string]bool, signIns []store.SignInDay, today int64) Stats {
	s := Stats{AtRiskUsers: []string{}}
	var atRisk []string
	for _, id := range ids {
		u, ok := byID[id]
		if !ok {
			continue
		}
		s.Users++
		switch {
		case u.Passkeys == 0:
			s.NoPasskey++
			if u.HasTAP {
				s.TAPOnly++
			}
		case u.Passkeys == 1:
			s.OnePasskey++
		default:
			s.TwoOrMore++
		}
		if u.Synced > 0 {
			s.WithSynced++
		}
		if u.DeviceBound > 0 {
			s.WithDeviceBound++
		}
		if u.SecurityKeys > 0 {
			s.WithSecurityKey++
		}
		s.SyncedPasskeys += u.Synced
		s.DeviceBoundPasskeys += u.DeviceBound
		if AtRisk(u) {
			s.AtRisk++
			atRisk = append(atRisk, u.Username)
		}
		s.Campaign.Shown += b2i(campaign["shown"][id])
		s.Campaign.Snoozed += b2i(campaign["snoozed"][id])
		s.Campaign.Registered += b2i(campaign["registered"][id])
	}
	sort.Strings(atRisk)
	if len(atRisk) > MaxListed {
		atRisk = atRisk[:MaxListed]
	}
	s.AtRiskUsers = append(s.AtRiskUsers, atRisk...)
	for _, n := range Windows {
		w := Window{Days: n}
		for _, d := range signIns {
			if store.DayNumber(d.Day) <= today-int64(n) || store.DayNumber(d.Day) > today {
				continue
			}
			switch MethodClass(d.Method) {
			case "passkey":
				w.Passkey += d.Count
			case "password":
				w.Password += d.Count
			case "tap":
				w.TAP += d.Count
			default:
				w.Other += d.Count
			}
		}
		if total := w.Passkey + w.Password + w.TAP + w.Other; total > 0 {
			w.PasskeyShare = float64(w.Passkey) / float64(total)
		}
		s.SignIns = append(s.SignIns, w)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// demands reports whether a policy asks anything of a sign-in.
func demands(p access.Policy) bool {
	return p.Grant.Block || p.Grant.RequiredStrength() != ""
}

// covers reports whether p is about the members of group.
func covers(p access.Policy, group string) bool {
	if slices.Contains(p.Users.ExcludeGroups, group) {
		return false
	}
	return p.Users.All || slices.Contains(p.Users.IncludeGroups, group)
}

// highRisk: a policy that is not off demands phishing-resistant MFA of
// the group.
func highRisk(p access.Policy) bool {
	s := p.Grant.RequiredStrength()
	return p.State != access.StateOff && (s == access.StrengthPhishingResistant || s == access.StrengthPhishingResistantDeviceBound)
}

// phaseOf decides the group's phase and what stands before the next one.
func phaseOf(gr *GroupReport, in Input, members []string, byID map[string]store.UserPasskeys, blockedBy, stepUpBy map[string]map[string]bool) {
	gr.Policies = []string{}
	var on, reportOnly []string
	for _, p := range in.Policies.Policies {
		if p.State == access.StateOff || !covers(p, gr.Name) {
			continue
		}
		if highRisk(p) {
			gr.HighRisk = true
		}
		gr.Policies = append(gr.Policies, p.Name)
		if !demands(p) {
			continue
		}
		if p.State == access.StateOn {
			on = append(on, p.Name)
		} else {
			reportOnly = append(reportOnly, p.Name)
			if gr.MovePolicy == "" && slices.Contains(p.Users.IncludeGroups, gr.Name) {
				gr.MovePolicy = p.Name
			}
		}
	}
	blocked, stepUp := map[string]bool{}, map[string]bool{}
	noPasskeyBlocked := 0
	for _, id := range members {
		for _, p := range reportOnly {
			if blockedBy[p][id] && !blocked[id] {
				blocked[id] = true
				if byID[id].Passkeys == 0 {
					noPasskeyBlocked++
				}
			}
			if stepUpBy[p][id] {
				stepUp[id] = true
			}
		}
	}
	gr.WouldBlock, _ = names(blocked, byID)
	gr.WouldStepUp, _ = names(stepUp, byID)
	st := gr.Stats
	switch {
	case len(on) > 0:
		gr.Phase = PhaseEnforced
		gr.Next = fmt.Sprintf("Enforced by %s.", quoteList(on))
		if st.NoPasskey > 0 {
			gr.Next += fmt.Sprintf(" %s no passkey yet and can sign in only with a temporary access pass.", users(st.NoPasskey, "has", "have"))
		}
	case len(reportOnly) > 0:
		gr.Phase = PhaseReportOnly
		var parts []string
		if len(blocked) > 0 {
			parts = append(parts, fmt.Sprintf("%s would be blocked (%d with no passkey yet)", users(len(blocked), "", ""), noPasskeyBlocked))
		}
		if len(stepUp) > 0 {
			parts = append(parts, fmt.Sprintf("%s would need a stronger sign-in", users(len(stepUp), "", "")))
		}
		if st.NoPasskey > 0 {
			parts = append(parts, fmt.Sprintf("%s no passkey yet", users(st.NoPasskey, "has", "have")))
		}
		target := quoteList(reportOnly)
		if gr.MovePolicy != "" {
			target = fmt.Sprintf("%q", gr.MovePolicy)
		}
		if len(parts) == 0 {
			gr.Next = fmt.Sprintf("Report-only recorded nothing that enforcement would block: ready to switch %s on.", target)
		} else {
			gr.Next = strings.Join(parts, "; ") + fmt.Sprintf(". Help them register a passkey before switching %s on.", target)
		}
	case in.CampaignConfig.Enabled && in.CampaignConfig.Scope.Includes([]string{gr.Name}):
		gr.Phase = PhaseRegistration
		if st.NoPasskey > 0 {
			gr.Next = fmt.Sprintf("%d of %d members have no passkey yet (%d snoozed the prompt). When most have one, add a report-only policy for the group.",
				st.NoPasskey, st.Users, st.Campaign.Snoozed)
		} else {
			gr.Next = "Every member has a passkey: add a report-only policy for the group."
		}
	default:
		gr.Phase = PhaseNotStarted
		gr.Next = fmt.Sprintf("%d of %d members have no passkey: add the group to the registration campaign (pilot), or a report-only policy.", st.NoPasskey, st.Users)
	}
}

// users says "1 user has" / "3 users have" (verbs may be empty).
func users(n int, one, many string) string {
	s := fmt.Sprintf("%d users", n)
	verb := many
	if n == 1 {
		s, verb = "1 user", one
	}
	if verb != "" {
		s += " " + verb
	}
	return s
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// days fills the chart series: the last ChartDays days up to today.
func days(in Input, r Report, groupID string, today int64) []Day {
	out := make([]Day, ChartDays)
	first := today - ChartDays + 1
	for i := range out {
		out[i].Day = store.DayTime(first + int64(i))
	}
	for _, d := range in.Registrations {
		if i := store.DayNumber(d.Day) - first; i >= 0 && i < ChartDays {
			out[i].SyncedRegistered += d.Synced
			out[i].DeviceBoundRegistered += d.DeviceBound
		}
	}
	for _, d := range in.SignIns {
		if d.GroupID != groupID {
			continue
		}
		if i := store.DayNumber(d.Day) - first; i >= 0 && i < ChartDays {
			out[i].SignIns += d.Count
			if MethodClass(d.Method) == "passkey" {
				out[i].Passkey += d.Count
			}
		}
	}
	return out
}
