package methods

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
)

func TestDefaultPolicyKeepsTodaysBehaviour(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	for _, groups := range [][]string{nil, {"staff"}} {
		if got := AllowedMethods(p, groups); !slices.Equal(got, []Method{MethodPasskey, MethodTAP}) {
			t.Errorf("AllowedMethods(%v) = %v, want passkey and tap", groups, got)
		}
	}
	for _, f := range []passkey.Facts{{BackupEligible: true}, {}, {Registration: true}} {
		if v := PasskeyAllowed(p, nil, f); !v.OK {
			t.Errorf("default policy refuses %+v: %+v", f, v)
		}
	}
	if ok, _ := PasskeyRegistrationAllowed(p, nil, false); !ok {
		t.Error("self-service registration should be on by default")
	}
	if p.Campaign.Enabled || p.Campaign.SnoozeDays != 1 || p.Campaign.SnoozesAllowed != 3 {
		t.Errorf("default campaign %+v", p.Campaign)
	}
	if p.TAP.Policy != DefaultTAPPolicy {
		t.Errorf("default TAP policy %+v", p.TAP.Policy)
	}
	if len(p.Warnings()) != 0 {
		t.Errorf("default policy warns: %v", p.Warnings())
	}
}

func legacyPolicy() Policy {
	p := DefaultPolicy()
	p.Passkey.Scope = scope.Scope{AllUsers: true, Exclude: []string{"kiosk"}}
	p.TAP.Scope = scope.Scope{AllUsers: true, Exclude: []string{"contractors"}}
	p.Password = MethodSetting{Enabled: true, Scope: scope.Scope{Groups: []string{"legacy-erp"}, Exclude: []string{"admins"}}}
	p.TOTP = MethodSetting{Enabled: true, Scope: scope.Groups("legacy-erp")}
	return p
}

func TestMethodAllowed(t *testing.T) {
	p := legacyPolicy()
	disabled := DefaultPolicy()
	disabled.TAP.Enabled = false
	tests := []struct {
		name   string
		p      Policy
		m      Method
		groups []string
		want   bool
		reason string
	}{
		{"passkey for everyone", p, MethodPasskey, nil, true, "all users"},
		{"passkey excluded group", p, MethodPasskey, []string{"staff", "kiosk"}, false, `excluded as a member of group "kiosk"`},
		{"tap excluded", p, MethodTAP, []string{"contractors"}, false, "excluded"},
		{"tap turned off", disabled, MethodTAP, nil, false, "turned off"},
		{"password for legacy group", p, MethodPassword, []string{"legacy-erp"}, true, "legacy-erp"},
		{"password refused to others", p, MethodPassword, []string{"staff"}, false, "not a member"},
		{"password: exclusion wins", p, MethodPassword, []string{"legacy-erp", "admins"}, false, "admins"},
		{"totp for legacy group", p, MethodTOTP, []string{"legacy-erp"}, true, ""},
		{"password off by default", DefaultPolicy(), MethodPassword, []string{"legacy-erp"}, false, "turned off"},
		{"unknown method", p, "sms", nil, false, "not a sign-in method"},
	}
	for _, tt := range tests {
		got, why := MethodAllowed(tt.p, tt.m, tt.groups)
		if got != tt.want || !strings.Contains(why, tt.reason) {
			t.Errorf("%s: MethodAllowed(%s, %v) = %v, %q; want %v containing %q", tt.name, tt.m, tt.groups, got, why, tt.want, tt.reason)
		}
	}
}

