package e2e

// Apps signing in through Sesame's OpenID provider, as real relying
// parties do it: github.com/coreos/go-oidc verifies, golang.org/x/oauth2
// exchanges, oauth2-proxy guards an upstream. Over HTTP (the browser's side
// done by the test, the passkey by the software authenticator) for the
// protocol's every branch, and in Chromium with the virtual authenticator
// for the journey a person makes.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	sesameoidc "github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/store"
)

// ---------------------------------------------------------------- the relying party

type rpOptions struct {
	Public     bool
	RS256      bool
	Redirect   string // default http://localhost:9/<name>/callback (never contacted over HTTP)
	PostLogout string // default http://localhost:9/<name>/signed-out
	Scopes     []string
}

// relyingParty is an app configured the way a real one is: from discovery.
type relyingParty struct {
	inst     *instance
	name     string
	secret   string
	redirect string
	logout   string
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	config   oauth2.Config
}

func newRelyingParty(t testing.TB, inst *instance, name string, o rpOptions) *relyingParty {
	t.Helper()
	ctx := context.Background()
	rp := &relyingParty{inst: inst, name: name, redirect: o.Redirect, logout: o.PostLogout}
	if rp.redirect == "" {
		rp.redirect = "http://localhost:9/" + name + "/callback"
	}
	if rp.logout == "" {
		rp.logout = "http://localhost:9/" + name + "/signed-out"
	}
	alg := ""
	if o.RS256 {
		alg = sesameoidc.RS256
	}
	_, secret, err := inst.App.OIDC.AddApp(ctx, audit.CLI, sesameoidc.NewApp{
		Name: name, RedirectURIs: []string{rp.redirect}, PostLogoutRedirectURIs: []string{rp.logout},
		Public: o.Public, SigningAlg: alg,
	})
	if err != nil {
		t.Fatalf("registering app %s: %v", name, err)
	}
	rp.secret = secret
	if rp.provider, err = gooidc.NewProvider(ctx, inst.URL); err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	rp.verifier = rp.provider.Verifier(&gooidc.Config{ClientID: name})
	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email", "groups", gooidc.ScopeOfflineAccess}
	}
	rp.config = oauth2.Config{ClientID: name, ClientSecret: secret, Endpoint: rp.provider.Endpoint(),
		RedirectURL: rp.redirect, Scopes: scopes}
	return rp
}

// flow is one authorization request's secrets, as the app keeps them.
type flow struct {
	state, nonce, verifier string
}

func randomString() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authURL starts a sign-in with PKCE (S256), state and nonce.
func (rp *relyingParty) authURL(extra ...oauth2.AuthCodeOption) (string, flow) {
	f := flow{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), gooidc.Nonce(f.nonce)}, extra...)
	return rp.config.AuthCodeURL(f.state, opts...), f
}

