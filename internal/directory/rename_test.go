package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
)

func TestRenameGroup(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := &renames{}
	d := &directory.Service{Store: st, Now: time.Now, GroupRenamed: r.hook}
	actor := audit.CLI
	if _, err := d.CreateGroup(ctx, actor, "pilot", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateGroup(ctx, actor, "sales", ""); err != nil {
		t.Fatal(err)
	}
	alice, err := d.CreateUser(ctx, actor, directory.NewUser{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetMember(ctx, actor, "pilot", alice.Username, true); err != nil {
		t.Fatal(err)
	}

	g, err := d.RenameGroup(ctx, actor, "pilot", "  passkey-pilot ")
	if err != nil || g.Name != "passkey-pilot" {
		t.Fatalf("RenameGroup = %+v, %v", g, err)
	}
	if len(r.got) != 1 || r.got[0] != [2]string{"pilot", "passkey-pilot"} {
		t.Fatalf("hook saw %v", r.got)
	}
	if _, err := d.Group(ctx, "pilot"); !errors.Is(err, directory.ErrUnknownGroup) {
		t.Fatalf("old name still found: %v", err)
	}
	members, err := st.ListMembers(ctx, g.ID)
	if err != nil || len(members) != 1 || members[0].ID != alice.ID {
		t.Fatalf("members after rename = %v, %v", members, err)
	}

	// Bad input changes nothing and calls no hook.
	for _, tc := range []struct{ old, new string }{
		{"passkey-pilot", "sales"}, {"passkey-pilot", ""}, {"passkey-pilot", "a\x01"}, {"nope", "x"},
	} {
		if _, err := d.RenameGroup(ctx, actor, tc.old, tc.new); err == nil {
			t.Errorf("RenameGroup(%q, %q) succeeded", tc.old, tc.new)
		}
	}
	if len(r.got) != 1 {
		t.Fatalf("hook called for refused renames: %v", r.got)
	}

	// A hook that fails undoes the rename.
	r.fail = errors.New("policy store unavailable")
	if _, err := d.RenameGroup(ctx, actor, "passkey-pilot", "pilots"); !errors.Is(err, r.fail) {
		t.Fatalf("RenameGroup with failing hook = %v", err)
	}
	if _, err := d.Group(ctx, "passkey-pilot"); err != nil {
		t.Fatalf("rename not undone: %v", err)
	}
}
