package access

import (
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	bg := BreakGlass{Users: []string{"breakglass"}, Groups: []string{"break-glass"}}
	var doc Document
	doc.Locations = []Location{{Name: "Office", Ranges: []string{"203.0.113.0/24"}, Trusted: true}}
	ids := map[string]bool{}
	for _, tmpl := range Templates() {
		if ids[tmpl.ID] {
			t.Errorf("duplicate template %s", tmpl.ID)
		}
		ids[tmpl.ID] = true
		p, err := FromTemplate(tmpl.ID, "", bg)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != StateReportOnly {
			t.Errorf("%s starts %s, want report-only", tmpl.ID, p.State)
		}
		if len(p.Users.Exclude) == 0 || len(p.Users.ExcludeGroups) == 0 {
			t.Errorf("%s has no break-glass exclusion", tmpl.ID)
		}
		if p.Name != tmpl.Name || p.Description == "" {
			t.Errorf("%s: name %q description %q", tmpl.ID, p.Name, p.Description)
		}
		doc.Policies = append(doc.Policies, p)
	}
	for _, id := range []string{"admins-phishing-resistant", "passkey-outside-trusted", "block-legacy", "protect-registration"} {
		if !ids[id] {
			t.Errorf("template %s missing", id)
		}
	}
	if _, warnings, err := Validate(doc, knownDirectory()); err != nil || len(warnings) > 0 {
		t.Fatalf("templates together: %v %q", err, warnings)
	}

	// Each does what it says, for a user who is not break-glass.
	set := mustCompile(t, doc)
	outcome := func(name string, c Context) Outcome {
		for _, r := range set.Evaluate(c).Results {
			if r.Policy == name {
				return r.Outcome
			}
		}
		t.Fatalf("no result for %s", name)
		return ""
	}
	admin := baseContext()
	admin.Admin = true
	admin.Satisfies = satisfies(StrengthMFA, StrengthPasswordlessMFA)
	if o := outcome("Require phishing-resistant MFA for admins", admin); o != OutcomeStepUp {
		t.Errorf("admin without phishing-resistant MFA: %s", o)
	}
	if o := outcome("Require phishing-resistant MFA for admins", baseContext()); o != OutcomeNotApplied {
		t.Errorf("non-admin: %s", o)
	}
	office := baseContext()
	office.IP = ipOffice
	if o := outcome("Require a passkey outside trusted locations", office); o != OutcomeNotApplied {
		t.Errorf("from the office: %s", o)
	}
	if o := outcome("Require a passkey outside trusted locations", baseContext()); o != OutcomeStepUp {
		t.Errorf("from elsewhere: %s", o)
	}
	trustedDevice := baseContext()
	trustedDevice.Device.Trusted = true
	if o := outcome("Require a passkey outside trusted locations", trustedDevice); o != OutcomeNotApplied {
		t.Errorf("from a trusted device: %s", o)
	}
	legacy := baseContext()
	legacy.Client = ClientLegacy
	if o := outcome("Block legacy clients", legacy); o != OutcomeBlock {
		t.Errorf("legacy: %s", o)
	}
	register := baseContext()
	register.App, register.Action = "", ActionRegisterSecurityInfo
	if o := outcome("Protect security info registration", register); o != OutcomeStepUp {
		t.Errorf("registration without MFA: %s", o)
	}
	register.Satisfies = satisfies(StrengthMFA) // a TAP counts as MFA
	if o := outcome("Protect security info registration", register); o != OutcomeSatisfied {
		t.Errorf("registration with a TAP: %s", o)
	}
	bgUser := legacy
	bgUser.Username = "breakglass"
	if o := outcome("Block legacy clients", bgUser); o != OutcomeNotApplied {
		t.Errorf("break-glass: %s", o)
	}

	if _, err := FromTemplate("block-legacy", "", BreakGlass{}); err == nil || !strings.Contains(err.Error(), "break-glass") {
		t.Errorf("no break-glass: %v", err)
	}
	if _, err := FromTemplate("nope", "", bg); err == nil || !strings.Contains(err.Error(), "block-legacy") {
		t.Errorf("unknown template: %v", err)
	}
	if p, _ := FromTemplate("block-legacy", " Mine ", bg); p.Name != "Mine" {
		t.Errorf("name override: %q", p.Name)
	}
}

// TestArticleScenario is the article's step three: sign-ins from unknown
// locations only with a passkey, other methods from a trusted network or
// device; piloted in report-only, then enforced.
func TestArticleScenario(t *testing.T) {
	p, err := FromTemplate("passkey-outside-trusted", "", BreakGlass{Users: []string{"breakglass"}})
	if err != nil {
		t.Fatal(err)
	}
	doc := Document{Locations: []Location{{Name: "Office", Ranges: []string{"203.0.113.0/24"}, Trusted: true}}, Policies: []Policy{p}}
	passwordTOTP := satisfies(StrengthMFA)
	passkey := satisfies(StrengthMFA, StrengthPasswordlessMFA, StrengthPhishingResistant)
	ctx := func(ip string, met func(string) bool) Context {
		c := baseContext()
		c.IP = mustAddr(ip)
		c.Satisfies = met
		return c
	}

	// Pilot: report-only lets everyone in and records "would require".
	set := mustCompile(t, doc)
	d := set.Evaluate(ctx("192.0.2.9", passwordTOTP))
	if d.Access != AccessAllow || d.Results[0].Label() != "report-only: would require Passwordless MFA" {
		t.Errorf("report-only from home: %s, %s", d.Access, d.Results[0].Label())
	}

	// Enforced.
	doc.Policies[0].State = StateOn
	set = mustCompile(t, doc)
	if d := set.Evaluate(ctx("203.0.113.50", passwordTOTP)); d.Access != AccessAllow {
		t.Errorf("password + TOTP from the office: %s", d.Access)
	}
	d = set.Evaluate(ctx("192.0.2.9", passwordTOTP))
	if d.Access != AccessStepUp || len(d.Unmet) != 1 || d.Unmet[0] != StrengthPasswordlessMFA {
		t.Errorf("password + TOTP from home: %s %q", d.Access, d.Unmet)
	}
	if d := set.Evaluate(ctx("192.0.2.9", passkey)); d.Access != AccessAllow {
		t.Errorf("passkey from home: %s", d.Access)
	}
}
