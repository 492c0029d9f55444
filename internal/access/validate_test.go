package access

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func knownDirectory() Known {
	users := []string{"alice", "bob", "breakglass"}
	groups := []string{"staff", "pilot", "break-glass", "admins"}
	apps := []string{"grafana", "gitlab"}
	return Known{
		Users:  func(n string) bool { return slices.Contains(users, n) },
		Groups: func(n string) bool { return slices.Contains(groups, n) },
		Apps:   func(n string) bool { return slices.Contains(apps, n) },
	}
}

// TestValidateRefuses: every kind of bad input is refused with the path of
// the field and words that say what to do.
func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Document)
		path string
		msg  string
	}{
		{"invalid CIDR", func(d *Document) { d.Locations[0].Ranges[1] = "10.0.0.0/33" }, "locations[0].ranges[1]", "not a valid CIDR"},
		{"garbage range", func(d *Document) { d.Locations[0].Ranges[0] = "office" }, "locations[0].ranges[0]", "not an IP address or CIDR"},
		{"host bits set", func(d *Document) { d.Locations[0].Ranges[0] = "203.0.113.7/24" }, "locations[0].ranges[0]", "did you mean 203.0.113.0/24"},
		{"IPv4-mapped range", func(d *Document) { d.Locations[0].Ranges[0] = "::ffff:203.0.113.0/120" }, "locations[0].ranges[0]", "IPv4 form"},
		{"overlap in one location", func(d *Document) { d.Locations[0].Ranges = append(d.Locations[0].Ranges, "203.0.113.128/25") }, "locations[0].ranges[2]", "overlaps 203.0.113.0/24"},
		{"duplicate range", func(d *Document) { d.Locations[1].Ranges = append(d.Locations[1].Ranges, "198.51.100.0/24") }, "locations[1].ranges[1]", "overlaps"},
		{"location without name", func(d *Document) { d.Locations[1].Name = "  " }, "locations[1].name", "needs a name"},
		{"duplicate location", func(d *Document) { d.Locations[1].Name = "office" }, "locations[1].name", "already called"},
		{"reserved location name", func(d *Document) { d.Locations[1].Name = "Trusted" }, "locations[1].name", "keyword"},
		{"ranges and countries", func(d *Document) { d.Locations[2].Ranges = []string{"192.0.2.0/24"} }, "locations[2]", "not both"},
		{"empty location", func(d *Document) { d.Locations[1].Ranges = nil }, "locations[1]", "needs ranges"},
		{"trusted country", func(d *Document) { d.Locations[2].Trusted = true }, "locations[2].trusted", "only IP-range"},
		{"unknown with ranges", func(d *Document) { d.Locations[0].IncludeUnknown = true }, "locations[0].include_unknown", "country locations"},
		{"bad country", func(d *Document) { d.Locations[2].Countries[1] = "Germany" }, "locations[2].countries[1]", "two-letter"},
		{"duplicate country", func(d *Document) { d.Locations[2].Countries[1] = "de" }, "locations[2].countries[1]", "listed twice"},

		{"policy without name", func(d *Document) { d.Policies[0].Name = "" }, "policies[0].name", "needs a name"},
		{"duplicate policy", func(d *Document) { d.Policies[1].Name = "PASSKEY OUTSIDE" }, "policies[1].name", "unique"},
		{"control character", func(d *Document) { d.Policies[0].Name = "a\x07b" }, "policies[0].name", "control"},
		{"no state", func(d *Document) { d.Policies[0].State = "" }, "policies[0].state", "required"},
		{"bad state", func(d *Document) { d.Policies[0].State = "enabled" }, "policies[0].state", "on, off or report-only"},
		{"nobody", func(d *Document) { d.Policies[0].Users = Users{Exclude: []string{"bob"}} }, "policies[0].users", "whom"},
		{"unknown user", func(d *Document) { d.Policies[0].Users.Exclude = []string{"mallory"} }, "policies[0].users.exclude[0]", `no user "mallory"`},
		{"unknown group", func(d *Document) { d.Policies[1].Users.IncludeGroups = []string{"staff", "finance"} }, "policies[1].users.include_groups[1]", `no group "finance"`},
		{"unknown role", func(d *Document) { d.Policies[0].Users.ExcludeRoles = []string{"owner"} }, "policies[0].users.exclude_roles[0]", "not a role"},
		{"unknown app", func(d *Document) { d.Policies[0].Apps = Apps{Include: []string{"nextcloud"}} }, "policies[0].apps.include[0]", `no app with client ID "nextcloud"`},
		{"no apps", func(d *Document) { d.Policies[0].Apps = Apps{} }, "policies[0].apps", "which apps"},
		{"apps and actions", func(d *Document) { d.Policies[0].Apps.Actions = []string{ActionRegisterSecurityInfo} }, "policies[0].apps", "not both"},
		{"unknown action", func(d *Document) { d.Policies[0].Apps = Apps{Actions: []string{"reset-password"}} }, "policies[0].apps.actions[0]", "not a user action"},
		{"unknown location", func(d *Document) { d.Policies[0].Conditions.Locations.Exclude = []string{"Ofice"} }, "policies[0].conditions.locations.exclude[0]", `no named location "Ofice"`},
		{"exclude any", func(d *Document) { d.Policies[0].Conditions.Locations.Exclude = []string{"ANY"} }, "policies[0].conditions.locations.exclude[0]", "never applies"},
		{"bad client type", func(d *Document) { d.Policies[1].Conditions.ClientTypes = []ClientType{"imap"} }, "policies[1].conditions.client_types[0]", "browser or legacy"},
		{"bad device", func(d *Document) { d.Policies[0].Conditions.Devices.Exclude = []string{"managed"} }, "policies[0].conditions.devices.exclude[0]", "not a device state"},
		{"two grants", func(d *Document) { d.Policies[0].Grant.Block = true }, "policies[0].grant", "one of block, mfa or strength"},
		{"no grant", func(d *Document) { d.Policies[0].Grant = Grant{} }, "policies[0].grant", "must block"},
		{"unknown strength", func(d *Document) { d.Policies[0].Grant.Strength = "Passwordless" }, "policies[0].grant.strength", "no authentication strength"},
		{"frequency hours", func(d *Document) { d.Policies[0].Session.SignInFrequency = &Frequency{Hours: 24} }, "policies[0].session.sign_in_frequency.hours", "1 to 23"},
		{"frequency days", func(d *Document) { d.Policies[0].Session.SignInFrequency = &Frequency{Days: 400} }, "policies[0].session.sign_in_frequency.days", "1 to 365"},
		{"frequency two", func(d *Document) { d.Policies[0].Session.SignInFrequency = &Frequency{Days: 1, Hours: 2} }, "policies[0].session.sign_in_frequency", "one of"},
		{"frequency empty", func(d *Document) { d.Policies[0].Session.SignInFrequency = &Frequency{} }, "policies[0].session.sign_in_frequency", "one of"},
		{"frequency on block", func(d *Document) { d.Policies[1].Session.SignInFrequency = &Frequency{Hours: 2} }, "policies[1].session.sign_in_frequency", "blocking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDocument()
			tt.edit(&d)
			before := d.Clone()
			_, _, err := Validate(d, knownDirectory())
			var inv Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("got %v, want Invalid", err)
			}
			found := false
			for _, e := range inv {
				if e.Path == tt.path && strings.Contains(e.Message, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem at %s containing %q in:\n%v", tt.path, tt.msg, err)
			}
			if !equalJSON(t, d, before) {
				t.Error("Validate changed its argument")
			}
		})
	}
}

