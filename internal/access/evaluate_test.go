package access

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEvaluateOnePolicy goes through every condition, one policy at a time:
// whether it applies, the first condition that left the sign-in out, and
// what it demands.
func TestEvaluateOnePolicy(t *testing.T) {
	type want struct {
		outcome Outcome
		reason  ReasonCode
		detail  string
		unmet   bool
		reauth  bool
	}
	applies := want{outcome: OutcomeStepUp, unmet: true} // base policy demands a passkey nobody met yet
	notApplied := func(code ReasonCode, detail string) want {
		return want{outcome: OutcomeNotApplied, reason: code, detail: detail}
	}
	tests := []struct {
		name   string
		policy func(p *Policy)
		ctx    func(c *Context)
		want   want
	}{
		// State.
		{"on applies", nil, nil, applies},
		{"off never applies", func(p *Policy) { p.State = StateOff }, nil, notApplied(ReasonOff, "")},
		{"report-only is evaluated", func(p *Policy) { p.State = StateReportOnly }, nil, applies},

		// Users: include.
		{"all users", nil, nil, applies},
		{"included user", func(p *Policy) { p.Users = Users{Include: []string{"alice"}} }, nil, applies},
		{"other user", func(p *Policy) { p.Users = Users{Include: []string{"bob"}} }, nil, notApplied(ReasonUserNotIncluded, "alice")},
		{"included group", func(p *Policy) { p.Users = Users{IncludeGroups: []string{"pilot"}} }, nil, applies},
		{"other group", func(p *Policy) { p.Users = Users{IncludeGroups: []string{"finance"}} }, nil, notApplied(ReasonUserNotIncluded, "alice")},
		{"user without groups", func(p *Policy) { p.Users = Users{IncludeGroups: []string{"pilot"}} }, func(c *Context) { c.Groups = nil }, notApplied(ReasonUserNotIncluded, "alice")},
		{"admin role, admin", func(p *Policy) { p.Users = Users{IncludeRoles: []string{RoleAdmin}} }, func(c *Context) { c.Admin = true }, applies},
		{"admin role, not admin", func(p *Policy) { p.Users = Users{IncludeRoles: []string{RoleAdmin}} }, nil, notApplied(ReasonUserNotIncluded, "alice")},
		{"unidentified user, all users", nil, func(c *Context) { c.Username, c.Groups = "", nil }, applies},
		{"unidentified user, named users", func(p *Policy) { p.Users = Users{Include: []string{"alice"}} }, func(c *Context) { c.Username = "" }, notApplied(ReasonUserNotIncluded, "")},

		// Users: exclusion wins.
		{"excluded user", func(p *Policy) { p.Users.Exclude = []string{"alice"} }, nil, notApplied(ReasonUserExcluded, "alice")},
		{"excluded group", func(p *Policy) { p.Users.ExcludeGroups = []string{"break-glass", "pilot"} }, nil, notApplied(ReasonGroupExcluded, "pilot")},
		{"excluded role", func(p *Policy) { p.Users.ExcludeRoles = []string{RoleAdmin} }, func(c *Context) { c.Admin = true }, notApplied(ReasonRoleExcluded, RoleAdmin)},
		{"excluded role, not admin", func(p *Policy) { p.Users.ExcludeRoles = []string{RoleAdmin} }, nil, applies},
		{"included by name, excluded by group", func(p *Policy) {
			p.Users = Users{Include: []string{"alice"}, ExcludeGroups: []string{"staff"}}
		}, nil, notApplied(ReasonGroupExcluded, "staff")},
		{"included by group, excluded by name", func(p *Policy) {
			p.Users = Users{IncludeGroups: []string{"staff"}, Exclude: []string{"alice"}}
		}, nil, notApplied(ReasonUserExcluded, "alice")},
		{"included as admin, excluded by group", func(p *Policy) {
			p.Users = Users{IncludeRoles: []string{RoleAdmin}, ExcludeGroups: []string{"pilot"}}
		}, func(c *Context) { c.Admin = true }, notApplied(ReasonGroupExcluded, "pilot")},
		{"excluded other user", func(p *Policy) { p.Users.Exclude = []string{"bob"} }, nil, applies},

		// Apps.
		{"included app", func(p *Policy) { p.Apps = Apps{Include: []string{"gitlab", "grafana"}} }, nil, applies},
		{"other app", func(p *Policy) { p.Apps = Apps{Include: []string{"gitlab"}} }, nil, notApplied(ReasonAppNotIncluded, "grafana")},
		{"excluded app", func(p *Policy) { p.Apps.Exclude = []string{"grafana"} }, nil, notApplied(ReasonAppExcluded, "grafana")},
		{"included and excluded app", func(p *Policy) { p.Apps = Apps{Include: []string{"grafana"}, Exclude: []string{"grafana"}} }, nil, notApplied(ReasonAppExcluded, "grafana")},
		{"Sesame itself by name", func(p *Policy) { p.Apps = Apps{Include: []string{AppSesame}} }, func(c *Context) { c.App = "" }, applies},
		{"Sesame itself excluded", func(p *Policy) { p.Apps.Exclude = []string{AppSesame} }, func(c *Context) { c.App = "" }, notApplied(ReasonAppExcluded, AppSesame)},
		{"action policy, app sign-in", func(p *Policy) { p.Apps = Apps{Actions: []string{ActionRegisterSecurityInfo}} }, nil, notApplied(ReasonNotAction, "")},
		{"action policy, registration", func(p *Policy) { p.Apps = Apps{Actions: []string{ActionRegisterSecurityInfo}} }, func(c *Context) { c.App, c.Action = "", ActionRegisterSecurityInfo }, applies},
		{"app policy, registration", nil, func(c *Context) { c.App, c.Action = "", ActionRegisterSecurityInfo }, notApplied(ReasonAction, ActionRegisterSecurityInfo)},

		// Client types.
		{"legacy only, browser", func(p *Policy) { p.Conditions.ClientTypes = []ClientType{ClientLegacy} }, nil, notApplied(ReasonClientType, "browser")},
		{"legacy only, legacy", func(p *Policy) { p.Conditions.ClientTypes = []ClientType{ClientLegacy} }, func(c *Context) { c.Client = ClientLegacy }, applies},
		{"browser only, unset client", func(p *Policy) { p.Conditions.ClientTypes = []ClientType{ClientBrowser} }, func(c *Context) { c.Client = "" }, applies},
		{"browser only, legacy", func(p *Policy) { p.Conditions.ClientTypes = []ClientType{ClientBrowser} }, func(c *Context) { c.Client = ClientLegacy }, notApplied(ReasonClientType, "legacy")},
		{"any client", nil, func(c *Context) { c.Client = ClientLegacy }, applies},

		// Locations.
		{"named location, inside", locs([]string{"Office"}, nil), ip(ipOffice), applies},
		{"named location, outside", locs([]string{"Office"}, nil), nil, notApplied(ReasonLocationNotIncluded, "")},
		{"named location, IPv6 inside", locs([]string{"Office"}, nil), ip(ipOffice6), applies},
		{"named location, IPv4-mapped address", locs([]string{"Office"}, nil), ip(netip.MustParseAddr("::ffff:203.0.113.99")), applies},
		{"outside trusted, from trusted", locs([]string{LocationAny}, []string{LocationTrusted}), ip(ipOffice), notApplied(ReasonLocationExcluded, LocationTrusted)},
		{"outside trusted, from untrusted range", locs([]string{LocationAny}, []string{LocationTrusted}), ip(ipBranch), applies},
		{"outside trusted, from unknown", locs([]string{LocationAny}, []string{LocationTrusted}), nil, applies},
		{"outside trusted, no address", locs([]string{LocationAny}, []string{LocationTrusted}), ip(netip.Addr{}), applies},
		{"exclude only means include any", locs(nil, []string{LocationTrusted}), ip(ipBranch), applies},
		{"trusted only, from trusted", locs([]string{LocationTrusted}, nil), ip(ipOffice), applies},
		{"trusted only, from untrusted range", locs([]string{LocationTrusted}, nil), ip(ipBranch), notApplied(ReasonLocationNotIncluded, "")},
		{"excluded named location", locs([]string{LocationAny}, []string{"Branch"}), ip(ipBranch), notApplied(ReasonLocationExcluded, "Branch")},
		{"excluded named location, elsewhere", locs([]string{LocationAny}, []string{"Branch"}), nil, applies},
		{"included and excluded location", locs([]string{"Office"}, []string{"Office"}), ip(ipOffice), notApplied(ReasonLocationExcluded, "Office")},
		{"country location, in country", locs([]string{"EU"}, nil), country("DE"), applies},
		{"country location, lower-case country", locs([]string{"EU"}, nil), country("fr"), applies},
		{"country location, other country", locs([]string{"EU"}, nil), country("US"), notApplied(ReasonLocationNotIncluded, "")},
		{"country location, unknown country", locs([]string{"EU"}, nil), country(""), notApplied(ReasonLocationNotIncluded, "")},
		{"country location with unknown, unknown country", locs([]string{"Nowhere"}, nil), country(""), applies},
		{"country location with unknown, known country", locs([]string{"Nowhere"}, nil), country("DE"), notApplied(ReasonLocationNotIncluded, "")},
		{"excluded country", locs([]string{LocationAny}, []string{"EU"}), country("DE"), notApplied(ReasonLocationExcluded, "EU")},
		{"ranges and countries together", locs([]string{"EU", "Branch"}, nil), func(c *Context) { c.IP, c.Country = ipBranch, "US" }, applies},

		// Devices.
		{"trusted devices excluded, trusted", devs(nil, []string{DeviceTrusted}), trusted, notApplied(ReasonDeviceExcluded, DeviceTrusted)},
		{"trusted devices excluded, other", devs(nil, []string{DeviceTrusted}), nil, applies},
		{"passkey devices excluded", devs(nil, []string{DeviceBoundPasskey}), passkeyDevice, notApplied(ReasonDeviceExcluded, DeviceBoundPasskey)},
		{"passkey devices only, none", devs([]string{DeviceBoundPasskey}, nil), nil, notApplied(ReasonDeviceNotIncluded, "")},
		{"passkey devices only, passkey", devs([]string{DeviceBoundPasskey}, nil), passkeyDevice, applies},
		{"passkey or trusted, trusted", devs([]string{DeviceBoundPasskey, DeviceTrusted}, nil), trusted, applies},
		{"trusted included and excluded", devs([]string{DeviceTrusted}, []string{DeviceTrusted}), trusted, notApplied(ReasonDeviceExcluded, DeviceTrusted)},

		// Order: the first condition that excludes is reported.
		{"users before apps", func(p *Policy) {
			p.Users.Exclude = []string{"alice"}
			p.Apps = Apps{Include: []string{"gitlab"}}
		}, nil, notApplied(ReasonUserExcluded, "alice")},
		{"apps before locations", func(p *Policy) {
			p.Apps = Apps{Include: []string{"gitlab"}}
			p.Conditions.Locations.Include = []string{"Office"}
		}, nil, notApplied(ReasonAppNotIncluded, "grafana")},
		{"client before location", func(p *Policy) {
			p.Conditions.ClientTypes = []ClientType{ClientLegacy}
			p.Conditions.Locations.Include = []string{"Office"}
		}, nil, notApplied(ReasonClientType, "browser")},
		{"location before device", func(p *Policy) {
			p.Conditions.Locations.Include = []string{"Office"}
			p.Conditions.Devices.Include = []string{DeviceTrusted}
		}, nil, notApplied(ReasonLocationNotIncluded, "")},

		// Grants.
		{"block", func(p *Policy) { p.Grant = Grant{Block: true} }, nil, want{outcome: OutcomeBlock}},
		{"strength met", nil, meets(StrengthPasswordlessMFA), want{outcome: OutcomeSatisfied}},
		{"strength not met", nil, meets(StrengthMFA), applies},
		{"MFA", func(p *Policy) { p.Grant = Grant{MFA: true} }, meets(StrengthMFA), want{outcome: OutcomeSatisfied}},
		{"MFA not met", func(p *Policy) { p.Grant = Grant{MFA: true} }, nil, applies},

		// Sign-in frequency.
		{"every time, fresh ceremony", freq(Frequency{EveryTime: true}), meets(StrengthPasswordlessMFA), want{outcome: OutcomeSatisfied}},
		{"every time, earlier ceremony", freq(Frequency{EveryTime: true}), session(time.Minute), want{outcome: OutcomeStepUp, reauth: true}},
		{"12 hours, 11 hours ago", freq(Frequency{Hours: 12}), session(11 * time.Hour), want{outcome: OutcomeSatisfied}},
		{"12 hours, exactly 12 hours ago", freq(Frequency{Hours: 12}), session(12 * time.Hour), want{outcome: OutcomeSatisfied}},
		{"12 hours, 13 hours ago", freq(Frequency{Hours: 12}), session(13 * time.Hour), want{outcome: OutcomeStepUp, reauth: true}},
		{"2 days, 47 hours ago", freq(Frequency{Days: 2}), session(47 * time.Hour), want{outcome: OutcomeSatisfied}},
		{"2 days, 49 hours ago", freq(Frequency{Days: 2}), session(49 * time.Hour), want{outcome: OutcomeStepUp, reauth: true}},
		{"frequency, no ceremony yet", freq(Frequency{Days: 1}), func(c *Context) {
			c.Fresh, c.AuthTime, c.Satisfies = false, time.Time{}, satisfies(StrengthPasswordlessMFA)
		}, want{outcome: OutcomeStepUp, reauth: true}},
		{"frequency and unmet strength", freq(Frequency{Hours: 1}), func(c *Context) {
			c.Fresh, c.AuthTime = false, t0.Add(-2*time.Hour)
		}, want{outcome: OutcomeStepUp, unmet: true, reauth: true}},
		{"frequency alone", func(p *Policy) {
			p.Grant = Grant{}
			p.Session.SignInFrequency = &Frequency{Hours: 8}
		}, func(c *Context) { c.Fresh, c.AuthTime = false, t0.Add(-9*time.Hour) }, want{outcome: OutcomeStepUp, reauth: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			c := baseContext()
			if tt.ctx != nil {
				tt.ctx(&c)
			}
			set := mustCompile(t, Document{Locations: testLocations(), Policies: []Policy{p}})
			d := set.Evaluate(c)
			if len(d.Results) != 1 {
				t.Fatalf("got %d results", len(d.Results))
			}
			r := d.Results[0]
			got := want{outcome: r.Outcome, reason: r.Reason.Code, detail: r.Reason.Detail, unmet: r.Unmet, reauth: r.Reauth}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if r.Policy != "P" || r.State != p.State {
				t.Errorf("result names %q/%q", r.Policy, r.State)
			}
			if r.Outcome == OutcomeNotApplied && r.Reason.String() == "" {
				t.Errorf("no words for reason %q", r.Reason.Code)
			}
			if r.Applied() && p.Grant.RequiredStrength() != r.Strength {
				t.Errorf("strength %q, want %q", r.Strength, p.Grant.RequiredStrength())
			}
		})
	}
}

