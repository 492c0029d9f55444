// Package oidc is Sesame's OpenID Connect provider, built on zitadel/oidc's
// op package (OpenID certified) over Sesame's own stores and sign-in flow.
//
// An app sends the browser to the authorization endpoint; op validates the
// request and stores it; the browser comes to the continue endpoint, which
// looks at the Sesame session, sends the user through the passkey sign-in
// page when prompt, max_age, acr_values or the lack of a session require
// it, and issues the code. The token endpoint exchanges codes and refresh
// tokens for signed tokens. Everything that must be shared between
// instances (requests, codes, token families, keys) is in the database.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// Routes. Everything but discovery lives under /oauth2/, so the web
// server's pages and Sesame's provider cannot collide.
const (
	PathPrefix     = "/oauth2/"
	PathDiscovery  = "/.well-known/openid-configuration"
	pathAuthorize  = "/oauth2/authorize"
	pathToken      = "/oauth2/token"
	pathUserInfo   = "/oauth2/userinfo"
	pathKeys       = "/oauth2/keys"
	pathRevoke     = "/oauth2/revoke"
	pathIntrospect = "/oauth2/introspect"
	pathEndSession = "/oauth2/logout"
	pathContinue   = PathContinue // where the browser comes back from signing in
	pathConsent    = "/oauth2/consent"
)

// Sessions is the part of the sign-in flow the provider needs
// (signin.Service).
type Sessions interface {
	Authenticate(ctx context.Context, token string) (store.Session, store.User, error)
	SignOut(ctx context.Context, token string) error
}

// Lifetimes of what the provider issues. Zero fields take the defaults.
type Lifetimes struct {
	AuthRequest   time.Duration // from the app's request to the code: the user's time to sign in
	Code          time.Duration // an authorization code
	CodeReplay    time.Duration // how long a redeemed code is remembered to recognise replays
	IDToken       time.Duration
	AccessToken   time.Duration
	RefreshToken  time.Duration // one refresh token, unused (each use gives a new one)
	RefreshFamily time.Duration // a grant with refresh tokens, from the sign-in: then sign in again
}

// DefaultLifetimes are short for what can be stolen in transit (codes,
// access tokens) and long for refresh families, which rotation and reuse
// detection protect.
var DefaultLifetimes = Lifetimes{
	AuthRequest:   30 * time.Minute,
	Code:          time.Minute,
	CodeReplay:    time.Hour,
	IDToken:       time.Hour,
	AccessToken:   15 * time.Minute,
	RefreshToken:  14 * 24 * time.Hour,
	RefreshFamily: 90 * 24 * time.Hour,
}

// Config is what the provider is built from.
type Config struct {
	// Issuer is Sesame's public URL (scheme and host, no path).
	Issuer string
	Store  store.Store
	// OIDCStore must keep its records in Store's database: it writes the
	// sign-in log entries of issued tokens together with the tokens.
	OIDCStore oidcstore.Store
	Sessions  Sessions
	// CookieName and SecureCookies describe the Sesame session cookie, which
	// the provider reads (is the user signed in?) and clears (logout).
	CookieName    string
	SecureCookies bool
	// KeyEncryptionKey seals signing keys at rest; CodeKey encrypts the
	// authorization codes op makes. Both 32 bytes, derived from the server
	// secret, so every instance shares them.
	KeyEncryptionKey []byte
	CodeKey          []byte
	Now              func() time.Time
	Log              *slog.Logger
	Lifetimes        Lifetimes
	// KeyPolicy: zero fields take the defaults (rotate every 30 days).
	KeyPolicy KeyPolicy
	// ClientCacheTTL bounds how long another instance's change to an app
	// (deleted, secret rotated) takes to reach this one. Default 5s;
	// negative turns the cache off.
	ClientCacheTTL time.Duration
	// OnToken, when set, sees the outcome of every token request: the
	// grant type and "success" or "failure" (metrics).
	OnToken func(grantType, result string)
	// Access, when set, is Conditional Access: evaluated at every app
	// sign-in (see access.go). Strengths lists the custom authentication
	// strengths policies may require; DeviceKey signs the device cookie.
	Access    *access.Service
	Strengths func(ctx context.Context) ([]methods.Strength, error)
	DeviceKey []byte
}

// PathContinue is where the browser comes back from signing in to finish
// an authorization request.
const PathContinue = "/oauth2/continue"

