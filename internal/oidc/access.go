package oidc

// Conditional Access at the app sign-in. Once the browser has a Sesame
// session that prompt, max_age and acr_values accept, the policies decide
// for this user, app, address, device and session whether the app may have
// its code: go on, send the user through the sign-in page again for what
// the required strength allows (or for a fresh ceremony the sign-in
// frequency demands), or refuse with a page naming the policy. Every
// evaluation, report-only results included, is written to the sign-in
// record of the app sign-in. Without policies in force (an error reading
// them) nobody gets in: the decision fails closed.

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// Sign-in log reasons of Conditional Access refusals and interruptions.
const (
	ReasonAccessBlocked = "access_blocked"
	ReasonAccessStepUp  = "access_step_up"
	ReasonAccessError   = "access_unavailable"
)

// AppSignIn is one sign-in to an app, whatever its protocol (an OpenID
// Connect authorization request, a SAML AuthnRequest or IdP-initiated
// sign-in), as the shared decisions see it.
type AppSignIn struct {
	App       string    // the app's name (OIDC client ID, SAML app name)
	Continue  string    // where the browser comes back to after signing in again (a path)
	CreatedAt time.Time // when the app's request arrived: a sign-in after it is fresh
	Passive   bool      // no page may be shown (prompt=none, IsPassive)
	// Refuse answers the app itself when no page may be shown: code is
	// "access_denied", "interaction_required", "login_required" or
	// "unmet_authentication_requirements".
	Refuse func(code, description string)
}

// accessOutcome is what Conditional Access made of an app sign-in.
type accessOutcome struct {
	handled bool               // the response was written (refused or sent to sign in)
	event   *store.SignInEvent // the record to write when the code is issued
}

