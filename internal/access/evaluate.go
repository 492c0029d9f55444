package access

import (
	"net/netip"
	"strings"
	"time"
)

// Context is one sign-in as Conditional Access sees it. The caller fills it
// from the request, the directory and the session; evaluation reads nothing
// else.
type Context struct {
	Username string
	Groups   []string // names of the user's groups
	Admin    bool     // the user has the admin role
	// App is the client ID signed in to; empty means Sesame itself
	// (AppSesame).
	App string
	// Action is empty for a sign-in to App, or a user action such as
	// ActionRegisterSecurityInfo.
	Action string
	IP     netip.Addr
	// Country is the ISO code of IP from the country database, "" when
	// unknown (see Countries.Country).
	Country string
	// Client is how the app talks to Sesame; empty means browser.
	Client ClientType
	Device Device
	// Now is the time of the sign-in; AuthTime the time of the session's
	// latest authentication ceremony (zero when there is none yet), and
	// Fresh whether that ceremony was done within this sign-in. They decide
	// sign-in frequency.
	Now      time.Time
	AuthTime time.Time
	Fresh    bool
	// Satisfies reports whether the authentication so far meets a
	// strength (the methods policy decides). Nil: nothing is met yet, which
	// is what what-if uses to show every requirement.
	Satisfies func(strength string) bool
}

// Device is what is known about the device signed in from.
type Device struct {
	// BoundPasskey: the user registered a device-bound passkey on this
	// device.
	BoundPasskey bool `json:"device_bound_passkey,omitempty"`
	// Trusted: the user marked this device as trusted.
	Trusted bool `json:"trusted,omitempty"`
}

// Outcome is what one policy came to for one sign-in.
type Outcome string

const (
	// OutcomeNotApplied: the policy is off, or a condition left this
	// sign-in out (Result.Reason says which).
	OutcomeNotApplied Outcome = "not-applied"
	// OutcomeSatisfied: the policy applies and what it demands is met.
	OutcomeSatisfied Outcome = "satisfied"
	// OutcomeBlock: the policy applies and blocks.
	OutcomeBlock Outcome = "block"
	// OutcomeStepUp: the policy applies and demands an authentication the
	// sign-in has not done yet: a stronger method (Result.Unmet) or a fresh
	// ceremony (Result.Reauth).
	OutcomeStepUp Outcome = "step-up"
)

// ReasonCode says which condition left a sign-in out of a policy.
type ReasonCode string

const (
	ReasonOff                 ReasonCode = "off"
	ReasonUserNotIncluded     ReasonCode = "user-not-included"
	ReasonUserExcluded        ReasonCode = "user-excluded"
	ReasonGroupExcluded       ReasonCode = "group-excluded"
	ReasonRoleExcluded        ReasonCode = "role-excluded"
	ReasonAppNotIncluded      ReasonCode = "app-not-included"
	ReasonAppExcluded         ReasonCode = "app-excluded"
	ReasonNotAction           ReasonCode = "not-action"  // the policy is about a user action
	ReasonAction              ReasonCode = "action"      // the policy is about apps; this is a user action
	ReasonClientType          ReasonCode = "client-type" // Detail: the client type
	ReasonLocationNotIncluded ReasonCode = "location-not-included"
	ReasonLocationExcluded    ReasonCode = "location-excluded" // Detail: the location (or "trusted")
	ReasonDeviceNotIncluded   ReasonCode = "device-not-included"
	ReasonDeviceExcluded      ReasonCode = "device-excluded" // Detail: the device state
)

// Reason is the first condition that left a sign-in out of a policy.
type Reason struct {
	Code   ReasonCode `json:"code"`
	Detail string     `json:"detail,omitempty"`
}

