package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sesame-idp/sesame/internal/store"
)

// groupChangeTests check ChangeGroup: a group's rename, external ID and
// membership changed together or not at all.
var groupChangeTests = []test{
	{"AllTogether", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
		eng := mustGroup(t, s, "eng")
		ok(t, "SetGroupExternalID", s.SetGroupExternalID(ctx, eng.ID, "ext-1"))
		ok(t, "AddMember(alice)", s.AddMember(ctx, eng.ID, alice.ID))
		ok(t, "AddMember(bob)", s.AddMember(ctx, eng.ID, bob.ID))

		undo, err := s.ChangeGroup(ctx, eng.ID, store.GroupChange{
			Name: ptr("engineering"), ExternalID: ptr("ext-2"),
			Add: []string{carol.ID}, Remove: []string{bob.ID},
		})
		ok(t, "ChangeGroup", err)
		same(t, "undo", undo, store.GroupChange{Name: ptr("eng"), ExternalID: ptr("ext-1"), Add: []string{bob.ID}, Remove: []string{carol.ID}})
		eng.Name, eng.ExternalID = "engineering", "ext-2"
		wantGroup(t, s, eng, alice, carol)
		got, err := s.GetGroupByExternalID(ctx, "ext-2")
		ok(t, "GetGroupByExternalID", err)
		same(t, "GetGroupByExternalID", got, eng)

		// The undo puts everything back.
		redo, err := s.ChangeGroup(ctx, eng.ID, undo)
		ok(t, "ChangeGroup(undo)", err)
		same(t, "undo of the undo", redo, store.GroupChange{Name: ptr("engineering"), ExternalID: ptr("ext-2"), Add: []string{carol.ID}, Remove: []string{bob.ID}})
		eng.Name, eng.ExternalID = "eng", "ext-1"
		wantGroup(t, s, eng, alice, bob)

		// Clearing the external ID; an empty change changes nothing.
		undo, err = s.ChangeGroup(ctx, eng.ID, store.GroupChange{ExternalID: ptr("")})
		ok(t, "ChangeGroup(clear external ID)", err)
		same(t, "undo of clearing", undo, store.GroupChange{ExternalID: ptr("ext-1")})
		eng.ExternalID = ""
		wantGroup(t, s, eng, alice, bob)
		undo, err = s.ChangeGroup(ctx, eng.ID, store.GroupChange{})
		ok(t, "ChangeGroup(nothing)", err)
		same(t, "undo of nothing", undo, store.GroupChange{})
		wantGroup(t, s, eng, alice, bob)
	}},
	{"Idempotent", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
		eng := mustGroup(t, s, "eng")
		ok(t, "AddMember(alice)", s.AddMember(ctx, eng.ID, alice.ID))

		// alice is a member already, bob is not one; the name and external
		// ID asked for are those the group has. Only carol changes.
		undo, err := s.ChangeGroup(ctx, eng.ID, store.GroupChange{
			Name: ptr("eng"), ExternalID: ptr(""),
			Add: []string{alice.ID, carol.ID, carol.ID}, Remove: []string{bob.ID},
		})
		ok(t, "ChangeGroup", err)
		same(t, "undo", undo, store.GroupChange{Remove: []string{carol.ID}})
		wantGroup(t, s, eng, alice, carol)

		// Made twice, the second time changes nothing.
		ch := store.GroupChange{Add: []string{bob.ID}, Remove: []string{alice.ID}}
		_, err = s.ChangeGroup(ctx, eng.ID, ch)
		ok(t, "ChangeGroup(first)", err)
		undo, err = s.ChangeGroup(ctx, eng.ID, ch)
		ok(t, "ChangeGroup(again)", err)
		same(t, "undo of the repeat", undo, store.GroupChange{})
		wantGroup(t, s, eng, bob, carol)
	}},
	{"FailsAsAWhole", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
		eng, sales := mustGroup(t, s, "eng"), mustGroup(t, s, "sales")
		ok(t, "SetGroupExternalID(eng)", s.SetGroupExternalID(ctx, eng.ID, "ext-eng"))
		ok(t, "SetGroupExternalID(sales)", s.SetGroupExternalID(ctx, sales.ID, "ext-sales"))
		ok(t, "AddMember(alice)", s.AddMember(ctx, eng.ID, alice.ID))
		ok(t, "AddMember(bob)", s.AddMember(ctx, eng.ID, bob.ID))
		eng.ExternalID, sales.ExternalID = "ext-eng", "ext-sales"
		unknown := store.NewID()

		// Each change below does something before the step that fails,
		// so a store that applied steps one by one would leave a trace.
		for _, tc := range []struct {
			name string
			c    store.GroupChange
			want error
		}{
			{"taken name", store.GroupChange{
				Name: ptr("sales"), ExternalID: ptr("ext-new"), Add: []string{carol.ID}, Remove: []string{bob.ID},
			}, store.ErrConflict},
			{"taken external ID", store.GroupChange{
				Name: ptr("engineering"), ExternalID: ptr("ext-sales"), Add: []string{carol.ID}, Remove: []string{bob.ID},
			}, store.ErrConflict},
			{"unknown user added", store.GroupChange{
				Name: ptr("engineering"), ExternalID: ptr("ext-new"), Add: []string{carol.ID, unknown}, Remove: []string{bob.ID},
			}, store.ErrNotFound},
			{"unknown user removed", store.GroupChange{
				Name: ptr("engineering"), ExternalID: ptr("ext-new"), Add: []string{carol.ID}, Remove: []string{bob.ID, unknown},
			}, store.ErrNotFound},
		} {
			undo, err := s.ChangeGroup(ctx, eng.ID, tc.c)
			wantErr(t, "ChangeGroup("+tc.name+")", err, tc.want)
			same(t, "undo after "+tc.name, undo, store.GroupChange{})
			wantGroup(t, s, eng, alice, bob)
			wantGroup(t, s, sales)
		}

		_, err := s.ChangeGroup(ctx, unknown, store.GroupChange{Name: ptr("x"), Add: []string{carol.ID}})
		wantErr(t, "ChangeGroup(unknown group)", err, store.ErrNotFound)
		_, err = s.GetGroupByName(ctx, "x")
		wantErr(t, "GetGroupByName(name of the unknown group's change)", err, store.ErrNotFound)
		groups, err := s.ListUserGroups(ctx, carol.ID)
		ok(t, "ListUserGroups(carol)", err)
		same(t, "carol's groups", groups, []store.Group(nil))
	}},
	{"Cancelled", func(t *testing.T, s store.Store) {
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		eng := mustGroup(t, s, "eng")
		ok(t, "AddMember(alice)", s.AddMember(context.Background(), eng.ID, alice.ID))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.ChangeGroup(ctx, eng.ID, store.GroupChange{Name: ptr("engineering"), Add: []string{bob.ID}, Remove: []string{alice.ID}})
		if err == nil {
			t.Fatal("ChangeGroup with a cancelled context succeeded")
		}
		wantGroup(t, s, eng, alice)
	}},
	{"RaceForOneName", func(t *testing.T, s store.Store) {
		// Groups race to take one name, each adding its own member with
		// it: exactly one wins, and no loser keeps its new member.
		ctx := context.Background()
		groups := make([]store.Group, racers)
		users := make([]store.User, racers)
		for i := range racers {
			groups[i] = mustGroup(t, s, "g"+itoa(i))
			users[i] = mustUser(t, s, "u"+itoa(i))
		}
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.ChangeGroup(ctx, groups[i].ID, store.GroupChange{Name: ptr("winner"), Add: []string{users[i].ID}})
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			g := groups[i]
			switch {
			case err == nil:
				won++
				g.Name = "winner"
				wantGroup(t, s, g, users[i])
			case errors.Is(err, store.ErrConflict):
				wantGroup(t, s, g)
			default:
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d racers took the name, want 1", won)
		}
	}},
	{"RaceOnOneGroup", func(t *testing.T, s store.Store) {
		// Changes to one group at once each make their own part, and each
		// one's undo names exactly what it did.
		ctx := context.Background()
		eng := mustGroup(t, s, "eng")
		users := make([]store.User, racers)
		for i := range racers {
			users[i] = mustUser(t, s, "u"+itoa(i))
		}
		undos := make([]store.GroupChange, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Everyone also adds users[0]: only one of them made it a member.
				undos[i], errs[i] = s.ChangeGroup(ctx, eng.ID, store.GroupChange{Add: []string{users[0].ID, users[i].ID}})
			}()
		}
		wg.Wait()
		added := map[string]int{}
		for i, err := range errs {
			ok(t, "ChangeGroup(racer "+itoa(i)+")", err)
			for _, id := range undos[i].Remove {
				added[id]++
			}
		}
		for _, u := range users {
			if added[u.ID] != 1 {
				t.Fatalf("%s reported added %d times, want once", u.Username, added[u.ID])
			}
		}
		wantGroup(t, s, eng, users...)
	}},
}

func ptr(s string) *string { return &s }

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// wantGroup fails the test unless the stored group is g with exactly these
// members.
func wantGroup(t *testing.T, s store.Store, g store.Group, members ...store.User) {
	t.Helper()
	ctx := context.Background()
	got, err := s.GetGroup(ctx, g.ID)
	ok(t, "GetGroup("+g.Name+")", err)
	same(t, "group "+g.Name, got, g)
	list, err := s.ListMembers(ctx, g.ID)
	ok(t, "ListMembers("+g.Name+")", err)
	want := map[string]bool{}
	for _, u := range members {
		want[u.ID] = true
	}
	if len(list) != len(want) {
		t.Fatalf("group %s has %d members, want %d: %v", g.Name, len(list), len(want), list)
	}
	for _, u := range list {
		if !want[u.ID] {
			t.Fatalf("group %s has member %s, want only %v", g.Name, u.Username, members)
		}
	}
}