// conditionalAccess evaluates the policies for an app sign-in the OpenID
// checks have let through. When it returns handled, the browser has its
// answer; otherwise the caller goes on and writes event (if any) when it
// issues the code.
func (p *Provider) conditionalAccess(w http.ResponseWriter, r *http.Request, as AppSignIn, sess store.Session, u store.User, cred *store.Credential) accessOutcome {
	if p.access == nil {
		return accessOutcome{}
	}
	ctx := r.Context()
	m := metaOf(ctx)
	ev := store.SignInEvent{Time: p.now(), UserID: u.ID, Username: u.Username, IP: m.IP, UserAgent: m.UserAgent,
		App: as.App, Method: sessionMethod(sess), Client: string(access.ClientBrowser), Result: store.ResultSuccess}
	if cred != nil {
		p.describeCredential(ctx, &ev, cred.ID)
	}
	fail := func(err error) accessOutcome {
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, ReasonAccessError, "Conditional Access could not be evaluated: "+err.Error()
		p.appendSignIn(ctx, ev)
		p.log.ErrorContext(ctx, "Conditional Access could not be evaluated; sign-in refused", "app", ev.App, "user", u.Username, "err", err)
		p.errorPage(w, r, http.StatusServiceUnavailable, ReasonAccessError,
			"Sesame cannot check the sign-in rules for this app right now, so it cannot let you in. Please try again in a moment.")
		return accessOutcome{handled: true}
	}

	c, err := p.accessContext(ctx, r, w, as, sess, u, cred)
	if err != nil {
		return fail(err)
	}
	ev.Country, ev.TrustedDevice, ev.BoundPasskeyDevice = c.Country, c.Device.Trusted, c.Device.BoundPasskey
	d, err := p.access.Evaluate(ctx, c)
	if err != nil {
		return fail(err)
	}
	ev.Access = access.MarshalResults(d.Results)
	promptNone := as.Passive

	switch d.Access {
	case access.AccessBlock:
		ev.Result, ev.Reason = store.ResultFailure, ReasonAccessBlocked
		ev.Detail = "blocked by Conditional Access policy " + quote(d.BlockedBy)
		p.appendSignIn(ctx, ev)
		p.log.InfoContext(ctx, "sign-in blocked by Conditional Access", "app", ev.App, "user", u.Username, "policy", d.BlockedBy, "ip", ev.IP)
		if promptNone {
			// No page can be shown: the app hears it was refused.
			as.Refuse("access_denied", "A Conditional Access policy blocks this sign-in.")
			return accessOutcome{handled: true}
		}
		p.render(w, http.StatusForbidden, "", map[string]any{
			"Page": "blocked", "Title": "You cannot sign in to " + as.App + " from here", "App": as.App,
			"Policy": d.BlockedBy, "Username": u.Username, "Code": ReasonAccessBlocked,
		})
		return accessOutcome{handled: true}

	case access.AccessStepUp:
		fresh := c.Fresh
		ev.Result, ev.Reason = store.ResultFailure, ReasonAccessStepUp
		ev.Detail = stepUpDetail(d)
		p.appendSignIn(ctx, ev)
		if promptNone {
			as.Refuse("interaction_required", "A Conditional Access policy asks for a new sign-in.")
			return accessOutcome{handled: true}
		}
		if fresh && len(d.Unmet) > 0 {
			// The user signed in within this request and still does not
			// meet the strength: say what is needed rather than loop.
			p.render(w, http.StatusForbidden, "", map[string]any{
				"Page": "stepup", "Title": as.App + " needs a stronger sign-in", "App": as.App,
				"Policies": d.Policies(access.StateOn, access.OutcomeStepUp), "Needs": strengthWords(d.Unmet),
				"Username": u.Username, "Code": ReasonAccessStepUp, "SignIn": p.stepUpURL(as.Continue, d, u),
				"PasskeyOnly": !slices.Contains(d.Unmet, access.StrengthMFA),
			})
			return accessOutcome{handled: true}
		}
		http.Redirect(w, r, p.stepUpURL(as.Continue, d, u), http.StatusFound)
		return accessOutcome{handled: true}
	}
	ev.Detail = "authorization: Conditional Access allows"
	if len(d.Strengths) > 0 {
		ev.Detail += " (" + strings.Join(strengthWords(d.Strengths), ", ") + " met)"
	}
	return accessOutcome{event: &ev}
}

// stepUpURL sends the browser to sign in again, asking for a passkey when
// that is what the unmet strengths allow.
func (p *Provider) stepUpURL(continueTo string, d access.Decision, u store.User) string {
	q := url.Values{"return_to": {continueTo}, "prompt": {"login"}, "username": {u.Username}}
	if len(d.Unmet) > 0 {
		q.Set("notice", "step_up")
	} else {
		q.Set("notice", "reauth")
	}
	return "/signin?" + q.Encode()
}

// accessContext fills the sign-in's context from the request, the
// directory, the device cookie and the session.
func (p *Provider) accessContext(ctx context.Context, r *http.Request, w http.ResponseWriter, as AppSignIn, sess store.Session, u store.User, cred *store.Credential) (access.Context, error) {
	groups, err := p.store.ListUserGroups(ctx, u.ID)
	if err != nil {
		return access.Context{}, err
	}
	var custom []methods.Strength
	if p.strengths != nil {
		if custom, err = p.strengths(ctx); err != nil {
			return access.Context{}, err
		}
	}
	ip, _ := netip.ParseAddr(metaOf(ctx).IP)
	c := access.Context{
		Username: u.Username, Admin: u.Admin, App: as.App, IP: ip.Unmap(), Client: access.ClientBrowser,
		// Fresh: the ceremony came after the request (times are kept to the
		// millisecond; a tie counts as not fresh, which asks once more
		// rather than letting an old sign-in pass).
		Now: p.now(), AuthTime: sess.AuthTime, Fresh: sess.AuthTime.After(as.CreatedAt),
		Device: p.device(w, r, sess, u, cred),
	}
	for _, g := range groups {
		c.Groups = append(c.Groups, g.Name)
	}
	used, pk := satisfiedBy(sess, cred)
	c.Satisfies = func(id string) bool {
		s, ok := methods.StrengthByID(id, custom)
		return ok && methods.Satisfies(s, used, pk)
	}
	if p.access.Countries != nil {
		c.Country = p.access.Countries.Country(c.IP)
	}
	return c, nil
}

