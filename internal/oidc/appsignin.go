package oidc

import (
	"context"
	"net/http"

	"github.com/sesame-idp/sesame/internal/store"
)

// Sign-ins to apps of other protocols (SAML) go through the same
// decisions as OpenID Connect ones: decide (session freshness, forced
// re-authentication, the app's required strength), then Conditional
// Access, with every result written to the sign-in log. The provider owns
// these decisions so that an app's protocol cannot change who gets in.

// AppRequirements is what an app's request asks of the sign-in beyond
// what AppSignIn says.
type AppRequirements struct {
	ForceAuthn bool     // a new ceremony is needed whatever the session (SAML ForceAuthn, like prompt=login)
	MinACR     string   // the app's required strength as an acr value ("" for none)
	ACRValues  []string // classes the request asks for, any of which will do (like acr_values)
	LoginHint  string   // username to prefill on the sign-in page
}

// AppOutcome is what the decisions made of an app sign-in.
type AppOutcome struct {
	// Handled: the response was written (sent to sign in, refused, or
	// answered through Refuse); the caller writes nothing more.
	Handled   bool
	Session   store.Session
	User      store.User
	Assurance Assurance
	event     *store.SignInEvent
}

// RecordSignIn writes the sign-in record of an app sign-in that went
// through; call it when the app gets its answer.
func (p *Provider) RecordSignIn(ctx context.Context, o AppOutcome) {
	if o.event != nil {
		p.appendSignIn(ctx, *o.event)
	}
}

// AuthorizeApp applies to a sign-in to an app of another protocol exactly
// what the authorization endpoint applies to an OpenID Connect one: it
// sends the browser to sign in when there is no session or it does not
// meet the requirements, refuses what even a fresh sign-in did not meet,
// and evaluates Conditional Access (report-only results included).
func (p *Provider) AuthorizeApp(w http.ResponseWriter, r *http.Request, as AppSignIn, req AppRequirements) AppOutcome {
	r = p.withMeta(r)
	ctx := r.Context()
	sess, u, cred, signed := p.session(r)
	var si *signedIn
	var assurance Assurance
	if signed {
		assurance = AssuranceOf(sess, cred)
		si = &signedIn{UserID: u.ID, AuthTime: sess.AuthTime, ACR: assurance.ACR}
	}
	dem := demands{PromptNone: as.Passive, PromptLogin: req.ForceAuthn, ACRValues: req.ACRValues,
		MinACR: req.MinACR, CreatedAt: as.CreatedAt}
	d := decide(dem, si, true, p.now())
	switch d.Verdict {
	case signInAgain:
		signInAgainRedirect(w, r, as.Continue, signed, req.LoginHint)
		return AppOutcome{Handled: true}
	case refuse:
		p.recordRefusal(ctx, as.App, u.ID, d.Error, d.Description)
		if as.Passive || d.Error == errUnmetAuthenticationRequirements {
			as.Refuse(d.Error, d.Description)
		} else {
			p.errorPage(w, r, http.StatusForbidden, d.Error, d.Description)
		}
		return AppOutcome{Handled: true}
	}
	ca := p.conditionalAccess(w, r, as, sess, u, cred)
	if ca.handled {
		return AppOutcome{Handled: true}
	}
	if ca.event == nil {
		// Without Conditional Access the sign-in is still recorded (an
		// OpenID Connect sign-in is, at the token endpoint).
		m := metaOf(ctx)
		ev := store.SignInEvent{Time: p.now(), UserID: u.ID, Username: u.Username, IP: m.IP, UserAgent: m.UserAgent,
			App: as.App, Method: sessionMethod(sess), Result: store.ResultSuccess, Detail: "authorization"}
		if cred != nil {
			p.describeCredential(ctx, &ev, cred.ID)
		}
		ca.event = &ev
	}
	return AppOutcome{Session: sess, User: u, Assurance: assurance, event: ca.event}
}

// withMeta gives a request from outside the provider's routes the
// address and user agent the sign-in log records.
func (p *Provider) withMeta(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(metaKey).(requestMeta); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), metaKey, requestMeta{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)}))
}

// ErrorPage shows the provider's error page (for other protocols' errors
// that a person is looking at).
func (p *Provider) ErrorPage(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	p.errorPage(w, r, status, code, message)
}
