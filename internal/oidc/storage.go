package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// storage implements op.Storage over Sesame's stores. Everything lives in
// the database; the only memory is caches that any instance can rebuild.
type storage struct{ p *Provider }

var (
	_ op.Storage                        = storage{}
	_ op.CanSetUserinfoFromRequest      = storage{}
	_ op.CanGetPrivateClaimsFromRequest = storage{}
)

// --- per-request context ---

type ctxKey int

const (
	tokenCallKey ctxKey = iota
	metaKey
)

// tokenCall collects what happens during one token request, so that its
// single sign-in log entry can say who, which passkey and why.
type tokenCall struct {
	grantType string
	client    *client
	grant     *oidcstore.Grant
	user      *store.User
	reason    string // a Sesame refusal reason that is more specific than the OAuth error
	detail    string
	refresh   bool // a refresh token was issued

	// deferWrite: hold the request's write until its tokens are signed
	// (stage, commitTokens); write is that write, logged that it wrote the
	// sign-in log entry too.
	deferWrite bool
	write      func(ctx context.Context, signIn *store.SignInEvent) error
	logged     bool
}

func withTokenCall(ctx context.Context, tc *tokenCall) context.Context {
	return context.WithValue(ctx, tokenCallKey, tc)
}

// callOf returns the request's tokenCall, or a throwaway one.
func callOf(ctx context.Context) *tokenCall {
	if tc, ok := ctx.Value(tokenCallKey).(*tokenCall); ok {
		return tc
	}
	return &tokenCall{}
}

// refusal marks the token request refused for reason and returns the OAuth
// error the app gets.
func (tc *tokenCall) refusal(reason, detail string, e *oidc.Error) *oidc.Error {
	tc.reason, tc.detail = reason, detail
	return e
}

// --- tokens and hashes ---

func newOpaqueToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// accessTokenID names one access token: its grant, a dot, and a random
// part (the JWT "jti").
func accessTokenID(grantID string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	return grantID + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// grantOfTokenID returns the grant ID in an access token ID (or a grant ID).
func grantOfTokenID(id string) string {
	g, _, _ := strings.Cut(id, ".")
	return g
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// --- clients ---

var errUnknownClient = errors.New("unknown client_id")

func (s storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	rec, err := s.p.clients.get(ctx, s.p.oidcStore, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownClient
	} else if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return s.p.newClient(rec), nil
}

var errWrongSecret = errors.New("wrong client secret")

// AuthorizeClientIDSecret checks a confidential app's secret. No rate
// limit: the secret is 256 random bits, and a limit would let anyone lock
// an app out by failing on purpose.
func (s storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	rec, err := s.p.clients.get(ctx, s.p.oidcStore, id)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownClient
	} else if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if !secretMatches(rec, secret) {
		return errWrongSecret
	}
	return nil
}

// --- authorization requests and codes ---

func (s storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintUserID string) (op.AuthRequest, error) {
	params, err := json.Marshal(paramsFrom(req, hintUserID))
	if err != nil {
		return nil, err
	}
	now := s.p.now()
	rec := oidcstore.AuthRequest{ID: store.NewID(), ClientID: req.ClientID, Params: params,
		CreatedAt: now, ExpiresAt: now.Add(s.p.life.AuthRequest)}
	if err := s.p.oidcStore.PutAuthRequest(ctx, rec); err != nil {
		return nil, err
	}
	rec.CreatedAt, rec.ExpiresAt = rec.CreatedAt.Truncate(time.Millisecond).UTC(), rec.ExpiresAt.Truncate(time.Millisecond).UTC()
	return decodeAuthRequest(rec)
}

var errRequestGone = errors.New("the authorization request has expired or was already answered")

// AuthRequestByID serves the authorization callback: a request that has
// already produced its code cannot produce another.
func (s storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	rec, err := s.p.oidcStore.GetAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidRequest().WithDescription("%s", errRequestGone.Error())
	} else if err != nil {
		return nil, err
	}
	if !s.p.now().Before(rec.ExpiresAt) || rec.CodeHash != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("%s", errRequestGone.Error())
	}
	return decodeAuthRequest(rec)
}

func (s storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.oidcStore.SetAuthCode(ctx, id, tokenHash(code), s.p.now().Add(s.p.life.Code))
}

// AuthRequestByCode finds the request a code was issued for. A code seen
// again after it was redeemed is a replay: whoever presents it, the tokens
// issued for it are revoked (RFC 6749 4.1.2). The request and its user are
// one read; redeem checks the user.
func (s storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	tc := callOf(ctx)
	rec, u, err := s.p.oidcStore.GetAuthRequestByCodeUser(ctx, tokenHash(code))
	if errors.Is(err, store.ErrNotFound) {
		return nil, tc.refusal("unknown_code", "the code was never issued or has been swept", oidc.ErrInvalidGrant().WithDescription("invalid code"))
	} else if err != nil {
		return nil, err
	}
	if !rec.RedeemedAt.IsZero() {
		s.p.revokeGrant(ctx, rec.GrantID, "code_reused")
		return nil, tc.refusal("code_reused", fmt.Sprintf("code of request %s presented again; grant %s revoked", rec.ID, rec.GrantID),
			oidc.ErrInvalidGrant().WithDescription("invalid code"))
	}
	if !s.p.now().Before(rec.CodeExpiresAt) {
		return nil, tc.refusal("code_expired", fmt.Sprintf("code expired at %s", rec.CodeExpiresAt.Format(time.RFC3339)),
			oidc.ErrInvalidGrant().WithDescription("invalid code"))
	}
	r, err := decodeAuthRequest(rec)
	if err != nil {
		return nil, err
	}
	r.user = &u
	return r, nil
}