// idClaims are the claims an app reads from Sesame's ID token.
type idClaims struct {
	Subject           string   `json:"sub"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	AMR               []string `json:"amr"`
	ACR               string   `json:"acr"`
	AuthTime          int64    `json:"auth_time"`
	AuthorizedParty   string   `json:"azp"`
}

// signedIn is what an app holds after a sign-in.
type signedInApp struct {
	token   *oauth2.Token
	rawID   string
	idToken *gooidc.IDToken
	claims  idClaims
}

// exchange redeems a code the way the app does and verifies the ID token:
// signature (JWKS), issuer, audience, expiry, and nonce.
func (rp *relyingParty) exchange(t testing.TB, code string, f flow) signedInApp {
	t.Helper()
	ctx := context.Background()
	tok, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	return rp.verify(t, tok, f.nonce)
}

func (rp *relyingParty) verify(t testing.TB, tok *oauth2.Token, nonce string) signedInApp {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the token response")
	}
	idt, err := rp.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("go-oidc refused the ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return signedInApp{token: tok, rawID: raw, idToken: idt, claims: c}
}

// follow is the browser: it follows Sesame's redirects from start until
// the browser is sent away from Sesame (to the app: returned as away) or
// stops at a Sesame page (returned as the last response and its URL).
func (c *client) follow(t testing.TB, start string) (away *url.URL, last response, at *url.URL) {
	t.Helper()
	sesame, _ := url.Parse(c.inst.URL)
	next, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if next.Host != sesame.Host {
			return next, response{}, nil
		}
		r := c.do(t, http.MethodGet, strings.TrimPrefix(next.String(), c.base), "", nil)
		if r.Status < 300 || r.Status > 399 {
			return nil, r, next
		}
		loc, err := next.Parse(r.Header.Get("Location"))
		if err != nil {
			t.Fatalf("bad Location %q", r.Header.Get("Location"))
		}
		next = loc
	}
	t.Fatalf("more than 10 redirects from %s", start)
	return nil, response{}, nil
}

// code takes the code from the app's callback, checking the state.
func (rp *relyingParty) code(t testing.TB, away *url.URL, f flow) string {
	t.Helper()
	if away == nil {
		t.Fatalf("the browser was not sent back to the app")
	}
	if got := away.Scheme + "://" + away.Host + away.Path; got != rp.redirect {
		t.Fatalf("sent to %s, want the registered %s", away, rp.redirect)
	}
	q := away.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("the app got an error: %s (%s)", e, q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", away)
	}
	return q.Get("code")
}

// appError expects the browser sent back to the app with an error.
func (rp *relyingParty) appError(t testing.TB, away *url.URL, f flow, want string) {
	t.Helper()
	if away == nil {
		t.Fatalf("want the app to get error %s, but the browser stayed on Sesame", want)
	}
	q := away.Query()
	if q.Get("error") != want || q.Get("code") != "" {
		t.Fatalf("want error %s and no code, got %s", want, away)
	}
	if q.Get("state") != f.state {
		t.Fatalf("error without the request's state: %s", away)
	}
}

// signIn runs a whole sign-in for a client already signed in to Sesame.
func (rp *relyingParty) signIn(t testing.TB, c *client, extra ...oauth2.AuthCodeOption) signedInApp {
	t.Helper()
	start, f := rp.authURL(extra...)
	away, last, at := c.follow(t, start)
	if away == nil {
		t.Fatalf("sign-in stopped at %s: %s", at, last)
	}
	return rp.exchange(t, rp.code(t, away, f), f)
}

// tokenRequest posts to the token endpoint as a hand-written client would.
func (rp *relyingParty) tokenRequest(t testing.TB, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	return rp.post(t, "/oauth2/token", form, user, pass)
}

// post sends a form to one of Sesame's endpoints with HTTP Basic client
// authentication (none when user is empty), and checks that a 401 says
// how to authenticate (RFC 6749 5.2).
func (rp *relyingParty) post(t testing.TB, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rp.inst.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &body)
	if res.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("%s: a 401 without WWW-Authenticate: Basic", path)
	}
	return res.StatusCode, body
}

// refused checks a token endpoint refusal: the error, and no token.
func refused(t testing.TB, what string, status int, body map[string]any, wantStatus int, wantError string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantError {
		t.Errorf("%s: want HTTP %d %s, got %d %v", what, wantStatus, wantError, status, body)
	}
	for _, k := range []string{"access_token", "id_token", "refresh_token"} {
		if _, ok := body[k]; ok {
			t.Errorf("%s: a refusal carried %s", what, k)
		}
	}
}

// userinfo calls the userinfo endpoint with an access token.
func (rp *relyingParty) userinfo(token string) (map[string]any, error) {
	ui, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := ui.Claims(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// refresh uses a refresh token.
func (rp *relyingParty) refresh(refreshToken string) (*oauth2.Token, error) {
	return rp.config.TokenSource(context.Background(), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
}

// oauthErrorCode is the OAuth error of a failed token request.
func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// joinGroup puts a user in a group (creating it).
func (inst *instance) joinGroup(t testing.TB, username, group string) {
	t.Helper()
	ctx := context.Background()
	g, err := inst.App.Store.GetGroupByName(ctx, group)
	if err != nil {
		g = store.Group{ID: store.NewID(), Name: group, CreatedAt: time.Now()}
		if err := inst.App.Store.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.App.Store.AddMember(ctx, g.ID, inst.user(t, username).ID); err != nil {
		t.Fatal(err)
	}
}

// appEvents are the sign-in records for an app, newest first.
func (inst *instance) appEvents(t testing.TB, app string) []store.SignInEvent {
	t.Helper()
	var out []store.SignInEvent
	for _, ev := range inst.signIns(t, nil) {
		if ev.App == app {
			out = append(out, ev)
		}
	}
	return out
}

func hasReason(evs []store.SignInEvent, result, reason string) bool {
	return containsEvent(evs, func(e store.SignInEvent) bool { return e.Result == result && e.Reason == reason })
}

// ---------------------------------------------------------------- tests

func TestOIDCDiscovery(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c := inst.newClient(t)
	r := c.get(t, "/.well-known/openid-configuration")
	if r.Status != http.StatusOK {
		t.Fatalf("discovery: %s", r)
	}
	var d struct {
		Issuer                string   `json:"issuer"`
		Authorization         string   `json:"authorization_endpoint"`
		Token                 string   `json:"token_endpoint"`
		UserInfo              string   `json:"userinfo_endpoint"`
		JWKS                  string   `json:"jwks_uri"`
		Revocation            string   `json:"revocation_endpoint"`
		Introspection         string   `json:"introspection_endpoint"`
		EndSession            string   `json:"end_session_endpoint"`
		ResponseTypes         []string `json:"response_types_supported"`
		GrantTypes            []string `json:"grant_types_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
		ACRValues             []string `json:"acr_values_supported"`
		Scopes                []string `json:"scopes_supported"`
		Claims                []string `json:"claims_supported"`
		TokenEndpointAuthMeth []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != inst.URL {
		t.Errorf("issuer %q, want the public URL %q", d.Issuer, inst.URL)
	}
	for name, u := range map[string]string{"authorization": d.Authorization, "token": d.Token, "userinfo": d.UserInfo,
		"jwks": d.JWKS, "revocation": d.Revocation, "introspection": d.Introspection, "end_session": d.EndSession} {
		if !strings.HasPrefix(u, inst.URL+"/oauth2/") {
			t.Errorf("%s endpoint %q is not under %s/oauth2/", name, u, inst.URL)
		}
	}
	if !slices.Equal(d.ResponseTypes, []string{"code"}) || !slices.Equal(d.CodeChallengeMethods, []string{"S256"}) {
		t.Errorf("response types %v, PKCE methods %v: want code and S256 only", d.ResponseTypes, d.CodeChallengeMethods)
	}
	if !slices.Equal(d.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("grant types %v", d.GrantTypes)
	}
	if !slices.Equal(d.IDTokenSigningAlgs, []string{"ES256", "RS256"}) {
		t.Errorf("signing algorithms %v", d.IDTokenSigningAlgs)
	}
	for _, v := range []string{"phr", "phrh"} {
		if !slices.Contains(d.ACRValues, v) {
			t.Errorf("acr_values_supported %v lacks %s", d.ACRValues, v)
		}
	}
	if !slices.Contains(d.Scopes, "groups") || !slices.Contains(d.Claims, "groups") || !slices.Contains(d.Claims, "amr") {
		t.Errorf("scopes %v / claims %v", d.Scopes, d.Claims)
	}
	// The JWKS is served, with the current and the next ES256 key.
	newRelyingParty(t, inst, "grafana", rpOptions{})
	r = c.get(t, "/oauth2/keys")
	var jwks jose.JSONWebKeySet
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &jwks) != nil || len(jwks.Keys) != 2 {
		t.Errorf("JWKS: %s", r)
	}
	for _, k := range jwks.Keys {
		if k.Algorithm != "ES256" || !k.IsPublic() {
			t.Errorf("JWKS key %s: %s, public %v", k.KeyID, k.Algorithm, k.IsPublic())
		}
	}
}

