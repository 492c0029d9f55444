// Package postgres implements store.Store on PostgreSQL with
// github.com/jackc/pgx/v5, for running several Sesame instances against one
// database.
//
// Every promise of package store holds here exactly as in the SQLite store;
// the single-use and compare-and-set operations are single statements whose
// WHERE clause PostgreSQL re-checks after waiting for a concurrent writer of
// the same row (READ COMMITTED), so of two racers exactly one matches.
//
// Times are timestamptz, written truncated to the millisecond and read back
// in UTC. A zero time.Time reads back as zero.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sesame-idp/sesame/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store on a PostgreSQL database (the schema is the first
// in the connection's search_path). It is safe for concurrent use, and any
// number of Stores, in any number of processes, may share one database.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// string, as libpq takes; pool_max_conns and other pgxpool settings may be
// given in it) and brings the schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error does not repeat the URL (and its password).
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Fail fast while the server is down instead of holding requests: a
	// request that cannot get a connection in a few seconds is answered
	// 503 and the client retries.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrationLock names the advisory lock that serializes migrations of one
// schema, so instances starting together do not apply the same migration
// twice, while tests (or tenants) in other schemas of the same database do
// not wait for each other.
const migrationLock = `hashtextextended('sesame.migrate.' || coalesce(current_schema(), ''), 0)`

// migrate applies the embedded migrations while holding the advisory lock
// on a connection of its own; goose works through the pool's other
// connections.
func migrate(ctx context.Context, pool *pgxpool.Pool) (err error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+migrationLock+`)`); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx has ended; if that fails, closing the
		// session releases the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+migrationLock+`)`); uerr != nil {
			conn.Conn().Close(uctx)
			err = errors.Join(err, fmt.Errorf("unlock: %w", uerr))
		}
	}()

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithVerbose(false),
	)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers (for readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// DBStats reports the pool in database/sql's terms, like the SQLite
// store's, for the operator's metrics.
func (s *Store) DBStats() sql.DBStats {
	st := s.pool.Stat()
	return sql.DBStats{
		MaxOpenConnections: int(st.MaxConns()),
		OpenConnections:    int(st.TotalConns()),
		InUse:              int(st.AcquiredConns()),
		Idle:               int(st.IdleConns()),
		WaitCount:          st.EmptyAcquireCount(),
		WaitDuration:       st.EmptyAcquireWaitTime(),
	}
}

// --- queries: every string argument goes through store.CleanText ---

func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return s.pool.Exec(ctx, sql, cleanArgs(args)...)
}

func (s *Store) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.pool.Query(ctx, sql, cleanArgs(args)...)
}

func (s *Store) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.pool.QueryRow(ctx, sql, cleanArgs(args)...)
}

func cleanArgs(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = store.CleanText(v)
		case []string:
			args[i] = list(v)
		}
	}
	return args
}

// --- errors and value conversions ---

// mapErr turns driver errors into the store's errors. A unique violation is
// a conflict; a foreign-key violation means the user, group or credential
// referred to does not exist.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	}
	return err
}

// unavailable reports whether err means the server could not be reached
// or went away: connection failures, a server shutting down or starting
// up, a connection broken mid-statement.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	return pgconn.SafeToRetry(err)
}

// mustAffect reports ErrNotFound when a statement addressed at one record
// changed nothing.
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// affected returns how many rows a statement changed.
func affected(tag pgconn.CommandTag, err error) (int, error) {
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

// ts is how a time is written: to the millisecond, like every backend.
func ts(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// tsOrNull stores the zero time as NULL, for "not yet" columns.
func tsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func fromTS(t time.Time) time.Time { return t.UTC() }

func fromNullTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// blob keeps NOT NULL bytea columns happy: pgx sends a nil slice as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// list keeps NOT NULL text[] columns happy and cleans the elements.
func list(l []string) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = store.CleanText(v)
	}
	return out
}

// fromList reads an empty array as nil, like the SQLite store.
func fromList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, mapErr(rows.Err())
}
