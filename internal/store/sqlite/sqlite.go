// Package sqlite implements store.Store on one SQLite database file, with
// modernc.org/sqlite (pure Go, no cgo).
//
// The file runs in WAL mode so readers never wait for the writer. SQLite
// allows one writer at a time per file, so the Store keeps one connection for
// writes and a pool for reads: writers of this process queue in Go (cheap)
// instead of spinning in SQLite's busy handler, and the busy timeout is left
// to settle contention with other processes (the CLI next to the server)
// that open the same file.
//
// Times are kept as Unix milliseconds in UTC: a time read back is the time
// written, truncated to the millisecond, in UTC. A zero time.Time reads back
// as zero.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sesame-idp/sesame/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeoutMillis bounds how long a statement waits for another process's
// write lock before failing with SQLITE_BUSY. Writes are small, so waiting
// this long means something is wrong (a stuck process), not that we are busy.
const busyTimeoutMillis = 10_000

// Store is a store.Store on one SQLite file. It is safe for concurrent use,
// and several Stores (in this or other processes) may share one file.
type Store struct {
	path  string
	write db // exactly one connection, BEGIN IMMEDIATE
	read  db // read-only pool
	// batch runs the hot writes several to a transaction (batch.go).
	batch *committer
	// ckpt is the checkpointer's own connection (batch.go).
	ckpt               *sql.DB
	ckptQuit, ckptDone chan struct{}
	closeOnce          sync.Once
	closeErr           error
}

// db passes every string argument through store.CleanText, the one rule all
// backends follow for text.
type db struct {
	*sql.DB
	stmts *sync.Map
	raw   *sync.Map // driver.Conn -> *sync.Map of its statements (rawTx)
}

// stmt returns the prepared statement for query, preparing it once: a
// pure-Go SQLite compiles a statement on every call otherwise, which was a
// sixth of the server's CPU per sign-in. The queries are constants (and a
// few filter combinations), so the cache stays small.
func (d db) stmt(ctx context.Context, query string) *sql.Stmt {
	if s, ok := d.stmts.Load(query); ok {
		return s.(*sql.Stmt)
	}
	s, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if old, loaded := d.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return old.(*sql.Stmt)
	}
	return s
}

// rawTx is a write transaction run on the writer's driver connection
// directly, with statements prepared once per connection: database/sql's
// Tx compiles BEGIN and COMMIT on every use and starts a goroutine per
// transaction, which made one transaction cost more CPU than the three
// autocommits it replaces (docs/performance.md, issue 14).
type rawTx struct {
	ctx   context.Context
	conn  driver.Conn
	stmts *sync.Map // query -> driver.Stmt, for conn
}

func (t rawTx) stmt(query string) (driver.Stmt, error) {
	if s, ok := t.stmts.Load(query); ok {
		return s.(driver.Stmt), nil
	}
	s, err := t.conn.(driver.ConnPrepareContext).PrepareContext(t.ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts.Store(query, s)
	return s, nil
}

func namedArgs(args []any) []driver.NamedValue {
	named := make([]driver.NamedValue, len(args))
	for i, a := range cleanArgs(args) {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return named
}

// exec runs query and returns the number of rows it changed.
func (t rawTx) exec(query string, args ...any) (int64, error) {
	s, err := t.stmt(query)
	if err != nil {
		return 0, err
	}
	res, err := s.(driver.StmtExecContext).ExecContext(t.ctx, namedArgs(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryInt64 runs query and returns the first column of its first row, or
// sql.ErrNoRows.
func (t rawTx) queryInt64(query string, args ...any) (int64, error) {
	s, err := t.stmt(query)
	if err != nil {
		return 0, err
	}
	rows, err := s.(driver.StmtQueryContext).QueryContext(t.ctx, namedArgs(args))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); errors.Is(err, io.EOF) {
		return 0, sql.ErrNoRows
	} else if err != nil {
		return 0, err
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, fmt.Errorf("sqlite: %T, want an integer", dest[0])
	}
	return v, nil
}

func (d db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := d.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, cleanArgs(args)...)
	}
	return d.DB.ExecContext(ctx, query, cleanArgs(args)...)
}

func (d db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := d.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, cleanArgs(args)...)
	}
	return d.DB.QueryContext(ctx, query, cleanArgs(args)...)
}

func (d db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := d.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, cleanArgs(args)...)
	}
	return d.DB.QueryRowContext(ctx, query, cleanArgs(args)...)
}

// writeTx runs fn in one write transaction (BEGIN IMMEDIATE: the write
// connection's _txlock), so its reads see what no other writer can change
// before it commits. For writes that read first or must be one transaction
// with reads; the hot writes go through the group commit (batch.go).
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapErr(tx.Commit())
}

