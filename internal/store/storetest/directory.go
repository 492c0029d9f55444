package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var userTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		u := newUser("alice")
		u.Admin, u.Disabled = true, true
		ok(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		same(t, "GetUser", got, u)
		got, err = s.GetUserByUsername(ctx, "alice")
		ok(t, "GetUserByUsername", err)
		same(t, "GetUserByUsername", got, u)

		_, err = s.GetUser(ctx, store.NewID())
		wantErr(t, "GetUser(unknown)", err, store.ErrNotFound)
		_, err = s.GetUserByUsername(ctx, "bob")
		wantErr(t, "GetUserByUsername(unknown)", err, store.ErrNotFound)
	}},
	{"Uniqueness", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		noEmail1, noEmail2 := newUser("carol"), newUser("dave")
		noEmail1.Email, noEmail2.Email = "", ""
		ok(t, "CreateUser(no email)", s.CreateUser(ctx, noEmail1))
		ok(t, "CreateUser(second without email)", s.CreateUser(ctx, noEmail2))

		for _, tc := range []struct {
			name   string
			change func(u *store.User)
		}{
			{"same ID", func(u *store.User) { u.ID = alice.ID }},
			{"same username", func(u *store.User) { u.Username = "alice" }},
			{"same email", func(u *store.User) { u.Email = alice.Email }},
		} {
			u := newUser("bob")
			tc.change(&u)
			wantErr(t, "CreateUser("+tc.name+")", s.CreateUser(ctx, u), store.ErrConflict)
		}
		n, err := s.CountUsers(ctx, false)
		ok(t, "CountUsers", err)
		if n != 3 {
			t.Fatalf("CountUsers = %d after refused creates, want 3", n)
		}

		// Renaming onto a taken name or email is refused too.
		u := noEmail1
		u.Username = "alice"
		wantErr(t, "UpdateUser(taken username)", s.UpdateUser(ctx, u), store.ErrConflict)
		u = noEmail1
		u.Email = alice.Email
		wantErr(t, "UpdateUser(taken email)", s.UpdateUser(ctx, u), store.ErrConflict)
		got, err := s.GetUser(ctx, noEmail1.ID)
		ok(t, "GetUser", err)
		same(t, "user after refused updates", got, noEmail1)
	}},
	{"CaseKeptAsGiven", func(t *testing.T, s store.Store) {
		// Lower-casing is the caller's job; the store keeps and compares
		// exactly what it is given.
		ctx := context.Background()
		u := newUser("MiXed")
		u.Email = "MiXed@Example.COM"
		ok(t, "CreateUser", s.CreateUser(ctx, u))
		got, err := s.GetUserByUsername(ctx, "MiXed")
		ok(t, "GetUserByUsername", err)
		same(t, "GetUserByUsername", got, u)
		_, err = s.GetUserByUsername(ctx, "mixed")
		wantErr(t, "GetUserByUsername(other case)", err, store.ErrNotFound)
	}},
	{"ListOrderedByUsername", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		list, err := s.ListUsers(ctx)
		ok(t, "ListUsers(empty)", err)
		if len(list) != 0 {
			t.Fatalf("ListUsers on an empty store = %v", list)
		}
		var want []store.User
		for _, name := range []string{"mallory", "bob", "alice.b", "alice", "zed", "alice-a"} {
			mustUser(t, s, name)
		}
		for _, name := range []string{"alice", "alice-a", "alice.b", "bob", "mallory", "zed"} {
			u, err := s.GetUserByUsername(ctx, name)
			ok(t, "GetUserByUsername", err)
			want = append(want, u)
		}
		list, err = s.ListUsers(ctx)
		ok(t, "ListUsers", err)
		same(t, "ListUsers", list, want)
	}},
	{"Count", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for i, name := range []string{"a", "b", "c", "d", "e"} {
			u := newUser(name)
			u.Admin = i%2 == 0
			ok(t, "CreateUser", s.CreateUser(ctx, u))
		}
		for _, tc := range []struct {
			adminsOnly bool
			want       int
		}{{false, 5}, {true, 3}} {
			n, err := s.CountUsers(ctx, tc.adminsOnly)
			ok(t, "CountUsers", err)
			if n != tc.want {
				t.Errorf("CountUsers(adminsOnly=%v) = %d, want %d", tc.adminsOnly, n, tc.want)
			}
		}
	}},
	{"Update", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		u := mustUser(t, s, "alice")
		other := mustUser(t, s, "bob")
		changed := u
		changed.Username, changed.Email, changed.DisplayName = "alice2", "", "Alice Two"
		changed.Disabled, changed.Admin = true, true
		changed.UpdatedAt = at(time.Hour)
		ok(t, "UpdateUser", s.UpdateUser(ctx, changed))
		got, err := s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		same(t, "updated user", got, changed)
		_, err = s.GetUserByUsername(ctx, "alice")
		wantErr(t, "GetUserByUsername(old name)", err, store.ErrNotFound)

		// CreatedAt is not mutable.
		again := changed
		again.CreatedAt = at(48 * time.Hour)
		ok(t, "UpdateUser", s.UpdateUser(ctx, again))
		got, err = s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		same(t, "CreatedAt after update", got.CreatedAt, u.CreatedAt)

		got, err = s.GetUser(ctx, other.ID)
		ok(t, "GetUser(other)", err)
		same(t, "other user", got, other)

		missing := newUser("nobody")
		wantErr(t, "UpdateUser(unknown)", s.UpdateUser(ctx, missing), store.ErrNotFound)
	}},
	{"DeleteCascades", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		staff, admins := mustGroup(t, s, "staff"), mustGroup(t, s, "admins")
		for _, g := range []store.Group{staff, admins} {
			for _, u := range []store.User{alice, bob} {
				ok(t, "AddMember", s.AddMember(ctx, g.ID, u.ID))
			}
		}
		c1 := mustCredential(t, s, newCredential(alice.ID))
		c2 := mustCredential(t, s, newCredential(alice.ID))
		bobCred := mustCredential(t, s, newCredential(bob.ID))
		ok(t, "PutTAP", s.PutTAP(ctx, newTAP(alice.ID)))
		ok(t, "PutTAP", s.PutTAP(ctx, newTAP(bob.ID)))
		s1 := mustSession(t, s, newSession(alice.ID, c1.ID))
		s2 := mustSession(t, s, newSession(alice.ID, ""))
		bobSession := mustSession(t, s, newSession(bob.ID, bobCred.ID))
		signIn := store.SignInEvent{Time: at(0), UserID: alice.ID, Username: "alice", Method: "passkey", Result: store.ResultSuccess, CredentialID: c1.ID}
		_, err := s.AppendSignIn(ctx, signIn)
		ok(t, "AppendSignIn", err)
		_, err = s.AppendAudit(ctx, store.AuditEvent{Time: at(0), Actor: "cli", Action: "user.create", Target: alice.ID})
		ok(t, "AppendAudit", err)

		ok(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))

		_, err = s.GetUser(ctx, alice.ID)
		wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
		_, err = s.GetUserByUsername(ctx, "alice")
		wantErr(t, "GetUserByUsername(deleted)", err, store.ErrNotFound)
		for _, c := range []store.Credential{c1, c2} {
			_, err = s.GetCredential(ctx, c.ID)
			wantErr(t, "GetCredential(deleted user's)", err, store.ErrNotFound)
			_, err = s.GetCredentialByCredentialID(ctx, c.CredentialID)
			wantErr(t, "GetCredentialByCredentialID(deleted user's)", err, store.ErrNotFound)
		}
		creds, err := s.ListCredentials(ctx, alice.ID)
		ok(t, "ListCredentials", err)
		if len(creds) != 0 {
			t.Fatalf("ListCredentials(deleted user) = %v", creds)
		}
		_, err = s.GetTAP(ctx, alice.ID)
		wantErr(t, "GetTAP(deleted user's)", err, store.ErrNotFound)
		for _, ss := range []store.Session{s1, s2} {
			_, err = s.GetSession(ctx, ss.TokenHash)
			wantErr(t, "GetSession(deleted user's)", err, store.ErrNotFound)
		}
		groups, err := s.ListUserGroups(ctx, alice.ID)
		ok(t, "ListUserGroups", err)
		if len(groups) != 0 {
			t.Fatalf("ListUserGroups(deleted user) = %v", groups)
		}
		for _, g := range []store.Group{staff, admins} {
			members, err := s.ListMembers(ctx, g.ID)
			ok(t, "ListMembers", err)
			same(t, "members after delete", members, []store.User{bob})
		}

		// The records stay.
		signIns, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
		ok(t, "ListSignIns", err)
		if len(signIns) != 1 {
			t.Fatalf("sign-in records of a deleted user: %d, want 1", len(signIns))
		}
		audit, err := s.ListAudit(ctx, 0)
		ok(t, "ListAudit", err)
		if len(audit) != 1 {
			t.Fatalf("audit records after deleting a user: %d, want 1", len(audit))
		}

		// Bob is untouched.
		if _, err := s.GetCredential(ctx, bobCred.ID); err != nil {
			t.Fatalf("GetCredential(other user's): %v", err)
		}
		if _, err := s.GetTAP(ctx, bob.ID); err != nil {
			t.Fatalf("GetTAP(other user's): %v", err)
		}
		if _, err := s.GetSession(ctx, bobSession.TokenHash); err != nil {
			t.Fatalf("GetSession(other user's): %v", err)
		}

		// Names and credential IDs are free again.
		ok(t, "CreateUser(same name again)", s.CreateUser(ctx, newUser("alice")))
		c := newCredential(bob.ID)
		c.CredentialID = c1.CredentialID
		ok(t, "CreateCredential(freed credential ID)", s.CreateCredential(ctx, c))

		wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, alice.ID), store.ErrNotFound)
	}},
}

var groupTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		g := mustGroup(t, s, "Engineering")
		got, err := s.GetGroupByName(ctx, "Engineering")
		ok(t, "GetGroupByName", err)
		same(t, "GetGroupByName", got, g)
		_, err = s.GetGroupByName(ctx, "engineering")
		wantErr(t, "GetGroupByName(other case)", err, store.ErrNotFound)
		_, err = s.GetGroupByName(ctx, "Sales")
		wantErr(t, "GetGroupByName(unknown)", err, store.ErrNotFound)

		dupName := store.Group{ID: store.NewID(), Name: "Engineering", CreatedAt: at(0)}
		wantErr(t, "CreateGroup(same name)", s.CreateGroup(ctx, dupName), store.ErrConflict)
		dupID := store.Group{ID: g.ID, Name: "Sales", CreatedAt: at(0)}
		wantErr(t, "CreateGroup(same ID)", s.CreateGroup(ctx, dupID), store.ErrConflict)
	}},
	{"GetByIDAndRename", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		eng, sales := mustGroup(t, s, "eng"), mustGroup(t, s, "sales")
		ok(t, "AddMember", s.AddMember(ctx, eng.ID, alice.ID))
		got, err := s.GetGroup(ctx, eng.ID)
		ok(t, "GetGroup", err)
		same(t, "GetGroup", got, eng)
		_, err = s.GetGroup(ctx, store.NewID())
		wantErr(t, "GetGroup(unknown)", err, store.ErrNotFound)

		ok(t, "RenameGroup", s.RenameGroup(ctx, eng.ID, "engineering"))
		_, err = s.GetGroupByName(ctx, "eng")
		wantErr(t, "GetGroupByName(old name)", err, store.ErrNotFound)
		got, err = s.GetGroupByName(ctx, "engineering")
		ok(t, "GetGroupByName(new name)", err)
		eng.Name = "engineering"
		same(t, "renamed group", got, eng)
		members, err := s.ListMembers(ctx, eng.ID)
		ok(t, "ListMembers", err)
		same(t, "members after rename", members, []store.User{alice})

		wantErr(t, "RenameGroup(taken name)", s.RenameGroup(ctx, eng.ID, "sales"), store.ErrConflict)
		got, err = s.GetGroup(ctx, sales.ID)
		ok(t, "GetGroup(sales)", err)
		same(t, "group whose name was asked for", got, sales)
		wantErr(t, "RenameGroup(unknown)", s.RenameGroup(ctx, store.NewID(), "x"), store.ErrNotFound)
	}},
	{"ListOrderedByName", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		list, err := s.ListGroups(ctx)
		ok(t, "ListGroups(empty)", err)
		if len(list) != 0 {
			t.Fatalf("ListGroups on an empty store = %v", list)
		}
		byName := map[string]store.Group{}
		// Byte order, whatever the database's locale: upper case first.
		for _, name := range []string{"sales", "eng", "admins", "Zeta", "eng-oncall", "éclair"} {
			byName[name] = mustGroup(t, s, name)
		}
		list, err = s.ListGroups(ctx)
		ok(t, "ListGroups", err)
		want := []store.Group{byName["Zeta"], byName["admins"], byName["eng"], byName["eng-oncall"], byName["sales"], byName["éclair"]}
		same(t, "ListGroups", list, want)
	}},
	{"Membership", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		carol, alice, bob := mustUser(t, s, "carol"), mustUser(t, s, "alice"), mustUser(t, s, "bob")
		staff, admins, empty := mustGroup(t, s, "staff"), mustGroup(t, s, "admins"), mustGroup(t, s, "empty")
		for _, u := range []store.User{carol, alice, bob} {
			ok(t, "AddMember", s.AddMember(ctx, staff.ID, u.ID))
		}
		ok(t, "AddMember", s.AddMember(ctx, admins.ID, alice.ID))
		ok(t, "AddMember(again)", s.AddMember(ctx, admins.ID, alice.ID))

		members, err := s.ListMembers(ctx, staff.ID)
		ok(t, "ListMembers", err)
		same(t, "ListMembers(staff)", members, []store.User{alice, bob, carol})
		members, err = s.ListMembers(ctx, admins.ID)
		ok(t, "ListMembers", err)
		same(t, "ListMembers(admins)", members, []store.User{alice})
		members, err = s.ListMembers(ctx, empty.ID)
		ok(t, "ListMembers", err)
		same(t, "ListMembers(empty)", members, []store.User(nil))

		groups, err := s.ListUserGroups(ctx, alice.ID)
		ok(t, "ListUserGroups", err)
		same(t, "ListUserGroups(alice)", groups, []store.Group{admins, staff})

		ok(t, "RemoveMember", s.RemoveMember(ctx, staff.ID, alice.ID))
		ok(t, "RemoveMember(again)", s.RemoveMember(ctx, staff.ID, alice.ID))
		ok(t, "RemoveMember(never a member)", s.RemoveMember(ctx, empty.ID, alice.ID))
		groups, err = s.ListUserGroups(ctx, alice.ID)
		ok(t, "ListUserGroups", err)
		same(t, "ListUserGroups(alice) after removal", groups, []store.Group{admins})

		wantErr(t, "AddMember(unknown group)", s.AddMember(ctx, store.NewID(), alice.ID), store.ErrNotFound)
		wantErr(t, "AddMember(unknown user)", s.AddMember(ctx, staff.ID, store.NewID()), store.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		staff, admins := mustGroup(t, s, "staff"), mustGroup(t, s, "admins")
		ok(t, "AddMember", s.AddMember(ctx, staff.ID, alice.ID))
		ok(t, "AddMember", s.AddMember(ctx, admins.ID, alice.ID))

		ok(t, "DeleteGroup", s.DeleteGroup(ctx, staff.ID))
		_, err := s.GetGroupByName(ctx, "staff")
		wantErr(t, "GetGroupByName(deleted)", err, store.ErrNotFound)
		groups, err := s.ListUserGroups(ctx, alice.ID)
		ok(t, "ListUserGroups", err)
		same(t, "ListUserGroups after DeleteGroup", groups, []store.Group{admins})
		if _, err := s.GetUser(ctx, alice.ID); err != nil {
			t.Fatalf("GetUser(member of deleted group): %v", err)
		}
		wantErr(t, "DeleteGroup(again)", s.DeleteGroup(ctx, staff.ID), store.ErrNotFound)

		// The name is free again, and the new group starts empty.
		again := mustGroup(t, s, "staff")
		members, err := s.ListMembers(ctx, again.ID)
		ok(t, "ListMembers", err)
		if len(members) != 0 {
			t.Fatalf("ListMembers(recreated group) = %v", members)
		}
	}},
}
