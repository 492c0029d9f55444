package e2e

import (
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
)

// TestAppRequiredStrength: an app given a required strength directly
// (sesame app set-strength) sends a weaker session through a fresh sign-in,
// refuses one that even a fresh sign-in cannot lift, and takes a session
// that meets it as it is.
func TestAppRequiredStrength(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	rp := newRelyingParty(t, inst, "vault", rpOptions{})
	if _, err := inst.App.OIDC.SetRequiredStrength(t.Context(), audit.CLI, "vault", "phishing-resistant-mfa-device-bound"); err != nil {
		t.Fatal(err)
	}

	// A synced passkey never meets a device-bound requirement: a fresh
	// sign-in is asked for, then the app hears why it got no code.
	c, synced := inst.onboard(t, "carol", softOptions{Synced: true})
	c.signInWithPasskey(t, synced, "")
	inst.clock.Advance(time.Second) // the session is older than the request
	start, f := rp.authURL()
	_, _, at := c.follow(t, start)
	if at == nil || at.Path != "/signin" || at.Query().Get("prompt") != "login" {
		t.Fatalf("synced passkey for an app requiring phrh: want a new sign-in, got %v", at)
	}
	c.signInWithPasskey(t, synced, "")
	away, _, _ := c.follow(t, inst.URL+at.Query().Get("return_to"))
	rp.appError(t, away, f, "unmet_authentication_requirements")

	// A device-bound passkey meets it.
	d, bound := inst.onboard(t, "dave", softOptions{})
	d.signInWithPasskey(t, bound, "")
	if got := rp.signIn(t, d); got.claims.ACR != "phrh" {
		t.Errorf("device-bound passkey at the vault: acr %q", got.claims.ACR)
	}

	// Lowered to MFA: the synced passkey session now goes straight in.
	if _, err := inst.App.OIDC.SetRequiredStrength(t.Context(), audit.CLI, "vault", "mfa"); err != nil {
		t.Fatal(err)
	}
	if got := rp.signIn(t, c); got.claims.ACR != "phr" {
		t.Errorf("synced passkey once the app needs MFA: acr %q", got.claims.ACR)
	}
}
