package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
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
	var users, perUser, workers, signins int
	c := &cobra.Command{
		Use:   "seed",
		Short: "Fill the database with many users and passkeys (for measuring at scale; not for production data)",
		Args:  cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			if users < 1 || users > 10_000_000 || perUser < 0 || perUser > 20 || workers < 1 || workers > 256 || signins < 0 || signins > 100_000_000 {
				return usageError{fmt.Errorf("--users must be 1 to 10,000,000, --passkeys-per-user 0 to 20, --workers 1 to 256, --signins 0 to 100,000,000")}
			}
			if err := e.seed(cmd.Context(), a, users, perUser, workers); err != nil {
				return err
			}
			if signins == 0 {
				return nil
			}
			return e.seedSignIns(cmd.Context(), a, signins, workers)
		}),
	}
	c.Flags().IntVar(&users, "users", 100_000, "users to create (seed-0000001 ...); existing ones are skipped")
	c.Flags().IntVar(&perUser, "passkeys-per-user", 2, "passkeys per new user")
	c.Flags().IntVar(&workers, "workers", 8, "concurrent writers (PostgreSQL benefits; SQLite has one writer anyway)")
	c.Flags().IntVar(&signins, "signins", 0, "sign-in records to add to the log, spread over the users and the last 90 days (added on every run)")
	return c
}

func (e *env) seed(ctx context.Context, a *app.App, users, perUser, workers int) error {
	start := time.Now()
	var created, skipped, passkeys atomic.Int64
	failed := fanOut(ctx, 1, users, workers, func(i int) error {
		ok, err := seedUser(ctx, a, i, perUser)
		if ok {
			created.Add(1)
			passkeys.Add(int64(perUser))
		} else if err == nil {
			skipped.Add(1)
		}
		return err
	}, func() {
		done := created.Load() + skipped.Load()
		fmt.Fprintf(e.stdout, "  %d/%d users (%.0f/s)\n", done, users, float64(done)/time.Since(start).Seconds())
	})
	fmt.Fprintf(e.stdout, "Created %d users with %d passkeys (%d existed already) in %s.\n",
		created.Load(), passkeys.Load(), skipped.Load(), time.Since(start).Round(time.Millisecond))
	return failed
}

// fanOut runs work(first) .. work(last) on workers goroutines, calling
// progress every 5 seconds, and returns the first error (after which no
// more work starts) or ctx's.
func fanOut(ctx context.Context, first, last, workers int, work func(i int) error, progress func()) error {
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := work(i); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var failed error
feed:
	for i := first; i <= last; i++ {
		select {
		case jobs <- i:
		case failed = <-errc:
			break feed
		case <-ctx.Done():
			failed = ctx.Err()
			break feed
		case <-tick.C:
			i--
			progress()
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
	return failed
}

// seedSignIns appends n sign-in records for the database's users, at
// random times in the last 90 days, nine in ten of them passkey successes,
// through the same store call as real sign-ins (so the report's counters
// move too).
func (e *env) seedSignIns(ctx context.Context, a *app.App, n, workers int) error {
	us, err := a.Store.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		return errors.New("no users to sign in")
	}
	start := time.Now()
	now := a.Now()
	var done atomic.Int64
	failed := fanOut(ctx, 0, n-1, workers, func(i int) error {
		u := us[i%len(us)]
		ev := store.SignInEvent{
			Time: now.Add(-time.Duration(mrand.Int64N(int64(90 * 24 * time.Hour)))), UserID: u.ID, Username: u.Username,
			IP: "192.0.2.1", UserAgent: "sesame-seed/1", Method: "passkey", Result: store.ResultSuccess, PasskeyType: "synced",
		}
		if i%10 == 9 {
			ev.Result, ev.Reason = store.ResultFailure, "verification_failed"
		}
		if _, err := a.Store.AppendSignIn(ctx, ev); err != nil {
			return err
		}
		done.Add(1)
		return nil
	}, func() {
		d := done.Load()
		fmt.Fprintf(e.stdout, "  %d/%d sign-in records (%.0f/s)\n", d, n, float64(d)/time.Since(start).Seconds())
	})
	fmt.Fprintf(e.stdout, "Added %d sign-in records in %s.\n", done.Load(), time.Since(start).Round(time.Millisecond))
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