func locs(include, exclude []string) func(*Policy) {
	return func(p *Policy) { p.Conditions.Locations = IncludeExclude{include, exclude} }
}

func devs(include, exclude []string) func(*Policy) {
	return func(p *Policy) { p.Conditions.Devices = IncludeExclude{include, exclude} }
}

func freq(f Frequency) func(*Policy) {
	return func(p *Policy) { p.Session.SignInFrequency = &f }
}

func ip(a netip.Addr) func(*Context) { return func(c *Context) { c.IP = a } }

func country(cc string) func(*Context) { return func(c *Context) { c.Country = cc } }

func trusted(c *Context) { c.Device.Trusted = true }

func passkeyDevice(c *Context) { c.Device.BoundPasskey = true }

func meets(strengths ...string) func(*Context) {
	return func(c *Context) { c.Satisfies = satisfies(strengths...) }
}

// session: the user authenticated with a passkey some time ago, not in
// this sign-in.
func session(ago time.Duration) func(*Context) {
	return func(c *Context) {
		c.Fresh, c.AuthTime, c.Satisfies = false, t0.Add(-ago), satisfies(StrengthPasswordlessMFA)
	}
}

// TestEvaluateCombined checks how policies add up: every applicable "on"
// policy must be satisfied, block wins, report-only never enforces.
func TestEvaluateCombined(t *testing.T) {
	passkey := basePolicy()
	passkey.Name = "passkey"
	mfa := basePolicy()
	mfa.Name, mfa.Grant = "mfa", Grant{MFA: true}
	block := basePolicy()
	block.Name, block.Grant = "block", Grant{Block: true}
	block2 := block
	block2.Name = "block-2"
	offBlock := block
	offBlock.Name, offBlock.State = "off-block", StateOff
	reportBlock := block
	reportBlock.Name, reportBlock.State = "report-block", StateReportOnly
	reportPR := basePolicy()
	reportPR.Name, reportPR.State, reportPR.Grant = "report-pr", StateReportOnly, Grant{Strength: StrengthPhishingResistant}
	notMine := block
	notMine.Name, notMine.Users = "not-mine", Users{Include: []string{"bob"}}
	freq12 := basePolicy()
	freq12.Name, freq12.Grant, freq12.Session.SignInFrequency = "freq-12h", Grant{}, &Frequency{Hours: 12}
	freq2d := freq12
	freq2d.Name, freq2d.Session.SignInFrequency = "freq-2d", &Frequency{Days: 2}
	freqEvery := freq12
	freqEvery.Name, freqEvery.Session.SignInFrequency = "freq-every", &Frequency{EveryTime: true}
	reportFreq := freqEvery
	reportFreq.Name, reportFreq.State = "report-freq", StateReportOnly

	tests := []struct {
		name      string
		policies  []Policy
		ctx       func(*Context)
		access    Access
		blockedBy string
		strengths []string
		unmet     []string
		reauth    bool
		every     bool
		maxAge    time.Duration
	}{
		{name: "no policies", access: AccessAllow},
		{name: "one unmet", policies: []Policy{passkey}, access: AccessStepUp, strengths: []string{StrengthPasswordlessMFA}, unmet: []string{StrengthPasswordlessMFA}},
		{name: "all must be satisfied", policies: []Policy{mfa, passkey}, ctx: meets(StrengthMFA), access: AccessStepUp,
			strengths: []string{StrengthMFA, StrengthPasswordlessMFA}, unmet: []string{StrengthPasswordlessMFA}},
		{name: "all satisfied", policies: []Policy{mfa, passkey}, ctx: meets(StrengthMFA, StrengthPasswordlessMFA), access: AccessAllow,
			strengths: []string{StrengthMFA, StrengthPasswordlessMFA}},
		{name: "same strength twice", policies: []Policy{passkey, func() Policy { p := passkey; p.Name = "passkey-2"; return p }()}, access: AccessStepUp,
			strengths: []string{StrengthPasswordlessMFA}, unmet: []string{StrengthPasswordlessMFA}},
		{name: "block wins over step-up", policies: []Policy{passkey, block}, access: AccessBlock, blockedBy: "block",
			strengths: []string{StrengthPasswordlessMFA}, unmet: []string{StrengthPasswordlessMFA}},
		{name: "block wins over satisfied", policies: []Policy{mfa, block}, ctx: meets(StrengthMFA), access: AccessBlock, blockedBy: "block",
			strengths: []string{StrengthMFA}},
		{name: "first block is named", policies: []Policy{block2, block}, access: AccessBlock, blockedBy: "block-2"},
		{name: "off does not block", policies: []Policy{offBlock}, access: AccessAllow},
		{name: "report-only block never enforces", policies: []Policy{reportBlock}, access: AccessAllow},
		{name: "report-only strength never enforces", policies: []Policy{reportPR, mfa}, ctx: meets(StrengthMFA), access: AccessAllow, strengths: []string{StrengthMFA}},
		{name: "block of another user", policies: []Policy{notMine}, access: AccessAllow},
		{name: "strictest frequency", policies: []Policy{freq2d, freq12}, ctx: session(13 * time.Hour), access: AccessStepUp, reauth: true, maxAge: 12 * time.Hour},
		{name: "frequency within", policies: []Policy{freq2d, freq12}, ctx: session(time.Hour), access: AccessAllow, maxAge: 12 * time.Hour},
		{name: "every time", policies: []Policy{freq12, freqEvery}, ctx: session(time.Minute), access: AccessStepUp, reauth: true, every: true, maxAge: 12 * time.Hour},
		{name: "every time, fresh", policies: []Policy{freqEvery}, access: AccessAllow, every: true},
		{name: "report-only frequency never enforces", policies: []Policy{reportFreq}, ctx: session(time.Minute), access: AccessAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseContext()
			if tt.ctx != nil {
				tt.ctx(&c)
			}
			d := mustCompile(t, Document{Policies: tt.policies}).Evaluate(c)
			if d.Access != tt.access || d.BlockedBy != tt.blockedBy || d.Reauth != tt.reauth || d.EveryTime != tt.every || d.MaxAuthAge != tt.maxAge {
				t.Errorf("got access %s blockedBy %q reauth %v every %v maxAge %v, want %s %q %v %v %v",
					d.Access, d.BlockedBy, d.Reauth, d.EveryTime, d.MaxAuthAge, tt.access, tt.blockedBy, tt.reauth, tt.every, tt.maxAge)
			}
			if !slices.Equal(d.Strengths, tt.strengths) || !slices.Equal(d.Unmet, tt.unmet) {
				t.Errorf("strengths %q unmet %q, want %q %q", d.Strengths, d.Unmet, tt.strengths, tt.unmet)
			}
			if d.Allowed() != (tt.access == AccessAllow) {
				t.Errorf("Allowed() = %v", d.Allowed())
			}
			if len(d.Results) != len(tt.policies) {
				t.Fatalf("%d results for %d policies", len(d.Results), len(tt.policies))
			}
			for i, r := range d.Results {
				if r.Policy != tt.policies[i].Name {
					t.Errorf("result %d is for %q, want %q (evaluation order)", i, r.Policy, tt.policies[i].Name)
				}
			}
		})
	}
}

