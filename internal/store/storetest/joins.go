package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// joinTests: GetCredentialWithUser and GetSessionWithUser read a record
// and its user together, and give back what the separate reads give.
var joinTests = []test{
	{"CredentialWithUser", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		bob.ExternalID, bob.Admin = "hr-bob", true
		ok(t, "UpdateUser", s.UpdateUser(ctx, bob))
		c := newCredential(alice.ID)
		c.SignCount = 1<<32 - 1
		c.LastUsedAt = at(time.Hour)
		mustCredential(t, s, c)
		bare := newCredential(alice.ID)
		bare.Transports, bare.AAGUID = nil, make([]byte, 16)
		bare.BackupEligible, bare.BackupState = false, false
		mustCredential(t, s, bare)
		other := mustCredential(t, s, newCredential(bob.ID))

		for _, tc := range []struct {
			c store.Credential
			u store.User
		}{{c, alice}, {bare, alice}, {other, bob}} {
			gotC, gotU, err := s.GetCredentialWithUser(ctx, tc.c.CredentialID)
			ok(t, "GetCredentialWithUser", err)
			same(t, "GetCredentialWithUser credential", gotC, tc.c)
			same(t, "GetCredentialWithUser user", gotU, tc.u)
			// The same values as the separate reads.
			wantC, err := s.GetCredentialByCredentialID(ctx, tc.c.CredentialID)
			ok(t, "GetCredentialByCredentialID", err)
			same(t, "GetCredentialWithUser credential vs GetCredentialByCredentialID", gotC, wantC)
			wantU, err := s.GetUser(ctx, wantC.UserID)
			ok(t, "GetUser", err)
			same(t, "GetCredentialWithUser user vs GetUser", gotU, wantU)
		}
		// A credential's use shows in the joined read too.
		use := store.CredentialUse{SignCount: 0, BackupState: false, UsedAt: at(2 * time.Hour)}
		ok(t, "RecordCredentialUse", s.RecordCredentialUse(ctx, bare.ID, use))
		got, _, err := s.GetCredentialWithUser(ctx, bare.CredentialID)
		ok(t, "GetCredentialWithUser(used)", err)
		if !got.LastUsedAt.Equal(ms(use.UsedAt)) {
			t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, ms(use.UsedAt))
		}
	}},
	{"CredentialWithUserNotFound", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		_, _, err := s.GetCredentialWithUser(ctx, []byte("unknown"))
		wantErr(t, "GetCredentialWithUser(unknown)", err, store.ErrNotFound)
		_, _, err = s.GetCredentialWithUser(ctx, nil)
		wantErr(t, "GetCredentialWithUser(nil)", err, store.ErrNotFound)
		// A prefix of a stored ID is another ID.
		_, _, err = s.GetCredentialWithUser(ctx, c.CredentialID[:len(c.CredentialID)-1])
		wantErr(t, "GetCredentialWithUser(prefix)", err, store.ErrNotFound)
		// Sesame's own ID is not the WebAuthn one.
		_, _, err = s.GetCredentialWithUser(ctx, []byte(c.ID))
		wantErr(t, "GetCredentialWithUser(Sesame ID)", err, store.ErrNotFound)

		ok(t, "DeleteCredential", s.DeleteCredential(ctx, c.ID))
		_, _, err = s.GetCredentialWithUser(ctx, c.CredentialID)
		wantErr(t, "GetCredentialWithUser(deleted credential)", err, store.ErrNotFound)

		c = mustCredential(t, s, newCredential(alice.ID))
		ok(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
		_, _, err = s.GetCredentialWithUser(ctx, c.CredentialID)
		wantErr(t, "GetCredentialWithUser(deleted user)", err, store.ErrNotFound)
	}},
	{"CredentialWithDisabledUser", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		alice.Disabled, alice.UpdatedAt = true, at(time.Minute)
		ok(t, "UpdateUser", s.UpdateUser(ctx, alice))
		gotC, gotU, err := s.GetCredentialWithUser(ctx, c.CredentialID)
		ok(t, "GetCredentialWithUser", err)
		if !gotU.Disabled {
			t.Fatal("GetCredentialWithUser: user of a disabled user's passkey has Disabled false")
		}
		same(t, "GetCredentialWithUser credential", gotC, c)
		same(t, "GetCredentialWithUser user", gotU, alice)
	}},
	{"SessionWithUser", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		bob.Email, bob.Admin = "", true
		ok(t, "UpdateUser", s.UpdateUser(ctx, bob))
		c := mustCredential(t, s, newCredential(alice.ID))
		withPasskey := newSession(alice.ID, c.ID)
		withPasskey.Methods = []string{"passkey", "tap"}
		withPasskey.AuthTime, withPasskey.LastSeenAt = at(-time.Minute), at(time.Minute)
		mustSession(t, s, withPasskey)
		// No passkey (credential_id NULL), no methods.
		bare := newSession(alice.ID, "")
		bare.Methods, bare.IP, bare.UserAgent = nil, "", ""
		mustSession(t, s, bare)
		other := mustSession(t, s, newSession(bob.ID, ""))

		for _, tc := range []struct {
			ss store.Session
			u  store.User
		}{{withPasskey, alice}, {bare, alice}, {other, bob}} {
			gotS, gotU, err := s.GetSessionWithUser(ctx, tc.ss.TokenHash)
			ok(t, "GetSessionWithUser", err)
			same(t, "GetSessionWithUser session", gotS, tc.ss)
			same(t, "GetSessionWithUser user", gotU, tc.u)
			// The same values as the separate reads.
			wantS, err := s.GetSession(ctx, tc.ss.TokenHash)
			ok(t, "GetSession", err)
			same(t, "GetSessionWithUser session vs GetSession", gotS, wantS)
			wantU, err := s.GetUser(ctx, wantS.UserID)
			ok(t, "GetUser", err)
			same(t, "GetSessionWithUser user vs GetUser", gotU, wantU)
		}
		// A touch shows in the joined read too.
		ok(t, "TouchSession", s.TouchSession(ctx, bare.TokenHash, at(time.Hour)))
		got, _, err := s.GetSessionWithUser(ctx, bare.TokenHash)
		ok(t, "GetSessionWithUser(touched)", err)
		if !got.LastSeenAt.Equal(ms(at(time.Hour))) {
			t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, ms(at(time.Hour)))
		}
	}},
	{"SessionWithUserNotFound", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		ss := mustSession(t, s, newSession(alice.ID, c.ID))
		_, _, err := s.GetSessionWithUser(ctx, []byte("hash-unknown"))
		wantErr(t, "GetSessionWithUser(unknown)", err, store.ErrNotFound)
		_, _, err = s.GetSessionWithUser(ctx, nil)
		wantErr(t, "GetSessionWithUser(nil)", err, store.ErrNotFound)
		_, _, err = s.GetSessionWithUser(ctx, ss.TokenHash[:len(ss.TokenHash)-1])
		wantErr(t, "GetSessionWithUser(prefix)", err, store.ErrNotFound)

		ok(t, "DeleteSession", s.DeleteSession(ctx, ss.TokenHash))
		_, _, err = s.GetSessionWithUser(ctx, ss.TokenHash)
		wantErr(t, "GetSessionWithUser(signed out)", err, store.ErrNotFound)

		// Deleting the passkey ends its sessions.
		ss = mustSession(t, s, newSession(alice.ID, c.ID))
		ok(t, "DeleteCredential", s.DeleteCredential(ctx, c.ID))
		_, _, err = s.GetSessionWithUser(ctx, ss.TokenHash)
		wantErr(t, "GetSessionWithUser(passkey deleted)", err, store.ErrNotFound)

		ss = mustSession(t, s, newSession(alice.ID, ""))
		ok(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
		_, _, err = s.GetSessionWithUser(ctx, ss.TokenHash)
		wantErr(t, "GetSessionWithUser(deleted user)", err, store.ErrNotFound)
	}},
	{"SessionWithDisabledUser", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		ss := mustSession(t, s, newSession(alice.ID, ""))
		alice.Disabled, alice.UpdatedAt = true, at(time.Minute)
		ok(t, "UpdateUser", s.UpdateUser(ctx, alice))
		gotS, gotU, err := s.GetSessionWithUser(ctx, ss.TokenHash)
		ok(t, "GetSessionWithUser", err)
		if !gotU.Disabled {
			t.Fatal("GetSessionWithUser: user of a disabled user's session has Disabled false")
		}
		same(t, "GetSessionWithUser session", gotS, ss)
		same(t, "GetSessionWithUser user", gotU, alice)
	}},
}