// String is the reason in words, for what-if and the sign-in log.
func (r Reason) String() string {
	d := r.Detail
	switch r.Code {
	case ReasonOff:
		return "the policy is off"
	case ReasonUserNotIncluded:
		return "user " + orUnknown(d) + " is not included"
	case ReasonUserExcluded:
		return "user " + orUnknown(d) + " is excluded"
	case ReasonGroupExcluded:
		return "excluded as a member of group " + d
	case ReasonRoleExcluded:
		return "excluded as an admin"
	case ReasonAppNotIncluded:
		return "app " + d + " is not included"
	case ReasonAppExcluded:
		return "app " + d + " is excluded"
	case ReasonNotAction:
		return "the policy is about user actions, not app sign-ins"
	case ReasonAction:
		return "the policy is about app sign-ins, not the " + d + " action"
	case ReasonClientType:
		return "client type " + d + " is not included"
	case ReasonLocationNotIncluded:
		return "the location is not included"
	case ReasonLocationExcluded:
		if d == LocationTrusted {
			return "trusted locations are excluded"
		}
		return "location " + d + " is excluded"
	case ReasonDeviceNotIncluded:
		return "the device is not included"
	case ReasonDeviceExcluded:
		return d + " devices are excluded"
	}
	return string(r.Code)
}

func orUnknown(s string) string {
	if s == "" {
		return "(not identified)"
	}
	return s
}

// Result is what one policy came to for one sign-in. It is also what the
// sign-in record keeps for every policy, report-only ones included.
type Result struct {
	Policy  string  `json:"policy"`
	State   State   `json:"state"`
	Outcome Outcome `json:"outcome"`
	// Reason is set when the policy did not apply.
	Reason Reason `json:"reason,omitzero"`
	// Strength is the strength the policy demands (when it applies).
	Strength string `json:"strength,omitempty"`
	// Unmet: the sign-in did not (yet) satisfy Strength.
	Unmet bool `json:"unmet,omitempty"`
	// Reauth: the sign-in frequency demands a fresh ceremony.
	Reauth bool `json:"reauth,omitempty"`
}

// Applied reports whether the policy applied to the sign-in.
func (r Result) Applied() bool { return r.Outcome != OutcomeNotApplied }

// Label is the result in a few words, as the sign-in log shows it:
// "not applied", "success", "blocked", "requires Passwordless MFA", and for
// report-only policies "report-only: would block" and the like.
func (r Result) Label() string {
	var s string
	switch r.Outcome {
	case OutcomeNotApplied:
		if r.State == StateOff {
			return "off"
		}
		s = "not applied"
	case OutcomeSatisfied:
		s = "success"
	case OutcomeBlock:
		s = "blocked"
		if r.State == StateReportOnly {
			s = "would block"
		}
	case OutcomeStepUp:
		s = "requires "
		if r.State == StateReportOnly {
			s = "would require "
		}
		switch {
		case r.Unmet && r.Reauth:
			s += StrengthLabel(r.Strength) + " and a fresh sign-in"
		case r.Unmet:
			s += StrengthLabel(r.Strength)
		default:
			s += "a fresh sign-in"
		}
	default:
		s = string(r.Outcome)
	}
	if r.State == StateReportOnly {
		return "report-only: " + s
	}
	return s
}

// Access is the combined verdict of the enforced policies.
type Access string

const (
	AccessAllow  Access = "allow"
	AccessStepUp Access = "step-up"
	AccessBlock  Access = "block"
)

// Decision is the outcome of every policy for one sign-in, combined: every
// applicable "on" policy must be satisfied and block wins. Report-only
// policies are in Results and nowhere else.
type Decision struct {
	Access Access
	// BlockedBy names the first enforced policy that blocks.
	BlockedBy string
	// Strengths are the strengths the applicable enforced policies demand,
	// in policy order without repeats; Unmet those not satisfied yet. To
	// let the sign-in through, the user must meet all of Unmet at once.
	Strengths []string
	Unmet     []string
	// Reauth: a sign-in frequency demands a fresh authentication ceremony.
	Reauth bool
	// EveryTime and MaxAuthAge are the strictest sign-in frequency of the
	// applicable enforced policies: a ceremony every sign-in, or an
	// authentication at most MaxAuthAge old (0: no limit). The OpenID
	// provider can pass this on as max_age.
	EveryTime  bool
	MaxAuthAge time.Duration
	Results    []Result
}

// Allowed reports whether the sign-in may go through as it is.
func (d Decision) Allowed() bool { return d.Access == AccessAllow }

// Policies returns the names of the policies with the given state and
// outcome (state "" for any state).
func (d Decision) Policies(state State, outcome Outcome) []string {
	var names []string
	for _, r := range d.Results {
		if (state == "" || r.State == state) && r.Outcome == outcome {
			names = append(names, r.Policy)
		}
	}
	return names
}

