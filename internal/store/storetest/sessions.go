package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

func newChallenge() store.Challenge {
	return store.Challenge{
		ID: store.NewID(), Kind: "login", UserID: store.NewID(),
		Data: []byte(`{"challenge":"abc","rpId":"localhost"}`), ExpiresAt: at(5 * time.Minute),
	}
}

var challengeTests = []test{
	{"PutTake", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		login := newChallenge()
		login.UserID = "" // a discoverable sign-in names no user
		register := newChallenge()
		register.Kind = "register"
		// Taken whatever its expiry: the caller decides.
		expired := newChallenge()
		expired.ExpiresAt = at(-time.Hour)
		for _, c := range []store.Challenge{login, register, expired} {
			ok(t, "PutChallenge", s.PutChallenge(ctx, c))
		}
		wantErr(t, "PutChallenge(same ID)", s.PutChallenge(ctx, store.Challenge{ID: login.ID, Kind: "register", ExpiresAt: at(0)}), store.ErrConflict)

		for _, c := range []store.Challenge{login, register, expired} {
			got, err := s.TakeChallenge(ctx, c.ID)
			ok(t, "TakeChallenge", err)
			same(t, "TakeChallenge", got, c)
			_, err = s.TakeChallenge(ctx, c.ID)
			wantErr(t, "TakeChallenge(again)", err, store.ErrNotFound)
		}
		_, err := s.TakeChallenge(ctx, store.NewID())
		wantErr(t, "TakeChallenge(unknown)", err, store.ErrNotFound)
	}},
	{"TakeRace", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for range 3 {
			c := newChallenge()
			ok(t, "PutChallenge", s.PutChallenge(ctx, c))
			errs := race(racers, func(int) error {
				got, err := s.TakeChallenge(ctx, c.ID)
				if err == nil && got.ID != c.ID {
					t.Errorf("TakeChallenge returned %q, want %q", got.ID, c.ID)
				}
				return err
			})
			exactlyOne(t, "TakeChallenge", errs, store.ErrNotFound)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		now := at(0)
		var keep []store.Challenge
		for _, d := range []time.Duration{-time.Hour, -time.Millisecond, 0, time.Millisecond, time.Hour} {
			c := newChallenge()
			c.ExpiresAt = now.Add(d)
			ok(t, "PutChallenge", s.PutChallenge(ctx, c))
			if d > 0 {
				keep = append(keep, c)
			}
		}
		n, err := s.DeleteExpiredChallenges(ctx, now)
		ok(t, "DeleteExpiredChallenges", err)
		if n != 3 {
			t.Fatalf("DeleteExpiredChallenges = %d, want 3 (ExpiresAt <= now)", n)
		}
		n, err = s.DeleteExpiredChallenges(ctx, now)
		ok(t, "DeleteExpiredChallenges(again)", err)
		if n != 0 {
			t.Fatalf("DeleteExpiredChallenges(again) = %d, want 0", n)
		}
		for _, c := range keep {
			if _, err := s.TakeChallenge(ctx, c.ID); err != nil {
				t.Fatalf("TakeChallenge(unexpired): %v", err)
			}
		}
	}},
}

var sessionTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		c := mustCredential(t, s, newCredential(alice.ID))
		withPasskey := newSession(alice.ID, c.ID)
		withPasskey.Methods = []string{"passkey", "tap"}
		withPasskey.AuthTime, withPasskey.CreatedAt, withPasskey.LastSeenAt = at(-time.Minute), at(0), at(time.Minute)
		plain := newSession(alice.ID, "")
		plain.Methods, plain.IP, plain.UserAgent = nil, "", ""
		// Any bytes may be a key, and a key may be a prefix of another.
		plain.TokenHash = append([]byte{0, 0xff}, withPasskey.TokenHash...)
		for _, ss := range []store.Session{withPasskey, plain} {
			ok(t, "CreateSession", s.CreateSession(ctx, ss))
		}
		for _, want := range []store.Session{withPasskey, plain} {
			got, err := s.GetSession(ctx, want.TokenHash)
			ok(t, "GetSession", err)
			same(t, "GetSession", got, want)
		}
		_, err := s.GetSession(ctx, []byte("unknown"))
		wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)

		dup := newSession(alice.ID, "")
		dup.TokenHash = withPasskey.TokenHash
		wantErr(t, "CreateSession(same hash)", s.CreateSession(ctx, dup), store.ErrConflict)
		wantErr(t, "CreateSession(unknown user)", s.CreateSession(ctx, newSession(store.NewID(), "")), store.ErrNotFound)
		wantErr(t, "CreateSession(unknown credential)", s.CreateSession(ctx, newSession(alice.ID, store.NewID())), store.ErrNotFound)
	}},
	{"Touch", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		ss := mustSession(t, s, newSession(alice.ID, ""))
		other := mustSession(t, s, newSession(alice.ID, ""))
		for _, tc := range []struct {
			now, want time.Time
		}{
			{at(time.Minute), at(time.Minute)},
			{at(time.Hour), at(time.Hour)},
			{at(30 * time.Minute), at(time.Hour)}, // never back
			{at(time.Hour + time.Millisecond), at(time.Hour + time.Millisecond)},
		} {
			ok(t, "TouchSession", s.TouchSession(ctx, ss.TokenHash, tc.now))
			got, err := s.GetSession(ctx, ss.TokenHash)
			ok(t, "GetSession", err)
			want := ss
			want.LastSeenAt = tc.want
			same(t, "session after touch", got, want)
		}
		got, err := s.GetSession(ctx, other.TokenHash)
		ok(t, "GetSession(other)", err)
		same(t, "untouched session", got, other)
		wantErr(t, "TouchSession(unknown)", s.TouchSession(ctx, []byte("unknown"), at(0)), store.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice, bob, carol := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol")
		a1 := mustSession(t, s, newSession(alice.ID, ""))
		a2 := mustSession(t, s, newSession(alice.ID, ""))
		a3 := mustSession(t, s, newSession(alice.ID, ""))
		b1 := mustSession(t, s, newSession(bob.ID, ""))

		ok(t, "DeleteSession", s.DeleteSession(ctx, a1.TokenHash))
		_, err := s.GetSession(ctx, a1.TokenHash)
		wantErr(t, "GetSession(deleted)", err, store.ErrNotFound)
		ok(t, "DeleteSession(again)", s.DeleteSession(ctx, a1.TokenHash))
		ok(t, "DeleteSession(unknown)", s.DeleteSession(ctx, []byte("unknown")))

		ok(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, alice.ID))
		for _, ss := range []store.Session{a2, a3} {
			_, err := s.GetSession(ctx, ss.TokenHash)
			wantErr(t, "GetSession(user's sessions deleted)", err, store.ErrNotFound)
		}
		if _, err := s.GetSession(ctx, b1.TokenHash); err != nil {
			t.Fatalf("GetSession(other user's): %v", err)
		}
		ok(t, "DeleteUserSessions(none)", s.DeleteUserSessions(ctx, carol.ID))
		ok(t, "DeleteUserSessions(unknown user)", s.DeleteUserSessions(ctx, store.NewID()))
		if _, err := s.GetUser(ctx, alice.ID); err != nil {
			t.Fatalf("GetUser after DeleteUserSessions: %v", err)
		}
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := context.Background()
		alice := mustUser(t, s, "alice")
		now := at(0)
		var keep []store.Session
		for _, d := range []time.Duration{-time.Hour, -time.Millisecond, 0, time.Millisecond, time.Hour} {
			ss := newSession(alice.ID, "")
			ss.ExpiresAt = now.Add(d)
			ss.LastSeenAt = now.Add(-48 * time.Hour) // idle: not the store's business
			mustSession(t, s, ss)
			if d > 0 {
				keep = append(keep, ss)
			}
		}
		n, err := s.DeleteExpiredSessions(ctx, now)
		ok(t, "DeleteExpiredSessions", err)
		if n != 3 {
			t.Fatalf("DeleteExpiredSessions = %d, want 3 (ExpiresAt <= now)", n)
		}
		for _, ss := range keep {
			if _, err := s.GetSession(ctx, ss.TokenHash); err != nil {
				t.Fatalf("GetSession(unexpired): %v", err)
			}
		}
		n, err = s.DeleteExpiredSessions(ctx, now)
		ok(t, "DeleteExpiredSessions(again)", err)
		if n != 0 {
			t.Fatalf("DeleteExpiredSessions(again) = %d, want 0", n)
		}
	}},
}