// TestOIDCSignInWithGoOIDC is an app's whole life with one user over HTTP:
// sign in with a device-bound passkey, ID token verified by go-oidc with
// the claims an app needs, userinfo, refresh with rotation, the reuse of a
// rotated refresh token revoking the family, and RP-initiated logout.
func TestOIDCSignInWithGoOIDC(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, pk := inst.onboard(t, "alice", softOptions{})
	inst.joinGroup(t, "alice", "staff")
	inst.joinGroup(t, "alice", "admins-of-grafana")
	alice := inst.user(t, "alice")
	c.signInWithPasskey(t, pk, "")
	rp := newRelyingParty(t, inst, "grafana", rpOptions{})

	// 1. Sign in: the ID token says who, when and how.
	app := rp.signIn(t, c)
	cl := app.claims
	if cl.Subject != alice.ID {
		t.Errorf("sub %q, want the user ID %q (stable, not the username)", cl.Subject, alice.ID)
	}
	if !slices.Equal(cl.AMR, []string{"hwk", "user", "mfa"}) || cl.ACR != "phrh" {
		t.Errorf("device-bound passkey: amr %v acr %q, want [hwk user mfa] phrh", cl.AMR, cl.ACR)
	}
	if cl.Email != "alice@example.com" || !cl.EmailVerified || cl.Name != "Alice" || cl.PreferredUsername != "alice" {
		t.Errorf("profile claims: %+v", cl)
	}
	if !slices.Equal(cl.Groups, []string{"admins-of-grafana", "staff"}) {
		t.Errorf("groups %v", cl.Groups)
	}
	if d := time.Since(time.Unix(cl.AuthTime, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("auth_time %d is not the sign-in just now", cl.AuthTime)
	}
	if app.idToken.Issuer != inst.URL || !slices.Equal(app.idToken.Audience, []string{"grafana"}) || cl.AuthorizedParty != "grafana" {
		t.Errorf("iss %q aud %v azp %q", app.idToken.Issuer, app.idToken.Audience, cl.AuthorizedParty)
	}
	if app.token.RefreshToken == "" || app.token.AccessToken == "" {
		t.Fatalf("offline_access asked for a refresh token: %+v", app.token)
	}
	// The access token is a JWT Sesame signed, for this app.
	at, err := jose.ParseSigned(app.token.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("the access token is not an ES256 JWT: %v", err)
	}
	var atClaims map[string]any
	json.Unmarshal(at.UnsafePayloadWithoutVerification(), &atClaims)
	if atClaims["sub"] != alice.ID || atClaims["client_id"] != "grafana" || atClaims["iss"] != inst.URL || atClaims["acr"] != "phrh" {
		t.Errorf("access token claims %v", atClaims)
	}

	// The sign-in log has the app, the user and the passkey (the token
	// request's record; Conditional Access's authorization record is
	// checked in access_test.go).
	evs := slices.DeleteFunc(inst.appEvents(t, "grafana"), func(e store.SignInEvent) bool { return e.Client == "browser" })
	if len(evs) != 1 || evs[0].Result != store.ResultSuccess || evs[0].UserID != alice.ID || evs[0].Method != "passkey" ||
		evs[0].PasskeyType != "device-bound" || evs[0].CredentialID == "" {
		t.Errorf("sign-in log for the app: %+v", evs)
	}

	// 2. Userinfo.
	info, err := rp.userinfo(app.token.AccessToken)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info["sub"] != alice.ID || info["email"] != "alice@example.com" || info["preferred_username"] != "alice" {
		t.Errorf("userinfo %v", info)
	}

	// 3. Refresh: a new refresh token each time, the same person.
	tok2, err := rp.refresh(app.token.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == app.token.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	again := rp.verify(t, tok2, "")
	if again.claims.Subject != alice.ID || again.claims.ACR != "phrh" || again.claims.AuthTime != cl.AuthTime || !slices.Equal(again.claims.AMR, cl.AMR) {
		t.Errorf("refreshed ID token claims %+v, want the original sign-in's", again.claims)
	}
	if _, err := rp.userinfo(tok2.AccessToken); err != nil {
		t.Errorf("userinfo with the refreshed access token: %v", err)
	}
	tok3, err := rp.refresh(tok2.RefreshToken)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}

	// 4. Someone replays the first (rotated) refresh token: refused, and
	// the whole family is revoked, the newest token included.
	if _, err := rp.refresh(app.token.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("reusing a rotated refresh token: %v, want invalid_grant", err)
	}
	if _, err := rp.refresh(tok3.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("the family's newest refresh token still works after a reuse: %v", err)
	}
	if _, err := rp.userinfo(tok3.AccessToken); err == nil {
		t.Errorf("userinfo accepts an access token of a revoked family")
	}
	if !hasReason(inst.appEvents(t, "grafana"), store.ResultFailure, "refresh_token_reused") {
		t.Errorf("the reuse is not in the sign-in log")
	}

	// 5. Sign in again (a new family), then RP-initiated logout: the
	// Sesame session ends, the browser goes to the registered address
	// with the state, and the app's tokens for the user end.
	app = rp.signIn(t, c)
	q := url.Values{"id_token_hint": {app.rawID}, "post_logout_redirect_uri": {rp.logout}, "state": {"bye-123"}}
	r := c.get(t, "/oauth2/logout?"+q.Encode())
	if r.Status != http.StatusFound || r.Header.Get("Location") != rp.logout+"?state=bye-123" {
		t.Fatalf("logout: want a redirect to %s?state=bye-123, got %s (Location %q)", rp.logout, r, r.Header.Get("Location"))
	}
	if c.signedIn(t) {
		t.Errorf("still signed in to Sesame after logout")
	}
	if _, err := rp.refresh(app.token.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh after logout: %v, want invalid_grant", err)
	}
}

// TestOIDCSyncedPasskeyRS256AndPublicApp: a synced passkey is phr/swk; an
// app registered for RS256 gets RS256 tokens that go-oidc verifies; a
// public app must use PKCE and has no secret.
func TestOIDCSyncedPasskeyRS256AndPublicApp(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, pk := inst.onboard(t, "bob", softOptions{Synced: true})
	c.signInWithPasskey(t, pk, "")

	legacy := newRelyingParty(t, inst, "legacy", rpOptions{RS256: true})
	app := legacy.signIn(t, c)
	if !slices.Equal(app.claims.AMR, []string{"swk", "user", "mfa"}) || app.claims.ACR != "phr" {
		t.Errorf("synced passkey: amr %v acr %q, want [swk user mfa] phr", app.claims.AMR, app.claims.ACR)
	}
	jws, err := jose.ParseSigned(app.rawID, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || jws.Signatures[0].Header.Algorithm != "RS256" {
		t.Errorf("the RS256 app's ID token is not RS256: %v", err)
	}

	spa := newRelyingParty(t, inst, "spa", rpOptions{Public: true, Scopes: []string{"openid", "email"}})
	if spa.secret != "" {
		t.Errorf("a public app got a secret")
	}
	// Without PKCE: refused, back to the app.
	f := flow{state: randomString()}
	away, _, _ := c.follow(t, spa.config.AuthCodeURL(f.state))
	spa.appError(t, away, f, "invalid_request")
	// With PKCE: works without a secret.
	app = spa.signIn(t, c)
	if app.claims.Email != "bob@example.com" || app.claims.Name != "" || app.token.RefreshToken != "" {
		t.Errorf("scopes openid email: claims %+v, refresh token %q", app.claims, app.token.RefreshToken)
	}
}

// TestOIDCCustomStrengthACR: an app asks for a custom authentication
// strength by its ID in acr_values, as for a built-in one. A session that
// meets it gets a code and an ID token whose acr names the strength; one
// that does not is sent to sign in again and, if the fresh sign-in still
// does not meet it, the app gets unmet_authentication_requirements. Values
// Sesame does not know are ignored (acr_values is voluntary).
func TestOIDCCustomStrengthACR(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	if _, err := inst.App.Strengths.Save(context.Background(), audit.CLI, methods.StrengthsDoc{Strengths: []methods.Strength{{
		ID: "device-key", Name: "Device-bound passkey", Combinations: []methods.Combination{{methods.MethodPasskey}}, DeviceBoundOnly: true,
	}}}); err != nil {
		t.Fatal(err)
	}
	rp := newRelyingParty(t, inst, "vault", rpOptions{})
	dave, bound := inst.onboard(t, "dave", softOptions{})
	erin, synced := inst.onboard(t, "erin", softOptions{Synced: true})
	dave.signInWithPasskey(t, bound, "")
	erin.signInWithPasskey(t, synced, "")

	// A device-bound passkey meets it: the claim names the strength.
	app := rp.signIn(t, dave, oauth2.SetAuthURLParam("acr_values", "device-key"))
	if app.claims.ACR != "device-key" || !slices.Contains(app.claims.AMR, "hwk") {
		t.Errorf("acr_values=device-key, device-bound passkey: acr %q amr %v", app.claims.ACR, app.claims.AMR)
	}
	// Unknown values are skipped; in order of preference, the first met wins.
	if app := rp.signIn(t, dave, oauth2.SetAuthURLParam("acr_values", "urn:example:gold device-key phr")); app.claims.ACR != "device-key" {
		t.Errorf("acr_values=urn:example:gold device-key phr: acr %q", app.claims.ACR)
	}
	if app := rp.signIn(t, dave, oauth2.SetAuthURLParam("acr_values", "phr device-key")); app.claims.ACR != "phrh" {
		t.Errorf("acr_values=phr device-key: acr %q, want the session's phrh (phr is preferred and met)", app.claims.ACR)
	}
	if app := rp.signIn(t, dave, oauth2.SetAuthURLParam("acr_values", "urn:example:gold")); app.claims.ACR != "phrh" {
		t.Errorf("acr_values of an unknown value only: acr %q, want the session's own", app.claims.ACR)
	}
	// A refresh keeps the acr of the sign-in.
	tok, err := rp.refresh(app.token.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := rp.verify(t, tok, ""); got.claims.ACR != "device-key" {
		t.Errorf("refreshed ID token acr %q, want the sign-in's device-key", got.claims.ACR)
	}

	// A synced passkey does not: a new sign-in, then a refusal to the app.
	start, f := rp.authURL(oauth2.SetAuthURLParam("acr_values", "device-key"))
	_, _, at := erin.follow(t, start)
	if at == nil || at.Path != "/signin" || at.Query().Get("prompt") != "login" {
		t.Fatalf("acr_values=device-key with a synced passkey: want a new sign-in, got %v", at)
	}
	erin.signInWithPasskey(t, synced, "")
	away, _, _ := erin.follow(t, inst.URL+at.Query().Get("return_to"))
	rp.appError(t, away, f, "unmet_authentication_requirements")
	// ...and it can ask for the custom strength or a built-in one.
	if app := rp.signIn(t, erin, oauth2.SetAuthURLParam("acr_values", "device-key phr")); app.claims.ACR != "phr" {
		t.Errorf("acr_values=device-key phr, synced passkey: acr %q", app.claims.ACR)
	}
}

// TestOIDCPromptMaxAgeACR: prompt=none|login|consent, max_age and
// acr_values each change what happens, and nothing is silently
// downgraded.
func TestOIDCPromptMaxAgeACR(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	rp := newRelyingParty(t, inst, "wiki", rpOptions{})
	c, synced := inst.onboard(t, "carol", softOptions{Synced: true})
	carol := inst.user(t, "carol")

	// prompt=none without a Sesame session: login_required, to the app.
	anon := inst.newClient(t)
	start, f := rp.authURL(oauth2.SetAuthURLParam("prompt", "none"))
	away, _, _ := anon.follow(t, start)
	rp.appError(t, away, f, "login_required")
	if !hasReason(inst.appEvents(t, "wiki"), store.ResultFailure, "login_required") {
		t.Errorf("prompt=none refusal not in the sign-in log")
	}

	// Not signed in: to the sign-in page and back.
	start, f = rp.authURL()
	_, last, at := anon.follow(t, start)
	if at == nil || at.Path != "/signin" || last.Status != http.StatusOK {
		t.Fatalf("not signed in: want the sign-in page, got %v %s", at, last)
	}
	returnTo := at.Query().Get("return_to")
	if !strings.HasPrefix(returnTo, "/oauth2/continue?id=") {
		t.Fatalf("return_to %q", returnTo)
	}
	anon.signInWithPasskey(t, synced, "")
	away, _, _ = anon.follow(t, inst.URL+returnTo)
	got := rp.exchange(t, rp.code(t, away, f), f)
	if got.claims.Subject != carol.ID {
		t.Fatalf("signed in as %q", got.claims.Subject)
	}

	// The TAP session of onboarding is weaker than a passkey: amr otp.
	app := rp.signIn(t, c)
	if !slices.Equal(app.claims.AMR, []string{"otp"}) || app.claims.ACR != sesameoidc.ACRTemporaryAccess {
		t.Errorf("pass session: amr %v acr %q", app.claims.AMR, app.claims.ACR)
	}
	// acr_values=phr with that session: a fresh sign-in, not a downgrade.
	start, f = rp.authURL(oauth2.SetAuthURLParam("acr_values", "phr"))
	_, _, at = c.follow(t, start)
	if at == nil || at.Path != "/signin" || at.Query().Get("prompt") != "login" {
		t.Fatalf("acr_values not met: want a new sign-in, got %v", at)
	}
	c.signInWithPasskey(t, synced, "")
	away, _, _ = c.follow(t, inst.URL+at.Query().Get("return_to"))
	if got := rp.exchange(t, rp.code(t, away, f), f); got.claims.ACR != "phr" {
		t.Errorf("after the fresh sign-in: acr %q", got.claims.ACR)
	}
	// acr_values=phrh: a synced passkey never meets it, even fresh.
	start, f = rp.authURL(oauth2.SetAuthURLParam("acr_values", "phrh"))
	_, _, at = c.follow(t, start)
	if at == nil || at.Path != "/signin" {
		t.Fatalf("acr_values=phrh: want a new sign-in, got %v", at)
	}
	c.signInWithPasskey(t, synced, "")
	away, _, _ = c.follow(t, inst.URL+at.Query().Get("return_to"))
	rp.appError(t, away, f, "unmet_authentication_requirements")
	// phrh or phr: the synced passkey is acceptable.
	app = rp.signIn(t, c, oauth2.SetAuthURLParam("acr_values", "phrh phr"))
	if app.claims.ACR != "phr" {
		t.Errorf("acr_values=phrh phr: acr %q", app.claims.ACR)
	}

	// prompt=login with a fresh session still asks for a new ceremony.
	start, f = rp.authURL(oauth2.SetAuthURLParam("prompt", "login"))
	_, _, at = c.follow(t, start)
	if at == nil || at.Path != "/signin" {
		t.Fatalf("prompt=login: want the sign-in page, got %v", at)
	}
	// ...and prompt=none cannot ask: login_required.
	inst.clock.Advance(10 * time.Minute)
	start, f = rp.authURL(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("max_age", "60"))
	away, _, _ = c.follow(t, start)
	rp.appError(t, away, f, "login_required")

	// max_age: a sign-in 10 minutes old is too old for 60 seconds.
	start, f = rp.authURL(oauth2.SetAuthURLParam("max_age", "60"))
	_, _, at = c.follow(t, start)
	if at == nil || at.Path != "/signin" {
		t.Fatalf("max_age=60 after 10 minutes: want the sign-in page, got %v", at)
	}
	before := time.Now()
	c.signInWithPasskey(t, synced, "")
	away, _, _ = c.follow(t, inst.URL+at.Query().Get("return_to"))
	app = rp.exchange(t, rp.code(t, away, f), f)
	if authTime := time.Unix(app.claims.AuthTime, 0); authTime.Before(before.Add(10*time.Minute - 2*time.Second)) {
		t.Errorf("auth_time %v is not the new sign-in", authTime)
	}
	// max_age large enough: no sign-in needed.
	rp.signIn(t, c, oauth2.SetAuthURLParam("max_age", "3600"))

	// prompt=consent: a page asking; deny sends access_denied, allow a code.
	start, f = rp.authURL(oauth2.SetAuthURLParam("prompt", "consent"))
	_, last, at = c.follow(t, start)
	if at == nil || at.Path != "/oauth2/continue" || last.Status != http.StatusOK || !strings.Contains(string(last.Body), `id="consent-form"`) {
		t.Fatalf("prompt=consent: want the consent page, got %v %s", at, last)
	}
	id := at.Query().Get("id")
	r := c.postForm(t, "/oauth2/consent", url.Values{"id": {id}, "decision": {"deny"}})
	loc, _ := url.Parse(r.Header.Get("Location"))
	rp.appError(t, loc, f, "access_denied")
	start, f = rp.authURL(oauth2.SetAuthURLParam("prompt", "consent"))
	_, _, at = c.follow(t, start)
	r = c.postForm(t, "/oauth2/consent", url.Values{"id": {at.Query().Get("id")}, "decision": {"allow"}})
	loc, _ = url.Parse(r.Header.Get("Location"))
	rp.exchange(t, rp.code(t, loc, f), f)
}

// TestOIDCRefusals: each bad input is refused as the specifications say,
// and no token is issued.
func TestOIDCRefusals(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	c, pk := inst.onboard(t, "dave", softOptions{})
	c.signInWithPasskey(t, pk, "")
	rp := newRelyingParty(t, inst, "crm", rpOptions{})
	other := newRelyingParty(t, inst, "other", rpOptions{})

	noRedirect := func(what string, r response) {
		t.Helper()
		if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" || !strings.Contains(r.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.Body), `id="error"`) {
			t.Errorf("%s: want an error page (400, no redirect), got %s", what, r)
		}
	}

	t.Run("UnknownClient", func(t *testing.T) {
		start, _ := rp.authURL()
		start = strings.Replace(start, "client_id=crm", "client_id=nope", 1)
		_, last, at := c.follow(t, start)
		if at == nil || at.Path != "/oauth2/authorize" {
			t.Fatalf("want to stay on the authorization endpoint, got %v", at)
		}
		noRedirect("unknown client", last)
		if !hasReason(inst.appEvents(t, "nope"), store.ResultFailure, "unknown_client") {
			t.Errorf("not in the sign-in log")
		}
	})

	t.Run("UnregisteredRedirectURI", func(t *testing.T) {
		for _, bad := range []string{"http://localhost:9/evil", rp.redirect + "/", rp.redirect + "?x=1", strings.ToUpper(rp.redirect[:4]) + rp.redirect[4:]} {
			start, _ := rp.authURL(oauth2.SetAuthURLParam("redirect_uri", bad))
			_, last, _ := c.follow(t, start)
			noRedirect("redirect_uri "+bad, last)
		}
	})

	t.Run("PlainPKCE", func(t *testing.T) {
		f := flow{state: randomString()}
		start := rp.config.AuthCodeURL(f.state, oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		away, _, _ := c.follow(t, start)
		rp.appError(t, away, f, "invalid_request")
		// A challenge without a method is plain too (RFC 7636 4.3).
		start = rp.config.AuthCodeURL(f.state, oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()))
		away, _, _ = c.follow(t, start)
		rp.appError(t, away, f, "invalid_request")
	})

	t.Run("MissingPKCEConfidential", func(t *testing.T) {
		// RFC 9700: a confidential app must send PKCE too.
		requests := inst.countRows(t, "oidc_auth_requests")
		f := flow{state: randomString()}
		away, _, _ := c.follow(t, rp.config.AuthCodeURL(f.state))
		rp.appError(t, away, f, "invalid_request")
		if d := away.Query().Get("error_description"); !strings.Contains(d, "S256") {
			t.Errorf("error_description %q does not say what is missing", d)
		}
		if !hasReason(inst.appEvents(t, "crm"), store.ResultFailure, "pkce_missing") {
			t.Errorf("not in the sign-in log")
		}
		if n := inst.countRows(t, "oidc_auth_requests"); n != requests {
			t.Errorf("a refused request was stored: %d requests, had %d", n, requests)
		}

		// Exempted by an admin: accepted, and the code is redeemed without
		// a verifier.
		yes, no := true, false
		if _, err := inst.App.OIDC.SetApp(context.Background(), audit.CLI, "crm", sesameoidc.AppSettings{AllowMissingPKCE: &yes}); err != nil {
			t.Fatal(err)
		}
		defer inst.App.OIDC.SetApp(context.Background(), audit.CLI, "crm", sesameoidc.AppSettings{AllowMissingPKCE: &no})
		f = flow{state: randomString()}
		away, last, _ := c.follow(t, rp.config.AuthCodeURL(f.state))
		if away == nil {
			t.Fatalf("exempted app without PKCE stopped at %s", last)
		}
		cd := rp.code(t, away, f)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cd}, "redirect_uri": {rp.redirect}}
		if status, body := rp.tokenRequest(t, form, "crm", rp.secret); status != http.StatusOK || body["id_token"] == nil {
			t.Errorf("exempted app's code exchange: %d %v", status, body)
		}
		// Plain stays refused for an exempted app.
		f = flow{state: randomString()}
		away, _, _ = c.follow(t, rp.config.AuthCodeURL(f.state, oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		rp.appError(t, away, f, "invalid_request")
	})

	// code gets a fresh code for rp.
	code := func(t *testing.T) (string, flow) {
		start, f := rp.authURL()
		away, _, _ := c.follow(t, start)
		return rp.code(t, away, f), f
	}
	exchange := func(code, verifier, secret string) (int, map[string]any) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.redirect}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		return rp.tokenRequest(t, form, "crm", secret)
	}

	t.Run("MissingVerifier", func(t *testing.T) {
		cd, _ := code(t)
		status, body := exchange(cd, "", rp.secret)
		refused(t, "no code_verifier", status, body, http.StatusBadRequest, "invalid_request")
	})
	t.Run("WrongVerifier", func(t *testing.T) {
		cd, _ := code(t)
		status, body := exchange(cd, oauth2.GenerateVerifier(), rp.secret)
		refused(t, "wrong code_verifier", status, body, http.StatusBadRequest, "invalid_grant")
		if !hasReason(inst.appEvents(t, "crm"), store.ResultFailure, "pkce_failed") {
			t.Errorf("not in the sign-in log")
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		cd, f := code(t)
		status, body := exchange(cd, f.verifier, rp.secret+"x")
		refused(t, "wrong secret", status, body, http.StatusUnauthorized, "invalid_client")
		status, body = exchange(cd, f.verifier, "")
		refused(t, "empty secret", status, body, http.StatusUnauthorized, "invalid_client")
		if !hasReason(inst.appEvents(t, "crm"), store.ResultFailure, "wrong_client_secret") {
			t.Errorf("not in the sign-in log")
		}
		// The code was not spent by the failed attempts.
		status, body = exchange(cd, f.verifier, rp.secret)
		if status != http.StatusOK || body["access_token"] == nil {
			t.Errorf("the right secret after wrong ones: %d %v", status, body)
		}
	})
	t.Run("CodeOfAnotherApp", func(t *testing.T) {
		cd, f := code(t)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cd}, "redirect_uri": {rp.redirect}, "code_verifier": {f.verifier}}
		status, body := other.tokenRequest(t, form, "other", other.secret)
		refused(t, "another app's code", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("CodeReused", func(t *testing.T) {
		cd, f := code(t)
		status, body := exchange(cd, f.verifier, rp.secret)
		if status != http.StatusOK {
			t.Fatalf("first exchange: %d %v", status, body)
		}
		access, refresh := body["access_token"].(string), body["refresh_token"].(string)
		status, body = exchange(cd, f.verifier, rp.secret)
		refused(t, "code used twice", status, body, http.StatusBadRequest, "invalid_grant")
		// The tokens issued for the code are revoked.
		if _, err := rp.userinfo(access); err == nil {
			t.Errorf("the first exchange's access token still works after the code's replay")
		}
		if _, err := rp.refresh(refresh); oauthErrorCode(err) != "invalid_grant" {
			t.Errorf("the first exchange's refresh token still works after the code's replay: %v", err)
		}
		if !hasReason(inst.appEvents(t, "crm"), store.ResultFailure, "code_reused") {
			t.Errorf("not in the sign-in log")
		}
	})
	t.Run("ExpiredCode", func(t *testing.T) {
		cd, f := code(t)
		inst.clock.Advance(2 * time.Minute)
		status, body := exchange(cd, f.verifier, rp.secret)
		refused(t, "expired code", status, body, http.StatusBadRequest, "invalid_grant")
		if !hasReason(inst.appEvents(t, "crm"), store.ResultFailure, "code_expired") {
			t.Errorf("not in the sign-in log")
		}
	})
	t.Run("RedirectURIMismatch", func(t *testing.T) {
		cd, f := code(t)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cd}, "redirect_uri": {rp.redirect + "x"}, "code_verifier": {f.verifier}}
		status, body := rp.tokenRequest(t, form, "crm", rp.secret)
		refused(t, "other redirect_uri", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("RefreshTokenReused", func(t *testing.T) {
		app := rp.signIn(t, c)
		if _, err := rp.refresh(app.token.RefreshToken); err != nil {
			t.Fatal(err)
		}
		status, body := rp.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {app.token.RefreshToken}}, "crm", rp.secret)
		refused(t, "refresh token reused", status, body, http.StatusBadRequest, "invalid_grant")
		// Another app cannot use it either.
		app = rp.signIn(t, c)
		status, body = other.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {app.token.RefreshToken}}, "other", other.secret)
		refused(t, "another app's refresh token", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("TokenFromAnotherIssuer", func(t *testing.T) {
		// Another Sesame, with an app and a user of the same names, issues
		// a token: this one must not take it for its own.
		elsewhere := startSesame(t, sesameOptions{})
		ec, epk := elsewhere.onboard(t, "dave", softOptions{})
		ec.signInWithPasskey(t, epk, "")
		foreign := newRelyingParty(t, elsewhere, "crm", rpOptions{}).signIn(t, ec).token
		introspect := func(token string) (int, map[string]any) {
			return rp.post(t, "/oauth2/introspect", url.Values{"token": {token}}, "crm", rp.secret)
		}
		if status, body := introspect(foreign.AccessToken); status != http.StatusOK || body["active"] != false || len(body) != 1 {
			t.Errorf("introspecting another issuer's token: %d %v, want {active: false}", status, body)
		}
		if _, err := rp.userinfo(foreign.AccessToken); err == nil {
			t.Errorf("userinfo accepted another issuer's token")
		}
		// Sesame's own token is active, for its app only.
		own := rp.signIn(t, c).token
		if _, body := introspect(own.AccessToken); body["active"] != true || body["client_id"] != "crm" || body["iss"] != inst.URL || body["sub"] != inst.user(t, "dave").ID {
			t.Errorf("introspecting our own token: %v", body)
		}
		if _, body := other.post(t, "/oauth2/introspect", url.Values{"token": {own.AccessToken}}, "other", other.secret); body["active"] != false {
			t.Errorf("another app can introspect crm's token: %v", body)
		}
	})
	t.Run("PromptNoneWithoutSession", func(t *testing.T) {
		start, f := rp.authURL(oauth2.SetAuthURLParam("prompt", "none"))
		away, _, _ := inst.newClient(t).follow(t, start)
		rp.appError(t, away, f, "login_required")
	})
	t.Run("LogoutToUnregisteredURI", func(t *testing.T) {
		app := rp.signIn(t, c)
		q := url.Values{"id_token_hint": {app.rawID}, "post_logout_redirect_uri": {"http://localhost:9/evil"}}
		r := c.get(t, "/oauth2/logout?"+q.Encode())
		noRedirect("logout to an unregistered URI", r)
		if !c.signedIn(t) {
			t.Errorf("a refused logout signed the user out")
		}
		// Without an id_token_hint, Sesame asks before signing out.
		q = url.Values{"client_id": {"crm"}, "post_logout_redirect_uri": {rp.logout}}
		r = c.get(t, "/oauth2/logout?"+q.Encode())
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `id="logout-form"`) || !c.signedIn(t) {
			t.Errorf("logout without id_token_hint: want a confirmation page, got %s", r)
		}
	})
}

// ---------------------------------------------------------------- oauth2-proxy

// oauth2ProxyBinary is the oauth2-proxy that scripts/test.sh builds.
func oauth2ProxyBinary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("SESAME_TEST_OAUTH2_PROXY")
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and SESAME_TEST_OAUTH2_PROXY is not set (./scripts/test.sh builds oauth2-proxy and sets it)")
		}
		t.Skip("SESAME_TEST_OAUTH2_PROXY is not set: run ./scripts/test.sh, which builds oauth2-proxy")
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("SESAME_TEST_OAUTH2_PROXY=%s: %v", p, err)
	}
	return p
}

