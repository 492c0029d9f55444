package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// completeSignInTests: CompleteSignIn writes the credential's use, the
// session and the sign-in record together, or nothing at all.
var completeSignInTests = []test{
	{"WritesAllThree", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount, c.BackupState = 5, false
		mustCredential(t, s, c)
		before, err := s.AppendSignIn(ctx, store.SignInEvent{Time: at(0), Method: "tap", Result: store.ResultFailure})
		ok(t, "AppendSignIn", err)

		use := store.CredentialUse{SignCount: 6, BackupState: true, UsedAt: at(time.Hour)}
		ss := newSession(alice.ID, c.ID)
		ss.UserAgent = "Bad \xff agent"
		ev := signInOf(alice, c, at(time.Hour))
		id, err := s.CompleteSignIn(ctx, completion(c.ID, use, ss, ev))
		ok(t, "CompleteSignIn", err)
		if id <= before {
			t.Fatalf("CompleteSignIn ID %d after %d, want increasing", id, before)
		}

		want := c
		want.SignCount, want.BackupState, want.LastUsedAt = use.SignCount, use.BackupState, use.UsedAt
		got, err := s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		same(t, "credential after sign-in", got, want)

		gotSession, err := s.GetSession(ctx, ss.TokenHash)
		ok(t, "GetSession", err)
		ss.UserAgent = store.CleanText(ss.UserAgent)
		same(t, "session", gotSession, ss)

		list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
		ok(t, "ListSignIns", err)
		ev.ID = id
		same(t, "sign-in records", list, []store.SignInEvent{ev})
	}},
	{"NothingOnRefusal", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		taken := mustSession(t, s, newSession(alice.ID, ""))
		for _, tc := range []struct {
			name string
			// change makes the sign-in fail
			change func(c *store.Credential, use *store.CredentialUse, ss *store.Session) (credentialID string)
			want   error
		}{
			{"counter not forward", func(c *store.Credential, use *store.CredentialUse, ss *store.Session) string {
				use.SignCount = c.SignCount
				return c.ID
			}, store.ErrConflict},
			{"unknown credential", func(c *store.Credential, use *store.CredentialUse, ss *store.Session) string {
				ss.CredentialID = ""
				return store.NewID()
			}, store.ErrNotFound},
			{"unknown user", func(c *store.Credential, use *store.CredentialUse, ss *store.Session) string {
				ss.UserID = store.NewID()
				return c.ID
			}, store.ErrNotFound},
			{"token hash taken", func(c *store.Credential, use *store.CredentialUse, ss *store.Session) string {
				ss.TokenHash = taken.TokenHash
				return c.ID
			}, store.ErrConflict},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := newCredential(alice.ID)
				c.SignCount = 5
				mustCredential(t, s, c)
				use := store.CredentialUse{SignCount: 6, BackupState: false, UsedAt: at(time.Hour)}
				ss := newSession(alice.ID, c.ID)
				ev := signInOf(alice, c, at(time.Hour))
				ev.Detail = tc.name
				id := tc.change(&c, &use, &ss)
				_, err := s.CompleteSignIn(ctx, completion(id, use, ss, ev))
				wantErr(t, "CompleteSignIn", err, tc.want)

				got, err := s.GetCredential(ctx, c.ID)
				ok(t, "GetCredential", err)
				same(t, "credential after a refused sign-in", got, c)
				if !bytes.Equal(ss.TokenHash, taken.TokenHash) {
					_, err = s.GetSession(ctx, ss.TokenHash)
					wantErr(t, "GetSession after a refused sign-in", err, store.ErrNotFound)
				}
				list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
				ok(t, "ListSignIns", err)
				for _, e := range list {
					if e.Detail == tc.name {
						t.Fatalf("a refused CompleteSignIn left its record: %+v", e)
					}
				}
			})
		}
	}},
	{"Race", func(t *testing.T, s store.Store) {
		// A cloned key presenting the same counter in parallel sign-ins:
		// one session and one record, not more.
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 7
		mustCredential(t, s, c)
		errs := race(racers, func(i int) error {
			_, err := s.CompleteSignIn(ctx, completion(c.ID, store.CredentialUse{SignCount: 8, UsedAt: at(time.Second)},
				newSession(alice.ID, c.ID), signInOf(alice, c, at(time.Second))))
			return err
		})
		exactlyOne(t, "CompleteSignIn", errs, store.ErrConflict)
		list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
		ok(t, "ListSignIns", err)
		if len(list) != 1 {
			t.Fatalf("%d sign-in records after the race, want 1", len(list))
		}
	}},
	{"CeremonyOnce", func(t *testing.T, s store.Store) {
		// A ceremony marked used by one completion cannot complete again,
		// even with a counter that moves forward: nothing of the second is
		// written.
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 5
		mustCredential(t, s, c)
		cer := store.Challenge{ID: "used-" + store.NewID(), Kind: "login-used", ExpiresAt: at(5 * time.Minute)}
		first := completion(c.ID, store.CredentialUse{SignCount: 6, UsedAt: at(time.Second)}, newSession(alice.ID, c.ID), signInOf(alice, c, at(time.Second)))
		first.Ceremony = cer
		_, err := s.CompleteSignIn(ctx, first)
		ok(t, "CompleteSignIn", err)
		again := completion(c.ID, store.CredentialUse{SignCount: 7, UsedAt: at(2 * time.Second)}, newSession(alice.ID, c.ID), signInOf(alice, c, at(2*time.Second)))
		again.Ceremony = cer
		again.Event.Detail = "replay"
		_, err = s.CompleteSignIn(ctx, again)
		wantErr(t, "CompleteSignIn(same ceremony)", err, store.ErrReplayed)

		got, err := s.GetCredential(ctx, c.ID)
		ok(t, "GetCredential", err)
		if got.SignCount != 6 {
			t.Fatalf("counter %d after a replayed ceremony, want 6 (the first completion's)", got.SignCount)
		}
		_, err = s.GetSession(ctx, again.Session.TokenHash)
		wantErr(t, "GetSession(replay)", err, store.ErrNotFound)
		list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
		ok(t, "ListSignIns", err)
		if len(list) != 1 {
			t.Fatalf("%d sign-in records after a replayed ceremony, want 1", len(list))
		}

		// The marker is swept with the expired challenges; a ceremony's
		// own expiry refuses it long before that matters.
		n, err := s.DeleteExpiredChallenges(ctx, at(5*time.Minute))
		ok(t, "DeleteExpiredChallenges", err)
		if n != 1 {
			t.Fatalf("DeleteExpiredChallenges removed %d rows, want the marker", n)
		}
	}},
	{"CeremonyRace", func(t *testing.T, s store.Store) {
		// The same ceremony completed in parallel, each with a counter
		// that would be accepted on its own: exactly one wins.
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 0
		mustCredential(t, s, c)
		cer := store.Challenge{ID: "used-" + store.NewID(), Kind: "login-used", ExpiresAt: at(5 * time.Minute)}
		errs := race(racers, func(i int) error {
			sc := completion(c.ID, store.CredentialUse{UsedAt: at(time.Second)}, newSession(alice.ID, c.ID), signInOf(alice, c, at(time.Second)))
			sc.Ceremony = cer
			_, err := s.CompleteSignIn(ctx, sc)
			return err
		})
		exactlyOne(t, "CompleteSignIn", errs, store.ErrReplayed)
		list, err := s.ListSignIns(ctx, store.SignInFilter{UserID: alice.ID})
		ok(t, "ListSignIns", err)
		if len(list) != 1 {
			t.Fatalf("%d sign-in records after the race, want 1", len(list))
		}
	}},
}

