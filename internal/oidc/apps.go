package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Refusals of app registration.
var (
	ErrUnknownApp = problem.New(http.StatusNotFound, "unknown_app", "There is no app with that name.")
	ErrAppExists  = problem.New(http.StatusConflict, "app_exists", "An app with that name already exists.")
	ErrAppName    = problem.New(http.StatusBadRequest, "bad_app_name",
		"An app name is 1 to 63 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.")
	ErrAppNameReserved = problem.New(http.StatusConflict, "app_name_reserved",
		"The names sesame and sesame-admin stand for Sesame's own pages in Conditional Access; choose another name.")
	ErrRedirectURI = problem.New(http.StatusBadRequest, "bad_redirect_uri",
		"A redirect URI must be an absolute https:// URL (http:// only on localhost) without a fragment.")
	ErrNoRedirectURI = problem.New(http.StatusBadRequest, "no_redirect_uri", "An app needs at least one redirect URI.")
	ErrSigningAlg    = problem.New(http.StatusBadRequest, "bad_signing_alg", "The signing algorithm must be ES256 or RS256.")
	ErrPublicSecret  = problem.New(http.StatusBadRequest, "public_app_secret", "A public app has no secret to rotate.")
	ErrPKCEPublic    = problem.New(http.StatusBadRequest, "public_app_pkce",
		"A public app cannot be exempted from PKCE: it has no secret, so PKCE is all that ties its codes to it.")
	ErrBackchannelURI = problem.New(http.StatusBadRequest, "bad_backchannel_logout_uri",
		"A back-channel logout URI must be an absolute https:// URL (http:// only on localhost) without a fragment.")
	ErrAppStrength = problem.New(http.StatusBadRequest, "bad_app_strength",
		"The required strength must be one of mfa, passwordless-mfa, phishing-resistant-mfa, phishing-resistant-mfa-device-bound (or none).")
)

// RequiredACRFor turns a built-in authentication strength's ID (or its acr
// value) into the acr value an app requires; "" and "none" mean no
// requirement. Only the built-in strengths can be an app's floor: they form
// the chain the provider's acr ladder orders.
func RequiredACRFor(strength string) (string, error) {
	strength = strings.TrimSpace(strength)
	if strength == "" || strength == "none" {
		return "", nil
	}
	for _, st := range methods.BuiltInStrengths() {
		if acr := methods.ACR(st); st.ID == strength || acr == strength {
			if acrLevel(acr) == 0 {
				break
			}
			return acr, nil
		}
	}
	return "", ErrAppStrength.WithDetail("strength %q", strength)
}

// SetRequiredStrength changes the strength every sign-in to the app must
// meet; it applies from the app's next authorization request.
func (p *Provider) SetRequiredStrength(ctx context.Context, actor audit.Actor, clientID, strength string) (App, error) {
	acr, err := RequiredACRFor(strength)
	if err != nil {
		return App{}, err
	}
	c, err := p.oidcStore.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return App{}, err
	}
	before := c.RequiredACR
	c.RequiredACR, c.UpdatedAt = acr, p.now()
	if err := p.oidcStore.UpdateClient(ctx, c); err != nil {
		return App{}, err
	}
	p.clients.forget(clientID)
	audit.Log(ctx, p.store, c.UpdatedAt, actor, "app.set_strength", clientID, map[string]string{"before": before, "after": acr})
	return appFrom(c), nil
}

