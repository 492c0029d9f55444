package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestAdminRemovalIsChecked: disabling, demoting or deleting an enabled
// admin asks CheckAdminRemoval first, and its refusal changes nothing;
// removing a disabled admin, or an ordinary user, is not asked about; the
// last enabled admin is still refused with ErrLastAdmin.
func TestAdminRemovalIsChecked(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	lockout := problem.New(409, "admin_lockout", "no")
	var asked []string
	// alice is the only admin who can get in to the console.
	d := &directory.Service{Store: st, Now: time.Now, CheckAdminRemoval: func(_ context.Context, u store.User) error {
		asked = append(asked, u.Username)
		if u.Username == "alice" {
			return lockout
		}
		return nil
	}}
	for _, u := range []directory.NewUser{{Username: "alice", Admin: true}, {Username: "bob", Admin: true}, {Username: "carol", Admin: true}, {Username: "dave"}} {
		if _, err := d.CreateUser(ctx, audit.CLI, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.SetDisabled(ctx, audit.CLI, "alice", true); !errors.Is(err, lockout) {
		t.Fatalf("disable alice: %v", err)
	}
	if _, err := d.SetAdmin(ctx, audit.CLI, "alice", false); !errors.Is(err, lockout) {
		t.Fatalf("demote alice: %v", err)
	}
	if err := d.DeleteUser(ctx, audit.CLI, "alice"); !errors.Is(err, lockout) {
		t.Fatalf("delete alice: %v", err)
	}
	if u, err := d.User(ctx, "alice"); err != nil || u.Disabled || !u.Admin {
		t.Fatalf("alice after the refusals: %+v, %v", u, err)
	}
	evs, err := st.ListAudit(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Target == "alice" && e.Action != "user.create" {
			t.Errorf("a refusal was audited as a change: %+v", e)
		}
	}

	// bob can be disabled (the hook allows it); a disabled admin is not
	// asked about again when deleted; an ordinary user never is.
	asked = nil
	if _, err := d.SetDisabled(ctx, audit.CLI, "bob", true); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteUser(ctx, audit.CLI, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetDisabled(ctx, audit.CLI, "dave", true); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != "bob" {
		t.Errorf("asked about %v, want [bob]", asked)
	}

	// The last enabled admin: ErrLastAdmin, before the policies are asked.
	if _, err := d.SetAdmin(ctx, audit.CLI, "carol", false); err != nil {
		t.Fatal(err)
	}
	asked = nil
	if _, err := d.SetDisabled(ctx, audit.CLI, "alice", true); !errors.Is(err, directory.ErrLastAdmin) {
		t.Fatalf("disable the last admin: %v", err)
	}
	if len(asked) != 0 {
		t.Errorf("asked about %v for the last admin", asked)
	}
}
