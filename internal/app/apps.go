package app

import (
	"context"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/web"
)

// appRegistry lets the admin console manage the OpenID provider's apps
// without web depending on the provider.
type appRegistry struct{ p *oidc.Provider }

func appInfo(a oidc.App) web.AppInfo {
	return web.AppInfo{ClientID: a.ClientID, Public: a.Public, RedirectURIs: a.RedirectURIs,
		PostLogoutRedirectURIs: a.PostLogoutRedirectURIs, SigningAlg: a.SigningAlg, RequiredACR: a.RequiredACR,
		AllowMissingPKCE: a.AllowMissingPKCE, BackchannelLogoutURI: a.BackchannelLogoutURI, CreatedAt: a.CreatedAt}
}

func (r appRegistry) ListApps(ctx context.Context) ([]web.AppInfo, error) {
	apps, err := r.p.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.AppInfo, len(apps))
	for i, a := range apps {
		out[i] = appInfo(a)
	}
	return out, nil
}

func (r appRegistry) AddApp(ctx context.Context, actor audit.Actor, in web.NewAppForm) (web.AppInfo, string, error) {
	alg := oidc.ES256
	if in.RS256 {
		alg = oidc.RS256
	}
	a, secret, err := r.p.AddApp(ctx, actor, oidc.NewApp{Name: in.Name, RedirectURIs: in.RedirectURIs,
		PostLogoutRedirectURIs: in.PostLogoutRedirectURIs, Public: in.Public, SigningAlg: alg, RequiredStrength: in.Strength,
		AllowMissingPKCE: in.AllowMissingPKCE, BackchannelLogoutURI: in.BackchannelLogoutURI})
	return appInfo(a), secret, err
}

func (r appRegistry) DeleteApp(ctx context.Context, actor audit.Actor, clientID string) error {
	return r.p.DeleteApp(ctx, actor, clientID)
}

func (r appRegistry) RotateAppSecret(ctx context.Context, actor audit.Actor, clientID string) (string, error) {
	return r.p.RotateAppSecret(ctx, actor, clientID)
}

func (r appRegistry) SetApp(ctx context.Context, actor audit.Actor, clientID string, in web.AppSettingsForm) (web.AppInfo, error) {
	a, err := r.p.SetApp(ctx, actor, clientID, oidc.AppSettings{AllowMissingPKCE: in.AllowMissingPKCE, BackchannelLogoutURI: in.BackchannelLogoutURI})
	return appInfo(a), err
}

// SigningKeys lists the published signing keys (not the expired ones
// waiting to be pruned).
func (r appRegistry) SigningKeys(ctx context.Context) ([]web.SigningKeyInfo, error) {
	keys, err := r.p.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.SigningKeyInfo
	for _, k := range keys {
		if k.State == "expired" {
			continue
		}
		out = append(out, web.SigningKeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State,
			NotBefore: k.NotBefore, PublishedUntil: k.PublishedUntil})
	}
	return out, nil
}