// lookup is QueryRowContext for a lookup by key, which takes microseconds:
// it runs without ctx's cancellation. With a context that can end (every
// request's), the driver starts a goroutine per statement to interrupt it
// and installs a progress handler; for a lookup that is work for nothing,
// on every request of the sign-in hot path. A caller whose request has
// ended still gets its answer, a few microseconds later.
func (d db) lookup(ctx context.Context, query string, args ...any) *sql.Row {
	return d.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

func cleanArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = store.CleanText(s)
		}
	}
	return args
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. The directory must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	// The driver takes everything after '?' as its parameters, and an
	// in-memory database would differ between our two pools.
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: unsupported database path %q: want a plain file path", path)
	}

	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Reads are CPU-bound in a pure-Go SQLite; a few more connections than
	// cores covers the ones waiting on disk. Keep them all idle rather than
	// reopening (each open re-reads the schema).
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ckpt, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	s := &Store{path: path, write: db{write, new(sync.Map), new(sync.Map)}, read: db{read, new(sync.Map), new(sync.Map)},
		ckpt: ckpt, ckptQuit: make(chan struct{}), ckptDone: make(chan struct{})}
	s.batch = newCommitter(s.write)
	go checkpointer(ckpt, s.ckptQuit, s.ckptDone)
	return s, nil
}

// dsn builds the driver's connection string. Every connection needs
// foreign_keys (the schema relies on cascades) and busy_timeout (other
// processes); only the writer sets the journal mode, which is stored in the
// file. synchronous=NORMAL is durable against application crashes and, in
// WAL mode, loses at most the last transactions on power loss, which is the
// usual trade for doing thousands of small writes a second.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// The checkpointer (batch.go) copies the WAL back in the background;
	// the writer's own automatic checkpoint copies the rest and starts the
	// WAL over once it is restartFrames long (batch.go).
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", restartFrames))
	if readOnly {
		// A bug that writes through the read pool would bypass the single
		// writer and meet SQLITE_BUSY; make it fail loudly instead.
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// The group commit (batch.go) runs each write in a savepoint,
		// whose undo copy of every page it changes (the sub-journal) went
		// to a temporary file: two pwrite calls a page, a tenth of the
		// server's CPU under load. In memory it costs a copy; a batch's
		// sub-journal is at most a few MB. Readers keep the default, so a
		// large report's sorting does not grow the process.
		q.Add("_pragma", "temp_store(MEMORY)")
		// Transactions take the write lock when they begin, so they wait in
		// the busy handler rather than fail when upgrading later.
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// migrate applies the embedded migrations. Two processes opening a new file
// at the same moment can both decide to apply the same migration; each
// migration runs in its own BEGIN IMMEDIATE transaction, so the loser fails
// and rolls back, and on retry finds the migration applied.
func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithVerbose(false),
	)
	if err != nil {
		return err
	}
	const attempts = 5
	for i := 1; ; i++ {
		_, err = p.Up(ctx)
		if err == nil || i == attempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i) * 50 * time.Millisecond):
		}
	}
}

// Close closes the database. Run PRAGMA optimize first, as SQLite
// recommends for long-lived connections, so the planner's statistics stay
// current.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.batch.close()
	close(s.ckptQuit)
	<-s.ckptDone
	s.ckpt.Close()
	_, _ = s.write.Exec("PRAGMA optimize")
	for _, d := range []db{s.read, s.write} {
		d.stmts.Range(func(_, v any) bool {
			v.(*sql.Stmt).Close()
			return true
		})
		d.raw.Range(func(_, v any) bool {
			v.(*sync.Map).Range(func(_, st any) bool {
				st.(driver.Stmt).Close()
				return true
			})
			return true
		})
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// WriteBatches reports how many write transactions the group commit
// (batch.go) committed and how many writes they held.
func (s *Store) WriteBatches() (transactions, writes int64) { return s.batch.stats() }

// Ping reports whether the database file can be read (for readiness
// checks). It reads the file header through the read pool, so it does not
// queue behind writes.
func (s *Store) Ping(ctx context.Context) error {
	var v int64
	if err := s.read.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent copy of the database to destPath, which must
// not exist yet. It does not block writers for long: VACUUM INTO reads one
// snapshot of the WAL database.
func (s *Store) Backup(ctx context.Context, destPath string) error {
	// VACUUM INTO writes a new file, which query_only forbids on the read
	// pool, and on the writer it would hold up every write for its
	// duration: use a connection of its own.
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", destPath, err)
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", destPath)
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", destPath, err)
	}
	return nil
}

// --- errors and value conversions ---

// mapErr turns driver errors into the store's errors. A unique or
// primary-key violation is a conflict; a foreign-key violation means the
// user, group or credential referred to does not exist.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	}
	return err
}

// mustAffect reports ErrNotFound when a statement addressed at one record
// changed nothing.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// affected returns how many rows a statement changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// millisOrNull stores the zero time as NULL, for "not yet" columns.
func millisOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// blob keeps NOT NULL BLOB columns happy: the driver binds a nil slice as
// NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Lists are JSON arrays; nil and empty both read back as nil.
func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	clean := make([]string, len(l))
	for i, v := range l {
		clean[i] = store.CleanText(v)
	}
	b, _ := json.Marshal(clean) // []string cannot fail
	return string(b)
}

func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("sqlite: bad list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
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
	return out, rows.Err()
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// DBStats reports both pools together, for the operator's metrics.
func (s *Store) DBStats() sql.DBStats {
	r, w := s.read.Stats(), s.write.Stats()
	return sql.DBStats{
		MaxOpenConnections: r.MaxOpenConnections + w.MaxOpenConnections,
		OpenConnections:    r.OpenConnections + w.OpenConnections,
		InUse:              r.InUse + w.InUse,
		Idle:               r.Idle + w.Idle,
		WaitCount:          r.WaitCount + w.WaitCount,
		WaitDuration:       r.WaitDuration + w.WaitDuration,
	}
}
