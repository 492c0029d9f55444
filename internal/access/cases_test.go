package access

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

const sampleCases = `
cases:
  - name: password + TOTP from the office is let in
    context:
      user: alice
      groups: [staff]
      app: grafana
      ip: 203.0.113.7
      satisfies: [MFA]
    expect:
      access: allow
      policies:
        Require a passkey outside trusted locations: not-applied
  - name: the same user from home is sent to a passkey
    context:
      user: alice
      app: grafana
      ip: 192.0.2.55
      satisfies: [MFA]
    expect:
      access: allow                     # report-only: not enforced yet
      policies:
        Require a passkey outside trusted locations: step-up
  - name: legacy clients are blocked
    context: {user: alice, client: legacy, ip: 192.0.2.55}
    expect: {access: block, blocked_by: Block legacy}
  - name: break-glass is never blocked
    context: {user: breakglass, client: legacy}
    expect: {access: allow, policies: {Block legacy: not-applied}}
  - name: admins re-authenticate after 12 hours
    context: {user: bob, admin: true, app: grafana, satisfies: [MFA], auth_age: 13h}
    expect: {access: allow, reauth: false}
`

func sampleSet(t *testing.T) *Set {
	doc, _, err := ImportYAML([]byte(sampleYAML), Known{})
	if err != nil {
		t.Fatal(err)
	}
	return mustCompile(t, doc)
}

func TestCasesPass(t *testing.T) {
	f, err := ParseCases([]byte(sampleCases))
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunCases(sampleSet(t), f, CaseOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if !WriteCaseReport(&out, res) {
		t.Errorf("cases failed:\n%s", out.String())
	}
	if !strings.HasSuffix(out.String(), "\n5 passed, 0 failed\n") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestCasesFailWithADiff(t *testing.T) {
	cases := `
cases:
  - name: wrong about the office
    context: {user: alice, ip: 198.51.100.1, satisfies: [MFA], device: [trusted]}
    expect:
      access: block
      blocked_by: Block legacy
      require: [Passwordless MFA]
      reauth: true
      policies:
        Require a passkey outside trusted locations: step-up
        Block legacy: block
        No such policy: satisfied
  - name: right
    context: {user: alice, client: legacy}
    expect: {access: block}
`
	f, err := ParseCases([]byte(cases))
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunCases(sampleSet(t), f, CaseOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if WriteCaseReport(&out, res) {
		t.Fatal("failing cases passed")
	}
	want := `FAIL  wrong about the office
      access:      want block
                   got  allow
      blocked_by:  want Block legacy
                   got  (none)
      require:     want [passwordless-mfa]
                   got  []
      reauth:      want true
                   got  false
      policies["Block legacy"]:
                   want block
                   got  not-applied (client type browser is not included)
      policies["No such policy"]:
                   want satisfied
                   got  (no such policy)
      policies["Require a passkey outside trusted locations"]:
                   want step-up
                   got  not-applied (trusted devices are excluded)
      applied: none
PASS  right
1 passed, 1 failed
`
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestCasesBadFiles(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no cases", "cases: []\n", "cases: the file has no cases"},
		{"unknown field", "cases:\n  - name: x\n    contxt: {}\n    expect: {access: allow}\n", `line 3: cases[0].contxt: unknown field`},
		{"no expectation", "cases:\n  - name: x\n    context: {user: a}\n", "line 2: cases[0].expect: say what to expect"},
		{"bad access", "cases:\n  - name: x\n    context: {user: a}\n    expect: {access: deny}\n", `line 4: cases[0].expect.access: "deny" is not an access`},
		{"bad outcome", "cases:\n  - name: x\n    context: {user: a}\n    expect:\n      policies: {P: blocked}\n", `line 5: cases[0].expect.policies["P"]: "blocked" is not an outcome`},
		{"bad ip", "cases:\n  - name: x\n    context:\n      ip: 300.1.1.1\n    expect: {access: allow}\n", `line 4: cases[0].context.ip: "300.1.1.1" is not an IP address`},
		{"bad client", "cases:\n  - name: x\n    context: {client: imap}\n    expect: {access: allow}\n", `cases[0].context.client: "imap" is not a client type`},
		{"bad device", "cases:\n  - name: x\n    context: {device: [managed]}\n    expect: {access: allow}\n", `cases[0].context.device[0]: "managed" is not a device state`},
		{"bad age", "cases:\n  - name: x\n    context: {auth_age: a while}\n    expect: {access: allow}\n", `cases[0].context.auth_age: "a while" is not a duration`},
		{"bad action", "cases:\n  - name: x\n    context: {action: login}\n    expect: {access: allow}\n", `cases[0].context.action: "login" is not a user action`},
		{"both methods and strengths", "cases:\n  - name: x\n    context: {methods: [passkey], satisfies: [MFA]}\n    expect: {access: allow}\n", "not both"},
		{"duplicate names", "cases:\n  - {name: x, expect: {access: allow}}\n  - {name: x, expect: {access: allow}}\n", `line 3: cases[1].name: another case is already called "x"`},
		{"unnamed", "cases:\n  - {expect: {access: allow}}\n", "cases[0].name: each case needs a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCases([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCasesMethodsAndCountries(t *testing.T) {
	doc := Document{
		Locations: []Location{{Name: "Germany", Countries: []string{"DE"}}},
		Policies: []Policy{{Name: "passkey abroad", State: StateOn, Users: Users{All: true}, Apps: Apps{All: true},
			Conditions: Conditions{Locations: IncludeExclude{Exclude: []string{"Germany"}}}, Grant: Grant{Strength: StrengthPasswordlessMFA}}},
	}
	f, err := ParseCases([]byte(`
cases:
  - name: passkey abroad
    context: {user: a, ip: 198.51.100.1, methods: [passkey]}
    expect: {access: allow}
  - name: password abroad
    context: {user: a, ip: 198.51.100.1, methods: [password, totp]}
    expect: {access: step-up, require: [Passwordless MFA]}
  - name: password at home
    context: {user: a, ip: 192.0.2.1, methods: [password, totp]}
    expect: {access: allow}
  - name: password with the country given
    context: {user: a, ip: 198.51.100.1, country: de, methods: [password, totp]}
    expect: {access: allow}
`))
	if err != nil {
		t.Fatal(err)
	}
	set := mustCompile(t, doc)
	if _, err := RunCases(set, f, CaseOptions{Now: t0}); err == nil || !strings.Contains(err.Error(), "context.methods: methods cannot be checked") {
		t.Errorf("methods without a resolver: %v", err)
	}
	res, err := RunCases(set, f, CaseOptions{
		Now:       t0,
		Countries: testCountries(t),
		MethodsSatisfy: func(m []string, s string) bool {
			return slices.Contains(m, "passkey") || (s == StrengthMFA && len(m) > 1)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if !WriteCaseReport(&out, res) {
		t.Errorf("cases failed:\n%s", out.String())
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "12h": 12 * time.Hour, "3d": 72 * time.Hour, "0d": 0, " 1h30m ": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "-1h", "-3d", "3 days", "1y", "99999999d"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) accepted", in)
		}
	}
}
