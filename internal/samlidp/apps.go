package samlidp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// NameID formats an app can be given.
const (
	FormatEmail      = "email"
	FormatPersistent = "persistent"
)

// Refusals of SAML app registration.
var (
	ErrUnknownApp = problem.New(http.StatusNotFound, "unknown_app", "There is no app with that name.")
	ErrAppExists  = problem.New(http.StatusConflict, "app_exists", "An app with that name, or a SAML app with that entity ID, already exists.")
	ErrAppName    = problem.New(http.StatusBadRequest, "bad_app_name",
		"An app name is 1 to 63 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.")
	ErrMetadata = problem.New(http.StatusBadRequest, "bad_saml_metadata",
		"The SAML metadata cannot be used: it must be an SP EntityDescriptor with an entityID and an HTTP-POST AssertionConsumerService at an https:// URL (http:// only on localhost).")
	ErrSPSpec = problem.New(http.StatusBadRequest, "bad_saml_app",
		"Give either SAML metadata (a file or an https:// URL) or both an ACS URL and an entity ID.")
	ErrACS          = problem.New(http.StatusBadRequest, "bad_saml_acs", "The ACS URL must be an absolute https:// URL (http:// only on localhost).")
	ErrNameIDFormat = problem.New(http.StatusBadRequest, "bad_nameid_format", "The NameID format must be email or persistent.")
	ErrFetch        = problem.New(http.StatusBadGateway, "saml_metadata_fetch", "The SAML metadata URL could not be fetched.")
)

var appNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// maxMetadata bounds SP metadata (a few KB in practice).
const maxMetadata = 1 << 20