// App is a registered app as the CLI, API and console show it.
type App struct {
	ClientID               string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	SigningAlg             string
	RequiredACR            string // the acr value of the strength every sign-in must meet; "" for none
	AllowMissingPKCE       bool   // exempted from PKCE (confidential apps only)
	BackchannelLogoutURI   string // where it receives logout tokens; "" for none
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// NewApp is what registering an app takes.
type NewApp struct {
	// Name becomes the client ID: apps are registered by administrators
	// and a readable client ID makes the sign-in log and the app's own
	// configuration easy to read.
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Public apps (single-page and native apps) cannot keep a secret; PKCE
	// is what ties their codes to them.
	Public     bool
	SigningAlg string // "" means ES256
	// RequiredStrength is a built-in strength ID (or its acr value) every
	// sign-in to the app must meet; "" for none.
	RequiredStrength string
	// AllowMissingPKCE exempts a confidential app that cannot send PKCE.
	AllowMissingPKCE bool
	// BackchannelLogoutURI is where the app receives logout tokens.
	BackchannelLogoutURI string
}

// AppSettings changes an app's settings; nil fields stay as they are.
type AppSettings struct {
	AllowMissingPKCE     *bool
	BackchannelLogoutURI *string // "" removes it
}

// ValidateBackchannelLogoutURI checks a back-channel logout URI: like a
// redirect URI, https (http only on loopback), no fragment; "" is none.
func ValidateBackchannelLogoutURI(raw string) error {
	if raw == "" {
		return nil
	}
	if err := ValidateRedirectURI(raw); err != nil {
		return ErrBackchannelURI.WithDetail("back-channel logout URI %q", raw)
	}
	return nil
}

// SetApp changes an app's PKCE exemption and back-channel logout URI; the
// change applies from the app's next request and is audited.
func (p *Provider) SetApp(ctx context.Context, actor audit.Actor, clientID string, in AppSettings) (App, error) {
	c, err := p.oidcStore.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return App{}, err
	}
	changes := map[string]any{}
	if in.AllowMissingPKCE != nil {
		if c.Public && *in.AllowMissingPKCE {
			return App{}, ErrPKCEPublic.WithDetail("app %q is public", clientID)
		}
		if c.AllowMissingPKCE != *in.AllowMissingPKCE {
			changes["allow_missing_pkce"] = map[string]bool{"before": c.AllowMissingPKCE, "after": *in.AllowMissingPKCE}
			c.AllowMissingPKCE = *in.AllowMissingPKCE
		}
	}
	if in.BackchannelLogoutURI != nil {
		uri := strings.TrimSpace(*in.BackchannelLogoutURI)
		if err := ValidateBackchannelLogoutURI(uri); err != nil {
			return App{}, err
		}
		if c.BackchannelLogoutURI != uri {
			changes["backchannel_logout_uri"] = map[string]string{"before": c.BackchannelLogoutURI, "after": uri}
			c.BackchannelLogoutURI = uri
		}
	}
	if len(changes) == 0 {
		return appFrom(c), nil
	}
	c.UpdatedAt = p.now()
	if err := p.oidcStore.UpdateClient(ctx, c); errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return App{}, err
	}
	p.clients.forget(clientID)
	audit.Log(ctx, p.store, c.UpdatedAt, actor, "app.update", clientID, changes)
	return appFrom(c), nil
}

var appNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

const maxURILength = 2000

