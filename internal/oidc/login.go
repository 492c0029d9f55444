package oidc

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// The browser side of the provider: the continue endpoint (where the
// browser comes back from the authorization endpoint and from signing in),
// the consent page, RP-initiated logout, and error pages for requests that
// cannot be answered with a redirect.

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// continueFlow decides what an authorization request needs now that the
// browser is here: a sign-in, consent, a refusal, or its code.
func (p *Provider) continueFlow(w http.ResponseWriter, r *http.Request) {
	ar, c, ok := p.pendingRequest(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	p.advance(w, r, ar, c, false)
}

// consent is the answer from the consent page.
func (p *Provider) consent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "bad_form", "The form could not be read.")
		return
	}
	ar, c, ok := p.pendingRequest(w, r, r.PostForm.Get("id"))
	if !ok {
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		_, u, _, _ := p.session(r)
		p.recordRefusal(r.Context(), ar.rec.ClientID, u.ID, "access_denied", "the user declined on the consent page")
		op.AuthRequestError(w, r, ar, oidc.ErrAccessDenied().WithDescription("The user declined."), p.op)
		return
	}
	p.advance(w, r, ar, c, true)
}

// pendingRequest loads an authorization request that can still get a code.
func (p *Provider) pendingRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, *client, bool) {
	gone := func() (*authRequest, *client, bool) {
		p.errorPage(w, r, http.StatusBadRequest, "request_gone",
			"This sign-in request has expired or was already used.")
		return nil, nil, false
	}
	if id == "" || len(id) > 64 {
		return gone()
	}
	rec, err := p.oidcStore.GetAuthRequest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return gone()
	} else if err != nil {
		p.internalError(w, r, err)
		return nil, nil, false
	}
	if !p.now().Before(rec.ExpiresAt) || rec.CodeHash != nil {
		return gone()
	}
	ar, err := decodeAuthRequest(rec)
	if err != nil {
		p.internalError(w, r, err)
		return nil, nil, false
	}
	crec, err := p.clients.get(r.Context(), p.oidcStore, rec.ClientID)
	if err != nil {
		return gone() // the app was deleted meanwhile
	}
	return ar, p.newClient(crec), true
}

// session returns the browser's Sesame session, if it has a live one, and
// the passkey it was made with.
func (p *Provider) session(r *http.Request) (store.Session, store.User, *store.Credential, bool) {
	c, err := r.Cookie(p.cookieName)
	if err != nil || c.Value == "" || p.sessions == nil {
		return store.Session{}, store.User{}, nil, false
	}
	sess, u, err := p.sessions.Authenticate(r.Context(), c.Value)
	if err != nil {
		return store.Session{}, store.User{}, nil, false
	}
	var cred *store.Credential
	if sess.CredentialID != "" {
		if found, err := p.store.GetCredential(r.Context(), sess.CredentialID); err == nil {
			cred = &found
		}
	}
	return sess, u, cred, true
}

