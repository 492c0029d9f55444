package passkey

import (
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/store"
)

const (
	yubikey5   = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	icloud     = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
	zeroAAGUID = "00000000-0000-0000-0000-000000000000"
)

func aaguid(t *testing.T, s string) []byte {
	t.Helper()
	b, err := ParseAAGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProfileCheck(t *testing.T) {
	deviceBound := func(a string) Facts { return Facts{AAGUID: aaguid(t, a)} }
	synced := func(a string) Facts { return Facts{AAGUID: aaguid(t, a), BackupEligible: true} }
	registering := func(f Facts, trusted bool) Facts {
		f.Registration, f.AttestationTrusted = true, trusted
		f.AttestationReason = "the authenticator sent no attestation"
		return f
	}
	tests := []struct {
		name    string
		profile Profile
		facts   Facts
		code    string // "" means accepted
		reason  string
	}{
		{"default accepts synced", DefaultProfile(), synced(icloud), "", ""},
		{"default accepts device-bound", DefaultProfile(), deviceBound(yubikey5), "", ""},
		{"default accepts undisclosed model", DefaultProfile(), synced(zeroAAGUID), "", ""},
		{"device-bound only refuses synced", Profile{Types: TypesDeviceBound}, synced(icloud), CodeTypeNotAllowed, "synced passkeys are not allowed"},
		{"device-bound only accepts security key", Profile{Types: TypesDeviceBound}, deviceBound(yubikey5), "", ""},
		{"synced only refuses device-bound", Profile{Types: TypesSynced}, deviceBound(yubikey5), CodeTypeNotAllowed, "device-bound passkeys are not allowed"},
		{"empty types allow nothing", Profile{}, deviceBound(yubikey5), CodeTypeNotAllowed, ""},
		{"allow list: listed", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{strings.ToUpper(yubikey5)}}}, deviceBound(yubikey5), "", ""},
		{"allow list: not listed", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{yubikey5}}}, synced(icloud), CodeModelNotAllowed, "iCloud Keychain"},
		{"allow list: undisclosed model", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{yubikey5}}}, synced(zeroAAGUID), CodeModelNotAllowed, "not on the allow list"},
		{"allow list: malformed AAGUID", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{yubikey5}}}, Facts{AAGUID: []byte{1, 2}}, CodeModelNotAllowed, "AAGUID -"},
		{"block list: blocked", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictBlock, AAGUIDs: []string{icloud}}}, synced(icloud), CodeModelBlocked, "is blocked"},
		{"block list: other model", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictBlock, AAGUIDs: []string{icloud}}}, deviceBound(yubikey5), "", ""},
		{"block list: undisclosed model passes", Profile{Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictBlock, AAGUIDs: []string{icloud}}}, synced(zeroAAGUID), "", ""},
		{"attestation enforced, registering untrusted", Profile{Types: TypesBoth, AttestationEnforced: true}, registering(deviceBound(yubikey5), false), CodeAttestationRequired, "no attestation"},
		{"attestation enforced, registering trusted", Profile{Types: TypesBoth, AttestationEnforced: true}, registering(deviceBound(yubikey5), true), "", ""},
		{"attestation enforced applies to new registrations only", Profile{Types: TypesBoth, AttestationEnforced: true}, deviceBound(yubikey5), "", ""},
		{"type checked before attestation", Profile{Types: TypesDeviceBound, AttestationEnforced: true}, registering(synced(icloud), true), CodeTypeNotAllowed, ""},
	}
	for _, tt := range tests {
		v := tt.profile.Check(tt.facts)
		if v.OK != (tt.code == "") || v.Code != tt.code || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s: got %+v; want code %q, reason containing %q", tt.name, v, tt.code, tt.reason)
		}
		if !v.OK && v.Message == "" {
			t.Errorf("%s: a refusal needs a message for the user", tt.name)
		}
	}
}