func TestPasskeyAllowedAndRegistration(t *testing.T) {
	p := legacyPolicy()
	p.Passkey.Profiles = []passkey.Profile{
		{Name: "device-bound", Scope: scope.Groups("secure"), Types: passkey.TypesDeviceBound},
		{Name: "rest", Scope: scope.Scope{AllUsers: true, Exclude: []string{"secure"}}, Types: passkey.TypesBoth},
	}
	synced := passkey.Facts{BackupEligible: true}
	if v := PasskeyAllowed(p, []string{"kiosk"}, passkey.Facts{}); v.OK || v.Code != "method_not_allowed" {
		t.Errorf("excluded from passkeys: %+v", v)
	}
	if v := PasskeyAllowed(p, []string{"secure"}, synced); v.OK || v.Code != passkey.CodeTypeNotAllowed {
		t.Errorf("synced under device-bound profile: %+v", v)
	}
	if v := PasskeyAllowed(p, []string{"staff"}, synced); !v.OK || v.Profile != "rest" {
		t.Errorf("synced for staff: %+v", v)
	}
	p.Passkey.SelfServiceRegistration = false
	tests := []struct {
		groups []string
		viaTAP bool
		want   bool
		reason string
	}{
		{nil, false, false, "self-service registration is off"},
		{nil, true, true, ""},
		{[]string{"kiosk"}, true, false, "excluded"},
	}
	for _, tt := range tests {
		got, why := PasskeyRegistrationAllowed(p, tt.groups, tt.viaTAP)
		if got != tt.want || !strings.Contains(why, tt.reason) {
			t.Errorf("PasskeyRegistrationAllowed(%v, %v) = %v %q", tt.groups, tt.viaTAP, got, why)
		}
	}
	p.Passkey.Profiles = p.Passkey.Profiles[:1]
	if ok, why := PasskeyRegistrationAllowed(p, []string{"staff"}, true); ok || !strings.Contains(why, "no passkey profile") {
		t.Errorf("no profile: %v %q", ok, why)
	}
}

func TestPolicyValidate(t *testing.T) {
	with := func(f func(*Policy)) Policy { p := DefaultPolicy(); f(&p); return p }
	tests := []struct {
		name string
		p    Policy
		err  string
	}{
		{"default", DefaultPolicy(), ""},
		{"legacy", legacyPolicy(), ""},
		{"future schema", with(func(p *Policy) { p.Schema = 2 }), "schema 2 is not supported"},
		{"nothing enabled", with(func(p *Policy) { p.Passkey.Enabled, p.TAP.Enabled = false, false }), "nobody could sign in"},
		{"enabled for nobody", with(func(p *Policy) { p.Passkey.Scope, p.TAP.Scope = scope.Scope{}, scope.Scope{} }), "nobody could sign in"},
		{"passkeys without profile", with(func(p *Policy) { p.Passkey.Profiles = nil }), "no passkey profile"},
		{"bad profile", with(func(p *Policy) { p.Passkey.Profiles[0].Types = "" }), "types must be"},
		{"bad method scope", with(func(p *Policy) { p.TAP.Scope.Exclude = []string{"x", "x"} }), "tap method: group \"x\" is listed twice"},
		{"bad TAP policy", with(func(p *Policy) { p.TAP.Policy.Length = 4 }), "tap policy: the length"},
		{"bad campaign", with(func(p *Policy) { p.Campaign.SnoozeDays = 15 }), "snooze_days"},
		{"totp without password", with(func(p *Policy) { p.TOTP = MethodSetting{Enabled: true, Scope: scope.All()} }), "TOTP is enabled but passwords are not"},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: Validate = %v; want error containing %q", tt.name, err, tt.err)
		}
	}
}

func TestReferencedGroups(t *testing.T) {
	p := legacyPolicy()
	p.Passkey.Profiles = append(p.Passkey.Profiles, passkey.Profile{Name: "x", Scope: scope.Groups("secure"), Types: passkey.TypesBoth})
	p.Campaign.Scope = scope.Scope{Groups: []string{"pilot"}, Exclude: []string{"kiosk"}}
	want := []string{"admins", "contractors", "kiosk", "legacy-erp", "pilot", "secure"}
	if got := p.ReferencedGroups(); !slices.Equal(got, want) {
		t.Errorf("ReferencedGroups = %v want %v", got, want)
	}
	if got := UnknownGroups(want, []string{"admins", "kiosk", "pilot", "secure"}); !slices.Equal(got, []string{"contractors", "legacy-erp"}) {
		t.Errorf("UnknownGroups = %v", got)
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := legacyPolicy()
	p.TAP.Policy.OneTimeOnly = true
	p.TAP.Policy.DefaultLifetime = 8 * 3600e9
	b, err := EncodePolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"default_lifetime": "8h"`, `"max_lifetime": "30d"`, `"all_users": true`, `"self_service_registration": true`, `"registration_campaign"`, `"types": "both"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("encoded policy lacks %s:\n%s", want, b)
		}
	}
	back, err := DecodePolicy(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip changed the policy:\n%+v\n%+v", back, p)
	}
}

