package e2e

// OpenID Connect Back-Channel Logout: an app with a back-channel logout URI
// receives a signed logout token when the user signs out, is disabled or
// loses the passkey they signed in with. The receiver here is a real HTTP
// server that verifies each token's signature against Sesame's JWKS, as an
// app does.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	sesameoidc "github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
)

type logoutToken struct {
	Typ      string
	Kid      string
	Issuer   string                    `json:"iss"`
	Audience any                       `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	JTI      string                    `json:"jti"`
	Subject  string                    `json:"sub"`
	SID      string                    `json:"sid"`
	Nonce    *string                   `json:"nonce"`
	Events   map[string]map[string]any `json:"events"`
}

// logoutReceiver is an app's back-channel logout endpoint.
type logoutReceiver struct {
	srv    *httptest.Server
	keys   *gooidc.RemoteKeySet
	mu     sync.Mutex
	got    []logoutToken
	errs   []string
	failN  int // answer 503 to this many requests first
	posted int
}

func newLogoutReceiver(t *testing.T, inst *instance) *logoutReceiver {
	lr := &logoutReceiver{keys: gooidc.NewRemoteKeySet(context.Background(), inst.URL+"/oauth2/keys")}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.posted++
		if lr.failN > 0 {
			lr.failN--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fail := func(msg string) {
			lr.errs = append(lr.errs, msg)
			http.Error(w, msg, http.StatusBadRequest)
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			fail("not a form POST: " + r.Method + " " + r.Header.Get("Content-Type"))
			return
		}
		raw := r.PostFormValue("logout_token")
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
		if err != nil {
			fail("unparsable token: " + err.Error())
			return
		}
		payload, err := lr.keys.VerifySignature(r.Context(), raw)
		if err != nil {
			fail("signature not verified against the JWKS: " + err.Error())
			return
		}
		var tok logoutToken
		if err := json.Unmarshal(payload, &tok); err != nil {
			fail("claims: " + err.Error())
			return
		}
		h := jws.Signatures[0].Header
		tok.Typ, _ = h.ExtraHeaders["typ"].(string)
		tok.Kid = h.KeyID
		lr.got = append(lr.got, tok)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

func (lr *logoutReceiver) tokens() []logoutToken {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]logoutToken(nil), lr.got...)
}

func (lr *logoutReceiver) check(t *testing.T) {
	t.Helper()
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, e := range lr.errs {
		t.Errorf("the receiver refused a request: %s", e)
	}
}

func sidOf(t *testing.T, app signedInApp) string {
	t.Helper()
	var c struct {
		SID string `json:"sid"`
	}
	if err := app.idToken.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("the ID token has no sid: %v", err)
	}
	return c.SID
}

// deliver runs the delivery the server runs in the background.
func deliver(t *testing.T, inst *instance) int {
	t.Helper()
	n, err := inst.App.OIDC.DeliverLogouts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkLogoutToken(t *testing.T, inst *instance, tok logoutToken, app, sub, sid string) {
	t.Helper()
	if tok.Typ != "logout+jwt" || tok.Issuer != inst.URL || tok.Audience != app || tok.Subject != sub || tok.SID != sid ||
		tok.JTI == "" || tok.Nonce != nil || tok.IssuedAt == 0 || tok.Expiry <= tok.IssuedAt {
		t.Errorf("logout token %+v; want typ logout+jwt, iss %s, aud %s, sub %s, sid %s, a jti, no nonce", tok, inst.URL, app, sub, sid)
	}
	if ev, ok := tok.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(ev) != 0 {
		t.Errorf("events %v", tok.Events)
	}
}

func TestOIDCBackchannelLogout(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	ctx := context.Background()
	lr := newLogoutReceiver(t, inst)
	defer lr.check(t)

	c, pk := inst.onboard(t, "alice", softOptions{})
	alice := inst.user(t, "alice")
	c.signInWithPasskey(t, pk, "")
	wiki := newRelyingParty(t, inst, "wiki", rpOptions{})
	uri := lr.srv.URL + "/backchannel-logout"
	if _, err := inst.App.OIDC.SetApp(ctx, audit.CLI, "wiki", sesameoidc.AppSettings{BackchannelLogoutURI: &uri}); err != nil {
		t.Fatal(err)
	}
	plain := newRelyingParty(t, inst, "plain", rpOptions{}) // no back-channel logout URI

	// Discovery says so.
	var d struct {
		BCL        bool `json:"backchannel_logout_supported"`
		BCLSession bool `json:"backchannel_logout_session_supported"`
	}
	r := c.get(t, "/.well-known/openid-configuration")
	if json.Unmarshal(r.Body, &d) != nil || !d.BCL || !d.BCLSession {
		t.Errorf("discovery does not advertise back-channel logout: %s", r)
	}

	// 1. Sign out of Sesame: the app that signed in in that session hears.
	app := wiki.signIn(t, c)
	sid := sidOf(t, app)
	if sidOf(t, plain.signIn(t, c)) != sid {
		t.Errorf("two apps in one session got different sids")
	}
	if r := c.postForm(t, "/signout", url.Values{}); r.Status >= 400 {
		t.Fatalf("signing out: %s", r)
	}
	if n := deliver(t, inst); n != 1 {
		t.Fatalf("delivered %d logout tokens, want 1 (to wiki only)", n)
	}
	toks := lr.tokens()
	if len(toks) != 1 {
		t.Fatalf("the receiver got %d tokens", len(toks))
	}
	checkLogoutToken(t, inst, toks[0], "wiki", alice.ID, sid)
	if n := deliver(t, inst); n != 0 {
		t.Errorf("a delivered token was delivered again (%d)", n)
	}
	found := false
	for _, e := range inst.audit(t) {
		if e.Action == "app.backchannel_logout" && e.Target == "wiki" && strings.Contains(e.Detail, `"result":"delivered"`) && strings.Contains(e.Detail, toks[0].JTI) {
			found = true
		}
	}
	if !found {
		t.Errorf("the delivery is not in the audit log")
	}

	// 2. Disabled by an admin, with the app down at first: retried with
	// backoff, delivered once, recorded. Every session of the user ends:
	// one token per app, naming the user and no session.
	c.signInWithPasskey(t, pk, "")
	sid2 := sidOf(t, wiki.signIn(t, c))
	if sid2 == sid {
		t.Errorf("a new session got the old sid")
	}
	lr.mu.Lock()
	lr.failN = 1
	lr.mu.Unlock()
	if _, err := inst.App.Dir.SetDisabled(ctx, audit.CLI, "alice", true); err != nil {
		t.Fatal(err)
	}
	if n := deliver(t, inst); n != 1 || len(lr.tokens()) != 1 {
		t.Fatalf("first attempt: %d handled, %d received", n, len(lr.tokens()))
	}
	if n := deliver(t, inst); n != 0 {
		t.Errorf("retried before the backoff (%d)", n)
	}
	inst.clock.Advance(31 * time.Second)
	if n := deliver(t, inst); n != 1 {
		t.Fatalf("retry: %d handled", n)
	}
	toks = lr.tokens()
	if len(toks) != 2 {
		t.Fatalf("after the retry the receiver has %d tokens", len(toks))
	}
	checkLogoutToken(t, inst, toks[1], "wiki", alice.ID, "")
	if toks[1].JTI == toks[0].JTI {
		t.Errorf("two logouts share a jti")
	}

	// 3. A passkey revoked: the sessions made with it end, the apps hear.
	if _, err := inst.App.Dir.SetDisabled(ctx, audit.CLI, "alice", false); err != nil {
		t.Fatal(err)
	}
	c.signInWithPasskey(t, pk, "")
	sid3 := sidOf(t, wiki.signIn(t, c))
	cred := inst.credentials(t, alice)[0]
	if _, err := inst.App.SignIn.RemovePasskey(ctx, audit.CLI, alice.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	if n := deliver(t, inst); n != 1 {
		t.Fatalf("after the passkey was revoked: %d delivered", n)
	}
	toks = lr.tokens()
	if len(toks) != 3 {
		t.Fatalf("the receiver has %d tokens", len(toks))
	}
	checkLogoutToken(t, inst, toks[2], "wiki", alice.ID, sid3)
	_ = store.ResultSuccess
}

func TestOIDCBackchannelLogoutURIValidation(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	ctx := context.Background()
	for _, bad := range []string{"http://evil.example/logout", "ftp://x/", "https://x.example/cb#frag", "not a url"} {
		_, _, err := inst.App.OIDC.AddApp(ctx, audit.CLI, sesameoidc.NewApp{Name: "x", RedirectURIs: []string{"https://x.example/cb"}, BackchannelLogoutURI: bad})
		if err == nil {
			t.Errorf("back-channel logout URI %q accepted", bad)
		}
	}
	if _, _, err := inst.App.OIDC.AddApp(ctx, audit.CLI, sesameoidc.NewApp{Name: "x", RedirectURIs: []string{"https://x.example/cb"}, BackchannelLogoutURI: "https://x.example/bcl"}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserBackchannelLogout: in Chromium, a person signs in to an app
// with a passkey, then signs out of Sesame on its own pages; the app's
// back-channel logout endpoint receives a verified logout token for that
// session.
func TestBrowserBackchannelLogout(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	lr := newLogoutReceiver(t, inst)
	defer lr.check(t)
	app := startWebApp(t, inst, "intranet")
	uri := lr.srv.URL + "/logout"
	if _, err := inst.App.OIDC.SetApp(context.Background(), audit.CLI, "intranet", sesameoidc.AppSettings{BackchannelLogoutURI: &uri}); err != nil {
		t.Fatal(err)
	}
	gina := inst.createUser(t, "gina", false)
	pass := inst.issueTAP(t, gina, 0, false)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "gina", pass)
	browserAddPasskey(t, ctx, "")
	clearCookies(t, ctx)

	navigate(t, ctx, app.url+"/login")
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && !!document.querySelector("#app-user")`)
	res := app.lastResult(t)
	if res.err != nil {
		t.Fatalf("the app's sign-in failed: %v", res.err)
	}
	jws, err := jose.ParseSigned(res.rawID, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var idc struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &idc); err != nil || idc.SID == "" {
		t.Fatalf("the ID token has no sid: %v", err)
	}

	navigate(t, ctx, inst.URL+"/my")
	click(t, ctx, "#signout")
	waitFor(t, ctx, `location.pathname !== "/my" || document.querySelector("#signout") === null`)
	if n := deliver(t, inst); n != 1 {
		t.Fatalf("delivered %d logout tokens after signing out, want 1", n)
	}
	toks := lr.tokens()
	if len(toks) != 1 {
		t.Fatalf("the app received %d logout tokens", len(toks))
	}
	checkLogoutToken(t, inst, toks[0], "intranet", gina.ID, idc.SID)
}

