package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
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
	results, err := access.UnmarshalResults(ev.Access)
	if err != nil || ev.Result != store.ResultSuccess || len(results) != 1 || results[0].State != access.StateReportOnly || results[0].Outcome != access.OutcomeStepUp {
		t.Errorf("report-only record %+v, results %+v (%v)", ev, results, err)
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
