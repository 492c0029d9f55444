package e2e

// The harness: a real Sesame in-process on a loopback listener, with a clock
// the test controls and a fresh data directory, plus the helpers every
// end-to-end test needs (users, passes, HTTP clients, store snapshots).
//
// Typical use:
//
//	inst := startSesame(t, sesameOptions{})
//	u := inst.createUser(t, "alice", false)
//	pass := inst.issueTAP(t, u, time.Hour, false)
//	c := inst.newClient(t)
//	c.signInWithTAP(t, "alice", pass)         // session cookie in c's jar
//	pk := newSoftPasskey(inst, softOptions{})
//	c.registerPasskey(t, pk)                  // the user now has a passkey
//	inst.clock.Advance(10 * time.Minute)      // expire things

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, likewise for PostgreSQL
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, to count rows the Store does not expose

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
	"github.com/sesame-idp/sesame/internal/web"
)

// sesameOptions adjust one instance; the zero value is a default Sesame
// (SQLite, per-address rate limit off, default timeouts).
type sesameOptions struct {
	// Database is the database URL; empty means the default of this run
	// (see testDatabase): SQLite in the instance's temporary data directory.
	Database string
	// RateLimit is cfg.RateLimit. Zero keeps the per-address limit off, so
	// tests that make many requests from 127.0.0.1 are not throttled; only
	// the test of that limit sets it.
	RateLimit float64
	// Config, when set, edits the configuration after the harness filled it
	// in (URL, listen address, data directory) and before app.Open.
	Config func(*config.Config)
}

// testDatabase chooses the database of an instance whose options do not
// name one: SQLite in the data directory by default; with
// SESAME_E2E_DATABASE=postgres, a fresh schema on SESAME_TEST_POSTGRES for
// each instance (scripts/test.sh runs the suite both ways).
var testDatabase = func(t testing.TB) string {
	switch db := os.Getenv("SESAME_E2E_DATABASE"); db {
	case "", "sqlite":
		return ""
	case "postgres":
		return pgtest.Schema(t, pgtest.URL(t), 8)
	default:
		t.Fatalf("SESAME_E2E_DATABASE=%q: want sqlite or postgres", db)
		return ""
	}
}

// instance is one running Sesame.
type instance struct {
	App     *app.App
	Config  config.Config
	URL     string // the public URL: http://localhost:PORT
	Origin  string // same as URL, without a trailing slash
	RPID    string // "localhost"
	clock   *clock
	handler http.Handler
	rawDB   *sql.DB // a second, read-only connection for countRows
	logs    *logBuffer
}

// startSesame starts Sesame on a new 127.0.0.1 port, reachable (and
// configured) as http://localhost:PORT, with a fresh data directory and a
// controllable clock. Everything is stopped and removed when the test ends.
func startSesame(t testing.TB, opts sesameOptions) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	origin := fmt.Sprintf("http://localhost:%d", port)

	cfg := config.Defaults()
	cfg.Listen = ln.Addr().String()
	cfg.URL = origin
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Database = opts.Database
	if cfg.Database == "" {
		cfg.Database = testDatabase(t)
	}
	cfg.RateLimit = opts.RateLimit
	cfg.LogLevel = "debug"
	if opts.Config != nil {
		opts.Config(&cfg)
	}

	clk := newClock()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.Open(context.Background(), cfg, app.Options{Now: clk.Now, Logger: logger})
	if err != nil {
		ln.Close()
		t.Fatalf("app.Open: %v", err)
	}
	inst := &instance{App: a, Config: cfg, URL: origin, Origin: origin, RPID: "localhost", clock: clk, logs: logs}
	// Cleanups run last-in first-out: the store closes after the listeners
	// (registered below) have drained.
	t.Cleanup(func() {
		if inst.rawDB != nil {
			inst.rawDB.Close()
		}
		a.Close()
		if t.Failed() {
			t.Logf("Sesame's log:\n%s", logs.String())
		}
	})
	if cfg.Database == "" {
		inst.rawDB, err = sql.Open("sqlite", filepath.Join(cfg.DataDir, app.DatabaseFile)+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	} else {
		inst.rawDB, err = openRawPostgres(cfg.Database)
	}
	if err != nil {
		ln.Close()
		t.Fatalf("opening a second connection to the database: %v", err)
	}
	inst.handler = a.Handler() // built once and shared by every listener
	inst.serve(t, ln)
	return inst
}

