package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openFile(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTwoStoresOneFile is the CLI next to the server: two Stores (as in two
// processes) on one file see each other's writes, and their concurrent
// writes are serialized by SQLite's lock, not lost.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sesame.db")
	// Both open (and migrate) a new file at the same moment.
	var server, cli *Store
	var wg sync.WaitGroup
	var errServer, errCLI error
	wg.Go(func() { server, errServer = Open(ctx, path) })
	wg.Go(func() { cli, errCLI = Open(ctx, path) })
	wg.Wait()
	if err := errors.Join(errServer, errCLI); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); cli.Close() })

	u := store.User{ID: store.NewID(), Username: "alice", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := cli.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetUserByUsername(ctx, "alice"); err != nil {
		t.Fatalf("server does not see the user the CLI created: %v", err)
	}
	if err := server.CreateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateUser(same user) on the other store = %v, want ErrConflict", err)
	}

	// Parallel hits through both stores all count.
	const n = 30
	counts := make([]int, 2*n)
	var errs [2 * n]error
	for i := range 2 * n {
		s := server
		if i%2 == 1 {
			s = cli
		}
		wg.Go(func() { counts[i], errs[i] = s.CountHit(ctx, "k", time.Hour, time.Now()) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts through two stores %v, want 1..%d", counts, 2*n)
		}
	}

	// A challenge put on one is taken exactly once across both.
	c := store.Challenge{ID: store.NewID(), Kind: "login", ExpiresAt: time.Now().Add(time.Minute)}
	if err := server.PutChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	var taken [2 * n]error
	for i := range 2 * n {
		s := server
		if i%2 == 1 {
			s = cli
		}
		wg.Go(func() { _, taken[i] = s.TakeChallenge(ctx, c.ID) })
	}
	wg.Wait()
	wins := 0
	for _, err := range taken {
		if err == nil {
			wins++
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Fatalf("challenge taken %d times across two stores, want 1", wins)
	}

	if err := cli.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sesame.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFile(t, path)
	if v, err := s.GetSetting(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
}

func TestOpenRefusesOtherPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

func TestPing(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "sesame.db"))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}