// validDocument passes Validate with knownDirectory.
func validDocument() Document {
	return Document{
		Locations: []Location{
			{Name: "Office", Ranges: []string{"203.0.113.0/24", "2001:db8:1::/48"}, Trusted: true},
			{Name: "Branch", Ranges: []string{"198.51.100.0/24"}},
			{Name: "EU", Countries: []string{"DE", "FR"}},
		},
		Policies: []Policy{
			{
				Name: "Passkey outside", State: StateReportOnly,
				Users:      Users{All: true, ExcludeGroups: []string{"break-glass"}},
				Apps:       Apps{All: true},
				Conditions: Conditions{Locations: IncludeExclude{Include: []string{"any"}, Exclude: []string{"trusted"}}},
				Grant:      Grant{Strength: StrengthPasswordlessMFA},
			},
			{
				Name: "Block legacy", State: StateOn,
				Users:      Users{IncludeGroups: []string{"staff"}},
				Apps:       Apps{All: true},
				Conditions: Conditions{ClientTypes: []ClientType{ClientLegacy}},
				Grant:      Grant{Block: true},
			},
		},
	}
}

func TestValidateNormalises(t *testing.T) {
	d := validDocument()
	d.Locations[0].Ranges = []string{" 203.0.113.0/24", "2001:DB8:1::/48", "192.0.2.1"}
	d.Locations[2].Countries = []string{"de", " fr "}
	d.Policies[0].Name = "  Passkey outside "
	d.Policies[0].Users.Exclude = []string{" BreakGlass"}
	d.Policies[0].Conditions.Locations = IncludeExclude{Include: []string{"Any"}, Exclude: []string{"TRUSTED", " Branch"}}
	got, warnings, err := Validate(d, knownDirectory())
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if want := []string{"203.0.113.0/24", "2001:db8:1::/48", "192.0.2.1/32"}; !slices.Equal(got.Locations[0].Ranges, want) {
		t.Errorf("ranges %q", got.Locations[0].Ranges)
	}
	if want := []string{"DE", "FR"}; !slices.Equal(got.Locations[2].Countries, want) {
		t.Errorf("countries %q", got.Locations[2].Countries)
	}
	p := got.Policies[0]
	if p.Name != "Passkey outside" || !slices.Equal(p.Users.Exclude, []string{"breakglass"}) ||
		!slices.Equal(p.Conditions.Locations.Include, []string{"any"}) || !slices.Equal(p.Conditions.Locations.Exclude, []string{"trusted", "Branch"}) {
		t.Errorf("policy not normalised: %+v", p)
	}
	if d.Locations[2].Countries[0] != "de" {
		t.Error("Validate changed its argument")
	}
}

