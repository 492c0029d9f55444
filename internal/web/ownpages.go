package web

// Conditional Access on Sesame's own pages: My security info (app
// "sesame") and the admin console (app "sesame-admin", /admin and the admin
// API) are evaluated like apps, on every request, since a session made for
// /my can be taken to /admin. A pass or setup-link session is never sent to
// step up on /my: that is where it registers the first passkey (blocks
// still apply). Refusals, and report-only policies that would have
// refused, are written to the sign-in log, the latter once per session and
// outcome on each instance so that browsing the console does not flood it.

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

var (
	errOwnPageBlocked = problem.New(http.StatusForbidden, "access_blocked",
		"Your organisation's sign-in rules do not allow you to use this page from here.")
	errOwnPageStepUp = problem.New(http.StatusForbidden, "access_step_up",
		"This page needs a stronger sign-in: sign in again with a passkey.")
	errOwnPageUnavailable = problem.New(http.StatusServiceUnavailable, "access_unavailable",
		"Sesame cannot check the sign-in rules right now. Please try again in a moment.")
)

// freshFor is how recent a sign-in must be to count as made for this
// page: a page that still asks for more right after a sign-in says so
// instead of sending the browser round again.
const freshFor = time.Minute

// recordedOwn remembers which report-only outcomes were already written
// per session, bounded (it starts afresh when full).
type recordedOwn struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (o *recordedOwn) first(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil || len(o.seen) > 10000 {
		o.seen = map[string]bool{}
	}
	if o.seen[key] {
		return false
	}
	o.seen[key] = true
	return true
}

// ownPageAccess evaluates the policies for the signed-in user on one of
// Sesame's own apps; it reports whether it wrote the answer (a refusal or
// a redirect to sign in again).
func (s *Server) ownPageAccess(w http.ResponseWriter, r *http.Request, app string) bool {
	if s.Access == nil {
		return false
	}
	ctx := r.Context()
	// Every request to /my and /admin passes here: when no policy can
	// apply to the app, skip reading the session's facts (the answer is
	// "allow" with nothing to record). An error reading the policies is
	// met again, and answered, by Evaluate below.
	if set, err := s.Access.Policies(ctx); err == nil && !set.MayApplyToApp(app) {
		return false
	}
	u, sess := currentUser(r), currentSession(r)
	now := s.Now()
	c, err := s.sessionAccessContext(r, u, sess, now)
	c.App, c.Fresh = app, now.Sub(sess.AuthTime) < freshFor
	var d access.Decision
	if err == nil {
		d, err = s.Access.Evaluate(ctx, c)
	}
	onboarding := slices.Contains(sess.Methods, string(methods.MethodTAP)) || slices.Contains(sess.Methods, "setup")
	ev := store.SignInEvent{
		Time: now, UserID: u.ID, Username: u.Username, IP: clientIP(r), UserAgent: truncateUA(r.UserAgent()),
		Method: strings.Join(sess.Methods, "+"), Result: store.ResultSuccess, Client: string(access.ClientBrowser), App: app,
		Country: c.Country, TrustedDevice: c.Device.Trusted, BoundPasskeyDevice: c.Device.BoundPasskey,
		Detail: ownPageName(app) + ": Conditional Access allows",
	}
	var refusal error
	switch {
	case err != nil:
		refusal = errOwnPageUnavailable.Wrap(err)
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_unavailable", "Conditional Access could not be evaluated: "+err.Error()
	case d.Access == access.AccessBlock:
		refusal = errOwnPageBlocked.WithDetail("policy %q", d.BlockedBy)
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_blocked", ownPageName(app)+" blocked by policy \u201c"+d.BlockedBy+"\u201d"
	case d.Access == access.AccessStepUp && !(app == access.AppSesame && (onboarding || addingPasskey(r))):
		refusal = errOwnPageStepUp.WithDetail("policies %v", d.Policies(access.StateOn, access.OutcomeStepUp))
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_step_up", ownPageName(app)+" needs a stronger sign-in"
	}
	if err == nil {
		ev.Access = access.MarshalResults(d.Results)
	}
	if refusal != nil || s.firstReportOnly(d, sess, app) {
		if _, werr := s.Store.AppendSignIn(ctx, ev); werr != nil {
			s.Log.ErrorContext(ctx, "sign-in log write failed", "err", werr)
		}
	}
	if refusal == nil {
		return false
	}
	p := problem.As(refusal)
	if p.Code == "access_step_up" && r.Method == http.MethodGet && !wantsJSON(r) && now.Sub(sess.AuthTime) >= freshFor {
		q := url.Values{"return_to": {r.URL.RequestURI()}, "prompt": {"login"}, "username": {u.Username}, "notice": {"step_up"}}
		http.Redirect(w, r, "/signin?"+q.Encode(), http.StatusSeeOther)
		return true
	}
	s.fail(w, r, refusal)
	return true
}

// firstReportOnly reports whether a report-only policy would have refused
// and this session's outcome was not yet recorded here.
func (s *Server) firstReportOnly(d access.Decision, sess store.Session, app string) bool {
	would := append(d.Policies(access.StateReportOnly, access.OutcomeBlock), d.Policies(access.StateReportOnly, access.OutcomeStepUp)...)
	if len(would) == 0 {
		return false
	}
	return s.ownRecorded.first(string(sess.TokenHash) + "\x00" + app + "\x00" + strings.Join(would, "\x00"))
}

// addingPasskey: the pages that add a passkey are how a user meets a
// passkey requirement at all; the register-security-info action governs
// them (checkSecurityInfo).
func addingPasskey(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/my/add-passkey") || strings.HasPrefix(r.URL.Path, "/my/passkeys/register/")
}

func ownPageName(app string) string {
	if app == access.AppSesameAdmin {
		return "admin console"
	}
	return "My security info"
}

// sessionAccessContext is what Conditional Access knows of the signed-in
// session: who, from where, on which device, and which strengths its
// methods and passkey satisfy. Callers set the app or action.
func (s *Server) sessionAccessContext(r *http.Request, u store.User, sess store.Session, now time.Time) (access.Context, error) {
	ctx := r.Context()
	groups, err := s.Store.ListUserGroups(ctx, u.ID)
	if err != nil {
		return access.Context{}, err
	}
	ip, _ := netip.ParseAddr(clientIP(r))
	c := access.Context{
		Username: u.Username, Admin: u.Admin, IP: ip.Unmap(), Client: access.ClientBrowser,
		Now: now, AuthTime: sess.AuthTime,
	}
	if len(s.DeviceKey) > 0 {
		c.Device = s.currentDevice(r, u)
	}
	for _, g := range groups {
		c.Groups = append(c.Groups, g.Name)
	}
	var custom []methods.Strength
	if s.Strengths != nil {
		doc, err := s.Strengths.Load(ctx)
		if err != nil {
			return access.Context{}, err
		}
		custom = doc.Strengths
	}
	used := make([]methods.Method, len(sess.Methods))
	for i, m := range sess.Methods {
		used[i] = methods.Method(m)
	}
	var pk *passkey.Facts
	if sess.CredentialID != "" {
		if cred, err := s.Store.GetCredential(ctx, sess.CredentialID); err == nil {
			f := passkey.FactsOf(cred)
			pk = &f
		}
	}
	c.Satisfies = func(id string) bool {
		st, ok := methods.StrengthByID(id, custom)
		return ok && methods.Satisfies(st, used, pk)
	}
	if s.Access.Countries != nil {
		c.Country = s.Access.Countries.Country(c.IP)
	}
	return c, nil
}
