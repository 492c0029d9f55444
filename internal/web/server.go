// Package web is Sesame's HTTP face: the sign-in pages, My security info,
// the admin console and the small JSON endpoints the pages' scripts call.
// Handlers are thin: parse, call the domain (signin, directory, methods),
// render.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/report"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits on request bodies: a WebAuthn response is a few KB.
const (
	maxJSONBody = 64 << 10
	maxFormBody = 16 << 10
)

// CookieName is the session cookie.
const CookieName = "sesame_session"

// Server serves Sesame over HTTP.
type Server struct {
	Store  store.Store
	SignIn *signin.Service
	Dir    *directory.Service
	TAPs   *methods.TAPs
	// Policies and Strengths are the admin-edited policy documents;
	// Legacy handles passwords and TOTP; Metadata is the FIDO metadata.
	// Each may be nil (tests): the console then shows the defaults and
	// refuses changes, and passwords are off.
	Policies      *methods.Policies
	Strengths     *methods.Strengths
	Legacy        *methods.Legacy
	Metadata      *passkey.MetadataStore
	Log           *slog.Logger
	Now           func() time.Time
	SecureCookies bool
	// RateLimit is how many sign-in requests per second one address may
	// make (burst 4x); 0 turns the limit off (load tests on loopback).
	RateLimit float64
	// SharedLimits, when set, keeps the per-address limit's budget in the
	// database, shared by every instance (PostgreSQL); nil keeps it in
	// this process (SQLite: one server).
	SharedLimits TokenTaker
	// Apps is the OpenID provider's app registry (nil when the database
	// backend cannot store apps); Issuer is the provider's issuer URL.
	Apps   AppRegistry
	Issuer string
	// SAMLApps manages SAML apps (nil when the backend cannot store them).
	SAMLApps SAMLRegistry
	// Access is Conditional Access (nil: its pages answer 503);
	// DeviceKey signs the device cookie (access.DeviceSigner).
	Access    *access.Service
	DeviceKey []byte
	// Rollout is where the roll-out report reads from (nil: its pages
	// answer 503).
	Rollout *report.Source

	pages       *pages
	limiters    addressLimits
	ownRecorded recordedOwn // report-only outcomes on Sesame's own pages already logged
}

