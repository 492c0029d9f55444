package access

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const sampleYAML = `# The article's step three.
locations:
  - name: Office
    ranges: [203.0.113.0/24, "2001:db8:1::/48"]
    trusted: true
  - name: EU
    countries: [DE, FR]
policies:
  - name: Require a passkey outside trusted locations
    state: report-only
    users:
      all: true
      exclude_groups: [break-glass]
    apps:
      all: true
    conditions:
      locations:
        include: [any]
        exclude: [trusted]
      devices:
        exclude: [trusted]
    grant:
      strength: Passwordless MFA
  - name: Block legacy
    state: on
    users: {all: true, exclude: [breakglass]}
    apps: {all: true}
    conditions: {client_types: [legacy]}
    grant: {block: true}
  - name: Admins every 12 hours
    state: off
    users: {include_roles: [admin]}
    apps: {include: [grafana]}
    grant: {mfa: true}
    session: {sign_in_frequency: {hours: 12}}
`

func TestYAMLRoundTrip(t *testing.T) {
	doc, warnings, err := ImportYAML([]byte(sampleYAML), knownDirectory())
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if len(doc.Locations) != 2 || len(doc.Policies) != 3 {
		t.Fatalf("read %d locations, %d policies", len(doc.Locations), len(doc.Policies))
	}
	p := doc.Policies[2]
	if p.State != StateOff || p.Session.SignInFrequency == nil || p.Session.SignInFrequency.Hours != 12 || !p.Grant.MFA {
		t.Errorf("policy 2: %+v", p)
	}
	out, err := ExportYAML(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := ImportYAML(out, knownDirectory())
	if err != nil {
		t.Fatalf("export does not import: %v\n%s", err, out)
	}
	if !equalJSON(t, doc, again) {
		t.Errorf("round trip changed the document:\n%s", out)
	}
	if !strings.Contains(string(out), "strength: passwordless-mfa") || strings.Contains(string(out), "version") {
		t.Errorf("export:\n%s", out)
	}
	empty, err := ExportYAML(Document{})
	if err != nil {
		t.Fatal(err)
	}
	if d, _, err := ImportYAML(empty, Known{}); err != nil || len(d.Policies) != 0 {
		t.Errorf("empty export does not import: %v\n%s", err, empty)
	}
}

// TestYAMLErrors: a malformed file gives the path and line of the bad
// field, and every problem at once.
func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"syntax", "policies: [\n", []string{"not valid YAML", "line"}},
		{"tab indentation", "policies:\n\t- name: x\n", []string{"not valid YAML"}},
		{"unknown top-level field", "polices: []\n", []string{`line 1: polices: unknown field "polices" (expected one of: locations, policies)`}},
		{"unknown nested field", strings.Replace(sampleYAML, "exclude_groups:", "exclude_group:", 1),
			[]string{`line 13: policies[0].users.exclude_group: unknown field "exclude_group"`, "exclude_groups"}},
		{"wrong type: scalar for list", strings.Replace(sampleYAML, "client_types: [legacy]", "client_types: legacy", 1),
			[]string{`line 28: policies[1].conditions.client_types: expected a list, got "legacy"`}},
		{"wrong type: text for bool", strings.Replace(sampleYAML, "trusted: true", "trusted: yes", 1),
			[]string{`line 5: locations[0].trusted: expected true or false, got "yes"`}},
		{"wrong type: text for number", strings.Replace(sampleYAML, "hours: 12", "hours: twelve", 1),
			[]string{`line 35: policies[2].session.sign_in_frequency.hours: expected a whole number`}},
		{"wrong type: list for text", strings.Replace(sampleYAML, "state: on", "state: [on]", 1),
			[]string{`line 25: policies[1].state: expected text, got a list`}},
		{"mapping for list item", "policies:\n  - hello\n", []string{`line 2: policies[0]: expected a mapping of fields`}},
		{"invalid content gets the line", strings.Replace(sampleYAML, "203.0.113.0/24", "203.0.113.0/33", 1),
			[]string{`line 4: locations[0].ranges[0]: "203.0.113.0/33" is not a valid CIDR`}},
		{"unknown group gets the line", strings.Replace(sampleYAML, "[break-glass]", "[brake-glass]", 1),
			[]string{`line 13: policies[0].users.exclude_groups[0]: there is no group "brake-glass"`}},
		{"several problems", strings.Replace(strings.Replace(sampleYAML, "state: off", "state: maybe", 1), "Passwordless MFA", "Passwordles MFA", 1),
			[]string{"2 problems", `line 23: policies[0].grant.strength`, `line 31: policies[2].state: "maybe" is not a state`}},
		{"duplicate key", "policies: []\npolicies: []\n", []string{`line 2: policies: given twice (first on line 1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ImportYAML([]byte(tt.yaml), knownDirectory())
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestYAMLLimits(t *testing.T) {
	big := strings.Repeat("#", MaxFileSize+1)
	if _, err := ParseYAML([]byte(big)); err == nil {
		t.Error("oversized file accepted")
	}
	// Aliases can make a small file name a long list many times.
	var b strings.Builder
	b.WriteString("locations:\n  - name: big\n    ranges: &r [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "10.%d.%d.0/24", i/256, i%256)
	}
	b.WriteString("]\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - {name: l%d, ranges: *r}\n", i)
	}
	if _, err := ParseYAML([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("alias amplification: %v", err)
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte(sampleYAML))
	f.Add([]byte("policies: [{name: x, state: on, users: {all: true}, apps: {all: true}, grant: {block: true}}]"))
	f.Add([]byte("locations: [{name: a, ranges: [10.0.0.0/8]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseYAML(data)
		if err != nil {
			var inv Invalid
			if errors.As(err, &inv) && len(inv) == 0 {
				t.Fatal("empty Invalid")
			}
			return
		}
		d, _, err := Validate(doc, Known{})
		if err != nil {
			return
		}
		// A valid document compiles, evaluates and survives export.
		set, err := Compile(d)
		if err != nil {
			t.Fatalf("valid document does not compile: %v", err)
		}
		set.Evaluate(baseContext())
		out, err := ExportYAML(d)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := ImportYAML(out, Known{})
		if err != nil {
			t.Fatalf("export does not import: %v\n%s", err, out)
		}
		if !equalJSON(t, d, again) {
			t.Fatalf("round trip changed the document:\n%s", out)
		}
	})
}