// Provider is the OpenID provider.
type Provider struct {
	issuer        string
	store         store.Store
	oidcStore     oidcstore.Store
	sessions      Sessions
	cookieName    string
	secureCookies bool
	now           func() time.Time
	log           *slog.Logger
	life          Lifetimes
	keyPolicy     KeyPolicy
	keys          *keyring
	clients       *clientCache
	op            *op.Provider
	onToken       func(grantType, result string)
	access        *access.Service
	strengths     func(ctx context.Context) ([]methods.Strength, error)
	deviceKey     []byte

	handlerOnce sync.Once
	handler     http.Handler

	credMu sync.Mutex
	creds  map[string]credentialDescription

	// Back-channel logout delivery (backchannel.go).
	logoutOwner  string
	logoutKick   chan struct{}
	logoutClient *http.Client
}

// New builds the provider. It touches no storage: keys are made when first
// needed, so CLI commands can build it freely.
func New(cfg Config) (*Provider, error) {
	issuer, err := normalizeIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.Store == nil || cfg.OIDCStore == nil {
		return nil, errors.New("oidc: a store is required")
	}
	if len(cfg.CodeKey) != 32 {
		return nil, errors.New("oidc: the code key must be 32 bytes")
	}
	sealer, err := newKeySealer(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	life := withDefaults(cfg.Lifetimes, DefaultLifetimes)
	policy := cfg.KeyPolicy
	if policy.RotateEvery <= 0 {
		policy.RotateEvery = 30 * 24 * time.Hour
	}
	if policy.Propagation <= 0 {
		policy.Propagation = 2 * keyCacheTTL
	}
	if least := JWKSMaxAge + policy.Propagation; policy.PublishAhead < least {
		policy.PublishAhead = least
	}
	if policy.RotateEvery < 2*policy.PublishAhead {
		policy.RotateEvery = 2 * policy.PublishAhead
	}
	if policy.Retain <= 0 {
		policy.Retain = max(life.IDToken, life.AccessToken) + 10*time.Minute
	}
	cacheTTL := cfg.ClientCacheTTL
	if cacheTTL == 0 {
		cacheTTL = 5 * time.Second
	}
	p := &Provider{
		issuer: issuer, store: cfg.Store, oidcStore: cfg.OIDCStore, sessions: cfg.Sessions,
		cookieName: cfg.CookieName, secureCookies: cfg.SecureCookies, now: now, log: log,
		life: life, keyPolicy: policy,
		keys:    newKeyring(cfg.OIDCStore, sealer, policy, now),
		clients: &clientCache{ttl: cacheTTL, now: now},
		onToken: cfg.OnToken,
		access:  cfg.Access, strengths: cfg.Strengths, deviceKey: cfg.DeviceKey,
		logoutOwner: newLogoutOwner(), logoutKick: make(chan struct{}, 1),
		logoutClient: &http.Client{Timeout: deliveryTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}

	opConfig := &op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          SupportedScopes,
		SupportedClaims:          supportedClaims,
		DefaultLogoutRedirectURI: issuer + "/signin?notice=signed_out",
	}
	copy(opConfig.CryptoKey[:], cfg.CodeKey)
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(pathAuthorize), op.NewEndpoint(pathToken), op.NewEndpoint(pathUserInfo),
			op.NewEndpoint(pathRevoke), op.NewEndpoint(pathEndSession), op.NewEndpoint(pathKeys)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(pathIntrospect)),
		op.WithAccessTokenKeySet(p.keys),
		op.WithIDTokenHintKeySet(p.keys),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(Algorithms...)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(Algorithms...)),
	}
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure()) // config allows http only on loopback
	}
	if p.op, err = op.NewProvider(opConfig, storage{p}, op.StaticIssuer(issuer), opts...); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	return p, nil
}

var supportedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid",
	"name", "preferred_username", "updated_at", "email", "email_verified", "groups",
}

func withDefaults(l, d Lifetimes) Lifetimes {
	pick := func(v, def time.Duration) time.Duration {
		if v <= 0 {
			return def
		}
		return v
	}
	return Lifetimes{
		AuthRequest: pick(l.AuthRequest, d.AuthRequest), Code: pick(l.Code, d.Code),
		CodeReplay: pick(l.CodeReplay, d.CodeReplay), IDToken: pick(l.IDToken, d.IDToken),
		AccessToken: pick(l.AccessToken, d.AccessToken), RefreshToken: pick(l.RefreshToken, d.RefreshToken),
		RefreshFamily: pick(l.RefreshFamily, d.RefreshFamily),
	}
}