// TestReportOnlyIsRecorded: a report-only policy that would block shows as
// such in the results (what the sign-in log keeps), while the sign-in goes
// through.
func TestReportOnlyIsRecorded(t *testing.T) {
	p := basePolicy()
	p.State = StateReportOnly
	p.Conditions.Locations = IncludeExclude{Include: []string{LocationAny}, Exclude: []string{LocationTrusted}}
	b := basePolicy()
	b.Name, b.State, b.Grant = "B", StateReportOnly, Grant{Block: true}
	set := mustCompile(t, Document{Locations: testLocations(), Policies: []Policy{p, b}})

	c := baseContext()
	c.Satisfies = satisfies(StrengthMFA) // password + TOTP
	d := set.Evaluate(c)
	if d.Access != AccessAllow {
		t.Fatalf("report-only changed the outcome: %s", d.Access)
	}
	if got := d.Results[0].Label(); got != "report-only: would require Passwordless MFA" {
		t.Errorf("label %q", got)
	}
	if got := d.Results[1].Label(); got != "report-only: would block" {
		t.Errorf("label %q", got)
	}
	if got := d.Policies(StateReportOnly, OutcomeStepUp); !slices.Equal(got, []string{"P"}) {
		t.Errorf("Policies(report-only, step-up) = %q", got)
	}

	c.IP = ipOffice
	d = set.Evaluate(c)
	if got := d.Results[0].Label(); got != "report-only: not applied" {
		t.Errorf("from the office: label %q", got)
	}
	if got := d.Results[0].Reason.String(); got != "trusted locations are excluded" {
		t.Errorf("reason %q", got)
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{State: StateOff, Outcome: OutcomeNotApplied}, "off"},
		{Result{State: StateOn, Outcome: OutcomeNotApplied}, "not applied"},
		{Result{State: StateOn, Outcome: OutcomeSatisfied}, "success"},
		{Result{State: StateOn, Outcome: OutcomeBlock}, "blocked"},
		{Result{State: StateOn, Outcome: OutcomeStepUp, Strength: "MFA", Unmet: true}, "requires MFA"},
		{Result{State: StateOn, Outcome: OutcomeStepUp, Strength: "MFA", Reauth: true}, "requires a fresh sign-in"},
		{Result{State: StateOn, Outcome: OutcomeStepUp, Strength: "MFA", Unmet: true, Reauth: true}, "requires MFA and a fresh sign-in"},
		{Result{State: StateReportOnly, Outcome: OutcomeSatisfied}, "report-only: success"},
		{Result{State: StateReportOnly, Outcome: OutcomeBlock}, "report-only: would block"},
		{Result{State: StateReportOnly, Outcome: OutcomeStepUp, Strength: "MFA", Unmet: true}, "report-only: would require MFA"},
		{Result{State: StateReportOnly, Outcome: OutcomeNotApplied}, "report-only: not applied"},
	}
	for _, tt := range tests {
		if got := tt.r.Label(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.r, got, tt.want)
		}
	}
	for _, code := range []ReasonCode{ReasonOff, ReasonUserNotIncluded, ReasonUserExcluded, ReasonGroupExcluded, ReasonRoleExcluded,
		ReasonAppNotIncluded, ReasonAppExcluded, ReasonNotAction, ReasonAction, ReasonClientType, ReasonLocationNotIncluded,
		ReasonLocationExcluded, ReasonDeviceNotIncluded, ReasonDeviceExcluded} {
		if s := (Reason{Code: code, Detail: "x"}).String(); s == string(code) || strings.TrimSpace(s) == "" {
			t.Errorf("reason %s has no words: %q", code, s)
		}
	}
}

