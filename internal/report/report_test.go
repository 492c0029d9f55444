package report

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

var now = time.Date(2031, 3, 14, 15, 0, 0, 0, time.UTC)

func day(ago int) time.Time { return store.DayTime(store.DayNumber(now) - int64(ago)) }

// input: a pilot group with the scripted mix (no passkey, one synced, two
// device-bound, TAP only) and a second group not started.
func input() Input {
	return Input{
		Now:    now,
		Groups: []store.Group{{ID: "g1", Name: "pilot"}, {ID: "g2", Name: "sales"}},
		Users: []store.UserPasskeys{
			{UserID: "u1", Username: "nopasskey"},
			{UserID: "u2", Username: "synced", Passkeys: 1, Synced: 1, Models: 1},
			{UserID: "u3", Username: "twokeys", Passkeys: 2, DeviceBound: 2, SecurityKeys: 2, Models: 2},
			{UserID: "u4", Username: "taponly", HasTAP: true},
			{UserID: "u5", Username: "seller", Passkeys: 2, DeviceBound: 2, Models: 1},
		},
		Members: map[string][]string{"g1": {"u1", "u2", "u3", "u4"}, "g2": {"u5"}},
		SignIns: []store.SignInDay{
			{Day: day(0), Method: "passkey", Count: 3},
			{Day: day(0), Method: "tap", Count: 1},
			{Day: day(3), Method: "password+totp", Count: 2},
			{Day: day(20), Method: "passkey", Count: 4},
			{Day: day(40), Method: "passkey", Count: 100},
			{Day: day(0), GroupID: "g1", Method: "passkey", Count: 2},
		},
		Registrations: []store.RegistrationDay{{Day: day(1), Synced: 1, DeviceBound: 2}},
		ReportOnlyDays: []store.ReportOnlyDay{
			{Day: day(0), Policy: "Require passkeys", Outcome: "block", Count: 2},
			{Day: day(10), Policy: "Require passkeys", Outcome: "block", Count: 1},
		},
		ReportOnlyUsers: []store.ReportOnlyUser{
			{Policy: "Require passkeys", UserID: "u1", Outcome: "block", Count: 2, Last: now.Add(-time.Hour)},
			{Policy: "Require passkeys", UserID: "u4", Outcome: "block", Count: 1, Last: now.Add(-10 * 24 * time.Hour)},
			{Policy: "Require passkeys", UserID: "u2", Outcome: "block", Count: 1, Last: now.Add(-40 * 24 * time.Hour)},
		},
		Campaign: []store.CampaignUser{{UserID: "u1", Outcome: "shown"}, {UserID: "u1", Outcome: "snoozed"}, {UserID: "u2", Outcome: "registered"}},
		Policies: access.Document{Version: 3, Policies: []access.Policy{{
			Name: "Require passkeys", State: access.StateReportOnly,
			Users: access.Users{IncludeGroups: []string{"pilot"}},
			Grant: access.Grant{Strength: access.StrengthPhishingResistant},
		}}},
		CampaignConfig: methods.Campaign{Enabled: true, Scope: scope.Groups("pilot")},
	}
}

func TestBuildOverall(t *testing.T) {
	r, err := Build(input(), "")
	if err != nil {
		t.Fatal(err)
	}
	o := r.Overall
	if o.Users != 5 || o.NoPasskey != 2 || o.OnePasskey != 1 || o.TwoOrMore != 2 || o.TAPOnly != 1 {
		t.Errorf("passkey counts = %+v", o)
	}
	if o.WithSynced != 1 || o.WithDeviceBound != 2 || o.WithSecurityKey != 1 || o.SyncedPasskeys != 1 || o.DeviceBoundPasskeys != 4 {
		t.Errorf("kinds = %+v", o)
	}
	// nopasskey, synced (one), taponly, seller (two device-bound of one model).
	if o.AtRisk != 4 || strings.Join(o.AtRiskUsers, ",") != "nopasskey,seller,synced,taponly" {
		t.Errorf("at risk = %d %v", o.AtRisk, o.AtRiskUsers)
	}
	if o.Campaign != (Campaign{Shown: 1, Snoozed: 1, Registered: 1}) {
		t.Errorf("campaign = %+v", o.Campaign)
	}
	want := []Window{
		{Days: 1, Passkey: 3, TAP: 1, PasskeyShare: 0.75},
		{Days: 7, Passkey: 3, Password: 2, TAP: 1, PasskeyShare: 0.5},
		{Days: 30, Passkey: 7, Password: 2, TAP: 1, PasskeyShare: 0.7},
	}
	for i, w := range want {
		if o.SignIns[i] != w {
			t.Errorf("window %d = %+v, want %+v", w.Days, o.SignIns[i], w)
		}
	}
	if len(r.Days) != ChartDays || r.Days[ChartDays-1].Day != day(0) || r.Days[ChartDays-1].Passkey != 3 || r.Days[ChartDays-1].SignIns != 4 {
		t.Errorf("today in the chart = %+v", r.Days[ChartDays-1])
	}
	if d := r.Days[ChartDays-2]; d.SyncedRegistered != 1 || d.DeviceBoundRegistered != 2 {
		t.Errorf("yesterday's registrations = %+v", d)
	}
	p := r.Policies[0]
	if p.Blocked != 2 || strings.Join(p.BlockUsers, ",") != "nopasskey,taponly" ||
		p.Windows[0] != (PolicyWindow{Days: 1, Blocked: 2}) || p.Windows[2] != (PolicyWindow{Days: 30, Blocked: 3}) {
		t.Errorf("policy = %+v", p)
	}
}

