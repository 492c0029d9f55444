package directory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
)

func TestProvisioning(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	d := &directory.Service{Store: st, Now: time.Now}
	a := audit.Actor("scim:hr")
	alice, err := d.CreateUser(ctx, a, directory.NewUser{Username: "alice", ExternalID: " HR-1 "})
	if err != nil || alice.ExternalID != "HR-1" {
		t.Fatalf("CreateUser: %+v %v", alice, err)
	}
	bob, err := d.CreateUser(ctx, a, directory.NewUser{Username: "bob", Email: "bob@example.com", ExternalID: "HR-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, a, directory.NewUser{Username: "carol", ExternalID: "bad\x01id"}); err == nil {
		t.Error("an external ID with a control character was accepted")
	}

	u, err := d.UpdateProfile(ctx, a, alice.ID, directory.Profile{Username: "Alice.L", Email: "Alice@Example.com", ExternalID: "HR-1b"})
	if err != nil || u.Username != "alice.l" || u.Email != "alice@example.com" || u.DisplayName != "alice.l" || u.ExternalID != "HR-1b" {
		t.Fatalf("UpdateProfile: %+v %v", u, err)
	}
	for _, tc := range []struct {
		name string
		p    directory.Profile
		want error
	}{
		{"taken username", directory.Profile{Username: "bob"}, directory.ErrUserExists},
		{"taken email", directory.Profile{Username: "alice.l", Email: "bob@example.com"}, directory.ErrUserExists},
		{"taken external ID", directory.Profile{Username: "alice.l", ExternalID: "HR-2"}, directory.ErrExternalIDTaken},
	} {
		if _, err := d.UpdateProfile(ctx, a, alice.ID, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, _ := d.UserByID(ctx, alice.ID); got.Username != u.Username || got.Email != u.Email || got.ExternalID != u.ExternalID || !got.UpdatedAt.Equal(u.UpdatedAt.Truncate(time.Millisecond)) {
		t.Errorf("refused updates changed the user: %+v", got)
	}

	g, err := d.CreateProvisionedGroup(ctx, a, "staff", "dept-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateProvisionedGroup(ctx, a, "other", "dept-1"); !errors.Is(err, directory.ErrExternalIDTaken) {
		t.Errorf("second group with dept-1: %v", err)
	}
	if err := d.SetMemberByID(ctx, a, g.ID, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMemberByID(ctx, a, g.ID, "nobody", true); !errors.Is(err, directory.ErrUnknownUser) {
		t.Errorf("unknown member: %v", err)
	}
	if g, err = d.SetGroupExternalID(ctx, a, g.ID, "dept-2"); err != nil || g.ExternalID != "dept-2" {
		t.Errorf("SetGroupExternalID: %+v %v", g, err)
	}
	ms, _ := st.ListMembers(ctx, g.ID)
	if len(ms) != 1 || ms[0].ID != bob.ID {
		t.Errorf("members %+v", ms)
	}
}
