// Package access is Sesame's Conditional Access: policies that say, per
// user, app, location, client and device, whether a sign-in is blocked or
// which authentication strength it needs; named locations; and the pure
// evaluation that what-if, replay, `sesame policy test` and the live sign-in
// flow all share.
//
// The decision logic is plain functions over plain values: a Document (the
// policies and named locations as an admin writes them) is compiled once
// into a Set, and Set.Evaluate(Context) returns a Decision without touching
// a clock, a database or the network. Everything that needs the outside
// world (the store, the audit log, the country database) lives in Service
// and Countries, and only feeds values in.
//
// Users, groups and named locations are referred to by name, so policy
// files read well and diff well in git; apps by client ID; authentication
// strengths by their stable ID ("passwordless-mfa"; a display name such as
// "Passwordless MFA" is accepted on input and stored as the ID). Whether a
// sign-in satisfies a strength is asked of the caller (Context.Satisfies),
// which keeps this package independent of how the methods policy defines
// strengths.
package access

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// State says whether a policy is enforced.
type State string

const (
	// StateOn: the policy is enforced.
	StateOn State = "on"
	// StateOff: the policy is not evaluated.
	StateOff State = "off"
	// StateReportOnly: the policy is evaluated and its outcome recorded,
	// but it never changes whether a sign-in goes through.
	StateReportOnly State = "report-only"
)

// ClientType is how the app talks to Sesame.
type ClientType string

const (
	// ClientBrowser: a browser sign-in (OpenID Connect and Sesame's own pages).
	ClientBrowser ClientType = "browser"
	// ClientLegacy: a legacy protocol that cannot do a passkey ceremony.
	ClientLegacy ClientType = "legacy"
)

// Device states a policy can include or exclude.
const (
	// DeviceBoundPasskey: the user registered a device-bound passkey on the
	// device they sign in from.
	DeviceBoundPasskey = "device-bound-passkey"
	// DeviceTrusted: the user marked the device as trusted (remembered).
	DeviceTrusted = "trusted"
)

// Location keywords usable beside named location names in a policy's
// location condition. They cannot be used as the name of a location.
const (
	// LocationAny matches every address, known or not.
	LocationAny = "any"
	// LocationTrusted matches an address in any IP-range location marked
	// trusted.
	LocationTrusted = "trusted"
)

// Role a policy can include or exclude.
const RoleAdmin = "admin"

// ActionRegisterSecurityInfo is the user action of registering a sign-in
// method (a passkey) for oneself; a policy can protect it instead of apps.
const ActionRegisterSecurityInfo = "register-security-info"

// AppSesame is the app ID of Sesame's own pages for users (My security
// info, /my). A Context whose App is empty means Sesame itself.
const AppSesame = "sesame"

// AppSesameAdmin is the app ID of Sesame's admin console (/admin and the
// admin API).
const AppSesameAdmin = "sesame-admin"

// BuiltinAdminPolicy is the name of the policy every new deployment starts
// with: admins need a passkey for the admin console.
const BuiltinAdminPolicy = "Admin console: passkey for admins"

// AdminConsolePolicy is the built-in policy protecting the admin console.
// It starts in report-only, so that admins who still sign in with a pass
// (or a password) see what it would do before it is switched on; the
// lock-out check (CheckAdminLockout) refuses switching it on while no
// admin could then get in.
func AdminConsolePolicy() Policy {
	return Policy{
		Name:        BuiltinAdminPolicy,
		Description: "Built in: administrators sign in to the admin console with a passkey.",
		State:       StateReportOnly,
		Users:       Users{IncludeRoles: []string{RoleAdmin}},
		Apps:        Apps{Include: []string{AppSesameAdmin}},
		Grant:       Grant{Strength: StrengthPasswordlessMFA},
	}
}

// DefaultDocument is the document in force before any change was saved:
// the built-in admin console policy. Once saved, it is an ordinary policy
// admins can switch on, edit or delete.
func DefaultDocument() Document {
	return Document{Policies: []Policy{AdminConsolePolicy()}}
}

// IDs of the built-in authentication strengths (defined by the methods
// policy, internal/methods).
const (
	StrengthMFA                          = "mfa"
	StrengthPasswordlessMFA              = "passwordless-mfa"
	StrengthPhishingResistant            = "phishing-resistant-mfa"
	StrengthPhishingResistantDeviceBound = "phishing-resistant-mfa-device-bound"
)

// StrengthName is a strength's stable ID and display name.
type StrengthName struct {
	ID   string
	Name string
}

// BuiltinStrengths are the strengths that always exist.
var BuiltinStrengths = []StrengthName{
	{StrengthMFA, "MFA"},
	{StrengthPasswordlessMFA, "Passwordless MFA"},
	{StrengthPhishingResistant, "Phishing-resistant MFA"},
	{StrengthPhishingResistantDeviceBound, "Phishing-resistant MFA (device-bound)"},
}

