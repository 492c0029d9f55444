package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// ownPageEvents are the sign-in records Conditional Access wrote for one
// of Sesame's own apps, newest first.
func (inst *instance) ownPageEvents(t testing.TB, app string) []store.SignInEvent {
	t.Helper()
	var out []store.SignInEvent
	for _, ev := range inst.signIns(t, nil) {
		if ev.App == app {
			out = append(out, ev)
		}
	}
	return out
}

// putPolicyOverHTTP saves a policy through the admin API.
func (c *client) putPolicyOverHTTP(t testing.TB, p access.Policy) response {
	t.Helper()
	return c.do(t, http.MethodPut, "/api/admin/access/policies/"+url.PathEscape(p.Name), "application/json", mustJSON(t, p))
}

// TestConditionalAccessOwnPages: Sesame's own pages are apps to
// Conditional Access. The admin console starts protected by the built-in
// policy in report-only (recorded once per session); switching it on while
// no admin has a passkey is refused (admin_lockout) and changes nothing;
// once an admin has one it goes on, a pass session is sent to step up for
// the console (not for /my, where it adds passkeys) and a passkey session
// gets in. A policy on "sesame" applies to My security info.
func TestConditionalAccessOwnPages(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	root := inst.adminClient(t, "root")
	inst.createUser(t, "mallory", false)

	// The built-in policy, report-only.
	r := root.get(t, "/api/admin/access/policies")
	var doc access.Document
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &doc) != nil || len(doc.Policies) != 1 {
		t.Fatalf("policies: %s", r)
	}
	builtin := doc.Policies[0]
	if builtin.Name != access.BuiltinAdminPolicy || builtin.State != access.StateReportOnly || builtin.Apps.Include[0] != access.AppSesameAdmin {
		t.Fatalf("built-in policy: %+v", builtin)
	}
	root.get(t, "/api/admin/access/policies")
	evs := inst.ownPageEvents(t, access.AppSesameAdmin)
	if len(evs) != 1 || evs[0].Result != store.ResultSuccess || evs[0].Username != "root" {
		t.Fatalf("console records: %+v", evs)
	}
	if res := resultOf(t, evs[0], access.BuiltinAdminPolicy); res.Outcome != access.OutcomeStepUp || res.State != access.StateReportOnly {
		t.Errorf("report-only result recorded: %+v", res)
	}

	// Switching it on now would lock every admin out: 409, nothing changed.
	before := inst.snapshot(t)
	on := builtin
	on.State = access.StateOn
	expectRefusal(t, root.putPolicyOverHTTP(t, on), http.StatusConflict, "admin_lockout")
	blockConsole := access.Policy{Name: "No console", State: access.StateOn, Users: access.Users{All: true},
		Apps: access.Apps{Include: []string{access.AppSesameAdmin}}, Grant: access.Grant{Block: true}}
	expectRefusal(t, root.putPolicyOverHTTP(t, blockConsole), http.StatusConflict, "admin_lockout")
	inst.assertUnchanged(t, before)
	if d, _ := inst.App.Access.Document(context.Background()); d.Version != 0 {
		t.Errorf("a refused save changed the policies (version %d)", d.Version)
	}

	// With a passkey registered, it can go on.
	pk := newSoftPasskey(t, inst, softOptions{})
	root.registerPasskey(t, pk, "")
	if r := root.putPolicyOverHTTP(t, on); r.Status != http.StatusOK {
		t.Fatalf("switching the built-in policy on with a passkey registered: %s", r)
	}
	// The pass session: sent to step up for the console, still welcome on /my.
	expectRefusal(t, root.get(t, "/api/admin/access/policies"), http.StatusForbidden, "access_step_up")
	// Right after a sign-in, the page says what is needed rather than
	// sending the browser round again; later, it sends it to sign in.
	if r := root.get(t, "/admin"); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "sign in again with a passkey") {
		t.Errorf("the console for a fresh pass session: %s", r)
	}
	inst.clock.Advance(2 * time.Minute)
	r = root.get(t, "/admin")
	if loc, _ := url.Parse(r.Header.Get("Location")); r.Status != http.StatusSeeOther || loc == nil || loc.Path != "/signin" ||
		loc.Query().Get("return_to") != "/admin" || loc.Query().Get("notice") != "step_up" {
		t.Errorf("the console for a pass session: %s %s", r, r.Header.Get("Location"))
	}
	if r := root.get(t, "/my"); r.Status != http.StatusOK {
		t.Errorf("/my for a pass session: %s", r)
	}
	if ev := inst.ownPageEvents(t, access.AppSesameAdmin)[0]; ev.Result != store.ResultFailure || ev.Reason != "access_step_up" {
		t.Errorf("the step-up is not recorded: %+v", ev)
	}
	// A passkey sign-in gets in.
	root.signInWithPasskey(t, pk, "root")
	if r := root.get(t, "/api/admin/access/policies"); r.Status != http.StatusOK {
		t.Fatalf("the console after a passkey sign-in: %s", r)
	}
	// Deleting the built-in policy is allowed (nothing is locked out by it).
	if r := root.do(t, http.MethodDelete, "/api/admin/access/policies/"+url.PathEscape(access.BuiltinAdminPolicy), "", nil); r.Status != http.StatusOK {
		t.Errorf("deleting the built-in policy: %s", r)
	}

	// A policy on "sesame" (My security info) applies to /my.
	if r := root.putPolicyOverHTTP(t, access.Policy{Name: "No /my for mallory", State: access.StateOn,
		Users: access.Users{Include: []string{"mallory"}}, Apps: access.Apps{Include: []string{access.AppSesame}}, Grant: access.Grant{Block: true}}); r.Status != http.StatusOK {
		t.Fatalf("a policy on sesame: %s", r)
	}
	mallory := inst.newClient(t)
	mallory.signInWithTAP(t, "mallory", inst.issueTAP(t, inst.user(t, "mallory"), 0, false))
	expectRefusal(t, mallory.get(t, "/api/me"), http.StatusForbidden, "access_blocked")
	if ev := inst.ownPageEvents(t, access.AppSesame)[0]; ev.Username != "mallory" || ev.Reason != "access_blocked" || !strings.Contains(ev.Detail, "No /my for mallory") {
		t.Errorf("the block is not recorded: %+v", ev)
	}
	if r := root.get(t, "/api/me"); r.Status != http.StatusOK {
		t.Errorf("root on /my: %s", r)
	}
}

