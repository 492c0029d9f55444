package access

import "testing"

func TestMayApplyToApp(t *testing.T) {
	with := func(edit func(p *Policy)) Document {
		p := basePolicy()
		edit(&p)
		return Document{Policies: []Policy{p}}
	}
	cases := []struct {
		name string
		doc  Document
		app  string
		want bool
	}{
		{"no policies", Document{}, AppSesame, false},
		{"all apps", with(func(p *Policy) {}), AppSesame, true},
		{"all apps, empty app means sesame", with(func(p *Policy) {}), "", true},
		{"off", with(func(p *Policy) { p.State = StateOff }), AppSesame, false},
		{"report-only counts", with(func(p *Policy) { p.State = StateReportOnly }), AppSesame, true},
		{"other app only", with(func(p *Policy) { p.Apps = Apps{Include: []string{AppSesameAdmin}} }), AppSesame, false},
		{"this app included", with(func(p *Policy) { p.Apps = Apps{Include: []string{AppSesameAdmin}} }), AppSesameAdmin, true},
		{"this app excluded", with(func(p *Policy) { p.Apps = Apps{All: true, Exclude: []string{AppSesame}} }), AppSesame, false},
		{"user action, not apps", with(func(p *Policy) { p.Apps = Apps{Actions: []string{ActionRegisterSecurityInfo}} }), AppSesame, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := mustCompile(t, tc.doc)
			if got := set.MayApplyToApp(tc.app); got != tc.want {
				t.Fatalf("MayApplyToApp(%q) = %v, want %v", tc.app, got, tc.want)
			}
			// The promise callers rely on: when it says no, evaluating
			// applies nothing, whoever signs in.
			if !tc.want {
				for _, admin := range []bool{false, true} {
					c := baseContext()
					c.App, c.Admin = tc.app, admin
					for _, r := range set.Evaluate(c).Results {
						if r.Applied() {
							t.Fatalf("MayApplyToApp said no, but %s applied: %+v", r.Policy, r)
						}
					}
				}
			}
		})
	}
}
