package methods

import (
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/passkey"
)

const (
	yubikey5 = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	icloud   = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"
)

func facts(t *testing.T, aaguid string, synced bool) *passkey.Facts {
	t.Helper()
	b, err := passkey.ParseAAGUID(aaguid)
	if err != nil {
		t.Fatal(err)
	}
	return &passkey.Facts{AAGUID: b, BackupEligible: synced}
}

func TestSatisfies(t *testing.T) {
	builtIn := map[string]Strength{}
	for _, s := range BuiltInStrengths() {
		builtIn[s.ID] = s
	}
	yk := facts(t, yubikey5, false)
	ic := facts(t, icloud, true)
	legacyApp := Strength{ID: "legacy-app", Name: "Legacy app", Combinations: []Combination{{MethodPassword, MethodTOTP}, {MethodPasskey}}}
	yubikeysOnly := Strength{ID: "yubikeys", Name: "YubiKeys", Combinations: []Combination{{MethodPasskey}}, AAGUIDs: []string{strings.ToUpper(yubikey5)}}
	tests := []struct {
		name      string
		strength  Strength
		satisfied []Method
		pk        *passkey.Facts
		want      bool
	}{
		{"MFA: passkey", builtIn[StrengthMFA], []Method{MethodPasskey}, ic, true},
		{"MFA: TAP counts", builtIn[StrengthMFA], []Method{MethodTAP}, nil, true},
		{"MFA: password and TOTP", builtIn[StrengthMFA], []Method{MethodPassword, MethodTOTP}, nil, true},
		{"MFA: password alone", builtIn[StrengthMFA], []Method{MethodPassword}, nil, false},
		{"MFA: TOTP alone", builtIn[StrengthMFA], []Method{MethodTOTP}, nil, false},
		{"MFA: nothing", builtIn[StrengthMFA], nil, nil, false},
		{"passwordless: passkey", builtIn[StrengthPasswordlessMFA], []Method{MethodPasskey}, ic, true},
		{"passwordless: TAP", builtIn[StrengthPasswordlessMFA], []Method{MethodTAP}, nil, false},
		{"passwordless: password and TOTP", builtIn[StrengthPasswordlessMFA], []Method{MethodPassword, MethodTOTP}, nil, false},
		{"phishing-resistant: synced passkey", builtIn[StrengthPhishingResistant], []Method{MethodPasskey}, ic, true},
		{"phishing-resistant: TAP", builtIn[StrengthPhishingResistant], []Method{MethodTAP}, nil, false},
		{"phishing-resistant device-bound: security key", builtIn[StrengthPhishingResistantDeviceBound], []Method{MethodPasskey}, yk, true},
		{"phishing-resistant device-bound: synced", builtIn[StrengthPhishingResistantDeviceBound], []Method{MethodPasskey}, ic, false},
		{"phishing-resistant device-bound: passkey facts missing", builtIn[StrengthPhishingResistantDeviceBound], []Method{MethodPasskey}, nil, false},
		{"TAP then passkey in one session", builtIn[StrengthPhishingResistant], []Method{MethodTAP, MethodPasskey}, ic, true},
		{"custom: password and TOTP", legacyApp, []Method{MethodPassword, MethodTOTP}, nil, true},
		{"custom: passkey", legacyApp, []Method{MethodPasskey}, ic, true},
		{"custom: password alone", legacyApp, []Method{MethodPassword}, nil, false},
		{"custom AAGUID: listed model", yubikeysOnly, []Method{MethodPasskey}, yk, true},
		{"custom AAGUID: other model", yubikeysOnly, []Method{MethodPasskey}, ic, false},
		{"custom AAGUID: undisclosed model", yubikeysOnly, []Method{MethodPasskey}, &passkey.Facts{AAGUID: make([]byte, 16)}, false},
		{"empty combination never satisfied", Strength{Combinations: []Combination{{}}}, []Method{MethodPasskey}, ic, false},
	}
	for _, tt := range tests {
		if got := Satisfies(tt.strength, tt.satisfied, tt.pk); got != tt.want {
			t.Errorf("%s: Satisfies = %v want %v", tt.name, got, tt.want)
		}
	}
}