// Handler builds the routes with all middleware.
func (s *Server) Handler() http.Handler {
	s.pages = loadPages()
	s.limiters.perSecond, s.limiters.shared = s.RateLimit, s.SharedLimits
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", s.home)

	// Sign-in.
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.Handle("POST /signin/passkey/begin", s.limited(s.passkeyBegin))
	mux.Handle("POST /signin/passkey/finish", s.limited(s.passkeyFinish))
	mux.HandleFunc("GET /signin/tap", s.tapPage)
	mux.Handle("POST /signin/tap", s.limited(s.tapSubmit))
	mux.HandleFunc("GET /signin/password", s.passwordPage)
	mux.Handle("POST /signin/password", s.limited(s.passwordSubmit))
	mux.Handle("POST /signin/password/totp", s.limited(s.totpSubmit))
	mux.HandleFunc("POST /signout", s.signout)
	mux.HandleFunc("GET /setup", s.setupPage)
	mux.Handle("POST /setup", s.limited(s.setupSubmit))

	// My security info.
	mux.Handle("GET /my", s.user(s.myPage))
	mux.Handle("POST /my/passkeys/register/begin", s.user(s.registerBegin))
	mux.Handle("POST /my/passkeys/register/finish", s.user(s.registerFinish))
	mux.Handle("POST /my/passkeys/{id}/rename", s.user(s.renamePasskey))
	mux.Handle("POST /my/passkeys/{id}/delete", s.user(s.deletePasskey))
	mux.Handle("GET /api/me", s.user(s.apiMe))
	mux.Handle("POST /my/tap/delete", s.user(s.deleteOwnTAP))
	mux.Handle("GET /my/add-passkey", s.user(s.promptPage))
	mux.Handle("POST /my/add-passkey/snooze", s.user(s.promptSnooze))
	mux.Handle("POST /my/password", s.user(s.setOwnPassword))
	mux.Handle("POST /my/totp/begin", s.user(s.totpBegin))
	mux.Handle("POST /my/totp/confirm", s.limited(s.user(s.totpConfirm).ServeHTTP))
	mux.Handle("POST /my/totp/remove", s.user(s.totpRemove))

	// Admin console.
	mux.Handle("GET /admin", s.admin(s.adminHome))
	mux.Handle("POST /admin/users", s.admin(s.adminCreateUser))
	mux.Handle("GET /admin/users/{username}", s.admin(s.adminUser))
	mux.Handle("POST /admin/users/{username}/disable", s.admin(s.adminSetDisabled(true)))
	mux.Handle("POST /admin/users/{username}/enable", s.admin(s.adminSetDisabled(false)))
	mux.Handle("POST /admin/users/{username}/tap", s.admin(s.adminIssueTAP))
	mux.Handle("POST /admin/users/{username}/passkeys/{id}/revoke", s.admin(s.adminRevoke))
	mux.Handle("POST /admin/users/{username}/groups", s.admin(s.adminMembership))
	mux.Handle("POST /admin/groups", s.admin(s.adminCreateGroup))
	mux.Handle("GET /admin/apps", s.appsAdmin(s.adminApps))
	mux.Handle("POST /admin/apps", s.appsAdmin(s.adminAddApp))
	mux.Handle("POST /admin/apps/{id}/delete", s.appsAdmin(s.adminDeleteApp))
	mux.Handle("POST /admin/apps/{id}/rotate-secret", s.appsAdmin(s.adminRotateAppSecret))
	mux.Handle("POST /admin/apps/{id}/settings", s.appsAdmin(s.adminSetApp))
	mux.Handle("GET /api/admin/apps", s.appsAdmin(s.apiListApps))
	mux.Handle("GET /api/admin/apps/{id}", s.appsAdmin(s.apiGetApp))
	mux.Handle("PATCH /api/admin/apps/{id}", s.appsAdmin(s.apiPatchApp))
	mux.Handle("POST /admin/groups/{name}/delete", s.admin(s.adminDeleteGroup))
	mux.Handle("POST /admin/groups/{name}/rename", s.admin(s.adminRenameGroup))
	mux.Handle("POST /admin/users/{username}/passwordless-only", s.admin(s.adminPasswordlessOnly))
	mux.Handle("GET /admin/methods", s.admin(s.adminMethods))
	mux.Handle("POST /admin/methods/policy", s.admin(s.adminSavePolicy))
	mux.Handle("POST /admin/methods/toggles", s.admin(s.adminPolicyToggles))
	mux.Handle("POST /admin/methods/strengths", s.admin(s.adminSaveStrengths))

	// Admin API (JSON, session authentication).
	mux.Handle("GET /api/admin/policy/methods", s.admin(s.apiGetMethodsPolicy))
	mux.Handle("PUT /api/admin/policy/methods", s.admin(s.apiPutMethodsPolicy))
	mux.Handle("GET /api/admin/policy/strengths", s.admin(s.apiGetStrengths))
	mux.Handle("PUT /api/admin/policy/strengths", s.admin(s.apiPutStrengths))
	mux.Handle("POST /api/admin/groups/{name}/rename", s.admin(s.apiRenameGroup))

	// Conditional Access, the sign-in log, trusted devices (access.go).
	s.accessRoutes(mux)
	// SAML apps (samlapps.go).
	s.samlRoutes(mux)
	// The roll-out view (rollout.go).
	s.rolloutRoutes(mux)

	csrf := http.NewCrossOriginProtection()
	return s.recoverer(securityHeaders(csrf.Handler(mux)))
}

// securityHeaders applies the strict defaults every page gets: no inline
// script or style, no framing, no referrer leaking sign-in URLs.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic serving request", "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limited applies the per-address rate limit to credential checks.
// Limited applies the sign-in endpoints' per-address rate limit to h
// (for the unauthenticated endpoints of other protocols, e.g. SAML).
func (s *Server) Limited(h http.Handler) http.Handler { return s.limited(h.ServeHTTP) }

func (s *Server) limited(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.RateLimit > 0 {
			if !s.limiters.allowCtx(r.Context(), clientIP(r), time.Now()) {
				s.fail(w, r, methods.ErrTooManyAttempts.WithDetail("per-address request rate exceeded"))
				return
			}
		}
		h(w, r)
	})
}