func TestValidateWarnings(t *testing.T) {
	d := validDocument()
	d.Locations = append(d.Locations, Location{Name: "Provider", Ranges: []string{"203.0.0.0/16"}})
	d.Policies[0].State = StateOn
	d.Policies[0].Users.ExcludeGroups = nil
	_, warnings, err := Validate(d, knownDirectory())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{`"Office" (203.0.113.0/24) and "Provider" (203.0.0.0/16) overlap; addresses in both count as trusted`, `"Passkey outside" is on for all users with no exclusion`} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
}

func TestValidateCustomStrengths(t *testing.T) {
	d := validDocument()
	d.Policies[0].Grant.Strength = "Security keys only"
	k := knownDirectory()
	if _, _, err := Validate(d, k); err == nil {
		t.Fatal("a custom strength was accepted with only the built-ins known")
	}
	k.Strengths = StrengthResolver([]StrengthName{{"keys-only", "Security keys only"}})
	got, _, err := Validate(d, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.Policies[0].Grant.Strength != "keys-only" {
		t.Errorf("stored as %q", got.Policies[0].Grant.Strength)
	}
	d.Policies[0].Grant.Strength = "phishing-resistant mfa"
	if got, _, _ := Validate(d, Known{}); got.Policies[0].Grant.Strength != StrengthPhishingResistant {
		t.Errorf("built-in name stored as %q", got.Policies[0].Grant.Strength)
	}
}

func TestValidateLimits(t *testing.T) {
	d := validDocument()
	for range MaxPolicies {
		d.Policies = append(d.Policies, d.Policies[1])
	}
	if _, _, err := Validate(d, Known{}); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many policies: %v", err)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3": "10.1.2.3/32", "::1": "::1/128", "2001:db8::/32": "2001:db8::/32",
		"::ffff:10.1.2.3": "10.1.2.3/32", "0.0.0.0/0": "0.0.0.0/0",
	} {
		p, err := ParseRange(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.0/", "10.0.0/8", "fe80::1%eth0", "10.0.0.1/8", "1.2.3.4/24", "::ffff:0:0/96"} {
		if _, err := ParseRange(in); err == nil {
			t.Errorf("ParseRange(%q) accepted", in)
		}
	}
}
