package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestBrowserConditionalAccessStepUp is the article's step three in
// Chromium through an in-house app (go-oidc): with "a passkey outside the
// trusted network" on, bob signs in with a password and an authenticator
// code from the trusted range and gets in; then the browser's address is
// no longer trusted (the admin narrows the range: Chromium cannot pick its
// source address), and the same session is sent to a passkey step-up, which
// the virtual authenticator's device-bound passkey satisfies.
func TestBrowserConditionalAccessStepUp(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	app := startWebApp(t, inst, "intranet")
	bob := inst.createUser(t, "bob", false)
	ctx := newTab(t)
	authn := addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "bob", inst.issueTAP(t, bob, 0, false))
	browserAddPasskey(t, ctx, "")
	clearCookies(t, ctx)
	secret := inst.legacyUser(t, "bob", bobPassword)

	bg := context.Background()
	office := access.Location{Name: "Office", Ranges: []string{"127.0.0.0/8", "::1/128"}, Trusted: true}
	if _, err := inst.App.Access.PutLocation(bg, audit.CLI, office, false); err != nil {
		t.Fatal(err)
	}
	inst.putPolicy(t, access.Policy{Name: passkeyOutside, State: access.StateOn, Users: access.Users{All: true},
		Apps:       access.Apps{Include: []string{"intranet"}},
		Conditions: access.Conditions{Locations: access.IncludeExclude{Include: []string{access.LocationAny}, Exclude: []string{access.LocationTrusted}}},
		Grant:      access.Grant{Strength: access.StrengthPasswordlessMFA}})

	// From the office: password and code. The authenticator does not
	// answer by itself meanwhile (the sign-in page's autofill request would
	// otherwise sign bob in with the passkey at once).
	setPresence(t, ctx, authn, false)
	// The app sends the browser to Sesame; bob follows the password link,
	// and the form sign-in carries him back to the app (across origins,
	// which the continue page does without breaking the form-action CSP).
	navigate(t, ctx, app.url+"/login")
	waitFor(t, ctx, `location.pathname === "/signin" && document.readyState === "complete" && !!document.querySelector("#password-link")`)
	click(t, ctx, "#password-link")
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#password-submit")`)
	setValue(t, ctx, "#username", "bob")
	setValue(t, ctx, "#password", bobPassword)
	click(t, ctx, "#password-submit")
	waitFor(t, ctx, `!!document.querySelector("#totp-form") && document.readyState === "complete"`)
	setValue(t, ctx, "#code", totpCode(t, secret, inst.clock.Now()))
	click(t, ctx, "#totp-submit")
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && !!document.querySelector("#app-user")`)
	if res := app.lastResult(t); res.err != nil || res.claims.PreferredUsername != "bob" {
		t.Fatalf("the app's sign-in from the office: %+v", res)
	}
	ev := inst.authorizations(t, "intranet")[0]
	if ev.Method != "password+totp" || resultOf(t, ev, passkeyOutside).Reason.Code != access.ReasonLocationExcluded {
		t.Errorf("office record %+v", ev)
	}

	// The range no longer covers the browser: the same session must step up.
	office.Ranges = []string{"10.0.0.0/8"}
	if _, err := inst.App.Access.PutLocation(bg, audit.CLI, office, true); err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, app.url+"/login")
	waitFor(t, ctx, `location.pathname === "/signin" && location.search.includes("notice=step_up") && document.readyState === "complete"`)
	if page := evaluate[string](t, ctx, `document.body.innerText`); !strings.Contains(page, "sign in with a passkey") {
		t.Errorf("the step-up page does not ask for a passkey:\n%s", page)
	}
	// With the authenticator answering again, the page's pending autofill
	// request may complete by itself; otherwise the button starts it.
	setPresence(t, ctx, authn, true)
	evaluate[bool](t, ctx, `(() => { const b = document.querySelector("#passkey-button"); if (b && location.pathname === "/signin") { b.click(); } return true; })()`)
	waitFor(t, ctx, `location.origin === `+jsString(app.url)+` && !!document.querySelector("#app-user")`)
	res := app.lastResult(t)
	if res.err != nil || res.claims.PreferredUsername != "bob" || res.claims.ACR != "phrh" {
		t.Fatalf("the app's sign-in after the step-up: %+v", res)
	}
	evs := inst.authorizations(t, "intranet")
	if len(evs) < 3 || evs[0].Result != store.ResultSuccess || evs[0].Method != "passkey" || evs[1].Reason != "access_step_up" {
		t.Errorf("records: %+v", evs)
	}
	if r := resultOf(t, evs[0], passkeyOutside); r.Outcome != access.OutcomeSatisfied {
		t.Errorf("after the step-up: %+v", r)
	}
}