type ctxKey int

const (
	sessionKey ctxKey = iota
	userKey
)

// user requires a signed-in user; pages redirect to sign-in, JSON
// endpoints answer 401.
// user serves h to a signed-in user, after Conditional Access for
// Sesame's own pages (app "sesame").
func (s *Server) user(h http.HandlerFunc) http.Handler {
	return s.signedIn(access.AppSesame, h)
}

func (s *Server) signedIn(app string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie(CookieName)
		token := ""
		if c != nil {
			token = c.Value
		}
		sess, u, err := s.SignIn.Authenticate(r.Context(), token)
		if err != nil {
			if c != nil {
				s.clearCookie(w)
			}
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") {
				http.Redirect(w, r, "/signin?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey, sess)
		ctx = context.WithValue(ctx, userKey, u)
		r = r.WithContext(ctx)
		if app == access.AppSesameAdmin && !u.Admin {
			s.fail(w, r, errNotAdmin)
			return
		}
		if s.ownPageAccess(w, r, app) {
			return
		}
		h(w, r)
	})
}

var errNotAdmin = problem.New(http.StatusForbidden, "not_admin", "This page is for administrators.")

// admin serves h to a signed-in admin, after Conditional Access for the
// admin console (app "sesame-admin").
func (s *Server) admin(h http.HandlerFunc) http.Handler {
	return s.signedIn(access.AppSesameAdmin, h)
}

func currentSession(r *http.Request) store.Session {
	return r.Context().Value(sessionKey).(store.Session)
}
func currentUser(r *http.Request) store.User { return r.Context().Value(userKey).(store.User) }

func (s *Server) setSessionCookie(w http.ResponseWriter, res signin.Result) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: res.Token, Path: "/", HttpOnly: true, Secure: s.SecureCookies,
		SameSite: http.SameSiteLaxMode, Expires: res.Session.ExpiresAt,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func meta(r *http.Request) signin.Meta {
	return signin.Meta{IP: clientIP(r), UserAgent: r.UserAgent()}
}

// clientIP is the peer address. Sesame does not trust X-Forwarded-For
// until a trusted-proxy setting exists, so a client cannot pick its own
// address for the log and the rate limits.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// readJSON decodes a size-limited JSON body into v, refusing unknown
// shapes with a clear error.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return problem.New(http.StatusUnsupportedMediaType, "bad_content_type", "Requests must be sent as JSON.")
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The request is too large.")
		}
		return problem.BadRequest("The request could not be read: it is not valid JSON of the expected shape.").WithDetail("%v", err)
	}
	return nil
}

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem.New(http.StatusRequestEntityTooLarge, "body_too_large", "The request is too large.")
		}
		return problem.BadRequest("The form could not be read.")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON shape of every refusal.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// fail answers a refusal: JSON for script and API calls, an error page
// otherwise. Internal errors are logged with their detail and shown as a
// generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problem.As(err)
	switch {
	case p.Status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "2")
		s.Log.WarnContext(r.Context(), "request refused: database unavailable", "path", r.URL.Path, "err", err)
	case p.Status >= 500:
		s.Log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	}
	if wantsJSON(r) {
		writeJSON(w, p.Status, errorBody{Error: p.Message, Code: p.Code})
		return
	}
	s.renderStatus(w, r, p.Status, "error", map[string]any{"Title": "Something is not right", "Message": p.Message, "Code": p.Code})
}

func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
		strings.HasPrefix(r.URL.Path, "/api/") ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

// redirectAfterForm sends the browser on after a form sign-in. Where it
// goes next can leave this site (the OpenID provider's continue URL
// redirects to the app), and browsers apply the sign-in page's CSP
// form-action to every redirect that follows a form submission, so such a
// destination gets a page that navigates on its own instead: the app's
// origin never has to be allowed as a form target.
func (s *Server) redirectAfterForm(w http.ResponseWriter, r *http.Request, to string) {
	if strings.HasPrefix(to, "/oauth2/") {
		s.render(w, r, "continue", map[string]any{"Title": "Signed in", "To": to})
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeReturn keeps redirects on this site: only local absolute paths.
func safeReturn(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/my"
	}
	return p
}