func (p *Provider) advance(w http.ResponseWriter, r *http.Request, ar *authRequest, c *client, consented bool) {
	ctx := r.Context()
	sess, u, cred, signed := p.session(r)
	var si *signedIn
	var as Assurance
	dem := ar.demands()
	if signed {
		as = AssuranceOf(sess, cred)
		si = &signedIn{UserID: u.ID, AuthTime: sess.AuthTime, ACR: as.ACR}
		custom, err := p.customACR(ctx, dem.ACRValues, sess, cred)
		if err != nil {
			p.internalError(w, r, err)
			return
		}
		si.CustomACR = custom
	}
	dem.MinACR = c.rec.RequiredACR
	d := decide(dem, si, consented, p.now())
	switch d.Verdict {
	case signInAgain:
		signInAgainRedirect(w, r, pathContinue+"?id="+url.QueryEscape(ar.rec.ID), signed, ar.params.LoginHint)
	case askConsent:
		if p.conditionalAccess(w, r, p.oidcSignIn(w, r, ar), sess, u, cred).handled {
			return // no consent asked for a sign-in the policies refuse
		}
		p.consentPage(w, r, ar, c, u)
	case refuse:
		p.recordRefusal(ctx, ar.rec.ClientID, u.ID, d.Error, d.Description)
		op.AuthRequestError(w, r, ar, authError(d.Error).WithDescription("%s", d.Description), p.op)
	case proceed:
		ca := p.conditionalAccess(w, r, p.oidcSignIn(w, r, ar), sess, u, cred)
		if ca.handled {
			return
		}
		a := oidcstore.Authentication{UserID: u.ID, CredentialID: as.CredentialID, Method: as.Method,
			AuthTime: sess.AuthTime, AMR: as.AMR, ACR: d.ACR, At: p.now(), SessionID: SessionID(sess.TokenHash)}
		if err := p.oidcStore.CompleteAuthRequest(ctx, ar.rec.ID, a); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			p.errorPage(w, r, http.StatusBadRequest, "request_gone", "This sign-in request has expired or was already used.")
			return
		} else if err != nil {
			p.internalError(w, r, err)
			return
		}
		ar.rec.Auth = a
		if ca.event != nil {
			p.appendSignIn(ctx, *ca.event)
		}
		op.AuthResponse(ar, p.op, w, r)
	}
}

// oidcSignIn describes an authorization request to the decisions shared
// with the other protocols.
func (p *Provider) oidcSignIn(w http.ResponseWriter, r *http.Request, ar *authRequest) AppSignIn {
	return AppSignIn{App: ar.rec.ClientID, Continue: pathContinue + "?id=" + url.QueryEscape(ar.rec.ID),
		CreatedAt: ar.rec.CreatedAt, Passive: ar.demands().PromptNone,
		Refuse: func(code, description string) {
			op.AuthRequestError(w, r, ar, authError(code).WithDescription("%s", description), p.op)
		}}
}

// signInAgainRedirect sends the browser to the sign-in page, to come back
// to continueTo. With a session, the request needs a new ceremony: the
// sign-in page must not skip it.
func signInAgainRedirect(w http.ResponseWriter, r *http.Request, continueTo string, signed bool, loginHint string) {
	q := url.Values{"return_to": {continueTo}}
	if signed {
		q.Set("prompt", "login")
	}
	if hint := strings.TrimSpace(loginHint); hint != "" && len(hint) <= 254 {
		q.Set("username", hint)
	}
	http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusFound)
}

// authError builds the OAuth error for a refusal code from decide.
func authError(code string) *oidc.Error {
	switch code {
	case "login_required":
		return oidc.ErrLoginRequired()
	case errUnmetAuthenticationRequirements:
		return &oidc.Error{ErrorType: errUnmetAuthenticationRequirements}
	case "access_denied":
		return oidc.ErrAccessDenied()
	}
	return oidc.ErrInteractionRequired()
}

var scopeWords = map[string]string{
	oidc.ScopeOpenID:        "your Sesame user ID",
	oidc.ScopeProfile:       "your name and username",
	oidc.ScopeEmail:         "your email address",
	ScopeGroups:             "the names of your groups",
	oidc.ScopeOfflineAccess: "access to these while you are away, until you sign out of it",
}