// TestOIDCBackchannelLogoutTwoInstances: two Sesame instances on one
// PostgreSQL database drain the outbox at the same moment; the app
// receives each logout token once.
func TestOIDCBackchannelLogoutTwoInstances(t *testing.T) {
	db := pgtest.Schema(t, pgtest.URL(t), 8)
	secret := make([]byte, 32)
	rand.Read(secret)
	t.Setenv(app.SecretEnv, base64.StdEncoding.EncodeToString(secret))
	inst := startSesame(t, sesameOptions{Database: db})
	other := startSesame(t, sesameOptions{Database: db})
	ctx := context.Background()
	lr := newLogoutReceiver(t, inst)
	defer lr.check(t)
	rp := newRelyingParty(t, inst, "wiki", rpOptions{})
	uri := lr.srv.URL + "/logout"
	if _, err := inst.App.OIDC.SetApp(ctx, audit.CLI, "wiki", sesameoidc.AppSettings{BackchannelLogoutURI: &uri}); err != nil {
		t.Fatal(err)
	}
	// Several users signed in to the app, then disabled: one token each.
	const users = 6
	for i := range users {
		name := fmt.Sprintf("user%d", i)
		c, pk := inst.onboard(t, name, softOptions{})
		c.signInWithPasskey(t, pk, "")
		rp.signIn(t, c)
		if _, err := inst.App.Dir.SetDisabled(ctx, audit.CLI, name, true); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, in := range []*instance{inst, other, inst, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := in.App.OIDC.DeliverLogouts(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	toks := lr.tokens()
	seen := map[string]bool{}
	for _, tok := range toks {
		if seen[tok.JTI] {
			t.Errorf("token %s delivered twice", tok.JTI)
		}
		seen[tok.JTI] = true
	}
	if len(seen) != users {
		t.Errorf("%d distinct tokens delivered, want %d", len(seen), users)
	}
	lr.mu.Lock()
	if lr.posted != users {
		t.Errorf("%d POSTs to the app, want %d", lr.posted, users)
	}
	lr.mu.Unlock()
}