// normalizeIssuer keeps scheme and host: the issuer must be exactly what
// apps are configured with, and the public URL may end in a slash.
func normalizeIssuer(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("oidc: issuer %q must be an absolute URL with no path", raw)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// Issuer is the issuer identifier apps must be configured with.
func (p *Provider) Issuer() string { return p.issuer }

// Sweep deletes expired requests and grants and keys no token needs any
// more; expired ones are refused anyway, this keeps tables small.
func (p *Provider) Sweep(ctx context.Context) {
	now := p.now()
	if n, err := p.oidcStore.DeleteExpiredAuthRequests(ctx, now); err != nil {
		p.log.WarnContext(ctx, "sweeping authorization requests failed", "err", err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "swept authorization requests", "count", n)
	}
	if n, err := p.oidcStore.DeleteExpiredGrants(ctx, now); err != nil {
		p.log.WarnContext(ctx, "sweeping token families failed", "err", err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "swept token families", "count", n)
	}
	if n, err := p.oidcStore.DeleteFinishedLogouts(ctx, now.Add(-logoutKeep)); err != nil {
		p.log.WarnContext(ctx, "sweeping delivered logout tokens failed", "err", err)
	} else if n > 0 {
		p.log.DebugContext(ctx, "swept delivered logout tokens", "count", n)
	}
	if n, err := p.pruneKeys(ctx); err != nil {
		p.log.WarnContext(ctx, "pruning signing keys failed", "err", err)
	} else if n > 0 {
		p.log.InfoContext(ctx, "removed retired signing keys", "count", n)
	}
}

// Handler serves discovery and everything under /oauth2/. Mount it for
// PathDiscovery and PathPrefix.
func (p *Provider) Handler() http.Handler {
	p.handlerOnce.Do(func() { p.handler = p.routes() })
	return p.handler
}

// maxBody bounds request bodies: every request here is a small form.
const maxBody = 64 << 10

func (p *Provider) routes() http.Handler {
	srv := &server{LegacyServer: op.NewLegacyServer(p.op, op.Endpoints{
		Authorization: op.NewEndpoint(pathAuthorize),
		Token:         op.NewEndpoint(pathToken),
		Introspection: op.NewEndpoint(pathIntrospect),
		Userinfo:      op.NewEndpoint(pathUserInfo),
		Revocation:    op.NewEndpoint(pathRevoke),
		EndSession:    op.NewEndpoint(pathEndSession),
		JwksURI:       op.NewEndpoint(pathKeys),
	}), p: p}
	// op's authorization callback (/oauth2/authorize/callback) is not used:
	// the continue endpoint answers the request itself once the user is
	// signed in, so the callback is not offered as a second way to get a
	// code.
	protocol := op.RegisterLegacyServer(srv, http.NotFound, op.WithServerCORSOptions(corsOptions()))

	mux := http.NewServeMux()
	mux.Handle(pathAuthorize, htmlErrors(p, protocol))
	mux.HandleFunc("GET "+pathContinue, p.continueFlow)
	mux.HandleFunc("POST "+pathConsent, p.consent)
	mux.HandleFunc(pathEndSession, p.logout)
	mux.Handle("/", protocol)

	csrf := http.NewCrossOriginProtection()
	// The token, revocation and introspection endpoints are called by
	// apps' servers and by single-page apps on other origins: they carry
	// no cookies, so cross-origin protection is for the pages only.
	pages := csrf.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		ctx := op.ContextWithIssuer(r.Context(), p.issuer)
		ctx = context.WithValue(ctx, metaKey, requestMeta{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)})
		r = r.WithContext(ctx)
		h := w.Header()
		if r.URL.Path == pathKeys {
			// Relying parties may cache the JWKS this long: keys are
			// published at least as long before they sign.
			h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge/time.Second)))
		} else {
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		switch r.URL.Path {
		case pathConsent, pathEndSession:
			pages.ServeHTTP(w, r)
		case pathToken, pathRevoke, pathIntrospect:
			mux.ServeHTTP(basicChallenge{w}, r)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// basicChallenge adds the WWW-Authenticate header RFC 6749 5.2 asks for
// when client authentication fails with 401 (op sets the status, not the
// header).
type basicChallenge struct{ http.ResponseWriter }

func (b basicChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Basic realm="sesame"`)
	}
	b.ResponseWriter.WriteHeader(code)
}