func TestCompliant(t *testing.T) {
	securityKeys := Profile{Name: "admins: security keys", Scope: scope.Groups("admins"), Types: TypesDeviceBound,
		KeyRestriction: KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{yubikey5}}}
	everyone := Profile{Name: "everyone", Scope: scope.Scope{AllUsers: true, Exclude: []string{"admins"}}, Types: TypesBoth}
	pilot := Profile{Name: "pilot", Scope: scope.Groups("pilot"), Types: TypesSynced}
	profiles := []Profile{securityKeys, everyone, pilot}
	yk := Facts{AAGUID: aaguid(t, yubikey5)}
	ic := Facts{AAGUID: aaguid(t, icloud), BackupEligible: true}
	tests := []struct {
		name    string
		groups  []string
		facts   Facts
		ok      bool
		profile string
		reason  string
	}{
		{"admin with security key", []string{"admins"}, yk, true, securityKeys.Name, ""},
		{"admin with synced passkey", []string{"admins"}, ic, false, "", `profile "admins: security keys": synced passkeys are not allowed`},
		{"admin in pilot: fits pilot profile", []string{"admins", "pilot"}, ic, true, "pilot", ""},
		{"ordinary user, synced", []string{"staff"}, ic, true, "everyone", ""},
		{"ordinary user, security key", nil, yk, true, "everyone", ""},
	}
	for _, tt := range tests {
		v := CheckCompliance(profiles, tt.groups, tt.facts)
		if v.OK != tt.ok || v.OK && v.Profile != tt.profile || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s: got %+v; want ok %v profile %q reason containing %q", tt.name, v, tt.ok, tt.profile, tt.reason)
		}
		ok, reason := Compliant(profiles, tt.groups, tt.facts)
		if ok != v.OK || reason != v.Reason {
			t.Errorf("%s: Compliant disagrees with CheckCompliance", tt.name)
		}
	}
	v := CheckCompliance([]Profile{securityKeys}, []string{"staff"}, yk)
	if v.OK || v.Code != CodeNoProfile {
		t.Errorf("no applicable profile: %+v", v)
	}
	if p := v.Problem(); p.Status != 403 || p.Code != CodeNoProfile || p.Message == "" {
		t.Errorf("Problem() = %+v", p)
	}
	// Several refusals are all reported.
	both := []Profile{{Name: "a", Scope: scope.All(), Types: TypesDeviceBound}, {Name: "b", Scope: scope.All(), Types: TypesBoth, KeyRestriction: KeyRestriction{Mode: RestrictBlock, AAGUIDs: []string{icloud}}}}
	v = CheckCompliance(both, nil, ic)
	if v.OK || v.Code != CodeTypeNotAllowed || !strings.Contains(v.Reason, `profile "a"`) || !strings.Contains(v.Reason, `profile "b": model iCloud Keychain`) {
		t.Errorf("two refusals: %+v", v)
	}
}

func TestFactsOf(t *testing.T) {
	c := store.Credential{AAGUID: aaguid(t, icloud), BackupEligible: true, BackupState: false}
	f := FactsOf(c)
	if f.Kind() != KindSynced || f.Registration {
		t.Errorf("FactsOf = %+v kind %s", f, f.Kind())
	}
}

func TestNeedsFor(t *testing.T) {
	att := Profile{Name: "att", Scope: scope.Groups("secure"), Types: TypesDeviceBound, AttestationEnforced: true}
	open := Profile{Name: "open", Scope: scope.Groups("staff"), Types: TypesBoth}
	tests := []struct {
		groups []string
		want   RegistrationNeeds
	}{
		{[]string{"secure"}, RegistrationNeeds{Attestation: true, AttestationOnly: true, DeviceBoundOnly: true}},
		{[]string{"secure", "staff"}, RegistrationNeeds{Attestation: true}},
		{[]string{"staff"}, RegistrationNeeds{}},
		{nil, RegistrationNeeds{None: true}},
	}
	for _, tt := range tests {
		if got := NeedsFor([]Profile{att, open}, tt.groups); got != tt.want {
			t.Errorf("NeedsFor(%v) = %+v want %+v", tt.groups, got, tt.want)
		}
	}
}

func TestValidateProfiles(t *testing.T) {
	ok := DefaultProfile()
	with := func(f func(*Profile)) []Profile { p := DefaultProfile(); f(&p); return []Profile{p} }
	tests := []struct {
		name     string
		profiles []Profile
		err      string
	}{
		{"default", []Profile{ok}, ""},
		{"no profiles", nil, ""},
		{"no name", with(func(p *Profile) { p.Name = "" }), "needs a name"},
		{"duplicate names", []Profile{ok, with(func(p *Profile) { p.Name = "Default" })[0]}, "two profiles have this name"},
		{"bad types", with(func(p *Profile) { p.Types = "hardware" }), `not "hardware"`},
		{"bad mode", with(func(p *Profile) { p.KeyRestriction.Mode = "deny" }), `not "deny"`},
		{"list without mode", with(func(p *Profile) { p.KeyRestriction = KeyRestriction{Mode: RestrictNone, AAGUIDs: []string{yubikey5}} }), "AAGUIDs are listed"},
		{"empty allow list", with(func(p *Profile) { p.KeyRestriction = KeyRestriction{Mode: RestrictAllow} }), "list of AAGUIDs is empty"},
		{"malformed AAGUID", with(func(p *Profile) {
			p.KeyRestriction = KeyRestriction{Mode: RestrictBlock, AAGUIDs: []string{"{" + yubikey5 + "}"}}
		}), "malformed AAGUID"},
		{"zero AAGUID", with(func(p *Profile) {
			p.KeyRestriction = KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{zeroAAGUID}}
		}), "all-zero AAGUID"},
		{"duplicate AAGUID", with(func(p *Profile) {
			p.KeyRestriction = KeyRestriction{Mode: RestrictAllow, AAGUIDs: []string{yubikey5, strings.ToUpper(yubikey5)}}
		}), "listed twice"},
		{"bad scope", with(func(p *Profile) { p.Scope = scope.Scope{Groups: []string{"a"}, Exclude: []string{"a"}} }), "both included and excluded"},
	}
	for _, tt := range tests {
		err := ValidateProfiles(tt.profiles)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: ValidateProfiles = %v; want error containing %q", tt.name, err, tt.err)
		}
	}
	refs := ReferencedGroups([]Profile{{Scope: scope.Scope{Groups: []string{"b", "a"}}}, {Scope: scope.Scope{Exclude: []string{"a", "c"}}}})
	if strings.Join(refs, ",") != "a,b,c" {
		t.Errorf("ReferencedGroups = %v", refs)
	}
}