// DeleteAuthRequest is called once tokens are issued. The request stays:
// RedeemAuthCode has marked it redeemed, which is what recognises a replay
// of its code; the sweep removes it later.
func (s storage) DeleteAuthRequest(context.Context, string) error { return nil }

// --- issuing tokens ---

func (s storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	r, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	g, _, err := s.p.redeem(ctx, r, false)
	if err != nil {
		return "", time.Time{}, err
	}
	return accessTokenID(g.ID), g.ExpiresAt, nil
}

func (s storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		g, refresh, err := s.p.redeem(ctx, r, true)
		if err != nil {
			return "", "", time.Time{}, err
		}
		return accessTokenID(g.ID), refresh, minTime(s.p.now().Add(s.p.life.AccessToken), g.ExpiresAt), nil
	case *refreshRequest:
		refresh, err := s.p.rotate(ctx, r)
		if err != nil {
			return "", "", time.Time{}, err
		}
		return accessTokenID(r.grant.ID), refresh, minTime(s.p.now().Add(s.p.life.AccessToken), r.grant.ExpiresAt), nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	return s.p.refreshRequest(ctx, token)
}

// TerminateSession is op's logout hook; Sesame's own end-session handler
// does the work (see logout), this is here for completeness.
func (s storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	_, err := s.p.oidcStore.RevokeGrants(ctx, userID, clientID, s.p.now(), "logout")
	return err
}

// RevokeToken revokes the grant of an access or refresh token (RFC 7009:
// revoking one token of a grant may revoke the grant). A token Sesame does
// not know is not an error.
func (s storage) RevokeToken(ctx context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	g, err := s.p.oidcStore.GetGrant(ctx, grantOfTokenID(tokenOrID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if g.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another app")
	}
	if err := s.p.oidcStore.RevokeGrant(ctx, g.ID, s.p.now(), "revoked_by_app"); err != nil && !errors.Is(err, store.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s storage) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	_, g, err := s.p.oidcStore.GetRefreshToken(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", op.ErrInvalidRefreshToken
	} else if err != nil {
		return "", "", err
	}
	return g.UserID, g.ID, nil
}

// --- keys ---

// SigningKey is the key of the algorithm the app asked for at
// registration (ES256 unless it needs RS256).
func (s storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := ES256
	if c := callOf(ctx).client; c != nil && c.rec.SigningAlg != "" {
		alg = c.rec.SigningAlg
	}
	return s.p.keys.signer(ctx, alg)
}

func (s storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256}, nil
}

func (s storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.p.keys.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(keys))
	for i, k := range keys {
		out[i] = jwkKey{k}
	}
	return out, nil
}

// --- claims ---

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does
// the work.
func (s storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims (for op; the token
// endpoint's tokenResponse sets the same itself). A refreshed ID token
// keeps the acr of the original sign-in (op sets acr only from the
// authorization request).
func (s storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.p.userinfo(ctx, info, req.GetSubject(), scopes); err != nil {
		return err
	}
	if r, ok := req.(*refreshRequest); ok && r.grant.ACR != "" {
		info.AppendClaims("acr", r.grant.ACR)
	}
	// sid: the Sesame session, which back-channel logout tokens name.
	if sid := sessionOf(req); sid != "" {
		info.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken serves the userinfo endpoint: the token's grant must
// still stand, and decides the scopes.
func (s storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	g, u, err := s.p.liveGrant(ctx, tokenID)
	if err != nil {
		return err
	}
	if g.UserID != subject {
		return oidc.ErrAccessDenied().WithDescription("token subject does not match its grant")
	}
	return s.p.claims(ctx, info, u, g.Scopes)
}

// SetIntrospectionFromToken answers introspection for the app the token
// was issued to; for anyone else, and for revoked or expired grants, the
// token is inactive.
func (s storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	g, u, err := s.p.liveGrant(ctx, tokenID)
	if err != nil {
		return err
	}
	if g.UserID != subject || g.ClientID != clientID {
		return errors.New("token not issued to the introspecting app")
	}
	info := new(oidc.UserInfo)
	if err := s.p.claims(ctx, info, u, g.Scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = g.Scopes
	resp.ClientID = g.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Subject = g.UserID
	resp.Audience = []string{g.ClientID}
	resp.Issuer = s.p.issuer
	resp.JWTID = tokenID
	resp.AuthTime = oidc.FromTime(g.AuthTime)
	resp.AuthenticationMethodsReferences = g.AMR
	if info.PreferredUsername != "" {
		resp.Username = info.PreferredUsername
	}
	return nil
}

func (s storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest adds to JWT access tokens what RFC 9068
// recommends: the scope, and how and when the user authenticated. (The
// token endpoint sets these itself, see tokenResponse; this is for op.)
func (s storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	claims := map[string]any{"scope": strings.Join(req.GetScopes(), " ")}
	authTime, amr, acr := authenticationOf(req)
	if !authTime.IsZero() {
		claims["auth_time"] = authTime.Unix()
	}
	if len(amr) > 0 {
		claims["amr"] = amr
	}
	if acr != "" {
		claims["acr"] = acr
	}
	return claims, nil
}

var errNotSupported = errors.New("not supported by Sesame")

func (s storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}

func (s storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}

func (s storage) Health(context.Context) error { return nil }
