package access

import (
	"slices"
	"testing"
	"time"
)

func TestConsoleAdminsAndLockout(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	passkey := func(s string) bool { return s != StrengthPhishingResistantDeviceBound } // a synced passkey
	bound := func(string) bool { return true }
	passOnly := func(string) bool { return false } // no registered method meets any strength
	mfaOnly := func(s string) bool { return s == StrengthMFA }

	console := AdminConsolePolicy()
	console.State = StateOn
	blockConsole := Policy{Name: "Block console", State: StateOn, Users: Users{IncludeRoles: []string{RoleAdmin}},
		Apps: Apps{Include: []string{AppSesameAdmin}}, Grant: Grant{Block: true}}
	blockAll := Policy{Name: "Block everything", State: StateOn, Users: Users{All: true}, Apps: Apps{All: true}, Grant: Grant{Block: true}}
	blockAllButBreakGlass := blockAll
	blockAllButBreakGlass.Users.Exclude = []string{"breakglass"}
	blockReportOnly := blockConsole
	blockReportOnly.State = StateReportOnly
	deviceBound := Policy{Name: "Device-bound keys", State: StateOn, Users: Users{IncludeRoles: []string{RoleAdmin}},
		Apps: Apps{All: true}, Grant: Grant{Strength: StrengthPhishingResistantDeviceBound}}
	office := Location{Name: "Office", Ranges: []string{"203.0.113.0/24"}, Trusted: true}
	outsideOffice := Policy{Name: "Block outside the office", State: StateOn, Users: Users{All: true}, Apps: Apps{All: true},
		Conditions: Conditions{Locations: IncludeExclude{Include: []string{LocationAny}, Exclude: []string{LocationTrusted}}}, Grant: Grant{Block: true}}
	myOnly := Policy{Name: "Passkey for /my", State: StateOn, Users: Users{All: true}, Apps: Apps{Include: []string{AppSesame}},
		Grant: Grant{Block: true}}

	alice := AdminMethods{Username: "alice", Satisfies: passkey}
	bob := AdminMethods{Username: "bob", Satisfies: passOnly}
	carol := AdminMethods{Username: "carol", Satisfies: bound, BoundPasskey: true}
	dave := AdminMethods{Username: "dave", Satisfies: mfaOnly}
	gone := AdminMethods{Username: "erin", Satisfies: bound, Disabled: true}
	breakglass := AdminMethods{Username: "breakglass", Satisfies: passOnly}

	tests := []struct {
		name   string
		doc    Document
		admins []AdminMethods
		want   []string
	}{
		{"no policies: every enabled admin", Document{}, []AdminMethods{alice, bob, gone}, []string{"alice", "bob"}},
		{"built-in policy in report-only", DefaultDocument(), []AdminMethods{alice, bob}, []string{"alice", "bob"}},
		{"built-in policy on: passkeys only", Document{Policies: []Policy{console}}, []AdminMethods{alice, bob, dave}, []string{"alice"}},
		{"console blocked", Document{Policies: []Policy{blockConsole}}, []AdminMethods{alice, carol}, nil},
		{"report-only block changes nothing", Document{Policies: []Policy{blockReportOnly}}, []AdminMethods{alice}, []string{"alice"}},
		{"everything blocked but the break-glass account", Document{Policies: []Policy{blockAllButBreakGlass}}, []AdminMethods{alice, breakglass}, []string{"breakglass"}},
		{"device-bound keys: only carol", Document{Policies: []Policy{deviceBound}}, []AdminMethods{alice, carol}, []string{"carol"}},
		{"blocked outside the office: from the office", Document{Locations: []Location{office}, Policies: []Policy{outsideOffice}}, []AdminMethods{bob}, []string{"bob"}},
		{"a /my policy is not about the console", Document{Policies: []Policy{myOnly}}, []AdminMethods{bob}, []string{"bob"}},
		{"disabled admins do not count", Document{}, []AdminMethods{gone}, nil},
	}
	for _, tt := range tests {
		set, err := Compile(tt.doc)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := ConsoleAdmins(set, tt.admins, now); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ConsoleAdmins = %v, want %v", tt.name, got, tt.want)
		}
	}

	compile := func(ps ...Policy) *Set {
		s, err := Compile(Document{Policies: ps})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	lockouts := []struct {
		name          string
		before, after *Set
		admins        []AdminMethods
		want          bool
	}{
		{"switching the built-in on while no admin has a passkey", compile(AdminConsolePolicy()), compile(console), []AdminMethods{bob, dave}, true},
		{"switching it on with one admin holding a passkey", compile(AdminConsolePolicy()), compile(console), []AdminMethods{alice, bob}, false},
		{"blocking the console", compile(), compile(blockConsole), []AdminMethods{alice}, true},
		{"blocking all but the break-glass account", compile(), compile(blockAllButBreakGlass), []AdminMethods{alice, breakglass}, false},
		{"a repair of policies that already lock everyone out", compile(blockConsole), compile(blockConsole, blockAll), []AdminMethods{alice}, false},
		{"no enabled admin at all", compile(), compile(blockConsole), []AdminMethods{gone}, false},
	}
	for _, tt := range lockouts {
		if got := AdminLockout(tt.before, tt.after, tt.admins, now); got != tt.want {
			t.Errorf("%s: AdminLockout = %v, want %v", tt.name, got, tt.want)
		}
	}
}
