package oidc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/loadgen/benchmeter"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// The provider over its real SQLite store, driven through its HTTP handler
// without a network: the browser's part (cookie, redirects) is done by
// hand, the Sesame session by a stand-in for the sign-in flow.

const testIssuer = "http://localhost:8080"

type fakeSessions struct {
	mu sync.Mutex
	m  map[string]fakeSession
}

type fakeSession struct {
	s store.Session
	u store.User
}

var errNoSession = errors.New("no session")

func (f *fakeSessions) Authenticate(_ context.Context, token string) (store.Session, store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[token]
	if !ok {
		return store.Session{}, store.User{}, errNoSession
	}
	return s.s, s.u, nil
}

func (f *fakeSessions) SignOut(_ context.Context, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, token)
	return nil
}

type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type fixture struct {
	p        *Provider
	st       *sqlite.Store
	h        http.Handler
	clock    *testClock
	sessions *fakeSessions
	user     store.User
	cred     store.Credential
	cookie   string // the user's session cookie value
	secret   string // client secret of app "app"
}

const (
	testClient   = "app"
	testRedirect = "https://app.example.com/callback"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, clock: &testClock{}, sessions: &fakeSessions{m: map[string]fakeSession{}}}
	f.p, err = New(Config{
		Issuer: testIssuer + "/", Store: st, OIDCStore: st, Sessions: f.sessions,
		CookieName: "sesame_session", KeyEncryptionKey: bytes.Repeat([]byte{1}, 32), CodeKey: bytes.Repeat([]byte{2}, 32),
		Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = f.p.Handler()

	now := f.clock.Now()
	f.user = store.User{ID: store.NewID(), Username: "alice", Email: "alice@example.com", DisplayName: "Alice", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	f.cred = store.Credential{ID: store.NewID(), UserID: f.user.ID, CredentialID: []byte("cred-" + f.user.ID), PublicKey: []byte{1},
		Algorithm: -7, AAGUID: make([]byte, 16), AttestationFormat: "none", AttestationTrust: "none", CreatedAt: now}
	if err := st.CreateCredential(ctx, f.cred); err != nil {
		t.Fatal(err)
	}
	f.cookie = "cookie-" + store.NewID()
	f.sessions.m[f.cookie] = fakeSession{
		s: store.Session{UserID: f.user.ID, Methods: []string{"passkey"}, CredentialID: f.cred.ID, AuthTime: now.Add(-time.Minute)},
		u: f.user,
	}
	_, f.secret, err = f.p.AddApp(ctx, audit.CLI, NewApp{Name: testClient, RedirectURIs: []string{testRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func challenge(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// code runs the browser's part of a sign-in and returns the code and the
// PKCE verifier.
func (f *fixture) code(t testing.TB, scope string) (string, string) {
	t.Helper()
	verifier := "verifier-" + store.NewID() + store.NewID()
	q := url.Values{"client_id": {testClient}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {scope}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	w := f.serve(httptest.NewRequest(http.MethodGet, testIssuer+pathAuthorize+"?"+q.Encode(), nil))
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), testIssuer+pathContinue) {
		t.Fatalf("authorize: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	r := httptest.NewRequest(http.MethodGet, w.Header().Get("Location"), nil)
	r.AddCookie(&http.Cookie{Name: "sesame_session", Value: f.cookie})
	w = f.serve(r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("continue: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	return loc.Query().Get("code"), verifier
}

type tokenResponse struct {
	status       int
	Error        string `json:"error"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

func (f *fixture) token(t testing.TB, form url.Values) tokenResponse {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, testIssuer+pathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(testClient, f.secret)
	w := f.serve(r)
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatalf("token response %d %q: %v", w.Code, w.Body, err)
	}
	tr.status = w.Code
	return tr
}

func (f *fixture) exchange(t testing.TB, code, verifier string) tokenResponse {
	return f.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}})
}

func (f *fixture) refresh(t testing.TB, rt string) tokenResponse {
	return f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func kidOf(t testing.TB, jwt string) string {
	t.Helper()
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func TestCodeFlow(t *testing.T) {
	f := newFixture(t)
	code, verifier := f.code(t, "openid email offline_access")
	tr := f.exchange(t, code, verifier)
	if tr.status != http.StatusOK || tr.IDToken == "" || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("exchange: %+v", tr)
	}
	tr2 := f.refresh(t, tr.RefreshToken)
	if tr2.status != http.StatusOK || tr2.RefreshToken == tr.RefreshToken {
		t.Fatalf("refresh: %+v", tr2)
	}
	// Without offline_access there is no refresh token.
	code, verifier = f.code(t, "openid")
	if tr := f.exchange(t, code, verifier); tr.status != http.StatusOK || tr.RefreshToken != "" {
		t.Fatalf("exchange without offline_access: %+v", tr)
	}
}

// TestConcurrentCodeExchange: of many exchanges of one code exactly one
// gets tokens, and since the others are replays, the tokens it got are
// revoked.
func TestConcurrentCodeExchange(t *testing.T) {
	f := newFixture(t)
	code, verifier := f.code(t, "openid offline_access")
	const n = 10
	results := make([]tokenResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = f.exchange(t, code, verifier) })
	}
	wg.Wait()
	var winner *tokenResponse
	for i, r := range results {
		switch {
		case r.status == http.StatusOK:
			if winner != nil {
				t.Fatalf("two exchanges of one code succeeded")
			}
			winner = &results[i]
		case r.Error != "invalid_grant" || r.AccessToken != "":
			t.Fatalf("a losing exchange: %+v", r)
		}
	}
	if winner == nil {
		t.Fatal("no exchange succeeded")
	}
	if r := f.refresh(t, winner.RefreshToken); r.status != http.StatusBadRequest || r.Error != "invalid_grant" {
		t.Errorf("the winner's refresh token survived the replays: %+v", r)
	}
}

// TestConcurrentRefresh: of many uses of one refresh token exactly one
// rotates it; the family is then revoked, as two parties held it.
func TestConcurrentRefresh(t *testing.T) {
	f := newFixture(t)
	code, verifier := f.code(t, "openid offline_access")
	first := f.exchange(t, code, verifier)
	const n = 10
	results := make([]tokenResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = f.refresh(t, first.RefreshToken) })
	}
	wg.Wait()
	wins := 0
	var next string
	for _, r := range results {
		if r.status == http.StatusOK {
			wins++
			next = r.RefreshToken
		} else if r.Error != "invalid_grant" || r.RefreshToken != "" {
			t.Fatalf("a losing refresh: %+v", r)
		}
	}
	if wins != 1 {
		t.Fatalf("%d refreshes of one token succeeded, want 1", wins)
	}
	// The losers' refusals are logged, and no success but the winner's.
	list, err := f.st.ListSignIns(context.Background(), store.SignInFilter{App: testClient, Result: store.ResultSuccess})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 { // the exchange and the one refresh
		t.Errorf("%d successes logged, want 2: %+v", len(list), list)
	}
	if r := f.refresh(t, next); r.status == http.StatusOK {
		t.Errorf("the family survived a reuse")
	}
}

// TestDisabledUserLosesRefresh: a user disabled in the directory cannot
// refresh, and the family is revoked.
func TestDisabledUserLosesRefresh(t *testing.T) {
	f := newFixture(t)
	code, verifier := f.code(t, "openid offline_access")
	tr := f.exchange(t, code, verifier)
	u := f.user
	u.Disabled = true
	if err := f.st.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if r := f.refresh(t, tr.RefreshToken); r.Error != "invalid_grant" {
		t.Fatalf("refresh of a disabled user: %+v", r)
	}
}

// TestTokenSignInLog: each token request leaves exactly one sign-in log
// entry, written with the tokens it issued or, when it was refused, alone;
// a replayed refresh token is refused, logged as a reuse, and ends the
// family.
func TestTokenSignInLog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code, verifier := f.code(t, "openid offline_access")
	first := f.exchange(t, code, verifier)
	second := f.refresh(t, first.RefreshToken)
	if first.status != http.StatusOK || second.status != http.StatusOK {
		t.Fatalf("exchange %+v, refresh %+v", first, second)
	}
	if r := f.refresh(t, first.RefreshToken); r.Error != "invalid_grant" {
		t.Fatalf("replayed refresh token: %+v", r)
	}
	if r := f.refresh(t, second.RefreshToken); r.Error != "invalid_grant" {
		t.Fatalf("refresh token of a family ended by a reuse: %+v", r)
	}
	if r := f.exchange(t, code, verifier); r.Error != "invalid_grant" {
		t.Fatalf("replayed code: %+v", r)
	}
	list, err := f.st.ListSignIns(ctx, store.SignInFilter{App: testClient})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ result, reason, detail, user, credential string }
	var got []entry
	for i := len(list) - 1; i >= 0; i-- {
		e := list[i]
		got = append(got, entry{e.Result, e.Reason, e.Detail, e.Username, e.CredentialID})
	}
	want := []entry{
		{store.ResultSuccess, "", "authorization_code grant: issued id_token, access_token, refresh_token", "alice", f.cred.ID},
		{store.ResultSuccess, "", "refresh_token grant: issued id_token, access_token, refresh_token", "alice", f.cred.ID},
		{store.ResultFailure, "refresh_token_reused", "", "alice", f.cred.ID},
		{store.ResultFailure, "grant_revoked", "", "alice", f.cred.ID},
		{store.ResultFailure, "code_reused", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("sign-in log: %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if want[i].detail == "" {
			got[i].detail = ""
		}
		if got[i] != want[i] {
			t.Errorf("sign-in log entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestCodeOfDisabledOrDeletedUser: a code is worth nothing once its user
// is disabled or deleted.
func TestCodeOfDisabledOrDeletedUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code, verifier := f.code(t, "openid offline_access")
	u := f.user
	u.Disabled = true
	if err := f.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if r := f.exchange(t, code, verifier); r.Error != "invalid_grant" || r.AccessToken != "" {
		t.Fatalf("exchange for a disabled user: %+v", r)
	}
	u.Disabled = false
	if err := f.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	code, verifier = f.code(t, "openid offline_access")
	if err := f.st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.exchange(t, code, verifier); r.Error != "invalid_grant" || r.AccessToken != "" {
		t.Fatalf("exchange for a deleted user: %+v", r)
	}
	list, err := f.st.ListSignIns(ctx, store.SignInFilter{App: testClient, Result: store.ResultFailure})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Reason != "user_unavailable" || list[1].Reason != "user_unavailable" {
		t.Errorf("refusals logged: %+v", list)
	}
}

// TestUserInfoRefusesDisabledUser: an access token stops working when its
// user is disabled, even while its grant stands.
func TestUserInfoRefusesDisabledUser(t *testing.T) {
	f := newFixture(t)
	code, verifier := f.code(t, "openid email profile")
	tr := f.exchange(t, code, verifier)
	if status := f.userinfo(t, tr.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo: %d", status)
	}
	u := f.user
	u.Disabled = true
	if err := f.st.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if status := f.userinfo(t, tr.AccessToken); status == http.StatusOK {
		t.Fatal("userinfo answered for a disabled user")
	}
}

// TestKeyRotation: the JWKS holds the current and the next key before the
// first token; a rotation promotes the next key, which signs only once it
// has been published for PublishAhead, publishes a new next key, and keeps
// the old key published until its tokens expire.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	jwks := func() []string {
		w := f.serve(httptest.NewRequest(http.MethodGet, testIssuer+pathKeys, nil))
		if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("JWKS Cache-Control = %q", cc)
		}
		var set jose.JSONWebKeySet
		json.Unmarshal(w.Body.Bytes(), &set)
		var ids []string
		for _, k := range set.Keys {
			ids = append(ids, k.KeyID)
		}
		return ids
	}
	states := func() map[string]string {
		keys, err := f.p.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, k := range keys {
			m[k.ID] = k.State
		}
		return m
	}
	first := jwks() // before any token: a fresh database
	if len(first) != 2 {
		t.Fatalf("JWKS on a fresh database: %v, want the current and the next key", first)
	}
	code, verifier := f.code(t, "openid")
	oldKid := kidOf(t, f.exchange(t, code, verifier).IDToken)
	var nextKid string
	for id, st := range states() {
		if st == "next" {
			nextKid = id
		}
	}
	if !contains(first, oldKid) || !contains(first, nextKid) || nextKid == oldKid {
		t.Fatalf("first JWKS %v, signed by %s, next %s", first, oldKid, nextKid)
	}

	// The next key was made a moment ago: promoted, it waits until it has
	// been published for PublishAhead.
	k, err := f.p.RotateKey(ctx, ES256, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != nextKid || k.State != "next" {
		t.Fatalf("rotate promoted %+v, want the next key %s", k, nextKid)
	}
	code, verifier = f.code(t, "openid")
	if kid := kidOf(t, f.exchange(t, code, verifier).IDToken); kid != oldKid {
		t.Errorf("the next key signs before it was published for PublishAhead")
	}
	f.clock.Advance(f.p.keyPolicy.PublishAhead + time.Second)
	f.p.keys.invalidate()
	code, verifier = f.code(t, "openid")
	if kid := kidOf(t, f.exchange(t, code, verifier).IDToken); kid != nextKid {
		t.Errorf("after PublishAhead, tokens are signed by %s, want the promoted key %s", kid, nextKid)
	}
	st := states()
	if st[oldKid] != "retired" || st[nextKid] != "current" || len(st) != 3 {
		t.Errorf("states after rotation: %v", st)
	}
	f.p.Sweep(ctx)
	if ids := jwks(); !contains(ids, oldKid) || len(ids) != 3 {
		t.Errorf("the JWKS after rotation should hold retired, current and a new next key: %v", ids)
	}
	f.clock.Advance(f.p.keyPolicy.Retain)
	f.p.Sweep(ctx)
	if ids := jwks(); contains(ids, oldKid) || len(ids) != 2 {
		t.Errorf("the old key is still published after its tokens expired: %v", ids)
	}

	// Immediately: the next key (published since the last rotation) signs
	// at once.
	st = states()
	for id, s := range st {
		if s == "next" {
			nextKid = id
		}
	}
	k, err = f.p.RotateKey(ctx, ES256, true, false)
	if err != nil || k.ID != nextKid || k.State != "current" {
		t.Fatalf("immediate rotation: %+v, %v; want %s current", k, err, nextKid)
	}
	code, verifier = f.code(t, "openid")
	if kid := kidOf(t, f.exchange(t, code, verifier).IDToken); kid != nextKid {
		t.Errorf("after an immediate rotation, signed by %s, want %s; %v", kid, nextKid, states())
	}

	// Scheduled rotation: RotateEvery after it took over, the next key
	// signs by itself.
	st = states()
	for id, s := range st {
		if s == "next" {
			nextKid = id
		}
	}
	f.clock.Advance(f.p.keyPolicy.RotateEvery + time.Second)
	f.p.keys.invalidate()
	code, verifier = f.code(t, "openid")
	if kid := kidOf(t, f.exchange(t, code, verifier).IDToken); kid != nextKid {
		t.Errorf("after the period, signed by %s, want the scheduled key %s", kid, nextKid)
	}

	// Compromise: every key replaced, the old ones unpublished.
	k, err = f.p.RotateKey(ctx, ES256, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if ids := jwks(); contains(ids, nextKid) || !contains(ids, k.ID) || len(ids) != 2 {
		t.Errorf("after --drop-old: %v, want %s and a new next key", ids, k.ID)
	}
	if _, err := f.p.RotateKey(ctx, ES256, false, true); err == nil {
		t.Error("drop-old without immediately accepted")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestValidateRedirectURI(t *testing.T) {
	good := []string{
		"https://app.example.com/callback",
		"https://app.example.com:8443/cb?tenant=1",
		"http://localhost:3000/cb",
		"http://127.0.0.1:8000/oauth2/callback",
		"http://[::1]:9/cb",
	}
	bad := []string{
		"", "/relative", "app.example.com/cb", "http://app.example.com/cb", "https://app.example.com/cb#frag",
		"https://user:pw@app.example.com/cb", "com.example.app:/cb", "javascript:alert(1)", "https:///nohost",
		"https://app.example.com/a b", "ftp://example.com/", strings.Repeat("https://x/", 300),
	}
	for _, u := range good {
		if err := ValidateRedirectURI(u); err != nil {
			t.Errorf("ValidateRedirectURI(%q) = %v, want ok", u, err)
		}
	}
	for _, u := range bad {
		if err := ValidateRedirectURI(u); err == nil {
			t.Errorf("ValidateRedirectURI(%q) accepted", u)
		}
	}
}

func TestAddApp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		in   NewApp
		code string
	}{
		{NewApp{Name: "Grafana", RedirectURIs: []string{testRedirect}}, ErrAppName.Code},
		{NewApp{Name: "-x", RedirectURIs: []string{testRedirect}}, ErrAppName.Code},
		{NewApp{Name: "sesame", RedirectURIs: []string{testRedirect}}, ErrAppNameReserved.Code},
		{NewApp{Name: "sesame-admin", RedirectURIs: []string{testRedirect}}, ErrAppNameReserved.Code},
		{NewApp{Name: "x"}, ErrNoRedirectURI.Code},
		{NewApp{Name: "x", RedirectURIs: []string{"http://evil.example/cb"}}, ErrRedirectURI.Code},
		{NewApp{Name: "x", RedirectURIs: []string{testRedirect}, PostLogoutRedirectURIs: []string{"nope"}}, ErrRedirectURI.Code},
		{NewApp{Name: "x", RedirectURIs: []string{testRedirect}, SigningAlg: "HS256"}, ErrSigningAlg.Code},
		{NewApp{Name: testClient, RedirectURIs: []string{testRedirect}}, ErrAppExists.Code},
	}
	for _, tc := range tests {
		_, _, err := f.p.AddApp(ctx, audit.CLI, tc.in)
		if problem.As(err).Code != tc.code {
			t.Errorf("AddApp(%+v) = %v, want %s", tc.in, err, tc.code)
		}
	}
	a, secret, err := f.p.AddApp(ctx, audit.CLI, NewApp{Name: "spa", Public: true,
		RedirectURIs: []string{"http://localhost:3000/cb", "http://localhost:3000/cb"}})
	if err != nil || secret != "" || !a.Public || len(a.RedirectURIs) != 1 || a.SigningAlg != ES256 {
		t.Fatalf("public app: %+v %q %v", a, secret, err)
	}
	if _, err := f.p.RotateAppSecret(ctx, audit.CLI, "spa"); problem.As(err).Code != ErrPublicSecret.Code {
		t.Errorf("rotating a public app's secret: %v", err)
	}
	// The secret is stored only as its hash; rotation replaces it.
	rec, _ := f.st.GetClient(ctx, testClient)
	if bytes.Contains(rec.SecretHash, []byte(f.secret)) || !secretMatches(rec, f.secret) || secretMatches(rec, f.secret+"x") || secretMatches(rec, "") {
		t.Errorf("secret storage")
	}
	newSecret, err := f.p.RotateAppSecret(ctx, audit.CLI, testClient)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ = f.st.GetClient(ctx, testClient)
	if secretMatches(rec, f.secret) || !secretMatches(rec, newSecret) {
		t.Errorf("rotation did not replace the secret")
	}
	if err := f.p.DeleteApp(ctx, audit.CLI, "spa"); err != nil {
		t.Fatal(err)
	}
	if err := f.p.DeleteApp(ctx, audit.CLI, "spa"); problem.As(err).Code != ErrUnknownApp.Code {
		t.Errorf("deleting twice: %v", err)
	}
	evs, _ := f.st.ListAudit(ctx, 100)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"app.create", "app.rotate_secret", "app.delete"} {
		if !contains(actions, want) {
			t.Errorf("audit log %v lacks %s", actions, want)
		}
	}
}

// BenchmarkP256Verify is the unit the token endpoint's cost is counted in
// (p256-verifies/op), measured in the same test binary.
func BenchmarkP256Verify(b *testing.B) { benchmeter.BenchmarkP256Verify(b) }

// BenchmarkTokenEndpoint measures the token endpoint over the real SQLite
// store, through the HTTP handler (no network): authorization code
// exchanges (with PKCE and a refresh token) and refresh grants (with
// rotation). Each includes client authentication, two ES256 signatures
// (ID and access token), the database writes, and the sign-in log entry.
// Each also reports allocations, its CPU time per operation and that time
// in P-256 verifications (see internal/loadgen/benchmeter).
//
// RefreshGrant refreshes one grant at a time, so every rotation commits
// alone; RefreshGrantParallel has 16 clients refreshing at once (8 per
// core), as a server sees them, and their rotations share commits (group
// commit, internal/store/sqlite/batch.go): its CPU per refresh is what a
// core can serve.
//
//	go test -run '^$' -bench TokenEndpoint -benchtime 3s ./internal/oidc/
func BenchmarkTokenEndpoint(b *testing.B) {
	b.Run("CodeExchange", func(b *testing.B) {
		f := newFixture(b)
		type pair struct{ code, verifier string }
		codes := make([]pair, b.N)
		for i := range codes {
			codes[i].code, codes[i].verifier = f.code(b, "openid email profile offline_access")
		}
		b.ResetTimer()
		m := benchmeter.Start(b)
		for i := range b.N {
			if tr := f.exchange(b, codes[i].code, codes[i].verifier); tr.status != http.StatusOK {
				b.Fatalf("exchange: %+v", tr)
			}
		}
		m.Report()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
	})
	b.Run("RefreshGrant", func(b *testing.B) {
		f := newFixture(b)
		code, verifier := f.code(b, "openid email profile offline_access")
		rt := f.exchange(b, code, verifier).RefreshToken
		b.ResetTimer()
		m := benchmeter.Start(b)
		for range b.N {
			tr := f.refresh(b, rt)
			if tr.status != http.StatusOK {
				b.Fatalf("refresh: %+v", tr)
			}
			rt = tr.RefreshToken
		}
		m.Report()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
	})
	b.Run("RefreshGrantParallel", func(b *testing.B) {
		f := newFixture(b)
		var mu sync.Mutex
		b.SetParallelism(8) // 16 clients on 2 cores: see above
		m := benchmeter.Start(b)
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			code, verifier := f.code(b, "openid email profile offline_access")
			rt := f.exchange(b, code, verifier).RefreshToken
			mu.Unlock()
			for pb.Next() {
				tr := f.refresh(b, rt)
				if tr.status != http.StatusOK {
					panic(fmt.Sprintf("refresh: %+v", tr))
				}
				rt = tr.RefreshToken
			}
		})
		m.Report()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refreshes/s")
	})
}

// BenchmarkUserInfo is one userinfo request with a valid access token
// through the HTTP handler: token check, grant and user lookup, claims.
func BenchmarkUserInfo(b *testing.B) {
	f := newFixture(b)
	code, verifier := f.code(b, "openid email profile")
	access := f.exchange(b, code, verifier).AccessToken
	m := benchmeter.Start(b)
	for b.Loop() {
		if status := f.userinfo(b, access); status != http.StatusOK {
			b.Fatalf("userinfo: %d", status)
		}
	}
	m.Report()
}

func (f *fixture) post(t testing.TB, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, testIssuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(user, pass)
	w := f.serve(r)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

func (f *fixture) userinfo(t testing.TB, access string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, testIssuer+pathUserInfo, nil)
	r.Header.Set("Authorization", "Bearer "+access)
	return f.serve(r).Code
}

// TestRevocation (RFC 7009): revoking either token of a grant ends the
// grant; unknown tokens are not an error; another app's tokens are refused.
func TestRevocation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, otherSecret, err := f.p.AddApp(ctx, audit.CLI, NewApp{Name: "other", RedirectURIs: []string{"https://other.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	code, verifier := f.code(t, "openid offline_access")
	tr := f.exchange(t, code, verifier)
	if f.userinfo(t, tr.AccessToken) != http.StatusOK {
		t.Fatal("userinfo before revocation")
	}
	if status, body := f.post(t, pathRevoke, url.Values{"token": {tr.RefreshToken}}, "other", otherSecret); status == http.StatusOK {
		t.Errorf("another app revoked the token: %v", body)
	}
	if status, _ := f.post(t, pathRevoke, url.Values{"token": {tr.RefreshToken}, "token_type_hint": {"refresh_token"}}, testClient, f.secret); status != http.StatusOK {
		t.Fatalf("revoking the refresh token: %d", status)
	}
	if f.userinfo(t, tr.AccessToken) == http.StatusOK {
		t.Errorf("the access token of a revoked grant still works")
	}
	if r := f.refresh(t, tr.RefreshToken); r.status == http.StatusOK {
		t.Errorf("a revoked refresh token still works")
	}

	code, verifier = f.code(t, "openid offline_access")
	tr = f.exchange(t, code, verifier)
	if status, _ := f.post(t, pathRevoke, url.Values{"token": {tr.AccessToken}, "token_type_hint": {"access_token"}}, testClient, f.secret); status != http.StatusOK {
		t.Fatalf("revoking the access token: %d", status)
	}
	if r := f.refresh(t, tr.RefreshToken); r.status == http.StatusOK {
		t.Errorf("revoking the access token left its grant's refresh token working")
	}
	if status, _ := f.post(t, pathRevoke, url.Values{"token": {"never-issued"}}, testClient, f.secret); status != http.StatusOK {
		t.Errorf("revoking an unknown token: %d, want 200", status)
	}
	if status, _ := f.post(t, pathRevoke, url.Values{"token": {"x"}}, testClient, "wrong"); status != http.StatusUnauthorized {
		t.Errorf("revoking with a wrong secret: %d, want 401", status)
	}
}

// TestCallbackEndpointOff: op's authorization callback is not a second
// way to get a code.
func TestCallbackEndpointOff(t *testing.T) {
	f := newFixture(t)
	w := f.serve(httptest.NewRequest(http.MethodGet, testIssuer+pathAuthorize+"/callback?id=x", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /oauth2/authorize/callback: %d", w.Code)
	}
}