func TestDecodePolicyErrors(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{``, "empty"},
		{`{"passkey": {"enabeld": true}}`, `unknown field "enabeld"`},
		{`{"tap": {"policy": {"lenght": 10}}}`, `unknown field "lenght"`},
		{`{"tap": {"policy": {"max_lifetime": "forever"}}}`, "not a duration"},
		{`{"tap": {"policy": {"max_lifetime": 3600}}}`, "a duration is a string"},
		{`{"passkey": {"enabled": "yes"}}`, `field "passkey.enabled"`},
		{`{"schema": 1`, "unexpected EOF"},
		{`{} {}`, "more than one JSON document"},
	}
	for _, tt := range tests {
		_, err := DecodePolicy(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("DecodePolicy(%s) = %v; want error containing %q", tt.in, err, tt.err)
		}
	}
	// Fields left out of the TAP policy keep the defaults; schema defaults to current.
	p, err := DecodePolicy(strings.NewReader(`{"tap": {"enabled": true, "scope": {"all_users": true}, "policy": {"length": 16}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultTAPPolicy
	want.Length = 16
	if p.TAP.Policy != want || p.Schema != PolicySchema {
		t.Errorf("partial TAP policy = %+v schema %d", p.TAP.Policy, p.Schema)
	}
}

func TestWarnings(t *testing.T) {
	p := DefaultPolicy()
	p.TAP.Enabled = false
	p.Passkey.Profiles[0].KeyRestriction = passkey.KeyRestriction{Mode: passkey.RestrictBlock, AAGUIDs: []string{"fbfc3007-154e-4ecc-8c0b-6e020557d7bd"}}
	w := strings.Join(p.Warnings(), "\n")
	for _, want := range []string{"cannot recover", "gets past the block list"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q: %s", want, w)
		}
	}
}

func TestPolicyRenameGroup(t *testing.T) {
	p := legacyPolicy()
	admins := passkey.DefaultProfile()
	admins.Name, admins.Scope = "admins", scope.Scope{Groups: []string{"admins", "legacy-erp"}}
	p.Passkey.Profiles = append([]passkey.Profile{admins}, p.Passkey.Profiles...)
	p.Campaign.Scope = scope.Scope{Groups: []string{"legacy-erp"}, Exclude: []string{"kiosk"}}
	tests := []struct {
		name, from, to string
		changed        bool
		want           []string // ReferencedGroups after
	}{
		{"named in many places", "legacy-erp", "erp", true, []string{"admins", "contractors", "erp", "kiosk"}},
		{"only an exclusion", "contractors", "vendors", true, []string{"admins", "kiosk", "legacy-erp", "vendors"}},
		{"named nowhere", "sales", "revenue", false, []string{"admins", "contractors", "kiosk", "legacy-erp"}},
		{"case differs: another name", "Kiosk", "lobby", false, []string{"admins", "contractors", "kiosk", "legacy-erp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := p.ReferencedGroups()
			got, changed := p.RenameGroup(tc.from, tc.to)
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if r := got.ReferencedGroups(); !slices.Equal(r, tc.want) {
				t.Errorf("referenced after: %v, want %v", r, tc.want)
			}
			if r := p.ReferencedGroups(); !slices.Equal(r, before) {
				t.Errorf("the original was modified: %v", r)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("renamed policy invalid: %v", err)
			}
		})
	}
}
