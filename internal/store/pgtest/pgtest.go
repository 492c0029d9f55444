// Package pgtest gives tests an isolated PostgreSQL database: a schema of
// their own on the server named by SESAME_TEST_POSTGRES, dropped when the
// test ends. The store tests, the CLI tests and the end-to-end tests all
// use it, so "runs on PostgreSQL" means the same thing everywhere.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// Env names the variable holding the test server's URL.
const Env = "SESAME_TEST_POSTGRES"

// URL returns SESAME_TEST_POSTGRES. Without it the test is skipped, except
// under CI=true, where a missing database is a failure.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(Env + " must be set in CI (scripts/test.sh starts a throwaway PostgreSQL)")
		}
		t.Skip("PostgreSQL tests skipped: set " + Env + " to a database URL " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them")
	}
	return u
}

// Available reports whether a test database is configured.
func Available() bool { return os.Getenv(Env) != "" }

// Schema creates an empty schema and returns a URL whose connections use
// it (at most maxConns each); the schema is dropped when the test ends.
func Schema(t testing.TB, base string, maxConns int) string {
	t.Helper()
	ctx := context.Background()
	name := "sesame_test_" + store.NewID()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
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
	params := map[string]string{"search_path": name, "pool_max_conns": fmt.Sprint(maxConns)}
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
