package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/storetest"
)

// testURL is the database the tests use, from SESAME_TEST_POSTGRES. Each
// test works in a schema of its own there, dropped when it ends.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SESAME_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SESAME_TEST_POSTGRES must be set in CI")
		}
		t.Skip("PostgreSQL tests skipped: set SESAME_TEST_POSTGRES to a database URL " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them")
	}
	return u
}

// newSchema creates an empty schema and returns a URL whose connections use
// it; the schema is dropped when the test ends.
func newSchema(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	name := "sesame_test_" + store.NewID()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to SESAME_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	// Few connections per store: tests run in parallel against one server.
	params := map[string]string{"search_path": name, "pool_max_conns": "4"}
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		base += fmt.Sprintf(" %s=%s", k, v)
	}
	return base
}

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
	if !slices.Equal(applied, []int64{1}) {
		t.Fatalf("applied migrations %v, want each once: [1]", applied)
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
