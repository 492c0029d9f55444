package samlidp

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/store"
)

// AuthnContextClassRefs Sesame asserts, by the acr value of the session
// (oidc.AssuranceOf): the passkey's strength, in SAML's terms. An SP can
// ask for one in RequestedAuthnContext; Sesame then requires it as an
// OpenID Connect acr_values request would.
var classByACR = map[string]string{
	oidc.ACRPhishingResistantHardware: "urn:sesame:ac:classes:phishing-resistant-hardware",
	oidc.ACRPhishingResistant:         "urn:sesame:ac:classes:phishing-resistant",
	oidc.ACRPasswordless:              "urn:sesame:ac:classes:passwordless",
	oidc.ACRMFA:                       "urn:sesame:ac:classes:mfa",
	oidc.ACRTemporaryAccess:           "urn:sesame:ac:classes:temporary-access-pass",
	oidc.ACRPassword:                  "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
}

// ClassRef is the AuthnContextClassRef asserted for a session's acr value.
func ClassRef(acr string) string {
	if c, ok := classByACR[acr]; ok {
		return c
	}
	return "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
}

// requestedACRs turns the classes an AuthnRequest asks for into acr values
// (classes Sesame does not assert are ignored, as acr_values are).
func requestedACRs(req *saml.IdpAuthnRequest) []string {
	if req.Request.RequestedAuthnContext == nil {
		return nil
	}
	var out []string
	for _, c := range req.Request.RequestedAuthnContext.ClassRefs() {
		for acr, class := range classByACR {
			if class == c && acr != oidc.ACRPassword {
				out = append(out, acr)
			}
		}
	}
	return out
}

// pending is an SP's request waiting for the user to sign in, kept in the
// store (any instance can finish it) as a single-use challenge.
type pending struct {
	App        string    `json:"app"`
	Request    []byte    `json:"request,omitempty"` // the validated AuthnRequest XML; empty for IdP-initiated
	RelayState string    `json:"relay_state,omitempty"`
	ACSBinding string    `json:"acs_binding"`
	ACSURL     string    `json:"acs_url"`
	ACSIndex   int       `json:"acs_index"`
	CreatedAt  time.Time `json:"created_at"`
	Signed     bool      `json:"signed,omitempty"` // recorded in the replay cache once answered
}

const (
	pendingKind = "saml"
	pendingTTL  = 30 * time.Minute
)

type sessionProvider struct{ p *IdP }

// GetSession is called by the library for a validated SP-initiated or an
// IdP-initiated request.
func (s sessionProvider) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	return s.p.authorize(w, r, req, s.p.now().Truncate(time.Millisecond)) // as the OIDC request times read back
}

