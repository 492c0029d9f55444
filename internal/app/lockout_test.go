package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// addPasskey gives a user a synced passkey (as a registration would store it).
func addPasskey(t *testing.T, a *app.App, u store.User, name string) store.Credential {
	t.Helper()
	c := store.Credential{
		ID: store.NewID(), UserID: u.ID, CredentialID: []byte("cred-" + name), PublicKey: []byte("key-" + name),
		Algorithm: -7, AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none",
		BackupEligible: true, BackupState: true, Name: name, CreatedAt: time.Now(),
	}
	if err := a.Store.CreateCredential(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAdminChangesCannotLockOutTheConsole: with the built-in "passkey for
// admins" policy on, alice is the only admin with a passkey; disabling,
// deleting or demoting her, or revoking her passkey, is refused
// (admin_lockout) and changes nothing, through the real wiring (directory
// and sign-in services, the admins' methods as the policy-save check
// builds them). Bob, without a passkey, can be removed; once bob has a
// passkey too, alice can be.
func TestAdminChangesCannotLockOutTheConsole(t *testing.T) {
	ctx := context.Background()
	a := openSQLite(t)
	mk := func(name string, admin bool) store.User {
		u, err := a.Dir.CreateUser(ctx, audit.CLI, directory.NewUser{Username: name, Admin: admin})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, bob := mk("alice", true), mk("bob", true)
	key := addPasskey(t, a, alice, "alice's key")

	// Report-only (as a new deployment starts): nothing is enforced on the
	// console, so the passkey can go and come back.
	if _, err := a.SignIn.RemovePasskey(ctx, audit.CLI, alice.ID, key.ID); err != nil {
		t.Fatalf("revoking with the policy in report-only: %v", err)
	}
	key = addPasskey(t, a, alice, "alice's key")
	if _, err := a.Access.SetState(ctx, audit.CLI, access.BuiltinAdminPolicy, access.StateOn); err != nil {
		t.Fatal(err)
	}

	refused := func(what string, err error) {
		t.Helper()
		if !access.IsAdminLockout(err) {
			t.Fatalf("%s: err = %v, want admin_lockout", what, err)
		}
	}
	_, err := a.Dir.SetDisabled(ctx, audit.CLI, "alice", true)
	refused("disabling alice", err)
	if msg := problem.As(err).Message; !strings.Contains(msg, "(bob)") {
		t.Errorf("the refusal does not say who would be left: %q", msg)
	}
	_, err = a.Dir.SetAdmin(ctx, audit.CLI, "alice", false)
	refused("demoting alice", err)
	refused("deleting alice", a.Dir.DeleteUser(ctx, audit.CLI, "alice"))
	_, err = a.SignIn.RemovePasskey(ctx, audit.Actor("alice"), alice.ID, key.ID)
	refused("alice revoking her own passkey", err)

	// Nothing changed.
	if u, err := a.Dir.User(ctx, "alice"); err != nil || u.Disabled || !u.Admin {
		t.Fatalf("alice after the refusals: %+v, %v", u, err)
	}
	if _, err := a.Store.GetCredential(ctx, key.ID); err != nil {
		t.Fatalf("alice's passkey after the refusal: %v", err)
	}

	// Bob cannot get in anyway: removing him takes nobody's access away.
	if _, err := a.Dir.SetDisabled(ctx, audit.CLI, "bob", true); err != nil {
		t.Fatalf("disabling bob: %v", err)
	}
	if _, err := a.Dir.SetDisabled(ctx, audit.CLI, "bob", false); err != nil {
		t.Fatal(err)
	}

	// With a passkey bob can get in, and alice may go.
	addPasskey(t, a, bob, "bob's key")
	if _, err := a.SignIn.RemovePasskey(ctx, audit.CLI, alice.ID, key.ID); err != nil {
		t.Fatalf("revoking alice's passkey while bob has one: %v", err)
	}
	if _, err := a.Dir.SetAdmin(ctx, audit.CLI, "alice", false); err != nil {
		t.Fatalf("demoting alice while bob can get in: %v", err)
	}
	// Bob is now the last admin: the older refusal still comes first.
	if _, err := a.Dir.SetDisabled(ctx, audit.CLI, "bob", true); !errors.Is(err, directory.ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v, want ErrLastAdmin", err)
	}
}
