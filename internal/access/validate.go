package access

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// FieldError is one thing wrong with a document, named by its path in the
// YAML file ("policies[2].conditions.locations.include[0]") and, when the
// document came from a file, its line.
type FieldError struct {
	Path    string
	Line    int
	Message string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Invalid is every problem found in a document. Nothing of a document with
// problems is saved or imported.
type Invalid []*FieldError

func (v Invalid) Error() string {
	if len(v) == 1 {
		return v[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(v))
	for _, e := range v {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Known tells validation which names exist outside Conditional Access. A
// nil function means "do not check"; except Strengths, where nil means only
// the built-in strengths exist (a policy demanding a strength nobody can
// satisfy would lock its users out). Strengths resolves an ID or display
// name to the ID (see StrengthResolver).
type Known struct {
	Users     func(username string) bool
	Groups    func(name string) bool
	Apps      func(id string) bool
	Strengths func(idOrName string) (id string, ok bool)
}

func (k Known) strength(s string) (string, bool) {
	if k.Strengths != nil {
		return k.Strengths(s)
	}
	return StrengthResolver(nil)(s)
}

func builtinIDs() string {
	var ids []string
	for _, n := range BuiltinStrengths {
		ids = append(ids, n.ID)
	}
	return strings.Join(ids, ", ")
}

// Limits on sizes, so a document stays small enough to read on every
// sign-in and to evaluate in microseconds.
const (
	MaxPolicies       = 500
	MaxLocations      = 500
	MaxRangesTotal    = 20000
	MaxListLength     = 2000
	maxNameLength     = 128
	maxDescriptionLen = 1000
)

// Validate checks a document and returns it normalised (names trimmed,
// usernames lower-case, country codes upper-case, ranges in canonical
// form), with warnings about things that are allowed but probably not
// meant. Any problem makes err an Invalid listing all of them.
func Validate(doc Document, known Known) (Document, []string, error) {
	v := &validator{known: known}
	d := doc.Clone()
	v.locations(d.Locations)
	v.policies(&d)
	if len(v.errs) > 0 {
		return doc, nil, v.errs
	}
	return d, v.warnings, nil
}

type validator struct {
	known    Known
	errs     Invalid
	warnings []string
	locNames map[string]bool // by lower-case name
}

func (v *validator) fail(path, format string, args ...any) {
	if len(v.errs) < 200 {
		v.errs = append(v.errs, &FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

func (v *validator) warn(format string, args ...any) {
	v.warnings = append(v.warnings, fmt.Sprintf(format, args...))
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// name checks a display name: not empty, not too long, no control
// characters.
func (v *validator) name(path string, s *string, what string) bool {
	*s = strings.TrimSpace(*s)
	switch {
	case *s == "":
		v.fail(path, "a %s needs a name", what)
	case len(*s) > maxNameLength:
		v.fail(path, "a %s name must be at most %d characters", what, maxNameLength)
	case strings.ContainsFunc(*s, unicode.IsControl):
		v.fail(path, "a %s name must not contain control characters", what)
	default:
		return true
	}
	return false
}

func (v *validator) list(path string, l []string) bool {
	if len(l) > MaxListLength {
		v.fail(path, "at most %d entries are allowed", MaxListLength)
		return false
	}
	return true
}

func (v *validator) locations(locs []Location) {
	if len(locs) > MaxLocations {
		v.fail("locations", "at most %d named locations are allowed", MaxLocations)
		return
	}
	v.locNames = map[string]bool{}
	type owned struct {
		p   netip.Prefix
		loc int
	}
	var all []owned
	for i := range locs {
		l := &locs[i]
		path := idx("locations", i)
		if v.name(path+".name", &l.Name, "named location") {
			key := strings.ToLower(l.Name)
			switch {
			case key == LocationAny || key == LocationTrusted:
				v.fail(path+".name", "%q is a keyword for policies and cannot name a location", l.Name)
			case v.locNames[key]:
				v.fail(path+".name", "another named location is already called %q", l.Name)
			}
			v.locNames[key] = true
		}
		switch {
		case len(l.Ranges) > 0 && len(l.Countries) > 0:
			v.fail(path, "a named location has either ranges or countries, not both; make two locations")
		case len(l.Ranges) == 0 && len(l.Countries) == 0:
			v.fail(path, "a named location needs ranges (CIDR prefixes) or countries (two-letter codes)")
		}
		if l.Trusted && len(l.Ranges) == 0 {
			v.fail(path+".trusted", "only IP-range locations can be trusted, not countries")
		}
		if l.IncludeUnknown && len(l.Countries) == 0 {
			v.fail(path+".include_unknown", "include_unknown is for country locations")
		}
		if !v.list(path+".ranges", l.Ranges) || !v.list(path+".countries", l.Countries) {
			continue
		}
		var mine []netip.Prefix
		for j, r := range l.Ranges {
			rp := idx(path+".ranges", j)
			p, err := ParseRange(r)
			if err != nil {
				v.fail(rp, "%v", err)
				continue
			}
			for k, q := range mine {
				if q.Overlaps(p) {
					v.fail(rp, "%s overlaps %s (%s) in the same location; remove one", p, q, idx(path+".ranges", k))
				}
			}
			mine = append(mine, p)
			l.Ranges[j] = p.String()
		}
		for _, p := range mine {
			all = append(all, owned{p, i})
		}
		if len(all) > MaxRangesTotal {
			v.fail("locations", "at most %d ranges are allowed in all named locations together", MaxRangesTotal)
			return
		}
		seen := map[string]bool{}
		for j, c := range l.Countries {
			cp := idx(path+".countries", j)
			c = strings.ToUpper(strings.TrimSpace(c))
			if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
				v.fail(cp, "%q is not a two-letter ISO 3166 country code (e.g. DE, US)", l.Countries[j])
				continue
			}
			if seen[c] {
				v.fail(cp, "%s is listed twice", c)
			}
			seen[c] = true
			l.Countries[j] = c
		}
	}
	// Ranges of different locations may overlap (an office inside a
	// provider's block): an address is then in both. Worth a warning when
	// only one of them is trusted.
	for i := 0; i < len(all); i++ {
		for j := i + 1; j < len(all); j++ {
			a, b := all[i], all[j]
			if a.loc != b.loc && a.p.Overlaps(b.p) {
				la, lb := locs[a.loc], locs[b.loc]
				note := ""
				if la.Trusted != lb.Trusted {
					note = "; addresses in both count as trusted"
				}
				v.warn("named locations %q (%s) and %q (%s) overlap%s", la.Name, a.p, lb.Name, b.p, note)
			}
		}
	}
}

// ParseRange parses one IP range: a CIDR prefix, or a bare address meaning
// just that address. A prefix with bits set past its length is refused
// rather than silently widened, because it is almost always a typo.
func ParseRange(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix (e.g. 203.0.113.0/24)", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q is not a valid CIDR prefix (e.g. 203.0.113.0/24 or 2001:db8::/32)", s)
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("%q: write IPv4 ranges in IPv4 form (e.g. 203.0.113.0/24)", s)
	}
	if m := p.Masked(); m != p {
		return p, fmt.Errorf("%q has address bits set past the /%d; did you mean %s?", s, p.Bits(), m)
	}
	return p, nil
}

func (v *validator) policies(d *Document) {
	if len(d.Policies) > MaxPolicies {
		v.fail("policies", "at most %d policies are allowed", MaxPolicies)
		return
	}
	names := map[string]int{}
	for i := range d.Policies {
		p := &d.Policies[i]
		path := idx("policies", i)
		if v.name(path+".name", &p.Name, "policy") {
			key := strings.ToLower(p.Name)
			if j, dup := names[key]; dup {
				v.fail(path+".name", "policies[%d] is already called %q; policy names must be unique", j, p.Name)
			}
			names[key] = i
		}
		p.Description = strings.TrimSpace(p.Description)
		if len(p.Description) > maxDescriptionLen {
			v.fail(path+".description", "at most %d characters", maxDescriptionLen)
		}
		switch p.State {
		case StateOn, StateOff, StateReportOnly:
		case "":
			v.fail(path+".state", "state is required: on, off or report-only")
		default:
			v.fail(path+".state", "%q is not a state: use on, off or report-only", p.State)
		}
		v.users(path+".users", &p.Users)
		v.apps(path+".apps", &p.Apps)
		v.conditions(path+".conditions", &p.Conditions)
		v.grant(path, p)
		v.lockout(p)
	}
}

func (v *validator) users(path string, u *Users) {
	names := func(field string, l []string, check func(string) bool, what string) {
		if !v.list(path+"."+field, l) {
			return
		}
		for i := range l {
			fp := idx(path+"."+field, i)
			l[i] = strings.TrimSpace(l[i])
			if what == "user" {
				l[i] = strings.ToLower(l[i])
			}
			switch {
			case l[i] == "":
				v.fail(fp, "empty %s name", what)
			case check != nil && !check(l[i]):
				v.fail(fp, "there is no %s %q", what, l[i])
			}
		}
	}
	roles := func(field string, l []string) {
		for i := range l {
			l[i] = strings.ToLower(strings.TrimSpace(l[i]))
			if l[i] != RoleAdmin {
				v.fail(idx(path+"."+field, i), "%q is not a role (the one role is %q)", l[i], RoleAdmin)
			}
		}
	}
	names("include", u.Include, v.known.Users, "user")
	names("exclude", u.Exclude, v.known.Users, "user")
	names("include_groups", u.IncludeGroups, v.known.Groups, "group")
	names("exclude_groups", u.ExcludeGroups, v.known.Groups, "group")
	roles("include_roles", u.IncludeRoles)
	roles("exclude_roles", u.ExcludeRoles)
	if !u.All && len(u.Include) == 0 && len(u.IncludeGroups) == 0 && len(u.IncludeRoles) == 0 {
		v.fail(path, "say whom the policy is for: all: true, or include, include_groups or include_roles")
	}
}

func (v *validator) apps(path string, a *Apps) {
	if !v.list(path+".include", a.Include) || !v.list(path+".exclude", a.Exclude) {
		return
	}
	for _, f := range []struct {
		field string
		l     []string
	}{{"include", a.Include}, {"exclude", a.Exclude}} {
		for i := range f.l {
			f.l[i] = strings.TrimSpace(f.l[i])
			fp := idx(path+"."+f.field, i)
			switch {
			case f.l[i] == "":
				v.fail(fp, "empty app ID")
			case f.l[i] == AppSesame || f.l[i] == AppSesameAdmin:
			case v.known.Apps != nil && !v.known.Apps(f.l[i]):
				v.fail(fp, "there is no app with client ID %q", f.l[i])
			}
		}
	}
	for i := range a.Actions {
		a.Actions[i] = strings.TrimSpace(a.Actions[i])
		if a.Actions[i] != ActionRegisterSecurityInfo {
			v.fail(idx(path+".actions", i), "%q is not a user action (the one action is %q)", a.Actions[i], ActionRegisterSecurityInfo)
		}
	}
	switch {
	case len(a.Actions) > 0 && (a.All || len(a.Include) > 0 || len(a.Exclude) > 0):
		v.fail(path, "a policy is about apps or about user actions, not both: remove actions, or all/include/exclude")
	case len(a.Actions) == 0 && !a.All && len(a.Include) == 0:
		v.fail(path, "say which apps the policy is for: all: true, include (client IDs), or actions")
	}
}

func (v *validator) conditions(path string, c *Conditions) {
	lp := path + ".locations"
	for _, f := range []struct {
		field string
		l     []string
	}{{"include", c.Locations.Include}, {"exclude", c.Locations.Exclude}} {
		if !v.list(lp+"."+f.field, f.l) {
			continue
		}
		for i := range f.l {
			f.l[i] = strings.TrimSpace(f.l[i])
			fp := idx(lp+"."+f.field, i)
			switch key := strings.ToLower(f.l[i]); {
			case key == LocationAny:
				f.l[i] = LocationAny
				if f.field == "exclude" {
					v.fail(fp, "excluding any location means the policy never applies; turn it off instead")
				}
			case key == LocationTrusted:
				f.l[i] = LocationTrusted
			case !v.locNames[key]:
				v.fail(fp, "there is no named location %q", f.l[i])
			}
		}
	}
	for i, t := range c.ClientTypes {
		if t != ClientBrowser && t != ClientLegacy {
			v.fail(idx(path+".client_types", i), "%q is not a client type: use browser or legacy", t)
		}
	}
	dp := path + ".devices"
	for _, f := range []struct {
		field string
		l     []string
	}{{"include", c.Devices.Include}, {"exclude", c.Devices.Exclude}} {
		for i := range f.l {
			f.l[i] = strings.TrimSpace(f.l[i])
			if f.l[i] != DeviceBoundPasskey && f.l[i] != DeviceTrusted {
				v.fail(idx(dp+"."+f.field, i), "%q is not a device state: use %s or %s", f.l[i], DeviceBoundPasskey, DeviceTrusted)
			}
		}
	}
}

func (v *validator) grant(path string, p *Policy) {
	g := &p.Grant
	g.Strength = strings.TrimSpace(g.Strength)
	n := 0
	for _, set := range []bool{g.Block, g.MFA, g.Strength != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		v.fail(path+".grant", "choose one of block, mfa or strength")
	}
	if g.Strength != "" {
		if id, ok := v.known.strength(g.Strength); ok {
			g.Strength = id
		} else {
			v.fail(path+".grant.strength", "there is no authentication strength %q (built in: %s)", g.Strength, builtinIDs())
		}
	}
	f := p.Session.SignInFrequency
	if f != nil {
		fp := path + ".session.sign_in_frequency"
		m := 0
		for _, set := range []bool{f.EveryTime, f.Hours != 0, f.Days != 0} {
			if set {
				m++
			}
		}
		switch {
		case m != 1:
			v.fail(fp, "set one of every_time: true, hours (1 to 23) or days (1 to 365)")
		case f.Hours < 0 || f.Hours > 23:
			v.fail(fp+".hours", "hours must be 1 to 23 (use days for longer)")
		case f.Days < 0 || f.Days > 365:
			v.fail(fp+".days", "days must be 1 to 365")
		}
		if g.Block {
			v.fail(fp, "a blocking policy has no sessions to limit; remove the sign-in frequency")
		}
	}
	if n == 0 && f == nil {
		v.fail(path+".grant", "a policy must block (block: true), require something (mfa: true or strength: NAME), or set session.sign_in_frequency")
	}
}

// lockout warns about an enforced policy that could lock every user out,
// including whoever would fix it: Entra's "don't lock yourself out".
func (v *validator) lockout(p *Policy) {
	if p.State != StateOn || !p.Users.All || len(p.Users.Exclude) > 0 || len(p.Users.ExcludeGroups) > 0 || len(p.Users.ExcludeRoles) > 0 {
		return
	}
	if p.Grant.Block || p.Grant.RequiredStrength() != "" {
		v.warn("policy %q is on for all users with no exclusion: exclude a break-glass account so a mistake cannot lock everyone out", p.Name)
	}
}