// StrengthResolver turns what an admin wrote for a strength (its ID, or
// its display name in any case) into its ID.
func StrengthResolver(custom []StrengthName) func(string) (string, bool) {
	all := append(slices.Clone(BuiltinStrengths), custom...)
	return func(s string) (string, bool) {
		s = strings.TrimSpace(s)
		for _, n := range all {
			if n.ID == s {
				return n.ID, true
			}
		}
		for _, n := range all {
			if strings.EqualFold(n.Name, s) || strings.EqualFold(n.ID, s) {
				return n.ID, true
			}
		}
		return "", false
	}
}

// AnyStrength resolves built-in strengths and takes anything else as the
// ID of a custom strength: for files checked where custom strengths are
// not known.
func AnyStrength(s string) (string, bool) {
	if id, ok := StrengthResolver(nil)(s); ok {
		return id, true
	}
	return strings.TrimSpace(s), true
}

// StrengthLabel is how a strength ID reads to people: the display name of
// a built-in one, the ID of any other.
func StrengthLabel(id string) string {
	for _, n := range BuiltinStrengths {
		if n.ID == id {
			return n.Name
		}
	}
	return id
}

// Document is everything Conditional Access keeps: the named locations and
// the policies, in evaluation order. It is stored as one versioned JSON
// value and exchanged as a YAML file.
type Document struct {
	// Version increases by one with every saved change; a save based on an
	// older version is refused, so two admins cannot silently overwrite
	// each other.
	Version   int64      `json:"version" yaml:"-"`
	Locations []Location `json:"locations" yaml:"locations,omitempty"`
	Policies  []Policy   `json:"policies" yaml:"policies,omitempty"`
	UpdatedAt time.Time  `json:"updated_at,omitzero" yaml:"-"`
	UpdatedBy string     `json:"updated_by,omitempty" yaml:"-"`
}

// Location is a named location: either a list of IP ranges (which may be
// marked trusted) or a list of countries.
type Location struct {
	Name string `json:"name" yaml:"name"`
	// Ranges are IPv4 and IPv6 CIDR prefixes ("203.0.113.0/24",
	// "2001:db8::/32"); a bare address means just that address.
	Ranges  []string `json:"ranges,omitempty" yaml:"ranges,omitempty"`
	Trusted bool     `json:"trusted,omitempty" yaml:"trusted,omitempty"`
	// Countries are ISO 3166-1 alpha-2 codes, resolved from the address
	// with the country database.
	Countries []string `json:"countries,omitempty" yaml:"countries,omitempty"`
	// IncludeUnknown makes a country location also match addresses whose
	// country is unknown (no database, or no entry for the address).
	IncludeUnknown bool `json:"include_unknown,omitempty" yaml:"include_unknown,omitempty"`
}

// Policy is one Conditional Access policy.
type Policy struct {
	Name        string     `json:"name" yaml:"name"`
	Description string     `json:"description,omitempty" yaml:"description,omitempty"`
	State       State      `json:"state" yaml:"state"`
	Users       Users      `json:"users" yaml:"users"`
	Apps        Apps       `json:"apps" yaml:"apps"`
	Conditions  Conditions `json:"conditions,omitzero" yaml:"conditions,omitempty"`
	Grant       Grant      `json:"grant,omitzero" yaml:"grant,omitempty"`
	Session     Session    `json:"session,omitzero" yaml:"session,omitempty"`
}

// Users says whom a policy is for. Exclusion always wins over inclusion.
type Users struct {
	All           bool     `json:"all,omitempty" yaml:"all,omitempty"`
	Include       []string `json:"include,omitempty" yaml:"include,omitempty"` // usernames
	IncludeGroups []string `json:"include_groups,omitempty" yaml:"include_groups,omitempty"`
	IncludeRoles  []string `json:"include_roles,omitempty" yaml:"include_roles,omitempty"` // "admin"
	Exclude       []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
	ExcludeGroups []string `json:"exclude_groups,omitempty" yaml:"exclude_groups,omitempty"`
	ExcludeRoles  []string `json:"exclude_roles,omitempty" yaml:"exclude_roles,omitempty"`
}

// Apps says which sign-ins a policy is about: sign-ins to apps (all, or
// those included, less those excluded), or user actions instead.
type Apps struct {
	All     bool     `json:"all,omitempty" yaml:"all,omitempty"`
	Include []string `json:"include,omitempty" yaml:"include,omitempty"` // client IDs; "sesame" for Sesame's own pages, "sesame-admin" for the admin console
	Exclude []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
	// Actions, when set, makes the policy about these user actions
	// (register-security-info) and not about app sign-ins.
	Actions []string `json:"actions,omitempty" yaml:"actions,omitempty"`
}

