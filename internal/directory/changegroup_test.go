package directory_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

func TestChangeGroup(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := &renames{}
	d := &directory.Service{Store: st, Now: time.Now, GroupRenamed: r.hook}
	a := audit.Actor("scim:hr")
	user := func(name string) store.User {
		u, err := d.CreateUser(ctx, a, directory.NewUser{Username: name})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	eng, err := d.CreateProvisionedGroup(ctx, a, "eng", "ext-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateProvisionedGroup(ctx, a, "sales", "ext-sales"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{alice, bob} {
		if err := d.SetMemberByID(ctx, a, eng.ID, u.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) *string { return &v }

	// want checks the stored group and its members.
	want := func(what string, name, ext string, members ...store.User) {
		t.Helper()
		g, err := st.GetGroup(ctx, eng.ID)
		if err != nil || g.Name != name || g.ExternalID != ext {
			t.Fatalf("%s: group %+v, %v; want name %q, external ID %q", what, g, err, name, ext)
		}
		list, err := st.ListMembers(ctx, eng.ID)
		var got, wantIDs []string
		for _, u := range list {
			got = append(got, u.Username)
		}
		for _, u := range members {
			wantIDs = append(wantIDs, u.Username)
		}
		slices.Sort(wantIDs)
		if err != nil || !slices.Equal(got, wantIDs) {
			t.Fatalf("%s: members %v, %v; want %v", what, got, err, wantIDs)
		}
	}
	auditCount := func() int {
		t.Helper()
		l, err := st.ListAudit(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}

	// Refusals change nothing, call no hook and write no audit record.
	before := auditCount()
	unknown := store.NewID()
	for _, tc := range []struct {
		name string
		id   string
		c    directory.GroupChange
		want error
	}{
		{"taken name", eng.ID, directory.GroupChange{Name: s("sales"), ExternalID: s("ext-2"), Add: []string{carol.ID}, Remove: []string{bob.ID}}, directory.ErrGroupExists},
		{"taken name and external ID", eng.ID, directory.GroupChange{Name: s("sales"), ExternalID: s("ext-sales")}, directory.ErrGroupExists},
		{"taken external ID", eng.ID, directory.GroupChange{Name: s("engineering"), ExternalID: s("ext-sales"), Add: []string{carol.ID}}, directory.ErrExternalIDTaken},
		{"unknown user added", eng.ID, directory.GroupChange{Name: s("engineering"), Add: []string{carol.ID, unknown}, Remove: []string{bob.ID}}, directory.ErrUnknownUser},
		{"unknown user removed", eng.ID, directory.GroupChange{Name: s("engineering"), Add: []string{carol.ID}, Remove: []string{unknown}}, directory.ErrUnknownUser},
		{"unknown group", unknown, directory.GroupChange{Name: s("engineering"), Add: []string{carol.ID}}, directory.ErrUnknownGroup},
	} {
		if _, err := d.ChangeGroup(ctx, a, tc.id, tc.c); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		want(tc.name, "eng", "ext-1", alice, bob)
	}
	for _, c := range []directory.GroupChange{
		{Name: s(""), Add: []string{carol.ID}},
		{Name: s("engineering"), ExternalID: s("bad\x01"), Add: []string{carol.ID}},
		{Name: s("engineering"), Add: []string{carol.ID}, Remove: []string{carol.ID}},
	} {
		if _, err := d.ChangeGroup(ctx, a, eng.ID, c); problem.As(err).Status != http.StatusBadRequest {
			t.Errorf("ChangeGroup(%+v): %v, want a bad request", c, err)
		}
		want("bad input", "eng", "ext-1", alice, bob)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.ChangeGroup(cancelled, a, eng.ID, directory.GroupChange{Name: s("engineering"), Add: []string{carol.ID}}); err == nil {
		t.Error("a cancelled change succeeded")
	}
	want("cancelled", "eng", "ext-1", alice, bob)

	// A failing rename hook undoes the whole change.
	r.fail = errors.New("policy store unavailable")
	if _, err := d.ChangeGroup(ctx, a, eng.ID, directory.GroupChange{Name: s("engineering"), ExternalID: s("ext-2"), Add: []string{carol.ID}, Remove: []string{bob.ID}}); !errors.Is(err, r.fail) {
		t.Fatalf("ChangeGroup with failing hook = %v", err)
	}
	want("failing hook", "eng", "ext-1", alice, bob)
	if len(r.got) != 0 || auditCount() != before {
		t.Fatalf("refused changes called the hook %v or wrote %d audit records", r.got, auditCount()-before)
	}
	r.fail = nil

	// The change stands whole, and the audit log reads as if made by the
	// separate operations.
	g, err := d.ChangeGroup(ctx, a, eng.ID, directory.GroupChange{
		Name: s(" engineering "), ExternalID: s("ext-2"), Add: []string{carol.ID, alice.ID}, Remove: []string{bob.ID},
	})
	if err != nil || g.ID != eng.ID || g.Name != "engineering" || g.ExternalID != "ext-2" {
		t.Fatalf("ChangeGroup = %+v, %v", g, err)
	}
	want("changed", "engineering", "ext-2", alice, carol)
	if len(r.got) != 1 || r.got[0] != [2]string{"eng", "engineering"} {
		t.Fatalf("hook saw %v", r.got)
	}
	events, err := st.ListAudit(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(events)
	var got [][3]string
	for _, e := range events {
		got = append(got, [3]string{e.Action, e.Target, e.Detail})
	}
	wantEvents := [][3]string{
		{"group.rename", "engineering", `{"after":"engineering","before":"eng"}`},
		{"group.set_external_id", "engineering", `{"after":"ext-2","before":"ext-1"}`},
		{"group.add_member", "engineering", `{"user":"carol"}`}, // alice was a member already
		{"group.remove_member", "engineering", `{"user":"bob"}`},
	}
	if !slices.Equal(got, wantEvents) || auditCount() != before+4 {
		t.Fatalf("audit records %v (%d new), want %v", got, auditCount()-before, wantEvents)
	}
	for _, e := range events {
		if e.Actor != string(a) {
			t.Errorf("audit record %s by %q, want %q", e.Action, e.Actor, a)
		}
	}

	// Nothing to change writes nothing.
	if _, err := d.ChangeGroup(ctx, a, eng.ID, directory.GroupChange{Name: s("engineering"), ExternalID: s("ext-2"), Add: []string{carol.ID}}); err != nil {
		t.Fatal(err)
	}
	if auditCount() != before+4 || len(r.got) != 1 {
		t.Errorf("a change to nothing wrote audit records or called the hook")
	}
}