// TestSatisfiesAskedOncePerStrength: the methods policy may do real work
// per question; ask about each strength once per sign-in.
func TestSatisfiesAskedOncePerStrength(t *testing.T) {
	var policies []Policy
	for i := range 10 {
		p := basePolicy()
		p.Name = "P" + string(rune('a'+i))
		if i%2 == 0 {
			p.Grant = Grant{MFA: true}
		}
		policies = append(policies, p)
	}
	asked := map[string]int{}
	c := baseContext()
	c.Satisfies = func(s string) bool { asked[s]++; return s == StrengthMFA }
	d := mustCompile(t, Document{Policies: policies}).Evaluate(c)
	if asked[StrengthMFA] != 1 || asked[StrengthPasswordlessMFA] != 1 {
		t.Errorf("asked %v", asked)
	}
	if !slices.Equal(d.Unmet, []string{StrengthPasswordlessMFA}) {
		t.Errorf("unmet %q", d.Unmet)
	}
}

func TestEvaluatePolicyAsIfOn(t *testing.T) {
	p := basePolicy()
	p.State = StateOff
	set := mustCompile(t, Document{Policies: []Policy{p}})
	r, ok := set.EvaluatePolicy("P", baseContext())
	if !ok || r.Outcome != OutcomeStepUp || r.State != StateOff {
		t.Errorf("EvaluatePolicy = %+v, %v", r, ok)
	}
	if _, ok := set.EvaluatePolicy("nope", baseContext()); ok {
		t.Error("found a policy that does not exist")
	}
}

