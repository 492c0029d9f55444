package oidc

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
)

// client adapts a registered app to op.Client.
type client struct {
	rec        oidcstore.Client
	loginURL   string // the continue endpoint, absolute
	idTokenTTL time.Duration
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.rec.ID }
func (c *client) RedirectURIs() []string           { return c.rec.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.rec.PostLogoutRedirectURIs }

// ApplicationType: confidential apps are web apps. Public apps are treated
// as user-agent apps, never as native ones: op relaxes redirect URI
// matching for native apps (any loopback port), and Sesame matches exactly.
func (c *client) ApplicationType() op.ApplicationType {
	if c.rec.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.rec.Public {
		return oidc.AuthMethodNone
	}
	// Accepted in the Authorization header or the form body (both are
	// authenticated by AuthorizeClientIDSecret).
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *client) LoginURL(id string) string { return c.loginURL + "?id=" + url.QueryEscape(id) }

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenTTL }

// DevMode lets op accept the http:// redirect URIs of public apps. Sesame
// checks every URI at registration (http only on loopback) and op still
// matches them exactly, so nothing else is relaxed.
func (c *client) DevMode() bool { return c.rec.Public }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits Sesame's own scope on top of the standard ones
// op always admits.
func (c *client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims in the
// ID token even when an access token is issued: many relying parties
// (oauth2-proxy among them) read them only from there.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// ScopeGroups asks for the "groups" claim: the names of the user's groups.
const ScopeGroups = "groups"

// SupportedScopes are the scopes Sesame understands.
var SupportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, ScopeGroups, oidc.ScopeOfflineAccess}

// clientCache keeps registered apps in memory for a short time: the token
// endpoint looks its client up several times per request. Changes made on
// this instance are seen at once (forget); changes made on another
// instance after at most ttl.
type clientCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cachedClient
}

type cachedClient struct {
	rec oidcstore.Client
	at  time.Time
}

func (c *clientCache) get(ctx context.Context, st oidcstore.Store, id string) (oidcstore.Client, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[id]
		c.mu.Unlock()
		if ok && c.now().Sub(e.at) < c.ttl {
			return e.rec, nil
		}
	}
	rec, err := st.GetClient(ctx, id)
	if err != nil {
		return rec, err
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if c.m == nil || len(c.m) > 10_000 {
			c.m = map[string]cachedClient{}
		}
		c.m[id] = cachedClient{rec: rec, at: c.now()}
		c.mu.Unlock()
	}
	return rec, nil
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

func containsExact(list []string, s string) bool { return slices.Contains(list, s) }