// serve serves Sesame's handler on ln until the test ends.
func (inst *instance) serve(t testing.TB, ln net.Listener) {
	srv := &http.Server{Handler: inst.handler, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serving: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	})
}

// serveOtherOrigin serves the same Sesame (same handler, same store) on a
// second localhost port, which is NOT among the configured origins: the RP
// ID (localhost) is the same, so a browser lets pages there run WebAuthn
// ceremonies for it, and Sesame must refuse their responses. It returns the
// second origin.
func (inst *instance) serveOtherOrigin(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	inst.serve(t, ln)
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// ---------------------------------------------------------------- clock

// clock is the instance's clock: the real time plus an offset the test
// moves forward. It follows real time (rather than standing still) so that
// what the browser does with cookie expiry and what Sesame does agree, and
// only jumps when a test says so.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newClock() *clock { return &clock{} }

// Now is the instance's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// ---------------------------------------------------------------- logs

// logBuffer collects Sesame's log, shown when a test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// ---------------------------------------------------------------- users and passes

// createUser adds a user to the directory (as the CLI would).
func (inst *instance) createUser(t testing.TB, username string, admin bool) store.User {
	t.Helper()
	u, err := inst.App.Dir.CreateUser(context.Background(), audit.CLI, directory.NewUser{
		Username: username, Email: username + "@example.com", DisplayName: strings.ToUpper(username[:1]) + username[1:], Admin: admin,
	})
	if err != nil {
		t.Fatalf("creating user %s: %v", username, err)
	}
	return u
}

// user reads a user back by username.
func (inst *instance) user(t testing.TB, username string) store.User {
	t.Helper()
	u, err := inst.App.Dir.User(context.Background(), username)
	if err != nil {
		t.Fatalf("reading user %s: %v", username, err)
	}
	return u
}

// issueTAP issues a temporary access pass (lifetime 0: the default hour)
// and returns the pass as typed by the user.
func (inst *instance) issueTAP(t testing.TB, u store.User, lifetime time.Duration, oneTime bool) string {
	t.Helper()
	u, err := inst.App.Dir.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatalf("reading user: %v", err)
	}
	issued, err := inst.App.TAPs.Issue(context.Background(), audit.CLI, u, lifetime, oneTime)
	if err != nil {
		t.Fatalf("issuing a pass for %s: %v", u.Username, err)
	}
	return issued.Pass
}

// disableUser disables a user (as an admin would).
func (inst *instance) disableUser(t testing.TB, username string) {
	t.Helper()
	if _, err := inst.App.Dir.SetDisabled(context.Background(), audit.CLI, username, true); err != nil {
		t.Fatalf("disabling %s: %v", username, err)
	}
}

// credentials lists a user's passkeys as stored.
func (inst *instance) credentials(t testing.TB, u store.User) []store.Credential {
	t.Helper()
	creds, err := inst.App.Store.ListCredentials(context.Background(), u.ID)
	if err != nil {
		t.Fatalf("listing passkeys: %v", err)
	}
	return creds
}

// signIns returns the sign-in log, newest first (all users when u is nil).
func (inst *instance) signIns(t testing.TB, u *store.User) []store.SignInEvent {
	t.Helper()
	f := store.SignInFilter{Limit: 1000}
	if u != nil {
		f.UserID = u.ID
	}
	evs, err := inst.App.Store.ListSignIns(context.Background(), f)
	if err != nil {
		t.Fatalf("listing sign-ins: %v", err)
	}
	return evs
}