// ValidateRedirectURI checks a redirect (or post-logout redirect) URI at
// registration. URIs are later matched exactly, byte for byte, so what is
// registered is what the app must send. https everywhere, http only on
// loopback (development, and native apps that listen on a fixed loopback
// port). Private-use schemes are not offered: op would match a native
// app's loopback URIs on any port, and Sesame matches exactly.
func ValidateRedirectURI(raw string) error {
	if raw == "" || len(raw) > maxURILength || strings.ContainsAny(raw, " \t\r\n#") {
		return ErrRedirectURI.WithDetail("redirect URI %q", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.User != nil || u.Fragment != "" {
		return ErrRedirectURI.WithDetail("redirect URI %q", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return ErrRedirectURI.WithDetail("redirect URI %q has no host", raw)
		}
	case "http":
		if u.Host == "" || !config.IsLoopbackHost(u.Hostname()) {
			return ErrRedirectURI.WithDetail("redirect URI %q uses http on a host that is not this machine", raw)
		}
	default:
		return ErrRedirectURI.WithDetail("redirect URI %q: only https (or http on localhost) is accepted", raw)
	}
	return nil
}

func validateURIs(uris []string) ([]string, error) {
	var out []string
	for _, raw := range uris {
		raw = strings.TrimSpace(raw)
		if err := ValidateRedirectURI(raw); err != nil {
			return nil, err
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

func appFrom(c oidcstore.Client) App {
	return App{ClientID: c.ID, Public: c.Public, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, SigningAlg: c.SigningAlg, RequiredACR: c.RequiredACR,
		AllowMissingPKCE: c.AllowMissingPKCE, BackchannelLogoutURI: c.BackchannelLogoutURI,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// newClientSecret makes a 256-bit secret; only its SHA-256 is stored. A
// fast hash is right here: the secret is random and long, so there is no
// dictionary to slow down.
func newClientSecret() (secret string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// secretMatches compares in constant time.
func secretMatches(c oidcstore.Client, secret string) bool {
	if c.Public || len(c.SecretHash) == 0 || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare(hashSecret(secret), c.SecretHash) == 1
}

// AddApp registers an app. For a confidential app it returns the client
// secret, which is shown this once: only its hash is kept.
func (p *Provider) AddApp(ctx context.Context, actor audit.Actor, in NewApp) (App, string, error) {
	name := strings.TrimSpace(in.Name)
	if !appNamePattern.MatchString(name) {
		return App{}, "", ErrAppName.WithDetail("name %q", in.Name)
	}
	if name == access.AppSesame || name == access.AppSesameAdmin {
		return App{}, "", ErrAppNameReserved.WithDetail("name %q", name)
	}
	redirects, err := validateURIs(in.RedirectURIs)
	if err != nil {
		return App{}, "", err
	}
	if len(redirects) == 0 {
		return App{}, "", ErrNoRedirectURI
	}
	postLogout, err := validateURIs(in.PostLogoutRedirectURIs)
	if err != nil {
		return App{}, "", err
	}
	alg := in.SigningAlg
	if alg == "" {
		alg = ES256
	}
	if alg != ES256 && alg != RS256 {
		return App{}, "", ErrSigningAlg.WithDetail("algorithm %q", alg)
	}
	required, err := RequiredACRFor(in.RequiredStrength)
	if err != nil {
		return App{}, "", err
	}
	if in.Public && in.AllowMissingPKCE {
		return App{}, "", ErrPKCEPublic
	}
	bcl := strings.TrimSpace(in.BackchannelLogoutURI)
	if err := ValidateBackchannelLogoutURI(bcl); err != nil {
		return App{}, "", err
	}
	now := p.now()
	c := oidcstore.Client{ID: name, Public: in.Public, RedirectURIs: redirects, PostLogoutRedirectURIs: postLogout,
		SigningAlg: alg, RequiredACR: required, AllowMissingPKCE: in.AllowMissingPKCE, BackchannelLogoutURI: bcl,
		CreatedAt: now, UpdatedAt: now}
	var secret string
	if !in.Public {
		secret, c.SecretHash = newClientSecret()
	}
	if err := p.oidcStore.CreateClient(ctx, c); errors.Is(err, store.ErrConflict) {
		return App{}, "", ErrAppExists.WithDetail("app %q", name)
	} else if err != nil {
		return App{}, "", err
	}
	// Publish the app's key now, so relying parties can fetch it before
	// the first token arrives.
	if err := p.EnsureKey(ctx, alg); err != nil {
		p.log.WarnContext(ctx, "could not create a signing key; it will be made at first use", "alg", alg, "err", err)
	}
	p.clients.forget(name)
	audit.Log(ctx, p.store, now, actor, "app.create", name, map[string]any{
		"public": c.Public, "redirect_uris": redirects, "post_logout_redirect_uris": postLogout, "signing_alg": alg,
		"required_acr": required, "allow_missing_pkce": c.AllowMissingPKCE, "backchannel_logout_uri": bcl})
	return appFrom(c), secret, nil
}

// ListApps lists the registered apps by client ID.
func (p *Provider) ListApps(ctx context.Context) ([]App, error) {
	cs, err := p.oidcStore.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]App, len(cs))
	for i, c := range cs {
		out[i] = appFrom(c)
	}
	return out, nil
}

// App returns one app.
func (p *Provider) App(ctx context.Context, clientID string) (App, error) {
	c, err := p.oidcStore.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", clientID)
	}
	return appFrom(c), err
}

// DeleteApp removes an app and every grant and token it holds.
func (p *Provider) DeleteApp(ctx context.Context, actor audit.Actor, clientID string) error {
	err := p.oidcStore.DeleteClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return err
	}
	p.clients.forget(clientID)
	audit.Log(ctx, p.store, p.now(), actor, "app.delete", clientID, nil)
	return nil
}

// RotateAppSecret gives a confidential app a new secret (returned, shown
// once); the old one stops working at once.
func (p *Provider) RotateAppSecret(ctx context.Context, actor audit.Actor, clientID string) (string, error) {
	c, err := p.oidcStore.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return "", err
	}
	if c.Public {
		return "", ErrPublicSecret.WithDetail("app %q is public", clientID)
	}
	secret, hash := newClientSecret()
	c.SecretHash, c.UpdatedAt = hash, p.now()
	if err := p.oidcStore.UpdateClient(ctx, c); errors.Is(err, store.ErrNotFound) {
		return "", ErrUnknownApp.WithDetail("app %q", clientID)
	} else if err != nil {
		return "", err
	}
	p.clients.forget(clientID)
	audit.Log(ctx, p.store, c.UpdatedAt, actor, "app.rotate_secret", clientID, nil)
	return secret, nil
}

// Endpoints are the URLs an app's configuration needs.
type Endpoints struct {
	Issuer, Discovery, Authorization, Token, UserInfo, JWKS, EndSession, Revocation, Introspection string
}

// Endpoints lists this provider's URLs.
func (p *Provider) Endpoints() Endpoints {
	return Endpoints{
		Issuer:        p.issuer,
		Discovery:     p.issuer + "/.well-known/openid-configuration",
		Authorization: p.issuer + pathAuthorize,
		Token:         p.issuer + pathToken,
		UserInfo:      p.issuer + pathUserInfo,
		JWKS:          p.issuer + pathKeys,
		EndSession:    p.issuer + pathEndSession,
		Revocation:    p.issuer + pathRevoke,
		Introspection: p.issuer + pathIntrospect,
	}
}

func (e Endpoints) String() string {
	return fmt.Sprintf("issuer %s, discovery %s", e.Issuer, e.Discovery)
}
