package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestProtectSecurityInfoRegistration: a policy on the register-security-
// info action decides who may add a passkey, before the ceremony begins;
// a temporary access pass always may (onboarding and recovery); report-only
// records what it would have done and lets the user go on.
func TestProtectSecurityInfoRegistration(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.createUser(t, "bob", false)
	secret := inst.legacyUser(t, "bob", bobPassword)
	carol := inst.createUser(t, "carol", false)

	const name = "Protect security info"
	policy := access.Policy{Name: name, State: access.StateOn, Users: access.Users{All: true},
		Apps:  access.Apps{Actions: []string{access.ActionRegisterSecurityInfo}},
		Grant: access.Grant{Strength: access.StrengthPasswordlessMFA}}
	inst.putPolicy(t, policy)

	// A password + code session does not meet "a passkey": refused before
	// any ceremony, with a record that says why.
	bob := inst.newClient(t)
	bob.signInWithPasswordAndCode(t, "bob", bobPassword, secret)
	before := inst.countRows(t, "challenges")
	expectRefusal(t, bob.postJSON(t, "/my/passkeys/register/begin", map[string]any{}), http.StatusForbidden, "access_step_up")
	if n := inst.countRows(t, "challenges"); n != before {
		t.Errorf("a refused registration left a ceremony behind (%d -> %d challenges)", before, n)
	}
	if m := string(bob.get(t, "/metrics").Body); !strings.Contains(m, `sesame_policy_outcomes_total{outcome="step-up",policy="Protect security info"} 1`) {
		t.Errorf("the policy outcome is not in the metrics:\n%s", m)
	}
	ev := inst.lastSignIn(t)
	if ev.Action != access.ActionRegisterSecurityInfo || ev.Result != store.ResultFailure || ev.Reason != "access_step_up" || ev.Access == "" {
		t.Errorf("record of the refusal: %+v", ev)
	}

	// A temporary access pass may always add the first passkey.
	c := inst.newClient(t)
	c.signInWithTAP(t, "carol", inst.issueTAP(t, carol, time.Hour, false))
	if r := c.postJSON(t, "/my/passkeys/register/begin", map[string]any{}); r.Status != http.StatusOK {
		t.Errorf("a pass session could not begin registering: %s", r)
	}

	// Report-only: bob may go on; the record says what would have happened.
	policy.State = access.StateReportOnly
	inst.putPolicy(t, policy)
	inst.clock.Advance(2 * time.Second) // past the policy cache
	if r := bob.postJSON(t, "/my/passkeys/register/begin", map[string]any{}); r.Status != http.StatusOK {
		t.Fatalf("report-only refused the registration: %s", r)
	}
	ev = inst.lastSignIn(t)
	// (The built-in admin console policy is listed too, not applied.)
	res := resultOf(t, ev, policy.Name)
	if ev.Result != store.ResultSuccess || res.State != access.StateReportOnly || res.Outcome != access.OutcomeStepUp {
		t.Errorf("report-only record %+v, result %+v", ev, res)
	}
}

// TestDeviceMarkAtSignIn: signing in to Sesame with a device-bound passkey
// marks the browser (signed device cookie); a synced passkey does not.
func TestDeviceMarkAtSignIn(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	hasDeviceCookie := func(c *client) bool {
		u, _ := url.Parse(inst.URL)
		for _, ck := range c.http.Jar.Cookies(u) {
			if ck.Name == access.DeviceCookieName && ck.Value != "" {
				return true
			}
		}
		return false
	}
	_, bpk := inst.onboard(t, "dave", softOptions{})
	fresh := inst.newClient(t)
	fresh.signInWithPasskey(t, bpk, "")
	if !hasDeviceCookie(fresh) {
		t.Error("no device mark after a device-bound passkey sign-in")
	}
	_, spk := inst.onboard(t, "erin", softOptions{Synced: true})
	other := inst.newClient(t)
	other.signInWithPasskey(t, spk, "")
	if hasDeviceCookie(other) {
		t.Error("a synced passkey marked the device")
	}
}

// TestCampaignGateOnAppSignIn: a user the campaign requires to add a
// passkey meets the prompt on the way to an app too, not only after the
// sign-in page, and reaches the app once a passkey is added.
func TestCampaignGateOnAppSignIn(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 0}
	})
	rp := newRelyingParty(t, inst, "wiki", rpOptions{})
	alice := inst.createUser(t, "alice", false)
	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, time.Hour, false))

	start, f := rp.authURL()
	away, _, at := c.follow(t, start)
	if away != nil || at == nil || at.Path != "/my/add-passkey" || !strings.HasPrefix(at.Query().Get("return_to"), "/oauth2/continue") {
		t.Fatalf("on the way to the app: away=%v at=%v, want the registration prompt", away, at)
	}
	c.registerPasskey(t, newSoftPasskey(t, inst, softOptions{}), "")
	away, _, _ = c.follow(t, inst.URL+at.Query().Get("return_to"))
	if away == nil {
		t.Fatal("after adding a passkey the browser did not reach the app")
	}
	rp.exchange(t, rp.code(t, away, f), f)
}