// App is a registered SAML app as the CLI, API and console show it.
type App struct {
	Name         string    `json:"name"`
	EntityID     string    `json:"entity_id"`
	ACSURLs      []string  `json:"acs_urls"`
	SLOURLs      []string  `json:"slo_urls,omitempty"`
	MetadataURL  string    `json:"metadata_url,omitempty"`
	NameIDFormat string    `json:"nameid_format"`
	RequiredACR  string    `json:"required_acr,omitempty"`
	SignsRequest bool      `json:"authn_requests_signed"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// For an app registered from a metadata URL: the last successful fetch
	// of it, and the last attempt (later than the fetch when it failed).
	MetadataFetchedAt time.Time `json:"metadata_fetched_at,omitzero"`
	MetadataCheckedAt time.Time `json:"metadata_checked_at,omitzero"`
}

// NewApp is what registering a SAML app takes: metadata (XML, or a URL
// to fetch it from), or an ACS URL and an entity ID.
type NewApp struct {
	Name             string
	Metadata         []byte
	MetadataURL      string
	ACSURL           string
	EntityID         string
	NameIDFormat     string // "" means email
	RequiredStrength string // a built-in strength ID or acr value; "" for none
}

func validURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || len(raw) > 2000 {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && config.IsLoopbackHost(u.Hostname()))
}

// ParseSPMetadata reads and checks an SP's metadata: an EntityDescriptor
// (or the one in an EntitiesDescriptor) with an entity ID and at least one
// HTTP-POST assertion consumer service at an acceptable URL.
func ParseSPMetadata(data []byte) (*saml.EntityDescriptor, error) {
	if len(data) == 0 || len(data) > maxMetadata {
		return nil, ErrMetadata.WithDetail("metadata of %d bytes", len(data))
	}
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, ErrMetadata.WithDetail("%v", err)
	}
	if strings.TrimSpace(ed.EntityID) == "" {
		return nil, ErrMetadata.WithDetail("the metadata has no entityID")
	}
	posts := 0
	for _, sp := range ed.SPSSODescriptors {
		for _, acs := range sp.AssertionConsumerServices {
			if acs.Binding == saml.HTTPPostBinding {
				if !validURL(acs.Location) {
					return nil, ErrMetadata.WithDetail("assertion consumer service %q is not an https:// URL", acs.Location)
				}
				posts++
			}
		}
	}
	if posts == 0 {
		return nil, ErrMetadata.WithDetail("entity %q has no HTTP-POST AssertionConsumerService", ed.EntityID)
	}
	return ed, nil
}

// buildMetadata makes the metadata of an SP known only by its entity ID
// and ACS URL.
func buildMetadata(entityID, acs string) ([]byte, error) {
	ed := saml.EntityDescriptor{EntityID: entityID, SPSSODescriptors: []saml.SPSSODescriptor{{
		SSODescriptor:             saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"}},
		AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: acs, Index: 1}},
	}}}
	return xml.Marshal(ed)
}

// fetchMetadata gets an SP's metadata from its URL.
func (p *IdP) fetchMetadata(ctx context.Context, raw string) ([]byte, error) {
	if !validURL(raw) {
		return nil, ErrFetch.WithDetail("metadata URL %q is not an https:// URL", raw)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, ErrFetch.WithDetail("%v", err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, ErrFetch.WithDetail("%v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, ErrFetch.WithDetail("%s answered %s", raw, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxMetadata+1))
	if err != nil {
		return nil, ErrFetch.WithDetail("%v", err)
	}
	return b, nil
}

func appFrom(a store.SAMLApp) App {
	out := App{Name: a.Name, EntityID: a.EntityID, MetadataURL: a.MetadataURL, NameIDFormat: a.NameIDFormat,
		RequiredACR: a.RequiredACR, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		MetadataFetchedAt: a.MetadataFetchedAt, MetadataCheckedAt: a.MetadataCheckedAt}
	if ed, err := samlsp.ParseMetadata(a.Metadata); err == nil {
		for _, sp := range ed.SPSSODescriptors {
			for _, acs := range sp.AssertionConsumerServices {
				out.ACSURLs = append(out.ACSURLs, acs.Location)
			}
			for _, slo := range sp.SingleLogoutServices {
				out.SLOURLs = append(out.SLOURLs, slo.Location)
			}
			if sp.AuthnRequestsSigned != nil && *sp.AuthnRequestsSigned {
				out.SignsRequest = true
			}
		}
	}
	return out
}

// AddApp registers a SAML app.
func (p *IdP) AddApp(ctx context.Context, actor audit.Actor, in NewApp) (App, error) {
	name := strings.TrimSpace(in.Name)
	if !appNamePattern.MatchString(name) {
		return App{}, ErrAppName.WithDetail("name %q", in.Name)
	}
	format := in.NameIDFormat
	if format == "" {
		format = FormatEmail
	}
	if format != FormatEmail && format != FormatPersistent {
		return App{}, ErrNameIDFormat.WithDetail("format %q", in.NameIDFormat)
	}
	required, err := oidc.RequiredACRFor(in.RequiredStrength)
	if err != nil {
		return App{}, err
	}
	md, mdURL := in.Metadata, strings.TrimSpace(in.MetadataURL)
	acs, entity := strings.TrimSpace(in.ACSURL), strings.TrimSpace(in.EntityID)
	switch {
	case (len(md) > 0 || mdURL != "") && (acs != "" || entity != ""), len(md) > 0 && mdURL != "":
		return App{}, ErrSPSpec.WithDetail("metadata and an ACS URL or entity ID were both given")
	case len(md) == 0 && mdURL == "" && (acs == "" || entity == ""):
		return App{}, ErrSPSpec
	case mdURL != "":
		if md, err = p.fetchMetadata(ctx, mdURL); err != nil {
			return App{}, err
		}
	case acs != "":
		if !validURL(acs) {
			return App{}, ErrACS.WithDetail("ACS URL %q", acs)
		}
		if len(entity) > 1024 {
			return App{}, ErrSPSpec.WithDetail("the entity ID is longer than 1024 characters")
		}
		if md, err = buildMetadata(entity, acs); err != nil {
			return App{}, err
		}
	}
	ed, err := ParseSPMetadata(md)
	if err != nil {
		return App{}, err
	}
	if p.oidcApps != nil {
		if _, err := p.oidcApps.App(ctx, name); err == nil {
			return App{}, ErrAppExists.WithDetail("an OpenID Connect app is called %q", name)
		}
	}
	now := p.now()
	rec := store.SAMLApp{Name: name, EntityID: ed.EntityID, Metadata: md, MetadataURL: mdURL, NameIDFormat: format,
		RequiredACR: required, CreatedAt: now, UpdatedAt: now}
	if mdURL != "" {
		rec.MetadataFetchedAt, rec.MetadataCheckedAt = now, now
	}
	if err := p.apps.CreateSAMLApp(ctx, rec); errors.Is(err, store.ErrConflict) {
		return App{}, ErrAppExists.WithDetail("app %q or entity ID %q", name, ed.EntityID)
	} else if err != nil {
		return App{}, err
	}
	audit.Log(ctx, p.store, now, actor, "saml_app.create", name, map[string]any{
		"entity_id": ed.EntityID, "metadata_url": mdURL, "nameid_format": format, "required_acr": required})
	return appFrom(rec), nil
}

// ListApps lists the SAML apps by name.
func (p *IdP) ListApps(ctx context.Context) ([]App, error) {
	l, err := p.apps.ListSAMLApps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]App, len(l))
	for i, a := range l {
		out[i] = appFrom(a)
	}
	return out, nil
}

// App returns one SAML app.
func (p *IdP) App(ctx context.Context, name string) (App, error) {
	a, err := p.apps.GetSAMLApp(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", name)
	} else if err != nil {
		return App{}, err
	}
	return appFrom(a), nil
}

// DeleteApp removes a SAML app; its users can no longer sign in to it.
func (p *IdP) DeleteApp(ctx context.Context, actor audit.Actor, name string) error {
	err := p.apps.DeleteSAMLApp(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknownApp.WithDetail("app %q", name)
	} else if err != nil {
		return err
	}
	audit.Log(ctx, p.store, p.now(), actor, "saml_app.delete", name, nil)
	return nil
}

// SetRequiredStrength changes the strength every sign-in to the app must
// meet.
func (p *IdP) SetRequiredStrength(ctx context.Context, actor audit.Actor, name, strength string) (App, error) {
	acr, err := oidc.RequiredACRFor(strength)
	if err != nil {
		return App{}, err
	}
	a, err := p.apps.GetSAMLApp(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", name)
	} else if err != nil {
		return App{}, err
	}
	before, now := a.RequiredACR, p.now()
	// Only the strength is written: writing back the whole app read above
	// would undo metadata a refresh stored in between.
	if err := p.apps.SetSAMLAppStrength(ctx, name, acr, now); errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q", name)
	} else if err != nil {
		return App{}, err
	}
	audit.Log(ctx, p.store, now, actor, "saml_app.set_strength", name, map[string]string{"before": before, "after": acr})
	// The app as it is now, a refresh's metadata included.
	if a, err = p.apps.GetSAMLApp(ctx, name); errors.Is(err, store.ErrNotFound) {
		return App{}, ErrUnknownApp.WithDetail("app %q was deleted meanwhile", name)
	} else if err != nil {
		return App{}, err
	}
	return appFrom(a), nil
}

// Endpoints are the URLs an SP's configuration needs.
type Endpoints struct {
	EntityID, Metadata, SSO, SLO string
}

func (e Endpoints) String() string {
	return fmt.Sprintf("entity ID and metadata %s, SSO %s, SLO %s", e.Metadata, e.SSO, e.SLO)
}