// TestBrowserAdminConsoleStepUp: with the built-in admin console policy on,
// an admin whose session came from a pass is sent from /admin to the
// sign-in page, signs in with their passkey there, and is back on the
// console.
func TestBrowserAdminConsoleStepUp(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	root := inst.createUser(t, "root", true)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "root", inst.issueTAP(t, root, 0, false))
	browserAddPasskey(t, ctx, "")

	if _, err := inst.App.Access.SetState(context.Background(), audit.CLI, access.BuiltinAdminPolicy, access.StateOn); err != nil {
		t.Fatalf("switching the built-in policy on with a passkey registered: %v", err)
	}
	inst.clock.Advance(2 * time.Minute)
	navigate(t, ctx, inst.URL+"/admin")
	// The sign-in page's autofill (or its button) signs root in with the
	// passkey, and the browser is back on the console.
	waitFor(t, ctx, `(location.pathname === "/signin" && document.readyState === "complete") || location.pathname === "/admin"`)
	evaluate[bool](t, ctx, `(() => { const b = document.querySelector("#passkey-button"); if (b && location.pathname === "/signin") { b.click(); } return true; })()`)
	waitFor(t, ctx, `location.pathname === "/admin" && document.readyState === "complete" && document.body.dataset.page !== "error"`)
	evs := inst.ownPageEvents(t, access.AppSesameAdmin)
	if len(evs) == 0 || evs[len(evs)-1].Reason != "access_step_up" || evs[len(evs)-1].Method != "tap" {
		t.Errorf("the pass session's step-up is not recorded: %+v", evs)
	}
	if ev := inst.lastSignIn(t); ev.Method != "passkey" || ev.Result != store.ResultSuccess {
		t.Errorf("last sign-in: %+v", ev)
	}
}