// upstream is the app behind the proxy: it shows who the proxy says is
// there.
type upstream struct {
	mu      sync.Mutex
	headers []http.Header
	url     string
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>upstream</title><p id="upstream-email">%s</p><p id="upstream-user">%s</p><p id="upstream-groups">%s</p>`,
			html.EscapeString(r.Header.Get("X-Forwarded-Email")), html.EscapeString(r.Header.Get("X-Forwarded-User")),
			html.EscapeString(r.Header.Get("X-Forwarded-Groups")))
	}))
	t.Cleanup(srv.Close)
	u.url = srv.URL
	return u
}

func (u *upstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return nil
	}
	return u.headers[len(u.headers)-1]
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOAuth2Proxy runs oauth2-proxy in front of up with Sesame as its
// OpenID provider, configured as the README's "Connect an app" says, and
// returns its URL (http://localhost:PORT).
func startOAuth2Proxy(t testing.TB, inst *instance, up *upstream) string {
	t.Helper()
	bin := oauth2ProxyBinary(t)
	port := freePort(t)
	proxyURL := fmt.Sprintf("http://localhost:%d", port)
	_, secret, err := inst.App.OIDC.AddApp(context.Background(), audit.CLI, sesameoidc.NewApp{
		Name: "oauth2-proxy", RedirectURIs: []string{proxyURL + "/oauth2/callback"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--provider=oidc",
		"--oidc-issuer-url="+inst.URL,
		"--client-id=oauth2-proxy",
		"--client-secret="+secret,
		"--code-challenge-method=S256",
		"--scope=openid email profile groups",
		"--redirect-url="+proxyURL+"/oauth2/callback",
		"--upstream="+up.url+"/",
		fmt.Sprintf("--http-address=127.0.0.1:%d", port),
		"--email-domain=*",
		"--cookie-secret="+(randomString() + randomString())[:32],
		"--cookie-secure=false",
		"--skip-provider-button=true",
	)
	var logs logBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting oauth2-proxy: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("oauth2-proxy's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(proxyURL + "/ping")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return proxyURL
			}
		}
		select {
		case <-done:
			t.Fatalf("oauth2-proxy exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy did not answer /ping: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOAuth2ProxyOverHTTP: a browser (cookie jar) signed in to Sesame with
// a passkey opens an app behind oauth2-proxy and reaches it, with the
// user's email in the forwarded headers.
func TestOAuth2ProxyOverHTTP(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	up := startUpstream(t)
	proxy := startOAuth2Proxy(t, inst, up)
	c, pk := inst.onboard(t, "erin", softOptions{})
	inst.joinGroup(t, "erin", "ops")
	c.signInWithPasskey(t, pk, "")

	browser := &http.Client{Jar: c.http.Jar, Timeout: 30 * time.Second}
	res, err := browser.Get(proxy + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `<p id="upstream-email">erin@example.com</p>`) {
		t.Fatalf("want the upstream page for erin, got %d at %s: %s", res.StatusCode, res.Request.URL, truncateForLog(string(body), 600))
	}
	h := up.last()
	if h.Get("X-Forwarded-Email") != "erin@example.com" || h.Get("X-Forwarded-Groups") != "ops" {
		t.Errorf("forwarded headers: %v", h)
	}
	evs := inst.appEvents(t, "oauth2-proxy")
	if len(evs) == 0 || evs[0].Result != store.ResultSuccess || evs[0].Username != "erin" {
		t.Errorf("sign-in log for oauth2-proxy: %+v", evs)
	}
}

// TestBrowserOAuth2Proxy: in Chromium, a browser that is not signed in
// opens an app behind oauth2-proxy, is sent to Sesame, signs in with a
// passkey (the sign-in page's autofill, as a person picking the passkey),
// and reaches the upstream with the user's email forwarded.
func TestBrowserOAuth2Proxy(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	up := startUpstream(t)
	proxy := startOAuth2Proxy(t, inst, up)
	frank := inst.createUser(t, "frank", false)
	pass := inst.issueTAP(t, frank, 0, false)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "frank", pass)
	browserAddPasskey(t, ctx, "")
	clearCookies(t, ctx) // not signed in to Sesame any more; the passkey stays

	navigate(t, ctx, proxy+"/")
	waitFor(t, ctx, `location.origin === `+jsString(proxy)+` && !!document.querySelector("#upstream-email")`)
	if got := text(t, ctx, "#upstream-email"); got != "frank@example.com" {
		t.Errorf("the upstream saw email %q", got)
	}
	ev := inst.appEvents(t, "oauth2-proxy")
	if len(ev) == 0 || ev[0].Result != store.ResultSuccess || ev[0].UserID != frank.ID || ev[0].PasskeyType != "device-bound" {
		t.Errorf("sign-in log: %+v", ev)
	}
}

// clearCookies signs the tab out of everything.
func clearCookies(t testing.TB, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("clearing cookies: %v", err)
	}
}

// ---------------------------------------------------------------- a web app in the browser

// webApp is a small server-side web app signing people in with go-oidc,
// as an in-house app would.
type webApp struct {
	rp  *relyingParty
	url string

	mu      sync.Mutex
	flows   map[string]flow
	results []webAppResult
}

type webAppResult struct {
	err      error
	claims   idClaims
	userinfo map[string]any
	refresh  error
	rawID    string
}

func startWebApp(t testing.TB, inst *instance, name string) *webApp {
	t.Helper()
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	app := &webApp{url: base, flows: map[string]flow{}}
	app.rp = newRelyingParty(t, inst, name, rpOptions{Redirect: base + "/callback", PostLogout: base + "/bye"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		u, f := app.rp.authURL()
		app.mu.Lock()
		app.flows[f.state] = f
		app.mu.Unlock()
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		res := app.callback(r)
		app.mu.Lock()
		app.results = append(app.results, res)
		app.mu.Unlock()
		if res.err != nil {
			http.Error(w, res.err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `<!DOCTYPE html><title>app</title><p id="app-user">%s</p><a id="app-logout" href="/logout">Sign out</a>`, html.EscapeString(res.claims.PreferredUsername))
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		app.mu.Lock()
		raw := app.results[len(app.results)-1].rawID
		app.mu.Unlock()
		q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {base + "/bye"}, "state": {"bye"}}
		var meta struct {
			EndSession string `json:"end_session_endpoint"`
		}
		app.rp.provider.Claims(&meta)
		http.Redirect(w, r, meta.EndSession+"?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("GET /bye", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!DOCTYPE html><title>bye</title><p id="bye">%s</p>`, html.EscapeString(r.URL.Query().Get("state")))
	})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return app
}