// lastSignIn is the newest sign-in record.
func (inst *instance) lastSignIn(t testing.TB) store.SignInEvent {
	t.Helper()
	evs := inst.signIns(t, nil)
	if len(evs) == 0 {
		t.Fatal("the sign-in log is empty")
	}
	return evs[0]
}

// audit returns the audit log, newest first.
func (inst *instance) audit(t testing.TB) []store.AuditEvent {
	t.Helper()
	evs, err := inst.App.Store.ListAudit(context.Background(), 1000)
	if err != nil {
		t.Fatalf("listing the audit log: %v", err)
	}
	return evs
}

// openRawPostgres opens a plain database/sql connection on the same schema.
// pool_max_conns is a pgxpool setting, which a plain connection would send
// to the server as an unknown parameter.
func openRawPostgres(dbURL string) (*sql.DB, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	return db, nil
}

// countRows counts the rows of a table the Store interface has no listing
// for (sessions, challenges).
func (inst *instance) countRows(t testing.TB, table string) int {
	t.Helper()
	if inst.rawDB == nil {
		t.Fatalf("countRows(%s): no raw connection for database %q (add one for this backend in startSesame)", table, inst.Config.Database)
	}
	var n int
	if err := inst.rawDB.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("counting %s: %v", table, err)
	}
	return n
}