// TestManyGroupsAndLocations crosses the sizes where bitsets spill out of
// their inline buffers.
func TestManyGroupsAndLocations(t *testing.T) {
	var doc Document
	for i := range 300 {
		doc.Locations = append(doc.Locations, Location{Name: "L" + itoa3(i), Ranges: []string{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24).String()}})
	}
	var groups []string
	for i := range 200 {
		groups = append(groups, "g"+itoa3(i))
	}
	p := basePolicy()
	p.Users = Users{IncludeGroups: groups[:150], ExcludeGroups: []string{"g199"}}
	p.Conditions.Locations = IncludeExclude{Include: []string{"L299"}}
	doc.Policies = []Policy{p}
	set := mustCompile(t, doc)

	c := baseContext()
	c.Groups = []string{"g149"}
	c.IP = netip.AddrFrom4([4]byte{10, 1, 43, 5}) // L299 is 10.1.43.0/24
	if r := set.Evaluate(c).Results[0]; r.Outcome != OutcomeStepUp {
		t.Errorf("got %+v", r)
	}
	c.Groups = []string{"g149", "g199"}
	if r := set.Evaluate(c).Results[0]; r.Reason != (Reason{ReasonGroupExcluded, "g199"}) {
		t.Errorf("got %+v", r)
	}
	c.Groups = []string{"g150"}
	if r := set.Evaluate(c).Results[0]; r.Reason.Code != ReasonUserNotIncluded {
		t.Errorf("got %+v", r)
	}
	c.Groups = []string{"g001"}
	c.IP = netip.AddrFrom4([4]byte{10, 1, 42, 5})
	if r := set.Evaluate(c).Results[0]; r.Reason.Code != ReasonLocationNotIncluded {
		t.Errorf("got %+v", r)
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}
