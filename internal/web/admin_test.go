package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// testEnv is a Server over a real SQLite store in a temporary directory, with an admin ("root") and
// a user ("bob") who each have a session cookie.
type testEnv struct {
	t       *testing.T
	st      *sqlite.Store
	srv     *Server
	h       http.Handler
	root    store.User
	bob     store.User
	rootTok string
	bobTok  string
	tokens  map[string][]string // user ID -> session tokens made by session()
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := func() time.Time { return testNow }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := &directory.Service{Store: st, Now: now}
	taps := &methods.TAPs{Store: st, Key: []byte("test key 0123456789abcdef"), Policy: methods.DefaultTAPPolicy, Now: now}
	sis := &signin.Service{Store: st, Dir: dir, TAPs: taps, Now: now, Log: log,
		ChallengeTTL: 5 * time.Minute, SessionIdle: time.Hour, SessionMax: 12 * time.Hour}
	srv := &Server{Store: st, SignIn: sis, Dir: dir, TAPs: taps, Log: log, Now: now}
	e := &testEnv{t: t, st: st, srv: srv, h: srv.Handler()}
	ctx := context.Background()
	if e.root, err = dir.CreateUser(ctx, "cli", directory.NewUser{Username: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = dir.CreateUser(ctx, "cli", directory.NewUser{Username: "bob", DisplayName: "Bob"}); err != nil {
		t.Fatal(err)
	}
	e.rootTok = e.session(e.root, "")
	e.bobTok = e.session(e.bob, "")
	return e
}

func (e *testEnv) session(u store.User, credID string) string {
	tok := store.NewID() + store.NewID()
	err := e.st.CreateSession(context.Background(), store.Session{
		TokenHash: signin.HashToken(tok), UserID: u.ID, Methods: []string{"passkey"}, CredentialID: credID,
		AuthTime: testNow, CreatedAt: testNow, LastSeenAt: testNow, ExpiresAt: testNow.Add(time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if e.tokens == nil {
		e.tokens = map[string][]string{}
	}
	e.tokens[u.ID] = append(e.tokens[u.ID], tok)
	return tok
}

func (e *testEnv) addPasskey(u store.User, name string) store.Credential {
	c := store.Credential{ID: store.NewID(), UserID: u.ID, CredentialID: []byte(store.NewID()), AAGUID: make([]byte, 16), Name: name, CreatedAt: testNow}
	if err := e.st.CreateCredential(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *testEnv) do(method, path, token string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func expect(t *testing.T, w *httptest.ResponseRecorder, status int, contains ...string) string {
	t.Helper()
	body := w.Body.String()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", w.Code, status, body)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			t.Errorf("response lacks %q:\n%s", c, body)
		}
	}
	return body
}

func expectRedirect(t *testing.T, w *httptest.ResponseRecorder, to string) {
	t.Helper()
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != to {
		t.Fatalf("got %d to %q, want 303 to %q; body:\n%s", w.Code, w.Header().Get("Location"), to, w.Body.String())
	}
}

func TestAdminRequiresAdmin(t *testing.T) {
	e := newTestEnv(t)
	expectRedirect(t, e.do("GET", "/admin", "", nil), "/signin?return_to=%2Fadmin")
	expect(t, e.do("GET", "/admin", e.bobTok, nil), http.StatusForbidden, "This page is for administrators.")
	w := e.do("POST", "/admin/users", e.bobTok, url.Values{"username": {"mallory"}, "admin": {"yes"}})
	expect(t, w, http.StatusForbidden)
	if _, err := e.st.GetUserByUsername(context.Background(), "mallory"); err == nil {
		t.Fatal("non-admin created a user")
	}
	// The nav shows Admin only to admins.
	body := expect(t, e.do("GET", "/admin", e.rootTok, nil), http.StatusOK, `id="nav-admin"`, `action="/signout"`)
	_ = body
}

func TestAdminHomeFlagsLockoutRisk(t *testing.T) {
	e := newTestEnv(t)
	// Two synced passkeys: not one device away from a lock-out (two
	// device-bound ones of the same undisclosed model would be).
	for _, name := range []string{"one", "two"} {
		c := store.Credential{ID: store.NewID(), UserID: e.root.ID, CredentialID: []byte(store.NewID()), AAGUID: make([]byte, 16),
			BackupEligible: true, BackupState: true, Name: name, CreatedAt: testNow}
		if err := e.st.CreateCredential(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	e.addPasskey(e.bob, "only")
	body := expect(t, e.do("GET", "/admin", e.rootTok, nil), http.StatusOK,
		`<tr data-username="root" data-passkeys="2">`,
		`<tr data-username="bob" data-passkeys="1" data-at-risk="true"`, "1 at risk of lock-out")
	if strings.Count(body, "lockout-risk") != 1 {
		t.Errorf("exactly one user should be flagged")
	}
}

func TestAdminCreateUser(t *testing.T) {
	e := newTestEnv(t)
	before := e.userCount()
	// Bad input: shown next to the form, with the values kept; nothing created.
	w := e.do("POST", "/admin/users", e.rootTok, url.Values{"username": {"-bad name"}, "email": {"carol@example.org"}})
	expect(t, w, http.StatusBadRequest, `id="create-user-error"`, "A username may only use", `value="-bad name"`, `value="carol@example.org"`)
	w = e.do("POST", "/admin/users", e.rootTok, url.Values{"username": {"bob"}})
	expect(t, w, http.StatusConflict, "already exists")
	if e.userCount() != before {
		t.Fatal("bad input created a user")
	}

	w = e.do("POST", "/admin/users", e.rootTok, url.Values{"username": {"Carol"}, "email": {"carol@example.org"}, "name": {"Carol C"}})
	expectRedirect(t, w, "/admin/users/carol?notice=user_created")
	u, err := e.st.GetUserByUsername(context.Background(), "carol")
	if err != nil || u.Admin || u.DisplayName != "Carol C" {
		t.Fatalf("user %+v, %v", u, err)
	}
	if !slices.Contains(e.auditActions(), "root user.create carol") {
		t.Errorf("audit: %v", e.auditActions())
	}
	expect(t, e.do("GET", "/admin/users/carol?notice=user_created", e.rootTok, nil), http.StatusOK, "User created.", `id="no-passkeys"`, `id="tap-form"`)
	expect(t, e.do("GET", "/admin/users/nobody", e.rootTok, nil), http.StatusNotFound, "There is no user with that username.")
}

var issuedRe = regexp.MustCompile(`id="issued-pass">([^<]+)<`)

func TestAdminIssueTAP(t *testing.T) {
	e := newTestEnv(t)
	for _, bad := range []string{"soon", "5m", "60d", "0", "-1h"} {
		w := e.do("POST", "/admin/users/bob/tap", e.rootTok, url.Values{"lifetime": {bad}})
		body := expect(t, w, http.StatusBadRequest, `id="tap-error"`)
		if strings.Contains(body, `id="issued-pass"`) {
			t.Fatalf("%q: a pass was shown", bad)
		}
		if _, err := e.st.GetTAP(context.Background(), e.bob.ID); err == nil {
			t.Fatalf("%q: a pass was stored", bad)
		}
	}

	w := e.do("POST", "/admin/users/bob/tap", e.rootTok, url.Values{"lifetime": {"7d"}, "one_time": {"yes"}})
	body := expect(t, w, http.StatusOK, `id="issued-pass"`, "21 Mar 2026 09:26 UTC", "for one sign-in")
	if loc := w.Header().Get("Location"); loc != "" {
		t.Fatalf("redirected to %s", loc)
	}
	m := issuedRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no pass on the page")
	}
	pass := m[1]
	tap, err := e.st.GetTAP(context.Background(), e.bob.ID)
	if err != nil || !tap.OneTime || !tap.ExpiresAt.Equal(testNow.Add(7*24*time.Hour)) {
		t.Fatalf("stored %+v, %v", tap, err)
	}
	if !methods.MatchPass(e.srv.TAPs.Key, tap, pass) {
		t.Fatal("shown pass does not match the stored hash")
	}
	if !slices.Contains(e.auditActions(), "root tap.issue bob") {
		t.Errorf("audit: %v", e.auditActions())
	}
	// Shown once: the user page does not show it again.
	body = expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK, `id="tap-status"`, "active, not used yet")
	if strings.Contains(body, pass) {
		t.Fatal("pass shown again")
	}

	// Empty lifetime means the default (1h); a disabled user gets none.
	expect(t, e.do("POST", "/admin/users/bob/tap", e.rootTok, url.Values{"lifetime": {""}}), http.StatusOK, "14 Mar 2026 10:26 UTC", "any number of sign-ins")
	expectRedirect(t, e.do("POST", "/admin/users/bob/disable", e.rootTok, url.Values{}), "/admin/users/bob?notice=disabled")
	expect(t, e.do("POST", "/admin/users/bob/tap", e.rootTok, url.Values{"lifetime": {"1h"}}), http.StatusConflict, "enable the user")
}

func TestAdminRevoke(t *testing.T) {
	e := newTestEnv(t)
	keep := e.addPasskey(e.bob, "keep")
	lost := e.addPasskey(e.bob, "lost")
	other := e.addPasskey(e.root, "root's")
	lostSession := e.session(e.bob, lost.ID)

	expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK,
		`class="passkey" data-id="`+lost.ID+`"`, `/admin/users/bob/passkeys/`+lost.ID+`/revoke`, `class="revoke danger"`)

	// Another user's passkey through bob's URL: refused, nothing deleted.
	expect(t, e.do("POST", "/admin/users/bob/passkeys/"+other.ID+"/revoke", e.rootTok, url.Values{}), http.StatusNotFound)
	if _, err := e.st.GetCredential(context.Background(), other.ID); err != nil {
		t.Fatal("other user's passkey deleted")
	}

	expectRedirect(t, e.do("POST", "/admin/users/bob/passkeys/"+lost.ID+"/revoke", e.rootTok, url.Values{}), "/admin/users/bob?notice=revoked")
	if _, err := e.st.GetCredential(context.Background(), lost.ID); err == nil {
		t.Fatal("passkey not revoked")
	}
	if _, err := e.st.GetCredential(context.Background(), keep.ID); err != nil {
		t.Fatal("wrong passkey revoked")
	}
	if _, err := e.st.GetSession(context.Background(), signin.HashToken(lostSession)); err == nil {
		t.Fatal("session made with the revoked passkey survived")
	}
	if !slices.Contains(e.auditActions(), "root passkey.revoke "+lost.ID) {
		t.Errorf("audit: %v", e.auditActions())
	}
	expect(t, e.do("GET", "/admin/users/bob?notice=revoked", e.rootTok, nil), http.StatusOK, "Passkey revoked.", `id="lockout-risk"`)
}

func TestAdminDisableEnable(t *testing.T) {
	e := newTestEnv(t)
	expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK, `id="disable-user"`)
	expectRedirect(t, e.do("POST", "/admin/users/bob/disable", e.rootTok, url.Values{}), "/admin/users/bob?notice=disabled")
	if u, _ := e.st.GetUser(context.Background(), e.bob.ID); !u.Disabled {
		t.Fatal("not disabled")
	}
	if e.hasSessions(e.bob) {
		t.Fatal("disabled user kept a session")
	}
	expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK, `id="enable-user"`, `data-disabled="true"`)
	expectRedirect(t, e.do("POST", "/admin/users/bob/enable", e.rootTok, url.Values{}), "/admin/users/bob?notice=enabled")
	if u, _ := e.st.GetUser(context.Background(), e.bob.ID); u.Disabled {
		t.Fatal("not enabled")
	}

	// The last admin cannot be disabled: the page says why, nothing changes.
	expect(t, e.do("POST", "/admin/users/root/disable", e.rootTok, url.Values{}), http.StatusConflict, `id="status-error"`, "last enabled admin")
	if u, _ := e.st.GetUser(context.Background(), e.root.ID); u.Disabled {
		t.Fatal("last admin disabled")
	}
	expect(t, e.do("POST", "/admin/users/nobody/disable", e.rootTok, url.Values{}), http.StatusNotFound)
}

func TestAdminGroups(t *testing.T) {
	e := newTestEnv(t)
	expect(t, e.do("POST", "/admin/groups", e.rootTok, url.Values{"name": {"  "}}), http.StatusBadRequest, `id="create-group-error"`)
	if e.groupCount() != 0 {
		t.Fatal("bad group created")
	}
	expectRedirect(t, e.do("POST", "/admin/groups", e.rootTok, url.Values{"name": {"pilot/1"}, "description": {"First wave"}}), "/admin?notice=group_created")
	expect(t, e.do("POST", "/admin/groups", e.rootTok, url.Values{"name": {"pilot/1"}}), http.StatusConflict, "already exists", `value="pilot/1"`)

	expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK, `id="add-group"`, `<option value="pilot/1">`, `id="no-groups"`)
	expectRedirect(t, e.do("POST", "/admin/users/bob/groups", e.rootTok, url.Values{"group": {"pilot/1"}, "action": {"add"}}), "/admin/users/bob?notice=group_added")
	expect(t, e.do("GET", "/admin/users/bob", e.rootTok, nil), http.StatusOK, `data-group="pilot/1"`)
	expect(t, e.do("GET", "/admin", e.rootTok, nil), http.StatusOK, `href="/admin/users/bob">bob</a>`, `action="/admin/groups/pilot%2F1/delete"`)

	expect(t, e.do("POST", "/admin/users/bob/groups", e.rootTok, url.Values{"group": {"nope"}, "action": {"add"}}), http.StatusNotFound, `id="group-error"`)
	expect(t, e.do("POST", "/admin/users/bob/groups", e.rootTok, url.Values{"group": {"pilot/1"}, "action": {"frobnicate"}}), http.StatusBadRequest)
	expectRedirect(t, e.do("POST", "/admin/users/bob/groups", e.rootTok, url.Values{"group": {"pilot/1"}, "action": {"remove"}}), "/admin/users/bob?notice=group_removed")
	if gs, err := e.st.ListUserGroups(context.Background(), e.bob.ID); err != nil || len(gs) != 0 {
		t.Fatalf("membership not removed: %v %v", gs, err)
	}

	expectRedirect(t, e.do("POST", "/admin/groups/pilot%2F1/delete", e.rootTok, url.Values{}), "/admin?notice=group_deleted")
	if e.groupCount() != 0 {
		t.Fatal("group not deleted")
	}
	expect(t, e.do("POST", "/admin/groups/pilot%2F1/delete", e.rootTok, url.Values{}), http.StatusNotFound)
	want := []string{"root group.create pilot/1", "root group.add_member pilot/1", "root group.remove_member pilot/1", "root group.delete pilot/1"}
	for _, a := range want {
		if !slices.Contains(e.auditActions(), a) {
			t.Errorf("audit lacks %q: %v", a, e.auditActions())
		}
	}
}

func TestMyPageAndStatic(t *testing.T) {
	e := newTestEnv(t)
	c := e.addPasskey(e.bob, "Only key")
	tok := e.session(e.bob, c.ID)
	w := e.do("GET", "/my?welcome=tap&notice=renamed", tok, nil)
	expect(t, w, http.StatusOK, `class="passkey" data-id="`+c.ID+`"`, "Only key", `id="advice"`, `id="welcome"`, "Passkey renamed.", `id="add-passkey"`)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(w.Body.String(), `id="nav-admin"`) {
		t.Error("admin link shown to a user")
	}

	// Removing the last passkey asks first and changes nothing.
	w = e.do("POST", "/my/passkeys/"+c.ID+"/delete", tok, url.Values{})
	expect(t, w, http.StatusConflict, `id="confirm-delete"`, `name="confirm" value="yes"`)
	if _, err := e.st.GetCredential(context.Background(), c.ID); err != nil {
		t.Fatal("deleted without confirmation")
	}

	expect(t, e.do("GET", "/signin?return_to=/admin", "", nil), http.StatusOK, `id="passkey-button"`, `data-return-to="/admin"`)
	expect(t, e.do("GET", "/signin/tap?username=bob", "", nil), http.StatusOK, `value="bob"`)
	for _, f := range []string{"sesame.css", "signin.js", "my.js", "webauthn.js"} {
		w := e.do("GET", "/static/"+f, "", nil)
		expect(t, w, http.StatusOK)
		ct := w.Header().Get("Content-Type")
		if (strings.HasSuffix(f, ".js") && !strings.HasPrefix(ct, "text/javascript")) || (strings.HasSuffix(f, ".css") && !strings.HasPrefix(ct, "text/css")) {
			t.Errorf("%s served as %q", f, ct)
		}
	}
}

func (e *testEnv) userCount() int {
	n, err := e.st.CountUsers(context.Background(), false)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *testEnv) groupCount() int {
	g, err := e.st.ListGroups(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return len(g)
}

// auditActions lists the audit log, "actor action target", oldest first.
func (e *testEnv) auditActions() []string {
	evs, err := e.st.ListAudit(context.Background(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Actor+" "+evs[i].Action+" "+evs[i].Target)
	}
	return out
}

// hasSessions reports whether any of u's sessions is still stored.
func (e *testEnv) hasSessions(u store.User) bool {
	for _, tok := range e.tokens[u.ID] {
		if _, err := e.st.GetSession(context.Background(), signin.HashToken(tok)); err == nil {
			return true
		}
	}
	return false
}