func (app *webApp) callback(r *http.Request) webAppResult {
	ctx := r.Context()
	q := r.URL.Query()
	app.mu.Lock()
	f, ok := app.flows[q.Get("state")]
	delete(app.flows, q.Get("state"))
	app.mu.Unlock()
	if !ok {
		return webAppResult{err: fmt.Errorf("unknown state")}
	}
	if e := q.Get("error"); e != "" {
		return webAppResult{err: fmt.Errorf("error %s", e)}
	}
	tok, err := app.rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		return webAppResult{err: err}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := app.rp.verifier.Verify(ctx, raw)
	if err != nil {
		return webAppResult{err: err}
	}
	if idt.Nonce != f.nonce {
		return webAppResult{err: fmt.Errorf("nonce mismatch")}
	}
	res := webAppResult{rawID: raw}
	if err := idt.Claims(&res.claims); err != nil {
		return webAppResult{err: err}
	}
	res.userinfo, res.err = app.rp.userinfo(tok.AccessToken)
	_, res.refresh = app.rp.refresh(tok.RefreshToken)
	return res
}

func (app *webApp) lastResult(t testing.TB) webAppResult {
	t.Helper()
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.results) == 0 {
		t.Fatal("the app was never called back")
	}
	return app.results[len(app.results)-1]
}

