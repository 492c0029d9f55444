package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
)

// The apps that sign in through Sesame over OpenID Connect, in the admin
// console. The registry is the OpenID provider; web only needs this much
// of it, so it says so here rather than importing the provider.

// AppInfo is a registered app as the console shows it.
type AppInfo struct {
	ClientID               string
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	SigningAlg             string
	RequiredACR            string // acr of the strength every sign-in must meet; "" for none
	AllowMissingPKCE       bool   // exempted from PKCE (confidential apps only)
	BackchannelLogoutURI   string // "" for none
	CreatedAt              time.Time
}

// NewAppForm is what the console's form registers.
type NewAppForm struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	RS256                  bool
	Strength               string // a built-in strength ID, "" for none
	AllowMissingPKCE       bool
	BackchannelLogoutURI   string
}

// AppSettingsForm changes an app; nil fields stay as they are.
type AppSettingsForm struct {
	AllowMissingPKCE     *bool
	BackchannelLogoutURI *string
}

// AppRegistry registers and lists apps; every change is audited by it.
type AppRegistry interface {
	ListApps(ctx context.Context) ([]AppInfo, error)
	AddApp(ctx context.Context, actor audit.Actor, in NewAppForm) (AppInfo, string, error)
	DeleteApp(ctx context.Context, actor audit.Actor, clientID string) error
	RotateAppSecret(ctx context.Context, actor audit.Actor, clientID string) (string, error)
	SetApp(ctx context.Context, actor audit.Actor, clientID string, in AppSettingsForm) (AppInfo, error)
}

// SigningKeyInfo is a token signing key as the console shows it.
type SigningKeyInfo struct {
	ID             string
	Algorithm      string
	State          string    // next, current, retired
	NotBefore      time.Time // signs from
	PublishedUntil time.Time // retired: when it leaves the JWKS
}

// SigningKeyLister is the part of a registry that lists signing keys; a
// registry without it shows none.
type SigningKeyLister interface {
	SigningKeys(ctx context.Context) ([]SigningKeyInfo, error)
}

var errNoApps = problem.New(http.StatusNotFound, "apps_unavailable", "Apps cannot be managed here: this database backend does not store them.")

// appsAdmin guards the app pages: admins only, and only where there is a
// registry.
func (s *Server) appsAdmin(h http.HandlerFunc) http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request) {
		if s.Apps == nil {
			s.fail(w, r, errNoApps)
			return
		}
		h(w, r)
	})
}

func (s *Server) adminApps(w http.ResponseWriter, r *http.Request) {
	s.renderApps(w, r, http.StatusOK, map[string]any{})
}