// sessionRows lists the stored sessions (without their token hashes or
// last activity).
func (inst *instance) sessionRows(t testing.TB) []string {
	t.Helper()
	if inst.rawDB == nil {
		t.Fatalf("sessionRows: no raw connection for database %q (add one for this backend in startSesame)", inst.Config.Database)
	}
	rows, err := inst.rawDB.Query(`SELECT user_id, credential_id, auth_time, expires_at FROM sessions ORDER BY token_hash`)
	if err != nil {
		t.Fatalf("listing sessions: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var user string
		var cred sql.NullString
		var authTime, expires any
		if err := rows.Scan(&user, &cred, &authTime, &expires); err != nil {
			t.Fatalf("listing sessions: %v", err)
		}
		out = append(out, fmt.Sprintf("user=%s passkey=%s auth_time=%v expires=%v", user, cred.String, authTime, expires))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing sessions: %v", err)
	}
	return out
}

// ---------------------------------------------------------------- snapshots

// snapshot is the stored state a refused request must leave alone: users,
// passkeys (counters, last use, backup state, names), passes and sessions.
// The sign-in log, the audit log, the consumed challenge and the attempt
// counters are meant to change and are not part of it.
type snapshot struct {
	Users       []store.User
	Credentials []store.Credential
	TAPs        map[string]store.TAP
	Sessions    []string // one line per session: user, passkey, expiry (not last seen: any signed-in request moves it)
}

func (inst *instance) snapshot(t testing.TB) snapshot {
	t.Helper()
	ctx := context.Background()
	users, err := inst.App.Store.ListUsers(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	s := snapshot{Users: users, TAPs: map[string]store.TAP{}, Sessions: inst.sessionRows(t)}
	for _, u := range users {
		creds, err := inst.App.Store.ListCredentials(ctx, u.ID)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		s.Credentials = append(s.Credentials, creds...)
		if tap, err := inst.App.Store.GetTAP(ctx, u.ID); err == nil {
			s.TAPs[u.ID] = tap
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("snapshot: %v", err)
		}
	}
	return s
}

// assertUnchanged fails the test when the stored state differs from before.
func (inst *instance) assertUnchanged(t testing.TB, before snapshot) {
	t.Helper()
	after := inst.snapshot(t)
	a, _ := json.MarshalIndent(before, "", "  ")
	b, _ := json.MarshalIndent(after, "", "  ")
	if !bytes.Equal(a, b) {
		t.Errorf("stored data changed by a refused request:\nbefore: %s\nafter:  %s", a, b)
	}
}

// ---------------------------------------------------------------- HTTP client

// client is one user agent talking to Sesame over HTTP: a cookie jar, no
// automatic redirects (tests look at them), and helpers for the JSON
// endpoints. It is what a script on the page does, without the browser.
type client struct {
	inst *instance
	http *http.Client
	base string // the origin requests go to (normally inst.URL)
}

// newClient returns a client with an empty cookie jar.
func (inst *instance) newClient(t testing.TB) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{inst: inst, base: inst.URL, http: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is a read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorCode is the "code" of a JSON refusal ("" if the body is not one).
func (r response) errorCode() string {
	var e struct {
		Code string `json:"code"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Code
}

func (r response) String() string {
	return fmt.Sprintf("HTTP %d: %s", r.Status, truncateForLog(string(r.Body), 600))
}

func truncateForLog(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// do sends a request with the given content type and body, and extra
// headers given as name, value pairs.
func (c *client) do(t testing.TB, method, path, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Header.Set("User-Agent", "sesame-e2e")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// get fetches a page.
func (c *client) get(t testing.TB, path string) response {
	t.Helper()
	return c.do(t, http.MethodGet, path, "", nil)
}

// postJSON posts v (or, when v is []byte or json.RawMessage, those bytes)
// as JSON.
func (c *client) postJSON(t testing.TB, path string, v any) response {
	t.Helper()
	var body []byte
	switch b := v.(type) {
	case []byte:
		body = b
	case json.RawMessage:
		body = b
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return c.do(t, http.MethodPost, path, "application/json", body)
}

// postForm posts an HTML form.
func (c *client) postForm(t testing.TB, path string, form url.Values) response {
	t.Helper()
	return c.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// sessionCookie is the client's current session cookie value ("" if none).
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == web.CookieName {
			return ck.Value
		}
	}
	return ""
}

// setSessionCookie replaces the session cookie (to replay an old one, or
// plant one).
func (c *client) setSessionCookie(value string) {
	u, _ := url.Parse(c.base)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: web.CookieName, Value: value, Path: "/"}})
}

// setsSessionCookie reports whether a response sets a non-empty session
// cookie.
func setsSessionCookie(r response) bool {
	for _, line := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, web.CookieName+"=") && !strings.HasPrefix(line, web.CookieName+"=;") {
			return true
		}
	}
	return false
}

// signInWithTAP submits the temporary access pass form and expects to be
// signed in.
func (c *client) signInWithTAP(t testing.TB, username, pass string) {
	t.Helper()
	r := c.submitTAP(t, username, pass)
	if r.Status != http.StatusSeeOther || !setsSessionCookie(r) {
		t.Fatalf("signing in with a pass: want 303 with a session cookie, got %s", r)
	}
}

// submitTAP submits the temporary access pass form.
func (c *client) submitTAP(t testing.TB, username, pass string) response {
	t.Helper()
	return c.postForm(t, "/signin/tap", url.Values{"username": {username}, "pass": {pass}})
}

// me is GET /api/me: who the session belongs to.
type me struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Methods  []string `json:"methods"`
}

// whoami returns the signed-in user, or fails the test.
func (c *client) whoami(t testing.TB) me {
	t.Helper()
	r := c.get(t, "/api/me")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/me: want 200, got %s", r)
	}
	var m me
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("GET /api/me: %v", err)
	}
	return m
}

// signedIn reports whether the client's session is accepted.
func (c *client) signedIn(t testing.TB) bool {
	t.Helper()
	r := c.get(t, "/api/me")
	switch r.Status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("GET /api/me: want 200 or 401, got %s", r)
	return false
}

// expectRefusal checks a JSON refusal's status and code.
func expectRefusal(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.Status != status || r.errorCode() != code {
		t.Errorf("want HTTP %d with code %q, got %s", status, code, r)
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) != nil || e.Error == "" {
		t.Errorf("the refusal has no message for the user: %s", r)
	}
}

// ---------------------------------------------------------------- small things

// contains reports whether the sign-in log has an entry matching f.
func containsEvent(evs []store.SignInEvent, f func(store.SignInEvent) bool) bool {
	return slices.ContainsFunc(evs, f)
}