// Conditions narrow a policy further; an empty condition matches all.
type Conditions struct {
	// Locations: include and exclude lists of named locations and the
	// keywords "any" and "trusted". Empty include means any.
	Locations IncludeExclude `json:"locations,omitzero" yaml:"locations,omitempty"`
	// ClientTypes the policy applies to; empty means all.
	ClientTypes []ClientType `json:"client_types,omitempty" yaml:"client_types,omitempty"`
	// Devices: include and exclude lists of device states
	// ("device-bound-passkey", "trusted"). Empty include means any device.
	Devices IncludeExclude `json:"devices,omitzero" yaml:"devices,omitempty"`
}

// IncludeExclude is a pair of lists where exclusion wins.
type IncludeExclude struct {
	Include []string `json:"include,omitempty" yaml:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
}

// Grant is what a policy demands when it applies: block, or one
// authentication strength (MFA is the built-in strength "MFA"). A grant
// with none of them is allowed only with a session control: the policy
// then only limits how long a sign-in lasts.
type Grant struct {
	Block    bool   `json:"block,omitempty" yaml:"block,omitempty"`
	MFA      bool   `json:"mfa,omitempty" yaml:"mfa,omitempty"`
	Strength string `json:"strength,omitempty" yaml:"strength,omitempty"`
}

// RequiredStrength is the strength the grant demands, or "" for none.
func (g Grant) RequiredStrength() string {
	if g.MFA {
		return StrengthMFA
	}
	return g.Strength
}

// Session holds session controls.
type Session struct {
	SignInFrequency *Frequency `json:"sign_in_frequency,omitempty" yaml:"sign_in_frequency,omitempty"`
}

// Frequency is how often the user must do an authentication ceremony again:
// every time, or after a number of hours (1 to 23) or days (1 to 365).
type Frequency struct {
	EveryTime bool `json:"every_time,omitempty" yaml:"every_time,omitempty"`
	Hours     int  `json:"hours,omitempty" yaml:"hours,omitempty"`
	Days      int  `json:"days,omitempty" yaml:"days,omitempty"`
}

// MaxAge is how old an authentication may be; 0 with EveryTime.
func (f Frequency) MaxAge() time.Duration {
	return time.Duration(f.Hours)*time.Hour + time.Duration(f.Days)*24*time.Hour
}

// String is how a frequency reads in listings.
func (f Frequency) String() string {
	switch {
	case f.EveryTime:
		return "every time"
	case f.Days == 1:
		return "every day"
	case f.Days > 0:
		return "every " + strconv.Itoa(f.Days) + " days"
	case f.Hours == 1:
		return "every hour"
	default:
		return "every " + strconv.Itoa(f.Hours) + " hours"
	}
}

// Policy returns the policy with that name, if any.
func (d *Document) Policy(name string) (*Policy, bool) {
	for i := range d.Policies {
		if d.Policies[i].Name == name {
			return &d.Policies[i], true
		}
	}
	return nil, false
}

// Location returns the named location with that name, if any.
func (d *Document) Location(name string) (*Location, bool) {
	for i := range d.Locations {
		if d.Locations[i].Name == name {
			return &d.Locations[i], true
		}
	}
	return nil, false
}

// Clone returns a deep copy, so that a change to the copy cannot reach a
// document that is shared (cached or compiled).
func (d Document) Clone() Document {
	c := d
	c.Locations = make([]Location, len(d.Locations))
	for i, l := range d.Locations {
		l.Ranges = cloneStrings(l.Ranges)
		l.Countries = cloneStrings(l.Countries)
		c.Locations[i] = l
	}
	c.Policies = make([]Policy, len(d.Policies))
	for i, p := range d.Policies {
		c.Policies[i] = p.Clone()
	}
	return c
}

// Clone returns a deep copy of the policy.
func (p Policy) Clone() Policy {
	c := p
	c.Users = Users{
		All: p.Users.All, Include: cloneStrings(p.Users.Include), IncludeGroups: cloneStrings(p.Users.IncludeGroups),
		IncludeRoles: cloneStrings(p.Users.IncludeRoles), Exclude: cloneStrings(p.Users.Exclude),
		ExcludeGroups: cloneStrings(p.Users.ExcludeGroups), ExcludeRoles: cloneStrings(p.Users.ExcludeRoles),
	}
	c.Apps = Apps{All: p.Apps.All, Include: cloneStrings(p.Apps.Include), Exclude: cloneStrings(p.Apps.Exclude), Actions: cloneStrings(p.Apps.Actions)}
	c.Conditions.Locations = IncludeExclude{cloneStrings(p.Conditions.Locations.Include), cloneStrings(p.Conditions.Locations.Exclude)}
	c.Conditions.Devices = IncludeExclude{cloneStrings(p.Conditions.Devices.Include), cloneStrings(p.Conditions.Devices.Exclude)}
	if p.Conditions.ClientTypes != nil {
		c.Conditions.ClientTypes = append([]ClientType(nil), p.Conditions.ClientTypes...)
	}
	if p.Session.SignInFrequency != nil {
		f := *p.Session.SignInFrequency
		c.Session.SignInFrequency = &f
	}
	return c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