func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request, ar *authRequest, c *client, u store.User) {
	var shares []string
	for _, s := range ar.params.Scopes {
		if words, ok := scopeWords[s]; ok {
			shares = append(shares, words)
		}
	}
	p.render(w, http.StatusOK, originOf(ar.params.RedirectURI), map[string]any{
		"Page": "consent", "Title": "Sign in to " + c.rec.ID, "App": c.rec.ID, "Username": u.Username,
		"Shares": shares, "ID": ar.rec.ID, "Action": pathConsent,
	})
}

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
// It ends the Sesame session and sends the browser only to a
// post_logout_redirect_uri registered for the app. Without an
// id_token_hint naming the signed-in user, it asks first: otherwise any
// site could sign people out with a link.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "bad_form", "The sign-out request could not be read.")
		return
	}
	ctx := r.Context()
	fields := map[string]string{}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint"} {
		if v := r.Form.Get(k); v != "" {
			fields[k] = v
		}
	}
	req := &oidc.EndSessionRequest{IdTokenHint: fields["id_token_hint"], ClientID: fields["client_id"],
		PostLogoutRedirectURI: fields["post_logout_redirect_uri"], State: fields["state"], LogoutHint: fields["logout_hint"]}
	es, err := op.ValidateEndSessionRequest(ctx, req, p.op)
	if err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "bad_logout_request",
			"This sign-out request is not valid: the app's sign-out link names an unknown app, a sign-out address it did not register, or an ID token Sesame did not issue.")
		return
	}
	_, u, _, signed := p.session(r)
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes"
	if signed && !confirmed && (es.UserID == "" || es.UserID != u.ID) {
		p.render(w, http.StatusOK, originOf(es.RedirectURI), map[string]any{
			"Page": "logout", "Title": "Sign out", "App": es.ClientID, "Username": u.Username,
			"Fields": fields, "Action": pathEndSession,
		})
		return
	}
	if signed {
		if c, err := r.Cookie(p.cookieName); err == nil {
			if err := p.sessions.SignOut(ctx, c.Value); err != nil {
				p.internalError(w, r, err)
				return
			}
		}
		http.SetCookie(w, &http.Cookie{Name: p.cookieName, Value: "", Path: "/", HttpOnly: true,
			Secure: p.secureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	}
	userID := es.UserID
	if userID == "" && signed {
		userID = u.ID
	}
	if userID != "" && es.ClientID != "" {
		// The user signed out of this app: its tokens for them end too.
		if _, err := p.oidcStore.RevokeGrants(ctx, userID, es.ClientID, p.now(), "logout"); err != nil {
			p.log.ErrorContext(ctx, "revoking an app's grants at logout failed", "app", es.ClientID, "err", err)
		}
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, es.RedirectURI, status)
}

// --- pages ---

// originOf is the scheme://host of an absolute URI, for the page's
// form-action: a form's redirect to the app must be allowed by CSP too.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (p *Provider) render(w http.ResponseWriter, status int, formTarget string, data map[string]any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "page", data); err != nil {
		p.log.Error("rendering an OIDC page failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "+
		formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	p.render(w, status, "", map[string]any{"Page": "error", "Title": "Sign-in could not continue", "Code": code, "Message": message})
}

func (p *Provider) internalError(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "OIDC request failed", "path", r.URL.Path, "err", err)
	p.errorPage(w, r, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
}

// htmlErrors turns op's JSON error answers at the authorization endpoint
// (those it must not redirect: unknown app, unregistered redirect URI) into
// an error page, since a person is looking at them.
func htmlErrors(p *Provider, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &errorCapture{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if !cw.capturing {
			return
		}
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(cw.buf.Bytes(), &body)
		msg := "The app sent a sign-in request Sesame cannot accept"
		if body.Description != "" {
			msg += ": " + body.Description
		}
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		code := body.Error
		if code == "" {
			code = "invalid_request"
		}
		p.render(w, cw.status, "", map[string]any{"Page": "error", "Title": "This sign-in request is not valid", "Code": code, "Message": msg})
	})
}

type errorCapture struct {
	http.ResponseWriter
	status    int
	capturing bool
	buf       bytes.Buffer
}

func (c *errorCapture) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(c.Header().Get("Content-Type"), "application/json") {
		c.capturing, c.status = true, code
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *errorCapture) Write(b []byte) (int, error) {
	if c.capturing {
		return c.buf.Write(b)
	}
	return c.ResponseWriter.Write(b)
}
