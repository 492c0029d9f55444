package access

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
)

func TestAdminChangeLockout(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	passkey := func(s string) bool { return s != StrengthPhishingResistantDeviceBound }
	passOnly := func(string) bool { return false }

	console := AdminConsolePolicy()
	console.State = StateOn
	blockAllButBreakGlass := Policy{Name: "Block everything", State: StateOn, Users: Users{All: true, Exclude: []string{"breakglass"}},
		Apps: Apps{All: true}, Grant: Grant{Block: true}}
	blockConsole := Policy{Name: "Block console", State: StateOn, Users: Users{IncludeRoles: []string{RoleAdmin}},
		Apps: Apps{Include: []string{AppSesameAdmin}}, Grant: Grant{Block: true}}
	compile := func(ps ...Policy) *Set {
		s, err := Compile(Document{Policies: ps})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	disabled := func(a AdminMethods) AdminMethods { a.Disabled = true; return a }
	withoutPasskey := func(a AdminMethods) AdminMethods { a.Satisfies = passOnly; return a }

	alice := AdminMethods{Username: "alice", Satisfies: passkey}
	alice2 := AdminMethods{Username: "alice2", Satisfies: passkey}
	bob := AdminMethods{Username: "bob", Satisfies: passOnly}
	breakglass := AdminMethods{Username: "breakglass", Satisfies: passOnly}

	tests := []struct {
		name          string
		set           *Set
		before, after []AdminMethods
		want          bool
	}{
		{"disabling the only admin with a passkey, console policy on", compile(console),
			[]AdminMethods{alice, bob}, []AdminMethods{disabled(alice), bob}, true},
		{"disabling one of two admins with a passkey", compile(console),
			[]AdminMethods{alice, alice2, bob}, []AdminMethods{disabled(alice), alice2, bob}, false},
		{"disabling the admin without a passkey", compile(console),
			[]AdminMethods{alice, bob}, []AdminMethods{alice, disabled(bob)}, false},
		{"no enforced policy on the console: anyone left gets in", compile(AdminConsolePolicy()),
			[]AdminMethods{alice, bob}, []AdminMethods{disabled(alice), bob}, false},
		{"revoking the last passkey among admins", compile(console),
			[]AdminMethods{alice, bob}, []AdminMethods{withoutPasskey(alice), bob}, true},
		{"revoking a passkey while another admin keeps one", compile(console),
			[]AdminMethods{alice, alice2}, []AdminMethods{withoutPasskey(alice), alice2}, false},
		{"removing the break-glass account, everything else blocked", compile(blockAllButBreakGlass),
			[]AdminMethods{alice, breakglass}, []AdminMethods{alice, disabled(breakglass)}, true},
		{"removing an admin the policies keep out anyway", compile(blockAllButBreakGlass),
			[]AdminMethods{alice, breakglass}, []AdminMethods{disabled(alice), breakglass}, false},
		{"nobody gets in already: not made worse, not refused", compile(blockConsole),
			[]AdminMethods{alice, alice2}, []AdminMethods{disabled(alice), alice2}, false},
	}
	for _, tt := range tests {
		if got := AdminChangeLockout(tt.set, tt.before, tt.after, now); got != tt.want {
			t.Errorf("%s: AdminChangeLockout = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCheckAdminChange: the service reads the policies as stored (a policy
// switched on a moment ago counts), asks for the admins before and after
// the change, and refuses with the admin_lockout code and a detail naming
// who would be left.
func TestCheckAdminChange(t *testing.T) {
	ctx := context.Background()
	s := newService(directoryStore())
	passkey := func(string) bool { return true }
	none := func(string) bool { return false }
	// alice has a passkey, bob has none.
	admins := func(_ context.Context, ch AdminChange) ([]AdminMethods, error) {
		out := []AdminMethods{{Username: "alice", Satisfies: passkey}, {Username: "bob", Satisfies: none}}
		for i := range out {
			if out[i].Username == ch.Username {
				out[i].Disabled = out[i].Disabled || ch.Removed
				if ch.Passkey != "" {
					out[i].Satisfies = none
				}
			}
		}
		return out, nil
	}
	if err := s.CheckAdminChange(ctx, AdminChange{Username: "alice", Removed: true}); err != nil {
		t.Fatalf("without AdminsAfter nothing is checked: %v", err)
	}
	s.AdminsAfter = admins
	// The built-in policy is report-only: nothing is enforced on the console.
	if err := s.CheckAdminChange(ctx, AdminChange{Username: "alice", Removed: true}); err != nil {
		t.Fatalf("report-only policy: %v", err)
	}
	if _, err := s.SetState(ctx, audit.CLI, BuiltinAdminPolicy, StateOn); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []AdminChange{{Username: "alice", Removed: true}, {Username: "alice", Passkey: "k1"}} {
		err := s.CheckAdminChange(ctx, ch)
		if !IsAdminLockout(err) {
			t.Fatalf("%+v: err = %v, want admin_lockout", ch, err)
		}
		if p := problem.As(err); p.Status != 409 || !strings.HasPrefix(p.Message, "No other administrator could sign in to the admin console") {
			t.Errorf("%+v: %+v", ch, p)
		}
	}
	if p := problem.As(s.CheckAdminChange(ctx, AdminChange{Username: "alice", Removed: true})); !strings.Contains(p.Message, "(bob)") {
		t.Errorf("the refusal does not name who is left: %q", p.Message)
	}
	if err := s.CheckAdminChange(ctx, AdminChange{Username: "bob", Removed: true}); err != nil {
		t.Errorf("removing bob leaves alice: %v", err)
	}
	if IsAdminLockout(ErrStale) || !IsAdminLockout(ErrAdminLockout) {
		t.Error("IsAdminLockout")
	}
}
