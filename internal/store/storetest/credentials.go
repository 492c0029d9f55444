package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var credentialTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 1<<32 - 1 // the largest a counter can be
		c.Algorithm = -257
		c.LastUsedAt = at(time.Hour)
		mustCredential(t, s, c)
		bare := newCredential(alice.ID)
		bare.Transports, bare.AAGUID = nil, make([]byte, 16)
		bare.BackupEligible, bare.BackupState = false, false
		mustCredential(t, s, bare)

		for _, want := range []store.Credential{c, bare} {
			got, err := s.GetCredential(ctx, want.ID)
			ok(t, "GetCredential", err)
			same(t, "GetCredential", got, want)
			got, err = s.GetCredentialByCredentialID(ctx, want.CredentialID)
			ok(t, "GetCredentialByCredentialID", err)
			same(t, "GetCredentialByCredentialID", got, want)
		}
		got, err := s.GetCredential(ctx, bare.ID)
		ok(t, "GetCredential", err)
		if !got.LastUsedAt.IsZero() {
			t.Fatalf("LastUsedAt of a never-used credential = %v, want zero", got.LastUsedAt)
		}

		_, err = s.GetCredential(ctx, store.NewID())
		wantErr(t, "GetCredential(unknown)", err, store.ErrNotFound)
		_, err = s.GetCredentialByCredentialID(ctx, []byte("unknown"))
		wantErr(t, "GetCredentialByCredentialID(unknown)", err, store.ErrNotFound)
		// A prefix of a stored ID is another ID.
		_, err = s.GetCredentialByCredentialID(ctx, c.CredentialID[:len(c.CredentialID)-1])
		wantErr(t, "GetCredentialByCredentialID(prefix)", err, store.ErrNotFound)
		wantErr(t, "CreateCredential(unknown user)", s.CreateCredential(ctx, newCredential(store.NewID())), store.ErrNotFound)
	}},
	{"CredentialIDUniqueAcrossUsers", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		c := mustCredential(t, s, newCredential(alice.ID))
		dup := newCredential(bob.ID)
		dup.CredentialID = c.CredentialID
		wantErr(t, "CreateCredential(same WebAuthn ID, other user)", s.CreateCredential(ctx, dup), store.ErrConflict)
		dup = newCredential(alice.ID)
		dup.CredentialID = c.CredentialID
		wantErr(t, "CreateCredential(same WebAuthn ID, same user)", s.CreateCredential(ctx, dup), store.ErrConflict)
		dup = newCredential(bob.ID)
		dup.ID = c.ID
		wantErr(t, "CreateCredential(same ID)", s.CreateCredential(ctx, dup), store.ErrConflict)
		list, err := s.ListCredentials(ctx, bob.ID)
		ok(t, "ListCredentials", err)
		if len(list) != 0 {
			t.Fatalf("refused credentials were stored: %v", list)
		}
	}},
	{"ListOrderedByCreation", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		// Inserted out of order; two share a creation time and keep the
		// order they were inserted in.
		var cs []store.Credential
		for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second, 2 * time.Second} {
			c := newCredential(alice.ID)
			c.CreatedAt = at(d)
			cs = append(cs, mustCredential(t, s, c))
		}
		mustCredential(t, s, newCredential(bob.ID))
		list, err := s.ListCredentials(ctx, alice.ID)
		ok(t, "ListCredentials", err)
		same(t, "ListCredentials", list, []store.Credential{cs[1], cs[2], cs[3], cs[0]})
		list, err = s.ListCredentials(ctx, store.NewID())
		ok(t, "ListCredentials(unknown user)", err)
		if len(list) != 0 {
			t.Fatalf("ListCredentials(unknown user) = %v", list)
		}
	}},
	{"RecordUseCounter", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		for _, tc := range []struct {
			name          string
			stored, given uint32
			want          error
		}{
			{"zero stays zero", 0, 0, nil},
			{"first count", 0, 1, nil},
			{"increase", 5, 6, nil},
			{"jump", 5, 1000, nil},
			{"zero after non-zero", 5, 0, nil},
			{"equal", 5, 5, store.ErrConflict},
			{"lower", 5, 4, store.ErrConflict},
			{"max equal", 1<<32 - 1, 1<<32 - 1, store.ErrConflict},
			{"to max", 1<<32 - 2, 1<<32 - 1, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := newCredential(alice.ID)
				c.SignCount, c.BackupState = tc.stored, false
				mustCredential(t, s, c)
				use := store.CredentialUse{SignCount: tc.given, BackupState: true, UsedAt: at(time.Hour)}
				wantErr(t, "RecordCredentialUse", s.RecordCredentialUse(ctx, c.ID, use), tc.want)
				want := c
				if tc.want == nil {
					want.SignCount, want.BackupState, want.LastUsedAt = use.SignCount, use.BackupState, use.UsedAt
				}
				got, err := s.GetCredential(ctx, c.ID)
				ok(t, "GetCredential", err)
				same(t, "credential after use", got, want)
			})
		}
		err := s.RecordCredentialUse(ctx, store.NewID(), store.CredentialUse{SignCount: 1, UsedAt: at(0)})
		wantErr(t, "RecordCredentialUse(unknown)", err, store.ErrNotFound)
	}},
	{"RecordUseRace", func(t *testing.T, s store.Store) {
		// A cloned key presenting the same counter in parallel sign-ins:
		// only one may pass.
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 7
		mustCredential(t, s, c)
		errs := race(racers, func(i int) error {
			return s.RecordCredentialUse(ctx, c.ID, store.CredentialUse{SignCount: 8, BackupState: true, UsedAt: at(time.Duration(i) * time.Second)})
		})
		exactlyOne(t, "RecordCredentialUse", errs, store.ErrConflict)
		got, err := s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		if got.SignCount != 8 {
			t.Fatalf("SignCount = %d, want 8", got.SignCount)
		}
		for i, err := range errs {
			if err == nil {
				same(t, "LastUsedAt of the winner", got.LastUsedAt, at(time.Duration(i)*time.Second))
			}
		}
	}},
	{"Rename", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		ok(t, "RenameCredential", s.RenameCredential(ctx, c.ID, "YubiKey 5 (blue)"))
		got, err := s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		c.Name = "YubiKey 5 (blue)"
		same(t, "renamed credential", got, c)
		wantErr(t, "RenameCredential(unknown)", s.RenameCredential(ctx, store.NewID(), "x"), store.ErrNotFound)
	}},
	{"DeleteEndsItsSessions", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		other := mustCredential(t, s, newCredential(alice.ID))
		withC1 := mustSession(t, s, newSession(alice.ID, c.ID))
		withC2 := mustSession(t, s, newSession(alice.ID, c.ID))
		withOther := mustSession(t, s, newSession(alice.ID, other.ID))
		withTAP := newSession(alice.ID, "")
		withTAP.Methods = []string{"tap"}
		mustSession(t, s, withTAP)

		ok(t, "DeleteCredential", s.DeleteCredential(ctx, c.ID))
		_, err := s.GetCredential(ctx, c.ID)
		wantErr(t, "GetCredential(deleted)", err, store.ErrNotFound)
		for _, ss := range []store.Session{withC1, withC2} {
			_, err := s.GetSession(ctx, ss.TokenHash)
			wantErr(t, "GetSession(made with deleted passkey)", err, store.ErrNotFound)
		}
		for _, ss := range []store.Session{withOther, withTAP} {
			got, err := s.GetSession(ctx, ss.TokenHash)
			ok(t, "GetSession(other)", err)
			same(t, "other session", got, ss)
		}
		// A sign-in that verified the passkey just before it was deleted
		// cannot leave a session behind.
		wantErr(t, "CreateSession(deleted passkey)", s.CreateSession(ctx, newSession(alice.ID, c.ID)), store.ErrNotFound)
		wantErr(t, "DeleteCredential(again)", s.DeleteCredential(ctx, c.ID), store.ErrNotFound)
		if _, err := s.GetUser(ctx, alice.ID); err != nil {
			t.Fatalf("GetUser after DeleteCredential: %v", err)
		}
	}},
}

