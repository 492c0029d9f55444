package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/store"
)

// TestTokenResponseMatchesOp: the token endpoint's own token response
// carries the claims op.CreateTokenResponse would, for a code exchange and
// a refresh, with and without the claims scopes and a group.
func TestTokenResponseMatchesOp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := store.Group{ID: store.NewID(), Name: "pilot", CreatedAt: time.Now()}
	if err := f.st.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddMember(ctx, g.ID, f.user.ID); err != nil {
		t.Fatal(err)
	}
	// A session with a token hash, so that the tokens carry a sid.
	fs := f.sessions.m[f.cookie]
	fs.s.TokenHash = []byte("session-token-hash")
	f.sessions.m[f.cookie] = fs
	s := &server{p: f.p}
	c, err := storage{f.p}.GetClientByClientID(ctx, testClient)
	if err != nil {
		t.Fatal(err)
	}
	// Both builders in one request context whose writes are staged, not
	// made, so that both can run on one request.
	reqCtx := func() context.Context {
		ctx := op.ContextWithIssuer(context.Background(), testIssuer)
		return withTokenCall(ctx, &tokenCall{client: c.(*client), deferWrite: true})
	}
	for _, scope := range []string{"openid", "openid offline_access", "openid email profile groups offline_access"} {
		code, verifier := f.code(t, scope)
		ctx := reqCtx()
		ar, err := storage{f.p}.AuthRequestByCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		want, err := op.CreateTokenResponse(ctx, ar, c, f.p.op, true, code, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.tokenResponse(ctx, ar.(*authRequest), c, code)
		if err != nil {
			t.Fatal(err)
		}
		sameResponse(t, "code exchange, "+scope, got.AccessToken, want.AccessToken, got.IDToken, want.IDToken)
		if (got.RefreshToken == "") != (want.RefreshToken == "") || got.TokenType != want.TokenType ||
			!reflect.DeepEqual(got.Scope, want.Scope) || got.ExpiresIn+1 < want.ExpiresIn || got.ExpiresIn > want.ExpiresIn+1 {
			t.Errorf("code exchange, %s: response %+v, op's %+v", scope, got, want)
		}

		tr := f.exchange(t, code, verifier)
		if tr.RefreshToken == "" {
			continue
		}
		ctx = reqCtx()
		rr, err := f.p.refreshRequest(ctx, tr.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		want, err = op.CreateTokenResponse(ctx, rr, c, f.p.op, true, "", tr.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		got, err = s.tokenResponse(ctx, rr, c, "")
		if err != nil {
			t.Fatal(err)
		}
		sameResponse(t, "refresh, "+scope, got.AccessToken, want.AccessToken, got.IDToken, want.IDToken)
		if got.RefreshToken == "" || want.RefreshToken == "" || !reflect.DeepEqual(got.Scope, want.Scope) {
			t.Errorf("refresh, %s: response %+v, op's %+v", scope, got, want)
		}
	}
}

// sameResponse compares the claims of two access tokens and of two ID
// tokens, but for those that differ between any two tokens (jti, at_hash,
// and the times, which may fall in different seconds).
func sameResponse(t *testing.T, what, gotAccess, wantAccess, gotID, wantID string) {
	t.Helper()
	for _, p := range []struct{ kind, got, want string }{{"access token", gotAccess, wantAccess}, {"ID token", gotID, wantID}} {
		got, want := jwtClaims(t, p.got), jwtClaims(t, p.want)
		for _, c := range []string{"iat", "nbf", "exp"} {
			g, gok := got[c].(float64)
			w, wok := want[c].(float64)
			if gok != wok || g < w-1 || g > w+1 {
				t.Errorf("%s, %s: %s %v, op's %v", what, p.kind, c, got[c], want[c])
			}
			delete(got, c)
			delete(want, c)
		}
		for _, c := range []string{"jti", "at_hash"} {
			if (got[c] == nil) != (want[c] == nil) {
				t.Errorf("%s, %s: %s %v, op's %v", what, p.kind, c, got[c], want[c])
			}
			delete(got, c)
			delete(want, c)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s, %s claims:\n got %v\nwant %v", what, p.kind, got, want)
		}
	}
}

func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
