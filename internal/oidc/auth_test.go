package oidc

import (
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

func TestAssuranceOf(t *testing.T) {
	deviceBound := &store.Credential{ID: "c1", BackupEligible: false}
	synced := &store.Credential{ID: "c2", BackupEligible: true, BackupState: true}
	eligibleNotBackedUp := &store.Credential{ID: "c3", BackupEligible: true, BackupState: false}
	tests := []struct {
		name    string
		methods []string
		cred    *store.Credential
		want    Assurance
	}{
		{"device-bound passkey", []string{"passkey"}, deviceBound,
			Assurance{Method: "passkey", CredentialID: "c1", AMR: []string{"hwk", "user", "mfa"}, ACR: "phrh"}},
		{"synced passkey", []string{"passkey"}, synced,
			Assurance{Method: "passkey", CredentialID: "c2", AMR: []string{"swk", "user", "mfa"}, ACR: "phr"}},
		// Backup eligible is what makes a key syncable, whatever its state now.
		{"backup-eligible passkey not yet backed up", []string{"passkey"}, eligibleNotBackedUp,
			Assurance{Method: "passkey", CredentialID: "c3", AMR: []string{"swk", "user", "mfa"}, ACR: "phr"}},
		{"passkey gone", []string{"passkey"}, nil, Assurance{Method: "passkey"}},
		{"temporary access pass", []string{"tap"}, nil, Assurance{Method: "tap", AMR: []string{"otp"}, ACR: ACRTemporaryAccess}},
		{"setup link", []string{"setup"}, nil, Assurance{Method: "setup", AMR: []string{"otp"}, ACR: ACRTemporaryAccess}},
		{"password alone", []string{"password"}, nil, Assurance{Method: "password", AMR: []string{"pwd"}, ACR: ACRPassword}},
		{"password and authenticator-app code", []string{"password", "totp"}, nil, Assurance{Method: "password", AMR: []string{"pwd", "otp", "mfa"}, ACR: "mfa"}},
		{"unknown method claims nothing", []string{"magic"}, nil, Assurance{Method: "magic"}},
		{"no method", nil, nil, Assurance{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AssuranceOf(store.Session{Methods: tc.methods}, tc.cred)
			if got.Method != tc.want.Method || got.CredentialID != tc.want.CredentialID || got.ACR != tc.want.ACR || !slices.Equal(got.AMR, tc.want.AMR) {
				t.Errorf("AssuranceOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMatchACR(t *testing.T) {
	custom := map[string]bool{"yubikey-only": false, "managed-passkey": true}
	tests := []struct {
		values  []string
		session string
		want    acrMatch
	}{
		{nil, "phr", acrMatch{Met: true, ACR: "phr"}},
		{[]string{"urn:example:unknown"}, ACRTemporaryAccess, acrMatch{Met: true, ACR: ACRTemporaryAccess}},
		{[]string{"phrh"}, "phr", acrMatch{Met: false, ACR: "phr"}},
		{[]string{"phr"}, "phrh", acrMatch{Met: true, ACR: "phrh"}},
		{[]string{"phrh", "phr"}, "phr", acrMatch{Met: true, ACR: "phr"}}, // either is acceptable
		{[]string{"urn:example:unknown", "phrh"}, "phr", acrMatch{Met: false, ACR: "phr"}},
		{[]string{"mfa"}, ACRTemporaryAccess, acrMatch{Met: false, ACR: ACRTemporaryAccess}},
		{[]string{"passwordless"}, "phr", acrMatch{Met: true, ACR: "phr"}},
		// Custom strengths: the claim names the one met.
		{[]string{"managed-passkey"}, "phr", acrMatch{Met: true, ACR: "managed-passkey"}},
		{[]string{"yubikey-only"}, "phrh", acrMatch{Met: false, ACR: "phrh"}},
		{[]string{"yubikey-only", "managed-passkey"}, "phrh", acrMatch{Met: true, ACR: "managed-passkey"}},
		{[]string{"yubikey-only", "phr"}, "phrh", acrMatch{Met: true, ACR: "phrh"}},
		{[]string{"phrh", "managed-passkey"}, "phr", acrMatch{Met: true, ACR: "managed-passkey"}},
		{[]string{"managed-passkey", "phr"}, "phr", acrMatch{Met: true, ACR: "managed-passkey"}}, // in order of preference
		{[]string{"urn:x", "yubikey-only"}, "phrh", acrMatch{Met: false, ACR: "phrh"}},
	}
	for _, tc := range tests {
		if got := matchACR(tc.values, tc.session, custom); got != tc.want {
			t.Errorf("matchACR(%v, %q) = %+v, want %+v", tc.values, tc.session, got, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	created := time.Date(2031, 3, 14, 12, 0, 0, 0, time.UTC)
	now := created.Add(30 * time.Second)
	uint0, uint60, uint3600 := uint(0), uint(60), uint(3600)
	old := &signedIn{UserID: "u1", AuthTime: created.Add(-10 * time.Minute), ACR: "phr"}  // before the request
	fresh := &signedIn{UserID: "u1", AuthTime: created.Add(10 * time.Second), ACR: "phr"} // after it: a new ceremony
	oldHW := &signedIn{UserID: "u1", AuthTime: created.Add(-10 * time.Minute), ACR: "phrh"}
	oldTAP := &signedIn{UserID: "u1", AuthTime: created.Add(-time.Minute), ACR: ACRTemporaryAccess}

	tests := []struct {
		name      string
		d         demands
		s         *signedIn
		consented bool
		want      verdict
		err       string
	}{
		{"not signed in", demands{}, nil, false, signInAgain, ""},
		{"not signed in, prompt=none", demands{PromptNone: true}, nil, false, refuse, "login_required"},
		{"signed in", demands{}, old, false, proceed, ""},
		{"signed in, prompt=none", demands{PromptNone: true}, old, false, proceed, ""},

		{"prompt=login, old session", demands{PromptLogin: true}, old, false, signInAgain, ""},
		{"prompt=login, fresh session", demands{PromptLogin: true}, fresh, false, proceed, ""},

		{"max_age met", demands{MaxAge: &uint3600}, old, false, proceed, ""},
		{"max_age exceeded", demands{MaxAge: &uint60}, old, false, signInAgain, ""},
		{"max_age exceeded, prompt=none", demands{MaxAge: &uint60, PromptNone: true}, old, false, refuse, "login_required"},
		{"max_age=0, fresh session", demands{MaxAge: &uint0}, fresh, false, proceed, ""},

		{"acr phr met by phr", demands{ACRValues: []string{"phr"}}, old, false, proceed, ""},
		{"acr phr met by phrh", demands{ACRValues: []string{"phr"}}, oldHW, false, proceed, ""},
		{"acr phrh not met: sign in again", demands{ACRValues: []string{"phrh"}}, old, false, signInAgain, ""},
		{"app requires phrh, synced passkey: sign in again", demands{MinACR: "phrh"}, old, false, signInAgain, ""},
		{"app requires phrh, still not met after a fresh sign-in", demands{MinACR: "phrh"}, fresh, false, refuse, errUnmetAuthenticationRequirements},
		{"app requires phr, device-bound passkey meets it", demands{MinACR: "phr"}, oldHW, false, proceed, ""},
		{"app floor and acr_values both apply", demands{MinACR: "phrh", ACRValues: []string{"mfa"}}, old, false, signInAgain, ""},
		{"app requires mfa, a pass does not meet it", demands{MinACR: "mfa"}, oldTAP, false, signInAgain, ""},
		{"acr phrh not met after a fresh sign-in", demands{ACRValues: []string{"phrh"}}, fresh, false, refuse, errUnmetAuthenticationRequirements},
		{"acr phrh not met, prompt=none", demands{ACRValues: []string{"phrh"}, PromptNone: true}, old, false, refuse, "login_required"},
		{"acr phr not met by a pass", demands{ACRValues: []string{"phr"}}, oldTAP, false, signInAgain, ""},
		{"acr mfa (the MFA strength) met by a passkey", demands{ACRValues: []string{"mfa"}}, old, false, proceed, ""},
		{"acr passwordless not met by a pass", demands{ACRValues: []string{"passwordless"}}, oldTAP, false, signInAgain, ""},
		{"unknown acr values are no requirement", demands{ACRValues: []string{"urn:x"}}, oldTAP, false, proceed, ""},
		{"custom strength met", demands{ACRValues: []string{"managed"}}, &signedIn{UserID: "u1", AuthTime: created.Add(-time.Minute), ACR: "phr", CustomACR: map[string]bool{"managed": true}}, false, proceed, ""},
		{"custom strength not met: sign in again", demands{ACRValues: []string{"keys"}}, &signedIn{UserID: "u1", AuthTime: created.Add(-time.Minute), ACR: "phr", CustomACR: map[string]bool{"keys": false}}, false, signInAgain, ""},
		{"custom strength not met after a fresh sign-in", demands{ACRValues: []string{"keys"}}, &signedIn{UserID: "u1", AuthTime: created.Add(time.Second), ACR: "phr", CustomACR: map[string]bool{"keys": false}}, false, refuse, errUnmetAuthenticationRequirements},
		{"custom strength met, app floor not", demands{ACRValues: []string{"managed"}, MinACR: "phrh"}, &signedIn{UserID: "u1", AuthTime: created.Add(-time.Minute), ACR: "phr", CustomACR: map[string]bool{"managed": true}}, false, signInAgain, ""},

		{"id_token_hint names another user", demands{HintUserID: "u2"}, old, false, signInAgain, ""},
		{"id_token_hint names another user after a fresh sign-in", demands{HintUserID: "u2"}, fresh, false, refuse, "login_required"},
		{"id_token_hint names the user", demands{HintUserID: "u1"}, old, false, proceed, ""},

		{"prompt=consent asks", demands{PromptConsent: true}, old, false, askConsent, ""},
		{"prompt=consent answered", demands{PromptConsent: true}, old, true, proceed, ""},
		{"prompt=consent after a needed sign-in", demands{PromptConsent: true, PromptLogin: true}, old, false, signInAgain, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.CreatedAt = created
			got := decide(tc.d, tc.s, tc.consented, now)
			if got.Verdict != tc.want || got.Error != tc.err {
				t.Errorf("decide = %+v, want verdict %d error %q", got, tc.want, tc.err)
			}
			if got.Verdict != proceed && got.Description == "" {
				t.Errorf("a %d verdict without a description", got.Verdict)
			}
		})
	}
}

func TestRequiredACRFor(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"none", "", ""},
		{"mfa", "mfa", ""},
		{"passwordless-mfa", "passwordless", ""},
		{"phishing-resistant-mfa", "phr", ""},
		{"phishing-resistant-mfa-device-bound", "phrh", ""},
		{"phrh", "phrh", ""},
		{"strongest", "", "bad_app_strength"},
	} {
		got, err := RequiredACRFor(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") {
			t.Errorf("RequiredACRFor(%q) = %q, %v; want %q, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
}