// TestBrowserOIDCApp: in Chromium, a person opens an in-house app (go-oidc
// and x/oauth2 on its server), is sent to Sesame, signs in with a
// device-bound passkey, and the app verifies the ID token (signature,
// issuer, audience, nonce), reads amr/acr, calls userinfo and refreshes;
// then the app signs them out of Sesame too.
func TestBrowserOIDCApp(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	app := startWebApp(t, inst, "intranet")
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
	cl := res.claims
	if cl.Subject != gina.ID || cl.PreferredUsername != "gina" || cl.Email != "gina@example.com" {
		t.Errorf("claims %+v", cl)
	}
	if !slices.Equal(cl.AMR, []string{"hwk", "user", "mfa"}) || cl.ACR != "phrh" {
		t.Errorf("a device-bound passkey sign-in: amr %v acr %q", cl.AMR, cl.ACR)
	}
	if res.userinfo["sub"] != gina.ID || res.refresh != nil {
		t.Errorf("userinfo %v, refresh %v", res.userinfo, res.refresh)
	}

	sessionsBefore := inst.countRows(t, "sessions")
	click(t, ctx, "#app-logout")
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && location.pathname === "/bye"`)
	if got := text(t, ctx, "#bye"); got != "bye" {
		t.Errorf("state after logout %q", got)
	}
	// The Sesame session of this browser ended (the pass's session of
	// the onboarding, whose cookie was cleared, is another one).
	if after := inst.countRows(t, "sessions"); after != sessionsBefore-1 {
		t.Errorf("sessions: %d before the app's logout, %d after; want one fewer", sessionsBefore, after)
	}
}
