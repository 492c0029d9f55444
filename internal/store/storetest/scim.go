package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// scimTests: external IDs of users and groups (what a provisioning client
// knows them by) and the provisioning clients' bearer tokens.
var scimTests = []test{
	{"UserExternalID", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		u := newUser("alice")
		u.ExternalID = "HR-0001"
		ok(t, "CreateUser", s.CreateUser(ctx, u))
		plain := mustUser(t, s, "bob") // no external ID
		got, err := s.GetUserByExternalID(ctx, "HR-0001")
		ok(t, "GetUserByExternalID", err)
		same(t, "GetUserByExternalID", got, u)
		got, err = s.GetUser(ctx, u.ID)
		ok(t, "GetUser", err)
		same(t, "GetUser", got, u)

		_, err = s.GetUserByExternalID(ctx, "hr-0001")
		wantErr(t, "GetUserByExternalID(other case)", err, store.ErrNotFound)
		_, err = s.GetUserByExternalID(ctx, "")
		wantErr(t, "GetUserByExternalID(empty)", err, store.ErrNotFound)

		// Unique when set; any number of users have none.
		dup := newUser("carol")
		dup.ExternalID = "HR-0001"
		wantErr(t, "CreateUser(taken external ID)", s.CreateUser(ctx, dup), store.ErrConflict)
		mustUser(t, s, "dave")
		taken := plain
		taken.ExternalID = "HR-0001"
		wantErr(t, "UpdateUser(taken external ID)", s.UpdateUser(ctx, taken), store.ErrConflict)

		// UpdateUser changes it, and the old one no longer finds the user.
		u.ExternalID, u.UpdatedAt = "HR-0002", at(time.Minute)
		ok(t, "UpdateUser", s.UpdateUser(ctx, u))
		_, err = s.GetUserByExternalID(ctx, "HR-0001")
		wantErr(t, "GetUserByExternalID(old)", err, store.ErrNotFound)
		got, err = s.GetUserByExternalID(ctx, "HR-0002")
		ok(t, "GetUserByExternalID(new)", err)
		same(t, "after UpdateUser", got, u)
		list, err := s.ListUsers(ctx)
		ok(t, "ListUsers", err)
		if len(list) != 3 || list[0].ExternalID != "HR-0002" || list[1].ExternalID != "" {
			t.Fatalf("ListUsers: %+v", list)
		}
		members := mustGroup(t, s, "staff")
		ok(t, "AddMember", s.AddMember(ctx, members.ID, u.ID))
		ms, err := s.ListMembers(ctx, members.ID)
		ok(t, "ListMembers", err)
		if len(ms) != 1 {
			t.Fatalf("ListMembers: %+v", ms)
		}
		same(t, "ListMembers", ms[0], u)
	}},
	{"GroupExternalID", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		g := store.Group{ID: store.NewID(), Name: "Engineering", ExternalID: "dept-7", CreatedAt: at(0)}
		ok(t, "CreateGroup", s.CreateGroup(ctx, g))
		other := mustGroup(t, s, "sales")
		mustGroup(t, s, "support")

		got, err := s.GetGroup(ctx, g.ID)
		ok(t, "GetGroup", err)
		same(t, "GetGroup", got, g)
		got, err = s.GetGroupByExternalID(ctx, "dept-7")
		ok(t, "GetGroupByExternalID", err)
		same(t, "GetGroupByExternalID", got, g)
		_, err = s.GetGroup(ctx, store.NewID())
		wantErr(t, "GetGroup(unknown)", err, store.ErrNotFound)
		_, err = s.GetGroupByExternalID(ctx, "")
		wantErr(t, "GetGroupByExternalID(empty)", err, store.ErrNotFound)
		_, err = s.GetGroupByExternalID(ctx, "DEPT-7")
		wantErr(t, "GetGroupByExternalID(other case)", err, store.ErrNotFound)

		dup := store.Group{ID: store.NewID(), Name: "eng2", ExternalID: "dept-7", CreatedAt: at(0)}
		wantErr(t, "CreateGroup(taken external ID)", s.CreateGroup(ctx, dup), store.ErrConflict)
		wantErr(t, "SetGroupExternalID(taken)", s.SetGroupExternalID(ctx, other.ID, "dept-7"), store.ErrConflict)
		wantErr(t, "SetGroupExternalID(unknown group)", s.SetGroupExternalID(ctx, store.NewID(), "x"), store.ErrNotFound)

		ok(t, "SetGroupExternalID", s.SetGroupExternalID(ctx, other.ID, "dept-9"))
		other.ExternalID = "dept-9"
		got, err = s.GetGroupByExternalID(ctx, "dept-9")
		ok(t, "GetGroupByExternalID(new)", err)
		same(t, "after SetGroupExternalID", got, other)
		ok(t, "SetGroupExternalID(clear)", s.SetGroupExternalID(ctx, other.ID, ""))
		_, err = s.GetGroupByExternalID(ctx, "dept-9")
		wantErr(t, "GetGroupByExternalID(cleared)", err, store.ErrNotFound)
		ok(t, "SetGroupExternalID(clear another)", s.SetGroupExternalID(ctx, g.ID, ""))

		u := mustUser(t, s, "alice")
		ok(t, "AddMember", s.AddMember(ctx, g.ID, u.ID))
		gs, err := s.ListUserGroups(ctx, u.ID)
		ok(t, "ListUserGroups", err)
		g.ExternalID = ""
		if len(gs) != 1 {
			t.Fatalf("ListUserGroups: %+v", gs)
		}
		same(t, "ListUserGroups", gs[0], g)
	}},
	{"Tokens", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		hr := store.SCIMToken{Name: "workday", Hash: []byte{0, 1, 2, 0xff}, CreatedBy: "cli", CreatedAt: at(0)}
		entra := store.SCIMToken{Name: "entra", Hash: []byte("hash-2"), CreatedBy: "alice", CreatedAt: at(time.Second)}
		ok(t, "CreateSCIMToken", s.CreateSCIMToken(ctx, hr))
		ok(t, "CreateSCIMToken", s.CreateSCIMToken(ctx, entra))
		wantErr(t, "CreateSCIMToken(taken name)", s.CreateSCIMToken(ctx, store.SCIMToken{Name: "workday", Hash: []byte("x"), CreatedAt: at(0)}), store.ErrConflict)
		list, err := s.ListSCIMTokens(ctx)
		ok(t, "ListSCIMTokens", err)
		same(t, "ListSCIMTokens", list, []store.SCIMToken{entra, hr})

		ok(t, "DeleteSCIMToken", s.DeleteSCIMToken(ctx, "workday"))
		wantErr(t, "DeleteSCIMToken(again)", s.DeleteSCIMToken(ctx, "workday"), store.ErrNotFound)
		list, err = s.ListSCIMTokens(ctx)
		ok(t, "ListSCIMTokens", err)
		same(t, "ListSCIMTokens after delete", list, []store.SCIMToken{entra})
	}},
}