func TestACR(t *testing.T) {
	custom := []Strength{{ID: "legacy-app", Name: "Legacy", Combinations: []Combination{{MethodPassword, MethodTOTP}}}}
	for acr, id := range map[string]string{"mfa": StrengthMFA, "passwordless": StrengthPasswordlessMFA, "phr": StrengthPhishingResistant, "phrh": StrengthPhishingResistantDeviceBound, "legacy-app": "legacy-app"} {
		s, ok := StrengthForACR(acr, custom)
		if !ok || s.ID != id || ACR(s) != acr {
			t.Errorf("StrengthForACR(%q) = %s, %v; ACR back %q", acr, s.ID, ok, ACR(s))
		}
	}
	if _, ok := StrengthForACR("urn:unknown", custom); ok {
		t.Error("unknown acr found")
	}
	if s, ok := StrengthByID(StrengthMFA, nil); !ok || s.Name != "MFA" {
		t.Errorf("StrengthByID(mfa) = %+v", s)
	}

	yk, ic := facts(t, yubikey5, false), facts(t, icloud, true)
	tests := []struct {
		name      string
		requested []string
		satisfied []Method
		pk        *passkey.Facts
		want      ACRDecision
	}{
		{"nothing requested", nil, []Method{MethodPasskey}, ic, ACRDecision{}},
		{"unknown only", []string{"urn:x"}, []Method{MethodPasskey}, ic, ACRDecision{}},
		{"phrh met by security key", []string{"phrh", "phr"}, []Method{MethodPasskey}, yk, ACRDecision{Known: true, Met: true, ACR: "phrh"}},
		{"falls back to phr for synced", []string{"phrh", "phr"}, []Method{MethodPasskey}, ic, ACRDecision{Known: true, Met: true, ACR: "phr"}},
		{"step up needed from TAP", []string{"urn:x", "phr"}, []Method{MethodTAP}, nil, ACRDecision{Known: true, ACR: "phr"}},
		{"custom acr", []string{"legacy-app"}, []Method{MethodPassword, MethodTOTP}, nil, ACRDecision{Known: true, Met: true, ACR: "legacy-app"}},
	}
	for _, tt := range tests {
		got := ResolveACR(tt.requested, custom, tt.satisfied, tt.pk)
		if got.Known != tt.want.Known || got.Met != tt.want.Met || got.ACR != tt.want.ACR {
			t.Errorf("%s: ResolveACR = %+v want %+v", tt.name, got, tt.want)
		}
	}

	for _, tt := range []struct {
		satisfied []Method
		pk        *passkey.Facts
		want      string
	}{
		{[]Method{MethodPasskey}, yk, "phrh"},
		{[]Method{MethodPasskey}, ic, "phr"},
		{[]Method{MethodTAP}, nil, "mfa"},
		{[]Method{MethodPassword, MethodTOTP}, nil, "mfa"},
		{[]Method{MethodPassword}, nil, ""},
	} {
		if got := SessionACR(tt.satisfied, tt.pk); got != tt.want {
			t.Errorf("SessionACR(%v) = %q want %q", tt.satisfied, got, tt.want)
		}
	}
}

func TestAMR(t *testing.T) {
	tests := []struct {
		satisfied []Method
		pk        *passkey.Facts
		want      []string
	}{
		{[]Method{MethodPasskey}, facts(t, yubikey5, false), []string{"hwk", "user", "mfa"}},
		{[]Method{MethodPasskey}, facts(t, icloud, true), []string{"swk", "user", "mfa"}},
		{[]Method{MethodPassword}, nil, []string{"pwd"}},
		{[]Method{MethodPassword, MethodTOTP}, nil, []string{"pwd", "otp", "mfa"}},
		{[]Method{MethodTAP}, nil, []string{"otp"}},
	}
	for _, tt := range tests {
		if got := AMR(tt.satisfied, tt.pk); !slices.Equal(got, tt.want) {
			t.Errorf("AMR(%v) = %v want %v", tt.satisfied, got, tt.want)
		}
	}
}

func TestValidateStrengths(t *testing.T) {
	good := Strength{ID: "legacy-app", Name: "Legacy app", Combinations: []Combination{{MethodPassword, MethodTOTP}, {MethodPasskey}}, AAGUIDs: []string{yubikey5}}
	with := func(f func(*Strength)) []Strength { s := good; f(&s); return []Strength{s} }
	tests := []struct {
		name string
		in   []Strength
		err  string
	}{
		{"good", []Strength{good}, ""},
		{"none", nil, ""},
		{"bad id", with(func(s *Strength) { s.ID = "Legacy App" }), "lower-case"},
		{"built-in id", with(func(s *Strength) { s.ID = "mfa" }), "taken"},
		{"built-in acr", with(func(s *Strength) { s.ID = "phrh" }), "taken"},
		{"duplicate", []Strength{good, good}, "taken"},
		{"marked built-in", with(func(s *Strength) { s.BuiltIn = true }), "cannot be marked built_in"},
		{"no name", with(func(s *Strength) { s.Name = " " }), "name"},
		{"no combinations", with(func(s *Strength) { s.Combinations = nil }), "at least one combination"},
		{"empty combination", with(func(s *Strength) { s.Combinations = []Combination{{}} }), "combination 1 is empty"},
		{"unknown method", with(func(s *Strength) { s.Combinations = []Combination{{"sms"}} }), `"sms" is not a method`},
		{"repeated method", with(func(s *Strength) { s.Combinations = []Combination{{MethodTOTP, MethodTOTP}} }), "twice"},
		{"restriction without passkey", with(func(s *Strength) { s.Combinations = []Combination{{MethodTAP}} }), "no combination uses a passkey"},
		{"bad AAGUID", with(func(s *Strength) { s.AAGUIDs = []string{"yubikey"} }), "malformed AAGUID"},
		{"zero AAGUID", with(func(s *Strength) { s.AAGUIDs = []string{"00000000-0000-0000-0000-000000000000"} }), "all-zero"},
	}
	for _, tt := range tests {
		err := ValidateStrengths(tt.in)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: ValidateStrengths = %v; want error containing %q", tt.name, err, tt.err)
		}
	}
}