// device reads the device signal from the browser's device cookie, and
// marks the browser as holding a device-bound passkey of the user when the
// session was made with one (the session cookie lives in this browser, so
// the passkey was used on this device).
func (p *Provider) device(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User, cred *store.Credential) access.Device {
	signer := access.DeviceSigner{Key: p.deviceKey}
	var d access.Device
	if ck, err := r.Cookie(access.DeviceCookieName); err == nil {
		d = signer.Decode(ck.Value, u.ID)
	}
	if len(p.deviceKey) == 0 || cred == nil || !slices.Contains(sess.Methods, string(methods.MethodPasskey)) ||
		passkey.Classify(cred.BackupEligible, cred.BackupState) != passkey.KindDeviceBound {
		return d
	}
	if !d.BoundPasskey {
		d.BoundPasskey = true
		http.SetCookie(w, &http.Cookie{Name: access.DeviceCookieName, Value: signer.Encode(u.ID, d, p.now()), Path: "/",
			HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(access.DeviceCookieMaxAge.Seconds())})
	}
	return d
}

// sessionMethod is the sign-in log's name for how the session signed in.
func sessionMethod(sess store.Session) string {
	if len(sess.Methods) == 0 {
		return MethodOIDC
	}
	return strings.Join(sess.Methods, "+")
}

func stepUpDetail(d access.Decision) string {
	var parts []string
	if len(d.Unmet) > 0 {
		parts = append(parts, "requires "+strings.Join(strengthWords(d.Unmet), " and "))
	}
	if d.Reauth {
		parts = append(parts, "requires a fresh sign-in")
	}
	return "Conditional Access " + strings.Join(parts, "; ") + " (policies " + strings.Join(quoteAll(d.Policies(access.StateOn, access.OutcomeStepUp)), ", ") + ")"
}

// strengthWords are strengths as people read them, saying what to use.
func strengthWords(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = access.StrengthLabel(id)
	}
	return out
}

func quote(s string) string { return "\u201c" + s + "\u201d" }

func quoteAll(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = quote(s)
	}
	return out
}

// satisfiedBy is what a session proved, in the terms strengths are made
// of: the methods used, and the passkey's facts when one was used.
func satisfiedBy(sess store.Session, cred *store.Credential) ([]methods.Method, *passkey.Facts) {
	used := make([]methods.Method, len(sess.Methods))
	for i, m := range sess.Methods {
		used[i] = methods.Method(m)
	}
	var pk *passkey.Facts
	if cred != nil && slices.Contains(sess.Methods, string(methods.MethodPasskey)) {
		f := passkey.FactsOf(*cred)
		pk = &f
	}
	return used, pk
}

// customACR says, for each requested acr value that names a custom
// authentication strength, whether the session meets it. The strengths are
// read only when a value is not a built-in class.
func (p *Provider) customACR(ctx context.Context, values []string, sess store.Session, cred *store.Credential) (map[string]bool, error) {
	if p.strengths == nil || !slices.ContainsFunc(values, func(v string) bool { return acrLevel(v) == 0 }) {
		return nil, nil
	}
	custom, err := p.strengths(ctx)
	if err != nil {
		return nil, err
	}
	used, pk := satisfiedBy(sess, cred)
	out := map[string]bool{}
	for _, v := range values {
		if i := slices.IndexFunc(custom, func(s methods.Strength) bool { return s.ID == v }); i >= 0 && acrLevel(v) == 0 {
			out[v] = methods.Satisfies(custom[i], used, pk)
		}
	}
	return out, nil
}