func newTAP(userID string) store.TAP {
	return store.TAP{
		UserID: userID, Hash: []byte("hash-of-" + store.NewID()), OneTime: true, CreatedBy: "cli",
		CreatedAt: at(0), StartsAt: at(0), ExpiresAt: at(time.Hour),
	}
}

var tapTests = []test{
	{"PutGetReplaceDelete", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		_, err := s.GetTAP(ctx, alice.ID)
		wantErr(t, "GetTAP(none)", err, store.ErrNotFound)

		first := newTAP(alice.ID)
		first.UsedAt = at(time.Minute)
		ok(t, "PutTAP", s.PutTAP(ctx, first))
		got, err := s.GetTAP(ctx, alice.ID)
		ok(t, "GetTAP", err)
		same(t, "GetTAP", got, first)

		second := newTAP(alice.ID)
		second.OneTime, second.CreatedBy = false, bob.ID
		second.CreatedAt, second.StartsAt, second.ExpiresAt = at(time.Hour), at(2*time.Hour), at(3*time.Hour)
		ok(t, "PutTAP(replace)", s.PutTAP(ctx, second))
		got, err = s.GetTAP(ctx, alice.ID)
		ok(t, "GetTAP", err)
		same(t, "GetTAP after replace", got, second)
		if !got.UsedAt.IsZero() {
			t.Fatalf("replaced TAP kept UsedAt %v", got.UsedAt)
		}
		_, err = s.GetTAP(ctx, bob.ID)
		wantErr(t, "GetTAP(other user)", err, store.ErrNotFound)

		wantErr(t, "PutTAP(unknown user)", s.PutTAP(ctx, newTAP(store.NewID())), store.ErrNotFound)

		ok(t, "DeleteTAP", s.DeleteTAP(ctx, alice.ID))
		_, err = s.GetTAP(ctx, alice.ID)
		wantErr(t, "GetTAP(deleted)", err, store.ErrNotFound)
		wantErr(t, "DeleteTAP(again)", s.DeleteTAP(ctx, alice.ID), store.ErrNotFound)
	}},
	{"Use", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		starts, expires := at(time.Hour), at(2*time.Hour)
		for _, tc := range []struct {
			name    string
			oneTime bool
			usedAt  time.Time // already used at
			hash    string    // "" for the right one
			now     time.Time
			want    error
		}{
			{"at start", true, time.Time{}, "", starts, nil},
			{"just before expiry", true, time.Time{}, "", expires.Add(-time.Millisecond), nil},
			{"before start", true, time.Time{}, "", starts.Add(-time.Millisecond), store.ErrNotFound},
			{"at expiry", true, time.Time{}, "", expires, store.ErrNotFound},
			{"after expiry", false, time.Time{}, "", expires.Add(time.Hour), store.ErrNotFound},
			{"wrong hash", false, time.Time{}, "wrong", starts, store.ErrNotFound},
			{"one-time already used", true, starts, "", starts.Add(time.Minute), store.ErrNotFound},
			{"reusable already used", false, starts, "", starts.Add(time.Minute), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := mustUser(t, s, store.NewID())
				tap := newTAP(u.ID)
				tap.OneTime, tap.UsedAt, tap.StartsAt, tap.ExpiresAt = tc.oneTime, tc.usedAt, starts, expires
				ok(t, "PutTAP", s.PutTAP(ctx, tap))
				hash := tap.Hash
				if tc.hash != "" {
					hash = []byte(tc.hash)
				}
				got, err := s.UseTAP(ctx, u.ID, hash, tc.now)
				wantErr(t, "UseTAP", err, tc.want)
				want := tap
				if tc.want == nil {
					want.UsedAt = tc.now
					same(t, "UseTAP result", got, want)
				}
				stored, err := s.GetTAP(ctx, u.ID)
				ok(t, "GetTAP", err)
				same(t, "TAP after UseTAP", stored, want)
			})
		}
		_, err := s.UseTAP(ctx, store.NewID(), []byte("x"), starts)
		wantErr(t, "UseTAP(no TAP)", err, store.ErrNotFound)
	}},
	{"UseTwice", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
		once, reusable := newTAP(alice.ID), newTAP(bob.ID)
		reusable.OneTime = false
		ok(t, "PutTAP", s.PutTAP(ctx, once))
		ok(t, "PutTAP", s.PutTAP(ctx, reusable))
		for i, now := range []time.Time{at(time.Minute), at(2 * time.Minute)} {
			_, err := s.UseTAP(ctx, alice.ID, once.Hash, now)
			if i == 0 {
				ok(t, "UseTAP(one-time, first)", err)
			} else {
				wantErr(t, "UseTAP(one-time, second)", err, store.ErrNotFound)
			}
			got, err := s.UseTAP(ctx, bob.ID, reusable.Hash, now)
			ok(t, "UseTAP(reusable)", err)
			same(t, "UsedAt of a reusable pass", got.UsedAt, now)
		}
		// The hash is the user's: another user's pass does not work.
		_, err := s.UseTAP(ctx, alice.ID, reusable.Hash, at(3*time.Minute))
		wantErr(t, "UseTAP(other user's hash)", err, store.ErrNotFound)
	}},
	{"UseRace", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		tap := newTAP(alice.ID)
		ok(t, "PutTAP", s.PutTAP(ctx, tap))
		errs := race(racers, func(i int) error {
			_, err := s.UseTAP(ctx, alice.ID, tap.Hash, at(time.Minute))
			return err
		})
		exactlyOne(t, "UseTAP(one-time)", errs, store.ErrNotFound)
	}},
}