// authorize runs the shared app sign-in decision for req. It returns the
// session to assert, or nil when it has answered the browser itself.
func (p *IdP) authorize(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest, createdAt time.Time) *saml.Session {
	ctx := r.Context()
	app, err := p.apps.GetSAMLAppByEntityID(ctx, req.ServiceProviderMetadata.EntityID)
	if errors.Is(err, store.ErrNotFound) {
		p.gate.ErrorPage(w, r, http.StatusNotFound, "unknown_app", "This app is not registered with Sesame (any more).")
		return nil
	} else if err != nil {
		p.internalError(w, r, err)
		return nil
	}
	pd := pending{App: app.Name, Request: req.RequestBuffer, RelayState: req.RelayState, CreatedAt: createdAt, Signed: signed(r, req)}
	if req.ACSEndpoint != nil {
		pd.ACSBinding, pd.ACSURL, pd.ACSIndex = req.ACSEndpoint.Binding, req.ACSEndpoint.Location, req.ACSEndpoint.Index
	}
	id := store.NewID()
	data, _ := json.Marshal(pd)
	if err := p.store.PutChallenge(ctx, store.Challenge{ID: id, Kind: pendingKind, Data: data, ExpiresAt: p.now().Add(pendingTTL)}); err != nil {
		p.internalError(w, r, err)
		return nil
	}
	as := oidc.AppSignIn{App: app.Name, Continue: PathContinue + "?id=" + url.QueryEscape(id), CreatedAt: createdAt,
		Passive: req.Request.IsPassive != nil && *req.Request.IsPassive,
		Refuse: func(code, description string) {
			second := saml.StatusRequestDenied
			switch code {
			case "login_required", "interaction_required":
				second = saml.StatusNoPassive
			case "unmet_authentication_requirements":
				second = saml.StatusNoAuthnContext
			}
			if err := req.IDP.SendErrorResponse(w, req, &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: second, Message: description}); err != nil {
				p.internalError(w, r, err)
			}
		}}
	var subject string
	if req.Request.Subject != nil && req.Request.Subject.NameID != nil {
		subject = req.Request.Subject.NameID.Value
	}
	out := p.gate.AuthorizeApp(w, r, as, oidc.AppRequirements{
		ForceAuthn: req.Request.ForceAuthn != nil && *req.Request.ForceAuthn,
		MinACR:     app.RequiredACR, ACRValues: requestedACRs(req), LoginHint: subject,
	})
	if out.Handled {
		return nil
	}
	p.store.TakeChallenge(ctx, id) // not needed any more; the sweep would remove it anyway

	format := requestedFormat(req)
	if format == "" {
		format = app.NameIDFormat
	}
	nameID, samlFormat, err := p.nameID(format, app.EntityID, out.User)
	if err != nil {
		if serr := req.IDP.SendErrorResponse(w, req, &saml.StatusError{TopLevel: saml.StatusResponder,
			SecondLevel: saml.StatusInvalidNameIDPolicy, Message: "The user has no email address for an email NameID."}); serr != nil {
			p.internalError(w, r, serr)
		}
		return nil
	}
	groups, err := p.store.ListUserGroups(ctx, out.User.ID)
	if err != nil {
		p.internalError(w, r, err)
		return nil
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	display := out.User.DisplayName
	if display == "" {
		display = out.User.Username
	}
	sess := &saml.Session{
		ID: store.NewID(), CreateTime: out.Session.AuthTime, ExpireTime: out.Session.ExpiresAt, Index: sessionIndex(out.Session),
		NameID: nameID, NameIDFormat: samlFormat, UserName: out.User.Username, UserEmail: out.User.Email, UserCommonName: display,
		AuthnContextClassRef: ClassRef(out.Assurance.ACR),
		CustomAttributes:     []saml.Attribute{attr(AttrName, display), attr(AttrGroups, names...)},
	}
	if out.User.Email != "" {
		sess.CustomAttributes = append(sess.CustomAttributes, attr(AttrEmail, out.User.Email))
	}
	p.gate.RecordSignIn(ctx, out)
	return sess
}

// signed reports whether an AuthnRequest came signed (an enveloped
// signature, or the query or form signature of the redirect and
// SimpleSign bindings). The library verified it before GetSession.
func signed(r *http.Request, req *saml.IdpAuthnRequest) bool {
	if req.Request.Signature != nil {
		return true
	}
	if r.Method == http.MethodGet {
		return r.URL.Query().Has("Signature")
	}
	return r.PostForm.Has("Signature")
}