func completion(credentialID string, use store.CredentialUse, ss store.Session, ev store.SignInEvent) store.SignInCompletion {
	return store.SignInCompletion{CredentialID: credentialID, Use: use, Session: ss, Event: ev}
}

// completeSignInCounterTests: a sign-in completed with CompleteSignIn
// counts in the roll-out report as one appended with AppendSignIn does;
// a refused one counts nothing.
var completeSignInCounterTests = []test{
	{"CountsLikeAppend", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		rs := reportStore(t, s)
		alice := mustUser(t, s, "alice")
		g := mustGroup(t, s, "pilot")
		ok(t, "AddMember", s.AddMember(ctx, g.ID, alice.ID))
		c := newCredential(alice.ID)
		c.SignCount = 5
		mustCredential(t, s, c)
		ev := signInOf(alice, c, day0.Add(time.Hour))
		ev.Access = `[]`
		_, err := s.CompleteSignIn(ctx, completion(c.ID, store.CredentialUse{SignCount: 6, UsedAt: day0}, newSession(alice.ID, c.ID), ev))
		ok(t, "CompleteSignIn", err)
		_, err = s.CompleteSignIn(ctx, completion(c.ID, store.CredentialUse{SignCount: 6, UsedAt: day0}, newSession(alice.ID, c.ID), ev))
		wantErr(t, "CompleteSignIn with the same counter", err, store.ErrConflict)
		mustAppend(t, s, ev)
		got, err := rs.SignInDays(ctx, day0)
		ok(t, "SignInDays", err)
		same(t, "SignInDays", got, []store.SignInDay{
			{Day: day0, GroupID: "", Method: "passkey", Count: 2},
			{Day: day0, GroupID: g.ID, Method: "passkey", Count: 2},
		})
	}},
	{"CountsReportOnly", func(t *testing.T, s store.Store) {
		// A sign-in with report-only outcomes moves those counters too, in
		// the same step as the rest.
		ctx := context.Background()
		rs := reportStore(t, s)
		alice := mustUser(t, s, "alice")
		c := newCredential(alice.ID)
		c.SignCount = 5
		mustCredential(t, s, c)
		ev := signInOf(alice, c, day0.Add(time.Hour))
		ev.Access = `[{"policy":"admins","state":"report-only","outcome":"block"}]`
		_, err := s.CompleteSignIn(ctx, completion(c.ID, store.CredentialUse{SignCount: 6, UsedAt: day0}, newSession(alice.ID, c.ID), ev))
		ok(t, "CompleteSignIn", err)
		days, err := rs.ReportOnlyDays(ctx, day0)
		ok(t, "ReportOnlyDays", err)
		if len(days) != 1 || days[0].Policy != "admins" || days[0].Count != 1 {
			t.Fatalf("ReportOnlyDays after a completed sign-in: %+v", days)
		}
		users, err := rs.ReportOnlyUsers(ctx, day0)
		ok(t, "ReportOnlyUsers", err)
		if len(users) != 1 || users[0].UserID != alice.ID {
			t.Fatalf("ReportOnlyUsers after a completed sign-in: %+v", users)
		}
		got, err := rs.SignInDays(ctx, day0)
		ok(t, "SignInDays", err)
		same(t, "SignInDays", got, []store.SignInDay{{Day: day0, GroupID: "", Method: "passkey", Count: 1}})
	}},
}

func signInOf(u store.User, c store.Credential, when time.Time) store.SignInEvent {
	return store.SignInEvent{
		Time: when, UserID: u.ID, Username: u.Username, IP: "192.0.2.1", UserAgent: "Test/1.0",
		Method: "passkey", Result: store.ResultSuccess, CredentialID: c.ID,
		AAGUID: "adadadad-adad-adad-adad-adadadadadad", Model: "Test", PasskeyType: "synced",
		Client: "browser",
	}
}