func (s *Server) renderApps(w http.ResponseWriter, r *http.Request, status int, data map[string]any) {
	apps, err := s.Apps.ListApps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if kl, ok := s.Apps.(SigningKeyLister); ok {
		keys, err := kl.SigningKeys(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		data["Keys"] = keys
	}
	data["Title"] = "Apps"
	data["Apps"] = apps
	data["Issuer"] = s.Issuer
	data["NoticeText"] = appNotice(r.URL.Query().Get("notice"))
	s.renderStatus(w, r, status, "admin_apps", data)
}

func appNotice(code string) string {
	switch code {
	case "deleted":
		return "App deleted. Its tokens no longer work."
	case "updated":
		return "App updated."
	}
	return ""
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) adminAddApp(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	in := NewAppForm{
		Name: strings.TrimSpace(f.Get("name")), RedirectURIs: lines(f.Get("redirect_uris")),
		PostLogoutRedirectURIs: lines(f.Get("post_logout_redirect_uris")),
		Public:                 f.Get("public") == "yes", RS256: f.Get("rs256") == "yes",
		Strength:             strings.TrimSpace(f.Get("strength")),
		AllowMissingPKCE:     f.Get("allow_missing_pkce") == "yes",
		BackchannelLogoutURI: strings.TrimSpace(f.Get("backchannel_logout_uri")),
	}
	app, secret, err := s.Apps.AddApp(r.Context(), adminActor(r), in)
	if err != nil {
		if p := problem.As(err); p.Status < 500 {
			s.renderApps(w, r, p.Status, map[string]any{"AppError": p.Message, "Form": in, "FormRedirects": f.Get("redirect_uris"), "FormPostLogout": f.Get("post_logout_redirect_uris")})
			return
		}
		s.fail(w, r, err)
		return
	}
	s.renderApps(w, r, http.StatusOK, map[string]any{"Added": app, "Secret": secret})
}

func (s *Server) adminDeleteApp(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Apps.DeleteApp(r.Context(), adminActor(r), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/apps?notice=deleted", http.StatusSeeOther)
}

func (s *Server) adminRotateAppSecret(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	secret, err := s.Apps.RotateAppSecret(r.Context(), adminActor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderApps(w, r, http.StatusOK, map[string]any{"Rotated": id, "Secret": secret})
}

// adminSetApp changes an app's PKCE exemption or back-channel logout URI;
// only the fields the form sends change.
func (s *Server) adminSetApp(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	var in AppSettingsForm
	if v, ok := r.PostForm["allow_missing_pkce"]; ok {
		switch v[0] {
		case "yes", "no":
			b := v[0] == "yes"
			in.AllowMissingPKCE = &b
		default:
			s.fail(w, r, problem.BadRequest("allow_missing_pkce must be yes or no."))
			return
		}
	}
	if v, ok := r.PostForm["backchannel_logout_uri"]; ok {
		u := strings.TrimSpace(v[0])
		in.BackchannelLogoutURI = &u
	}
	if in.AllowMissingPKCE == nil && in.BackchannelLogoutURI == nil {
		s.fail(w, r, problem.BadRequest("Nothing to change."))
		return
	}
	if _, err := s.Apps.SetApp(r.Context(), adminActor(r), r.PathValue("id"), in); err != nil {
		if p := problem.As(err); p.Status < 500 && p.Status != http.StatusNotFound {
			s.renderApps(w, r, p.Status, map[string]any{"AppError": p.Message})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/apps?notice=updated", http.StatusSeeOther)
}

// --- JSON admin API for apps ---

// appJSON is an app in the admin API.
type appJSON struct {
	ClientID               string    `json:"client_id"`
	Public                 bool      `json:"public"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	SigningAlg             string    `json:"signing_alg"`
	RequiredACR            string    `json:"required_acr"`
	AllowMissingPKCE       bool      `json:"allow_missing_pkce"`
	BackchannelLogoutURI   string    `json:"backchannel_logout_uri"`
	CreatedAt              time.Time `json:"created_at"`
}

func appToJSON(a AppInfo) appJSON {
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return appJSON{ClientID: a.ClientID, Public: a.Public, RedirectURIs: nonNil(a.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(a.PostLogoutRedirectURIs), SigningAlg: a.SigningAlg, RequiredACR: a.RequiredACR,
		AllowMissingPKCE: a.AllowMissingPKCE, BackchannelLogoutURI: a.BackchannelLogoutURI, CreatedAt: a.CreatedAt.UTC()}
}

var errUnknownAppAPI = problem.New(http.StatusNotFound, "unknown_app", "There is no app with that name.")

func (s *Server) apiListApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.Apps.ListApps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]appJSON, len(apps))
	for i, a := range apps {
		out[i] = appToJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

func (s *Server) findApp(r *http.Request) (AppInfo, error) {
	apps, err := s.Apps.ListApps(r.Context())
	if err != nil {
		return AppInfo{}, err
	}
	for _, a := range apps {
		if a.ClientID == r.PathValue("id") {
			return a, nil
		}
	}
	return AppInfo{}, errUnknownAppAPI
}

func (s *Server) apiGetApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.findApp(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, appToJSON(a))
}

// appPatch is what PATCH /api/admin/apps/{id} may change; absent fields
// stay as they are.
type appPatch struct {
	AllowMissingPKCE     *bool   `json:"allow_missing_pkce"`
	BackchannelLogoutURI *string `json:"backchannel_logout_uri"`
}

func (s *Server) apiPatchApp(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.fail(w, r, problem.New(http.StatusUnsupportedMediaType, "bad_content_type", "Requests must be sent as JSON."))
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	var in appPatch
	if err := dec.Decode(&in); err != nil {
		s.fail(w, r, problem.BadRequest("The request could not be read: send a JSON object with allow_missing_pkce (true or false) and/or backchannel_logout_uri (a URL, or \"\" for none).").WithDetail("%v", err))
		return
	}
	if in.AllowMissingPKCE == nil && in.BackchannelLogoutURI == nil {
		s.fail(w, r, problem.BadRequest("Nothing to change: give allow_missing_pkce and/or backchannel_logout_uri."))
		return
	}
	a, err := s.Apps.SetApp(r.Context(), adminActor(r), r.PathValue("id"), AppSettingsForm{AllowMissingPKCE: in.AllowMissingPKCE, BackchannelLogoutURI: in.BackchannelLogoutURI})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, appToJSON(a))
}