// continueFlow finishes a request after the user signed in.
func (p *IdP) continueFlow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	gone := func() {
		p.gate.ErrorPage(w, r, http.StatusBadRequest, "request_gone", "This sign-in request has expired or was already used. Go back to the app and sign in again.")
	}
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 64 {
		gone()
		return
	}
	c, err := p.store.TakeChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (c.Kind != pendingKind || !p.now().Before(c.ExpiresAt))) {
		gone()
		return
	} else if err != nil {
		p.internalError(w, r, err)
		return
	}
	var pd pending
	if err := json.Unmarshal(c.Data, &pd); err != nil {
		p.internalError(w, r, err)
		return
	}
	app, err := p.apps.GetSAMLApp(ctx, pd.App)
	if err != nil {
		gone() // the app was deleted meanwhile
		return
	}
	idp, err := p.provider(ctx)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	md, err := samlsp.ParseMetadata(app.Metadata)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	req := &saml.IdpAuthnRequest{IDP: idp, HTTPRequest: r, RelayState: pd.RelayState, RequestBuffer: pd.Request,
		ServiceProviderMetadata: md, Now: p.now()}
	if len(pd.Request) > 0 {
		if err := xml.Unmarshal(pd.Request, &req.Request); err != nil { //nolint:gosec // validated when it arrived
			p.internalError(w, r, err)
			return
		}
	}
	for i := range md.SPSSODescriptors {
		for j := range md.SPSSODescriptors[i].AssertionConsumerServices {
			e := &md.SPSSODescriptors[i].AssertionConsumerServices[j]
			if e.Location == pd.ACSURL && e.Binding == pd.ACSBinding && req.ACSEndpoint == nil {
				req.SPSSODescriptor, req.ACSEndpoint = &md.SPSSODescriptors[i], e
			}
		}
	}
	if req.ACSEndpoint == nil {
		gone() // the app's metadata changed meanwhile
		return
	}
	if pd.Signed {
		// ServeSSO records a signed request once it is answered; so does
		// the continue step, so it cannot be replayed afterwards.
		issuer := ""
		if req.Request.Issuer != nil {
			issuer = req.Request.Issuer.Value
		}
		if err := idp.ReplayCache.Consume("AuthnRequest:"+issuer+" "+req.Request.ID, req.Request.IssueInstant.Add(saml.MaxIssueDelay)); err != nil {
			p.onError(w, r, http.StatusBadRequest, err)
			return
		}
	}
	sess := p.authorize(w, r, req, pd.CreatedAt)
	if sess == nil {
		return
	}
	if err := idp.AssertionMaker.MakeAssertion(req, sess); err != nil {
		var st *saml.StatusError
		if errors.As(err, &st) {
			if err := idp.SendErrorResponse(w, req, st); err != nil {
				p.internalError(w, r, err)
			}
			return
		}
		p.internalError(w, r, err)
		return
	}
	if err := req.WriteResponse(w); err != nil {
		p.internalError(w, r, err)
	}
}

// --- single logout ---