// Evaluate decides one sign-in against the set. It is a pure function of
// the set and c: no clock, no I/O.
func (s *Set) Evaluate(c Context) Decision {
	var pc prepared
	s.prepare(&c, &pc)
	d := Decision{Access: AccessAllow, Results: make([]Result, len(s.policies))}
	var sc strengthCache
	for i := range s.policies {
		p := &s.policies[i]
		r := &d.Results[i]
		r.Policy, r.State = p.name, p.state
		if p.state == StateOff {
			r.Outcome, r.Reason = OutcomeNotApplied, Reason{Code: ReasonOff}
			continue
		}
		s.evaluate(p, &c, &pc, &sc, r)
		if p.state != StateOn || r.Outcome == OutcomeNotApplied {
			continue
		}
		switch r.Outcome {
		case OutcomeBlock:
			if d.Access != AccessBlock {
				d.Access, d.BlockedBy = AccessBlock, p.name
			}
			continue
		case OutcomeStepUp:
			if d.Access != AccessBlock {
				d.Access = AccessStepUp
			}
		}
		if r.Strength != "" {
			d.Strengths = appendNew(d.Strengths, r.Strength)
			if r.Unmet {
				d.Unmet = appendNew(d.Unmet, r.Strength)
			}
		}
		d.Reauth = d.Reauth || r.Reauth
		if p.frequency {
			if p.everyTime {
				d.EveryTime = true
			} else if d.MaxAuthAge == 0 || p.maxAge < d.MaxAuthAge {
				d.MaxAuthAge = p.maxAge
			}
		}
	}
	return d
}

// EvaluatePolicy evaluates the named policy alone, as if it were on
// whatever its state: what it would do if enforced. Replay uses it.
func (s *Set) EvaluatePolicy(name string, c Context) (Result, bool) {
	for i := range s.policies {
		if s.policies[i].name == name {
			var pc prepared
			s.prepare(&c, &pc)
			p := s.policies[i]
			p.state = StateOn
			var r Result
			var sc strengthCache
			r.Policy, r.State = p.name, s.policies[i].state
			s.evaluate(&p, &c, &pc, &sc, &r)
			return r, true
		}
	}
	return Result{}, false
}

// prepared is the sign-in turned into bits once, so that each policy is
// checked with a few word operations.
type prepared struct {
	user    int
	app     int
	groups  bits
	locs    bits
	trusted bool
	gbuf    [2]uint64
	lbuf    [4]uint64
}

func (s *Set) prepare(c *Context, pc *prepared) {
	pc.user, pc.app = -1, -1
	if i, ok := s.users[c.Username]; ok {
		pc.user = i
	}
	app := c.App
	if app == "" {
		app = AppSesame
	}
	if i, ok := s.apps[app]; ok {
		pc.app = i
	}
	if len(c.Groups) > 0 && len(s.groupNames) > 0 {
		if s.groupWords <= len(pc.gbuf) {
			pc.groups = pc.gbuf[:s.groupWords]
		} else {
			pc.groups = make(bits, s.groupWords)
		}
		for _, g := range c.Groups {
			if i, ok := s.groups[g]; ok {
				pc.groups.set(i)
			}
		}
	}
	if len(s.locations) == 0 {
		return
	}
	if s.words <= len(pc.lbuf) {
		pc.locs = pc.lbuf[:s.words]
	} else {
		pc.locs = make(bits, s.words)
	}
	ip := c.IP.Unmap()
	if ip.IsValid() {
		for i := range s.locations {
			l := &s.locations[i]
			for _, p := range l.prefixes {
				if p.Contains(ip) {
					pc.locs.set(i)
					pc.trusted = pc.trusted || l.trusted
					break
				}
			}
		}
	}
	var countries bits
	if c.Country == "" {
		countries = s.unknownLocs
	} else {
		countries = s.countryLocs[strings.ToUpper(c.Country)]
	}
	for w := range countries {
		pc.locs[w] |= countries[w]
	}
}

