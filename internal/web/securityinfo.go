package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Conditional Access for registering security info (the user action
// policies such as "protect security-info registration": only from a
// temporary access pass or an existing strong method). Registering a
// passkey is where an attacker with a stolen password would plant their
// own, so the policies are evaluated before the ceremony begins and the
// outcome, report-only results included, goes to the sign-in log.

var (
	errSecurityInfoBlocked = problem.New(http.StatusForbidden, "access_blocked",
		"Your organisation's sign-in rules do not allow adding a passkey from here.")
	errSecurityInfoStepUp = problem.New(http.StatusForbidden, "access_step_up",
		"To add a passkey, sign in again with a temporary access pass or one of your passkeys first.")
	errSecurityInfoUnavailable = problem.New(http.StatusServiceUnavailable, "access_unavailable",
		"Sesame cannot check the sign-in rules right now, so it cannot add a passkey. Please try again in a moment.")
)

// checkSecurityInfo evaluates the policies for the signed-in user adding
// security info now; nil means go ahead.
func (s *Server) checkSecurityInfo(r *http.Request) error {
	if s.Access == nil {
		return nil
	}
	ctx := r.Context()
	u, sess := currentUser(r), currentSession(r)
	c, err := s.sessionAccessContext(r, u, sess, s.Now())
	if err != nil {
		return errSecurityInfoUnavailable.Wrap(err)
	}
	c.Action = access.ActionRegisterSecurityInfo
	// A temporary access pass is what onboarding and recovery use to add
	// the first passkey: it satisfies the registration action.
	if slices.Contains(sess.Methods, string(methods.MethodTAP)) || slices.Contains(sess.Methods, "setup") {
		c.Satisfies = func(string) bool { return true }
	}
	d, err := s.Access.Evaluate(ctx, c)
	ev := store.SignInEvent{
		Time: s.Now(), UserID: u.ID, Username: u.Username, IP: clientIP(r), UserAgent: truncateUA(r.UserAgent()),
		Method: strings.Join(sess.Methods, "+"), Result: store.ResultSuccess, Client: string(access.ClientBrowser),
		Action: access.ActionRegisterSecurityInfo, Country: c.Country, TrustedDevice: c.Device.Trusted, BoundPasskeyDevice: c.Device.BoundPasskey,
		Detail: "register security info: Conditional Access allows",
	}
	var refusal error
	switch {
	case err != nil:
		refusal = errSecurityInfoUnavailable.Wrap(err)
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_unavailable", "Conditional Access could not be evaluated: "+err.Error()
	case d.Access == access.AccessBlock:
		refusal = errSecurityInfoBlocked.WithDetail("policy %q", d.BlockedBy)
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_blocked", "register security info blocked by policy \u201c"+d.BlockedBy+"\u201d"
	case d.Access == access.AccessStepUp:
		refusal = errSecurityInfoStepUp.WithDetail("policies %v", d.Policies(access.StateOn, access.OutcomeStepUp))
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, "access_step_up", "register security info needs a stronger sign-in"
	}
	if err == nil {
		ev.Access = access.MarshalResults(d.Results)
	}
	// Only evaluations some policy had a say in are worth a record.
	if refusal != nil || hadASay(d) {
		if _, werr := s.Store.AppendSignIn(ctx, ev); werr != nil {
			s.Log.ErrorContext(ctx, "sign-in log write failed", "err", werr)
		}
	}
	return refusal
}

// hadASay reports whether any policy (on or report-only) applied.
func hadASay(d access.Decision) bool {
	for _, r := range d.Results {
		if r.Outcome != access.OutcomeNotApplied && r.State != access.StateOff {
			return true
		}
	}
	return false
}

// markBoundPasskeyDevice remembers, in the signed device cookie, that this
// browser's device holds a device-bound passkey of the user: the passkey
// was just used here. Conditional Access can treat such a device as
// known. A synced passkey proves nothing about the device.
func (s *Server) markBoundPasskeyDevice(w http.ResponseWriter, r *http.Request, u store.User, cred *store.Credential) {
	if len(s.DeviceKey) == 0 || cred == nil || passkey.Classify(cred.BackupEligible, cred.BackupState) != passkey.KindDeviceBound {
		return
	}
	d := s.currentDevice(r, u)
	if d.BoundPasskey {
		return
	}
	d.BoundPasskey = true
	http.SetCookie(w, &http.Cookie{Name: access.DeviceCookieName, Value: s.deviceSigner().Encode(u.ID, d, s.Now()), Path: "/",
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(access.DeviceCookieMaxAge.Seconds())})
}
