package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/loadgen/benchmeter"
	"github.com/sesame-idp/sesame/internal/store"
)

// BenchmarkP256Verify is the unit the writes below are counted in.
func BenchmarkP256Verify(b *testing.B) { benchmeter.BenchmarkP256Verify(b) }

// BenchmarkSignInWrites compares the writes of a successful passkey sign-in
// as one transaction (CompleteSignIn) with the same three writes as
// separate autocommit statements, as the finish made them before.
//
//	go test -run '^$' -bench SignInWrites -benchmem ./internal/store/sqlite/
func BenchmarkSignInWrites(b *testing.B) {
	for _, mode := range []string{"OneTransaction", "ThreeAutocommits"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "sesame.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			u := store.User{ID: store.NewID(), Username: "bench", CreatedAt: now, UpdatedAt: now}
			c := store.Credential{ID: store.NewID(), UserID: u.ID, CredentialID: []byte("cred"), PublicKey: []byte{1},
				Algorithm: -7, AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none",
				BackupEligible: true, BackupState: true, CreatedAt: now}
			if err := s.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			if err := s.CreateCredential(ctx, c); err != nil {
				b.Fatal(err)
			}
			m := benchmeter.Start(b)
			for b.Loop() {
				use := store.CredentialUse{BackupState: true, UsedAt: now}
				ss := store.Session{TokenHash: []byte(store.NewID() + store.NewID()), UserID: u.ID, Methods: []string{"passkey"},
					CredentialID: c.ID, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
					IP: "192.0.2.1", UserAgent: "Mozilla/5.0 bench"}
				ev := store.SignInEvent{Time: now, UserID: u.ID, Username: u.Username, IP: ss.IP, UserAgent: ss.UserAgent,
					Method: "passkey", Result: store.ResultSuccess, CredentialID: c.ID, PasskeyType: "synced"}
				if mode == "OneTransaction" {
					_, err = s.CompleteSignIn(ctx, store.SignInCompletion{CredentialID: c.ID, Use: use, Session: ss, Event: ev})
				} else if err = s.RecordCredentialUse(ctx, c.ID, use); err == nil {
					if err = s.CreateSession(ctx, ss); err == nil {
						_, err = s.AppendSignIn(ctx, ev)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			m.Report()
		})
	}
}

// BenchmarkSessionLookup compares reading a session and its user as two
// statements (GetSession, then GetUser) with one join (GetSessionWithUser),
// what every authenticated request does. The AfterWrite variants write
// (with the timer stopped) before each lookup, so the read starts on a page
// cache the writer invalidated, as under sign-in load; their cpu-ns/op
// also holds background work the write started (the checkpointer), which
// the stopped timer does not leave out, so compare them with each other.
// JoinRequestContext is Join with a context that can end, as a request's.
//
//	go test -run '^$' -bench SessionLookup -benchmem ./internal/store/sqlite/
func BenchmarkSessionLookup(b *testing.B) {
	for _, mode := range []string{"TwoQueries", "Join", "TwoQueriesAfterWrite", "JoinAfterWrite", "JoinRequestContext"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			if mode == "JoinRequestContext" {
				// A request's context can end, which the driver watches
				// for unless told not to (db.lookup).
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			s, err := Open(ctx, filepath.Join(b.TempDir(), "sesame.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			u := store.User{ID: store.NewID(), Username: "bench", Email: "bench@example.com", DisplayName: "Bench",
				CreatedAt: now, UpdatedAt: now}
			if err := s.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			ss := store.Session{TokenHash: []byte(store.NewID() + store.NewID()), UserID: u.ID, Methods: []string{"passkey"},
				AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
				IP: "192.0.2.1", UserAgent: "Mozilla/5.0 bench"}
			if err := s.CreateSession(ctx, ss); err != nil {
				b.Fatal(err)
			}
			join := mode == "Join" || mode == "JoinAfterWrite" || mode == "JoinRequestContext"
			write := mode == "TwoQueriesAfterWrite" || mode == "JoinAfterWrite"
			m := benchmeter.Start(b)
			for b.Loop() {
				if write {
					m.StopTimer()
					now = now.Add(time.Millisecond)
					if err := s.TouchSession(ctx, ss.TokenHash, now); err != nil {
						b.Fatal(err)
					}
					m.StartTimer()
				}
				var gotU store.User
				if join {
					_, gotU, err = s.GetSessionWithUser(ctx, ss.TokenHash)
				} else {
					var got store.Session
					if got, err = s.GetSession(ctx, ss.TokenHash); err == nil {
						gotU, err = s.GetUser(ctx, got.UserID)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				if gotU.ID != u.ID {
					b.Fatalf("user %q, want %q", gotU.ID, u.ID)
				}
			}
			m.Report()
		})
	}
}
