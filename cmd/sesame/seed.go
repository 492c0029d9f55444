package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/store"
)

// seedCmd fills a database with many users and passkeys, to measure memory
// and speed at the size of a large organisation. The passkeys have real
// P-256 public keys but nobody holds their private keys: they exist to be
// stored, listed and looked up, not used (`sesame bench` registers its own
// users through the real ceremony).
func (e *env) seedCmd() *cobra.Command {
	var users, perUser, workers int
	c := &cobra.Command{
		Use:   "seed",
		Short: "Fill the database with many users and passkeys (for measuring at scale; not for production data)",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			if users < 1 || users > 10_000_000 || perUser < 0 || perUser > 20 || workers < 1 || workers > 256 {
				return usageError{fmt.Errorf("--users must be 1 to 10,000,000, --passkeys-per-user 0 to 20, --workers 1 to 256")}
			}
			return e.seed(cmd.Context(), a, users, perUser, workers)
		}),
	}
	c.Flags().IntVar(&users, "users", 100_000, "users to create (seed-0000001 ...); existing ones are skipped")
	c.Flags().IntVar(&perUser, "passkeys-per-user", 2, "passkeys per new user")
	c.Flags().IntVar(&workers, "workers", 8, "concurrent writers (PostgreSQL benefits; SQLite has one writer anyway)")
	return c
}

func (e *env) seed(ctx context.Context, a *app.App, users, perUser, workers int) error {
	start := time.Now()
	var created, skipped, passkeys atomic.Int64
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				ok, err := seedUser(ctx, a, i, perUser)
				if err != nil {
					errc <- err
					return
				}
				if ok {
					created.Add(1)
					passkeys.Add(int64(perUser))
				} else {
					skipped.Add(1)
				}
			}
		})
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var failed error
feed:
	for i := 1; i <= users; i++ {
		select {
		case jobs <- i:
		case failed = <-errc:
			break feed
		case <-ctx.Done():
			failed = ctx.Err()
			break feed
		case <-tick.C:
			i--
			done := created.Load() + skipped.Load()
			fmt.Fprintf(e.stdout, "  %d/%d users (%.0f/s)\n", done, users, float64(done)/time.Since(start).Seconds())
		}
	}
	close(jobs)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errc:
		default:
		}
	}
	fmt.Fprintf(e.stdout, "Created %d users with %d passkeys (%d existed already) in %s.\n",
		created.Load(), passkeys.Load(), skipped.Load(), time.Since(start).Round(time.Millisecond))
	return failed
}

// seedUser creates user number i with perUser passkeys; false when the user
// exists already.
func seedUser(ctx context.Context, a *app.App, i, perUser int) (bool, error) {
	now := a.Now()
	u := store.User{
		ID: store.NewID(), Username: fmt.Sprintf("seed-%07d", i), Email: fmt.Sprintf("seed-%07d@seed.invalid", i),
		DisplayName: fmt.Sprintf("Seed User %d", i), CreatedAt: now, UpdatedAt: now,
	}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		if isConflict(err) {
			return false, nil
		}
		return false, err
	}
	for k := range perUser {
		key, err := coseP256()
		if err != nil {
			return false, err
		}
		id := make([]byte, 32)
		rand.Read(id)
		synced := k%2 == 0
		c := store.Credential{
			ID: store.NewID(), UserID: u.ID, CredentialID: id, PublicKey: key, Algorithm: -7,
			AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none",
			Transports: []string{"internal", "hybrid"}, BackupEligible: synced, BackupState: synced,
			Name: fmt.Sprintf("Passkey %d", k+1), CreatedAt: now,
		}
		if err := a.Store.CreateCredential(ctx, c); err != nil {
			return false, err
		}
	}
	return true, nil
}

// coseP256 makes a COSE_Key for a fresh P-256 public key, as an
// authenticator would send it.
func coseP256() ([]byte, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pub := k.PublicKey().Bytes() // 0x04 || X || Y
	return cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