func TestPhases(t *testing.T) {
	off := input()
	off.Policies.Policies[0].State = access.StateOff
	off.CampaignConfig.Enabled = false
	on := input()
	on.Policies.Policies[0].State = access.StateOn
	registration := input()
	registration.Policies.Policies = nil
	clean := input()
	clean.ReportOnlyUsers = nil
	clean.Users[0].Passkeys, clean.Users[0].Synced = 2, 2
	clean.Users[3].Passkeys, clean.Users[3].Synced = 2, 2
	for _, tc := range []struct {
		name  string
		in    Input
		phase Phase
		next  string
		move  string
	}{
		{"report-only with users blocked", input(), PhaseReportOnly,
			`2 users would be blocked (2 with no passkey yet); 2 users have no passkey yet. Help them register a passkey before switching "Require passkeys" on.`, "Require passkeys"},
		{"report-only and clean", clean, PhaseReportOnly,
			`Report-only recorded nothing that enforcement would block: ready to switch "Require passkeys" on.`, "Require passkeys"},
		{"enforced", on, PhaseEnforced, `Enforced by "Require passkeys". 2 users have no passkey yet and can sign in only with a temporary access pass.`, ""},
		{"registration", registration, PhaseRegistration, "2 of 4 members have no passkey yet (1 snoozed the prompt). When most have one, add a report-only policy for the group.", ""},
		{"not started", off, PhaseNotStarted, "2 of 4 members have no passkey: add the group to the registration campaign (pilot), or a report-only policy.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Build(tc.in, "pilot")
			if err != nil {
				t.Fatal(err)
			}
			g := r.Groups[0]
			if g.Phase != tc.phase || g.Next != tc.next || g.MovePolicy != tc.move {
				t.Errorf("got %q %q move %q\nwant %q %q move %q", g.Phase, g.Next, g.MovePolicy, tc.phase, tc.next, tc.move)
			}
			if r.Overall.Users != 4 {
				t.Errorf("a report for one group counts its members: %d", r.Overall.Users)
			}
		})
	}
}

func TestHighRiskAndFilter(t *testing.T) {
	r, err := Build(input(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Groups[0].HighRisk || r.Groups[1].HighRisk {
		t.Errorf("high risk: pilot %v, sales %v", r.Groups[0].HighRisk, r.Groups[1].HighRisk)
	}
	if r.Groups[1].Phase != PhaseNotStarted {
		t.Errorf("sales phase = %q", r.Groups[1].Phase)
	}
	s, err := Build(input(), "sales")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Groups) != 1 || len(s.Policies) != 0 || s.Overall.Users != 1 {
		t.Errorf("sales only: %+v", s)
	}
	_, err = Build(input(), "nobody")
	if p := problem.As(err); !errors.Is(err, ErrUnknownGroup) && p.Code != "unknown_group" {
		t.Errorf("unknown group: %v", err)
	}
}

func TestMethodClass(t *testing.T) {
	for in, want := range map[string]string{"passkey": "passkey", "password+totp": "password", "tap": "tap", "setup": "other", "": "other"} {
		if got := MethodClass(in); got != want {
			t.Errorf("MethodClass(%q) = %q, want %q", in, got, want)
		}
	}
}
