package postgres

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
	"github.com/sesame-idp/sesame/internal/store/storetest"
)

func testURL(t *testing.T) string { return pgtest.URL(t) }

// newSchema gives a test its own schema; few connections per store, since
// tests run in parallel against one server.
func newSchema(t *testing.T, base string) string { return pgtest.Schema(t, base, 4) }

func open(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	base := testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, newSchema(t, base))
	})
}

// TestInstancesStartTogether: several instances starting at once on a new
// database each migrate under the advisory lock, so every one comes up and
// each migration is applied once.
func TestInstancesStartTogether(t *testing.T) {
	ctx := context.Background()
	dbURL := newSchema(t, testURL(t))
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, dbURL) })
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	var applied []int64
	rows, err := stores[0].pool.Query(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	applied, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	// The versions are the files' numbers (not necessarily contiguous
	// while numbers are handed out to work in progress).
	var want []int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(path.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration file %s: %v", f, err)
		}
		want = append(want, n)
	}
	slices.Sort(want)
	if !slices.Equal(applied, want) {
		t.Fatalf("applied migrations %v, want each once: %v", applied, want)
	}

	// They share one database: counts from all of them add up.
	counts := make([]int, 5*n)
	errs = make([]error, len(counts))
	for i := range counts {
		wg.Go(func() {
			counts[i], errs[i] = stores[i%n].CountHit(ctx, "k", time.Hour, time.Now())
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts across instances %v, want 1..%d", counts, len(counts))
		}
	}

	// Opening again later finds nothing to do.
	open(t, dbURL).Close()
}

func TestPing(t *testing.T) {
	s := open(t, newSchema(t, testURL(t)))
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.DBStats(); st.MaxOpenConnections != 4 || st.OpenConnections < 1 {
		t.Errorf("DBStats = %+v, want 4 at most and at least 1 open", st)
	}
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	for _, u := range []string{
		"postgres://sesame:hunter2secret@127.0.0.1:1/sesame?sslmode=disable&connect_timeout=5",
		"postgres://sesame:hunter2secret@127.0.0.1:1/sesame?sslmode=bogus",
	} {
		s, err := Open(context.Background(), u)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", u)
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}
