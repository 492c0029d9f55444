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