// InvalidateSession ends the browser's Sesame session when the SP's
// LogoutRequest names it (its NameID for this SP and, when given, the
// session index of the assertion).
func (s sessionProvider) InvalidateSession(w http.ResponseWriter, r *http.Request, req *saml.IdpLogoutRequest) error {
	p := s.p
	ctx := r.Context()
	c, err := r.Cookie(p.cookieName)
	if err != nil || c.Value == "" {
		return nil // already signed out
	}
	sess, u, err := p.sessions.Authenticate(ctx, c.Value)
	if err != nil {
		return nil
	}
	app, err := p.apps.GetSAMLAppByEntityID(ctx, req.ServiceProviderMetadata.EntityID)
	if err != nil {
		return err
	}
	for _, format := range []string{FormatEmail, FormatPersistent} {
		nameID, _, err := p.nameID(format, app.EntityID, u)
		if err != nil {
			continue
		}
		if req.MatchesSession(&saml.Session{NameID: nameID, Index: sessionIndex(sess)}) {
			if err := p.sessions.SignOut(ctx, c.Value); err != nil {
				return err
			}
			http.SetCookie(w, &http.Cookie{Name: p.cookieName, Value: "", Path: "/", HttpOnly: true,
				Secure: p.secureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
			return nil
		}
	}
	return nil
}

// --- HTTP ---

// Handler serves everything under /saml/. limit wraps the endpoints that
// anyone can call without a session (the sign-in rate limit); gate wraps
// the continue step (the registration campaign).
func (p *IdP) Handler(limit func(http.Handler) http.Handler, gate func(path string, h http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	with := func(h func(*saml.IdentityProvider, http.ResponseWriter, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			idp, err := p.provider(r.Context())
			if err != nil {
				p.internalError(w, r, err)
				return
			}
			h(idp, w, r)
		}
	}
	mux.Handle("GET "+PathMetadata, with(func(idp *saml.IdentityProvider, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		idp.ServeMetadata(w, r)
	}))
	sso := limit(with(func(idp *saml.IdentityProvider, w http.ResponseWriter, r *http.Request) { idp.ServeSSO(w, r) }))
	mux.Handle("GET "+PathSSO, sso)
	mux.Handle("POST "+PathSSO, sso)
	slo := limit(with(func(idp *saml.IdentityProvider, w http.ResponseWriter, r *http.Request) { idp.ServeSLO(w, r) }))
	mux.Handle("GET "+PathSLO, slo)
	mux.Handle("POST "+PathSLO, slo)
	mux.Handle("GET "+PathContinue, gate(PathContinue, http.HandlerFunc(p.continueFlow)))
	mux.Handle("GET "+pathIDPPrefix+"{app}", limit(with(p.idpInitiated)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path != PathMetadata {
			h.Set("Cache-Control", "no-store")
		}
		mux.ServeHTTP(w, r)
	})
}

// idpInitiated signs the user in to an app from Sesame's side:
// /saml/idp/{app}?RelayState=...
func (p *IdP) idpInitiated(idp *saml.IdentityProvider, w http.ResponseWriter, r *http.Request) {
	app, err := p.apps.GetSAMLApp(r.Context(), r.PathValue("app"))
	if errors.Is(err, store.ErrNotFound) {
		p.gate.ErrorPage(w, r, http.StatusNotFound, "unknown_app", "There is no SAML app called "+quote(r.PathValue("app"))+".")
		return
	} else if err != nil {
		p.internalError(w, r, err)
		return
	}
	idp.ServeIDPInitiated(w, r, app.EntityID, r.URL.Query().Get("RelayState"))
}

// onError turns the library's refusals into pages that say what is wrong.
func (p *IdP) onError(w http.ResponseWriter, r *http.Request, status int, err error) {
	p.log.InfoContext(r.Context(), "SAML request refused", "path", r.URL.Path, "status", status, "err", err)
	code, msg := "bad_saml_request", "The app sent a SAML request Sesame cannot accept"
	switch {
	case errors.Is(err, saml.ErrUnknownServiceProvider):
		code, msg, status = "unknown_app", "The app that sent this sign-in request is not registered with Sesame", http.StatusNotFound
	case errors.Is(err, saml.ErrInvalidSignature):
		code, msg = "bad_signature", "The sign-in request is not signed, or its signature does not verify against the app's registered certificate"
	case errors.Is(err, saml.ErrExpired), errors.Is(err, saml.ErrNotYetValid):
		code, msg = "request_expired", "The sign-in request has expired (or the app's clock is wrong); go back to the app and try again"
	case errors.Is(err, saml.ErrAssertionReplayed):
		code, msg = "request_replayed", "This signed sign-in request was already used"
	case errors.Is(err, saml.ErrDestinationMismatch):
		code, msg = "wrong_destination", "The sign-in request was made for another identity provider (its Destination is not Sesame's SSO URL)"
	case errors.Is(err, saml.ErrUnknownAssertionConsumerService):
		code, msg = "bad_acs", "The sign-in request names an assertion consumer service the app did not register"
	case errors.Is(err, saml.ErrMalformedMessage), errors.Is(err, saml.ErrMissingElement):
		code, msg = "malformed_request", "The sign-in request cannot be read"
	case status >= 500:
		p.internalError(w, r, err)
		return
	}
	p.gate.ErrorPage(w, r, status, code, msg+".")
}

func (p *IdP) internalError(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "SAML request failed", "path", r.URL.Path, "err", err)
	p.gate.ErrorPage(w, r, http.StatusInternalServerError, "internal", "Something went wrong on our side. Please try again.")
}

func quote(s string) string { return "\u201c" + s + "\u201d" }
