package access

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/sesame-idp/sesame/internal/loadgen/benchmeter"
)

// BenchmarkP256Verify is the unit scripts/bench-ratio.sh counts every
// benchmark in, measured in this test binary too.
func BenchmarkP256Verify(b *testing.B) { benchmeter.BenchmarkP256Verify(b) }

// benchDocument is a large but plausible configuration: n policies over 40
// named locations (200 ranges, IPv4 and IPv6, plus country lists), 60
// groups and 20 apps, with every kind of condition and grant.
func benchDocument(n int) Document {
	var doc Document
	for i := range 36 {
		l := Location{Name: fmt.Sprintf("site-%02d", i), Trusted: i%3 == 0}
		for j := range 5 {
			if j == 4 {
				l.Ranges = append(l.Ranges, fmt.Sprintf("2001:db8:%x:%x::/64", i, j))
			} else {
				l.Ranges = append(l.Ranges, fmt.Sprintf("10.%d.%d.0/24", i, j))
			}
		}
		doc.Locations = append(doc.Locations, l)
	}
	doc.Locations = append(doc.Locations,
		Location{Name: "EU", Countries: []string{"DE", "FR", "NL", "BE", "AT", "IT", "ES"}},
		Location{Name: "US", Countries: []string{"US"}},
		Location{Name: "Sanctioned", Countries: []string{"KP", "IR"}, IncludeUnknown: true},
		Location{Name: "HQ", Ranges: []string{"203.0.113.0/24"}, Trusted: true},
	)
	strengths := []string{StrengthMFA, StrengthPasswordlessMFA, StrengthPhishingResistant}
	for i := range n {
		p := Policy{
			Name:  fmt.Sprintf("policy-%03d", i),
			State: []State{StateOn, StateReportOnly, StateOn, StateOff}[i%4],
			Users: Users{All: i%2 == 0, ExcludeGroups: []string{"break-glass"}},
			Apps:  Apps{All: i%5 != 0},
			Grant: Grant{Strength: strengths[i%3]},
		}
		if !p.Users.All {
			p.Users.IncludeGroups = []string{fmt.Sprintf("team-%02d", i%60), fmt.Sprintf("team-%02d", (i+7)%60)}
			p.Users.Include = []string{fmt.Sprintf("user%d", i)}
		}
		if i%7 == 0 {
			p.Users.IncludeRoles = []string{RoleAdmin}
		}
		if !p.Apps.All {
			p.Apps.Include = []string{fmt.Sprintf("app-%02d", i%20), "grafana"}
		} else if i%3 == 0 {
			p.Apps.Exclude = []string{fmt.Sprintf("app-%02d", i%20)}
		}
		switch i % 6 {
		case 0:
			p.Conditions.Locations = IncludeExclude{Include: []string{LocationAny}, Exclude: []string{LocationTrusted}}
		case 1:
			p.Conditions.Locations = IncludeExclude{Include: []string{fmt.Sprintf("site-%02d", i%36), "EU"}}
		case 2:
			p.Conditions.Locations = IncludeExclude{Include: []string{"Sanctioned"}}
			p.Grant = Grant{Block: true}
		case 3:
			p.Conditions.ClientTypes = []ClientType{ClientLegacy}
			p.Grant = Grant{Block: true}
		case 4:
			p.Conditions.Devices = IncludeExclude{Exclude: []string{DeviceTrusted}}
		case 5:
			p.Session.SignInFrequency = &Frequency{Hours: 1 + i%23}
		}
		doc.Policies = append(doc.Policies, p)
	}
	return doc
}

// BenchmarkEvaluate100 measures one sign-in against 100 policies: the
// budget is well under 20 µs.
//
//	go test -run '^$' -bench Evaluate -benchmem ./internal/access/
func BenchmarkEvaluate100(b *testing.B) {
	benchEvaluate(b, 100)
}

func BenchmarkEvaluate500(b *testing.B) {
	benchEvaluate(b, 500)
}

func benchEvaluate(b *testing.B, n int) {
	set, err := Compile(benchDocument(n))
	if err != nil {
		b.Fatal(err)
	}
	c := Context{
		Username: "user42",
		Groups:   []string{"staff", "team-03", "team-17", "team-42", "pilot"},
		App:      "grafana",
		IP:       netip.MustParseAddr("10.35.3.77"), // in the last site: every range is scanned
		Country:  "DE",
		Client:   ClientBrowser,
		Device:   Device{BoundPasskey: true},
		Now:      t0,
		AuthTime: t0.Add(-3 * 60 * 60 * 1e9),
		Satisfies: func(s string) bool {
			return s == StrengthMFA
		},
	}
	var d Decision
	m := benchmeter.Start(b)
	for b.Loop() {
		d = set.Evaluate(c)
	}
	m.Report()
	if len(d.Results) != n {
		b.Fatalf("%d results", len(d.Results))
	}
}

func BenchmarkCompile100(b *testing.B) {
	doc := benchDocument(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(doc); err != nil {
			b.Fatal(err)
		}
	}
}