// evaluate decides one policy (not off) into r.
func (s *Set) evaluate(p *compiled, c *Context, pc *prepared, sc *strengthCache, r *Result) {
	notApplied := func(code ReasonCode, detail string) {
		r.Outcome, r.Reason = OutcomeNotApplied, Reason{Code: code, Detail: detail}
	}
	// Users: exclusion wins over inclusion.
	switch {
	case p.excludeUsers.has(pc.user):
		notApplied(ReasonUserExcluded, c.Username)
		return
	case p.excludeGroups != nil && p.excludeGroups.intersects(pc.groups):
		notApplied(ReasonGroupExcluded, s.groupNames[p.excludeGroups.first(pc.groups)])
		return
	case p.excludeAdmin && c.Admin:
		notApplied(ReasonRoleExcluded, RoleAdmin)
		return
	}
	if !p.allUsers && !p.includeUsers.has(pc.user) && !p.includeGroups.intersects(pc.groups) && !(p.includeAdmin && c.Admin) {
		notApplied(ReasonUserNotIncluded, c.Username)
		return
	}
	// Apps, or the user action.
	if p.action {
		if c.Action != ActionRegisterSecurityInfo {
			notApplied(ReasonNotAction, "")
			return
		}
	} else {
		if c.Action != "" {
			notApplied(ReasonAction, c.Action)
			return
		}
		app := c.App
		if app == "" {
			app = AppSesame
		}
		if p.excludeApps.has(pc.app) {
			notApplied(ReasonAppExcluded, app)
			return
		}
		if !p.allApps && !p.includeApps.has(pc.app) {
			notApplied(ReasonAppNotIncluded, app)
			return
		}
	}
	// Client type.
	if p.clientBrowser || p.clientLegacy {
		legacy := c.Client == ClientLegacy
		if (legacy && !p.clientLegacy) || (!legacy && !p.clientBrowser) {
			client := ClientBrowser
			if legacy {
				client = ClientLegacy
			}
			notApplied(ReasonClientType, string(client))
			return
		}
	}
	// Locations.
	if p.locations {
		switch {
		case p.excludeTrusted && pc.trusted:
			notApplied(ReasonLocationExcluded, LocationTrusted)
			return
		case p.excludeLocs != nil && p.excludeLocs.intersects(pc.locs):
			notApplied(ReasonLocationExcluded, s.locNames[p.excludeLocs.first(pc.locs)])
			return
		case !p.includeAnyLocation && !(p.includeTrusted && pc.trusted) && !p.includeLocs.intersects(pc.locs):
			notApplied(ReasonLocationNotIncluded, "")
			return
		}
	}
	// Device.
	dev := c.Device
	switch {
	case p.excludeDevice.passkey && dev.BoundPasskey:
		notApplied(ReasonDeviceExcluded, DeviceBoundPasskey)
		return
	case p.excludeDevice.trusted && dev.Trusted:
		notApplied(ReasonDeviceExcluded, DeviceTrusted)
		return
	case p.includeDevice.any() && !(p.includeDevice.passkey && dev.BoundPasskey) && !(p.includeDevice.trusted && dev.Trusted):
		notApplied(ReasonDeviceNotIncluded, "")
		return
	}
	// It applies: what does it demand?
	if p.block {
		r.Outcome = OutcomeBlock
		return
	}
	r.Outcome = OutcomeSatisfied
	if p.strength != "" {
		r.Strength = p.strength
		if !sc.satisfies(c.Satisfies, p.strength) {
			r.Unmet, r.Outcome = true, OutcomeStepUp
		}
	}
	if p.frequency && needsReauth(c, p) {
		r.Reauth, r.Outcome = true, OutcomeStepUp
	}
}

// needsReauth applies a sign-in frequency: a ceremony done within this
// sign-in always counts; otherwise the session's authentication must be
// recent enough, and "every time" never accepts an earlier one.
func needsReauth(c *Context, p *compiled) bool {
	switch {
	case c.Fresh:
		return false
	case c.AuthTime.IsZero() || p.everyTime:
		return true
	}
	return c.Now.Sub(c.AuthTime) > p.maxAge
}

// strengthCache asks the caller about each strength once per sign-in.
type strengthCache struct {
	n     int
	names [8]string
	ok    [8]bool
}

func (sc *strengthCache) satisfies(f func(string) bool, strength string) bool {
	if f == nil {
		return false
	}
	for i := range sc.n {
		if sc.names[i] == strength {
			return sc.ok[i]
		}
	}
	ok := f(strength)
	if sc.n < len(sc.names) {
		sc.names[sc.n], sc.ok[sc.n] = strength, ok
		sc.n++
	}
	return ok
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}
