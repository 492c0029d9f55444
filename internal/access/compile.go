package access

import (
	"net/netip"
	"strings"
	"time"
)

// Set is a document compiled for evaluation: ranges parsed into prefixes,
// and every user, group, app and location a policy names turned into a bit
// in a small bitset, so that evaluating a policy is a handful of word
// operations instead of string comparisons. A Set is immutable and safe for
// concurrent use.
type Set struct {
	doc       Document
	policies  []compiled
	locations []compiledLocation

	users  map[string]int // username -> bit
	groups map[string]int // group name -> bit
	apps   map[string]int // app ID -> bit

	groupNames []string // bit -> group name, for reasons
	locNames   []string // bit -> location name

	countryLocs map[string]bits // country code -> locations listing it
	unknownLocs bits            // country locations that include unknown countries
	words       int             // length of a location bitset
	groupWords  int
}

type compiled struct {
	name  string
	state State

	allUsers      bool
	includeUsers  bits
	includeGroups bits
	includeAdmin  bool
	excludeUsers  bits
	excludeGroups bits
	excludeAdmin  bool

	allApps     bool
	includeApps bits
	excludeApps bits
	action      bool // about the register-security-info action, not apps

	clientBrowser, clientLegacy bool // both false: any client

	locations          bool // a location condition is set
	includeAnyLocation bool
	includeTrusted     bool
	includeLocs        bits
	excludeTrusted     bool
	excludeLocs        bits
	includeDevice      deviceSet // zero: any device
	excludeDevice      deviceSet
	block              bool
	strength           string
	frequency          bool
	everyTime          bool
	maxAge             time.Duration
}

type deviceSet struct{ passkey, trusted bool }

func (d deviceSet) any() bool { return d.passkey || d.trusted }

type compiledLocation struct {
	prefixes []netip.Prefix
	trusted  bool
}

// Compile validates a document (without checking names against the
// directory, and taking any strength not built in as a custom one) and
// compiles it.
func Compile(doc Document) (*Set, error) {
	d, _, err := Validate(doc, Known{Strengths: AnyStrength})
	if err != nil {
		return nil, err
	}
	return compileValid(d), nil
}

// compileValid compiles a document that passed Validate.
func compileValid(d Document) *Set {
	s := &Set{
		doc:         d,
		users:       map[string]int{},
		groups:      map[string]int{},
		apps:        map[string]int{},
		countryLocs: map[string]bits{},
	}
	locIndex := map[string]int{}
	s.words = wordsFor(len(d.Locations))
	for i, l := range d.Locations {
		locIndex[strings.ToLower(l.Name)] = i
		s.locNames = append(s.locNames, l.Name)
		cl := compiledLocation{trusted: l.Trusted}
		for _, r := range l.Ranges {
			p, _ := ParseRange(r) // valid: checked by Validate
			cl.prefixes = append(cl.prefixes, p)
		}
		for _, c := range l.Countries {
			b := s.countryLocs[c]
			if b == nil {
				b = make(bits, s.words)
				s.countryLocs[c] = b
			}
			b.set(i)
		}
		if l.IncludeUnknown {
			if s.unknownLocs == nil {
				s.unknownLocs = make(bits, s.words)
			}
			s.unknownLocs.set(i)
		}
		s.locations = append(s.locations, cl)
	}
	// Number every name that a policy mentions, first pass.
	for _, p := range d.Policies {
		for _, l := range [][]string{p.Users.Include, p.Users.Exclude} {
			for _, n := range l {
				intern(s.users, n)
			}
		}
		for _, l := range [][]string{p.Users.IncludeGroups, p.Users.ExcludeGroups} {
			for _, n := range l {
				if _, ok := s.groups[n]; !ok {
					s.groups[n] = len(s.groupNames)
					s.groupNames = append(s.groupNames, n)
				}
			}
		}
		for _, l := range [][]string{p.Apps.Include, p.Apps.Exclude} {
			for _, n := range l {
				intern(s.apps, n)
			}
		}
	}
	s.groupWords = wordsFor(len(s.groupNames))
	set := func(m map[string]int, names []string) bits {
		if len(names) == 0 {
			return nil
		}
		b := make(bits, wordsFor(len(m)))
		for _, n := range names {
			b.set(m[n])
		}
		return b
	}
	for _, p := range d.Policies {
		c := compiled{
			name: p.Name, state: p.State,
			allUsers:      p.Users.All,
			includeUsers:  set(s.users, p.Users.Include),
			excludeUsers:  set(s.users, p.Users.Exclude),
			includeGroups: set(s.groups, p.Users.IncludeGroups),
			excludeGroups: set(s.groups, p.Users.ExcludeGroups),
			includeAdmin:  len(p.Users.IncludeRoles) > 0,
			excludeAdmin:  len(p.Users.ExcludeRoles) > 0,
			allApps:       p.Apps.All,
			includeApps:   set(s.apps, p.Apps.Include),
			excludeApps:   set(s.apps, p.Apps.Exclude),
			action:        len(p.Apps.Actions) > 0,
			block:         p.Grant.Block,
			strength:      p.Grant.RequiredStrength(),
		}
		for _, t := range p.Conditions.ClientTypes {
			switch t {
			case ClientBrowser:
				c.clientBrowser = true
			case ClientLegacy:
				c.clientLegacy = true
			}
		}
		loc := p.Conditions.Locations
		if len(loc.Include) > 0 || len(loc.Exclude) > 0 {
			c.locations = true
			c.includeAnyLocation = len(loc.Include) == 0
			for _, n := range loc.Include {
				switch n {
				case LocationAny:
					c.includeAnyLocation = true
				case LocationTrusted:
					c.includeTrusted = true
				default:
					if c.includeLocs == nil {
						c.includeLocs = make(bits, s.words)
					}
					c.includeLocs.set(locIndex[strings.ToLower(n)])
				}
			}
			for _, n := range loc.Exclude {
				switch n {
				case LocationTrusted:
					c.excludeTrusted = true
				default:
					if c.excludeLocs == nil {
						c.excludeLocs = make(bits, s.words)
					}
					c.excludeLocs.set(locIndex[strings.ToLower(n)])
				}
			}
		}
		c.includeDevice = devices(p.Conditions.Devices.Include)
		c.excludeDevice = devices(p.Conditions.Devices.Exclude)
		if f := p.Session.SignInFrequency; f != nil {
			c.frequency, c.everyTime, c.maxAge = true, f.EveryTime, f.MaxAge()
		}
		s.policies = append(s.policies, c)
	}
	return s
}

func intern(m map[string]int, n string) {
	if _, ok := m[n]; !ok {
		m[n] = len(m)
	}
}

func devices(l []string) deviceSet {
	var d deviceSet
	for _, s := range l {
		switch s {
		case DeviceBoundPasskey:
			d.passkey = true
		case DeviceTrusted:
			d.trusted = true
		}
	}
	return d
}

// Document returns (a copy of) the document the set was compiled from.
func (s *Set) Document() Document { return s.doc.Clone() }

// Version is the version of the document the set was compiled from.
func (s *Set) Version() int64 { return s.doc.Version }

// Len is the number of policies.
func (s *Set) Len() int { return len(s.policies) }

// bits is a small bitset.
type bits []uint64

func wordsFor(n int) int { return (n + 63) / 64 }

func (b bits) set(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

func (b bits) has(i int) bool {
	w := i >> 6
	return i >= 0 && w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

// first returns the lowest bit set in both, or -1.
func (b bits) first(o bits) int {
	n := min(len(b), len(o))
	for w := range n {
		if x := b[w] & o[w]; x != 0 {
			for i := range 64 {
				if x&(1<<uint(i)) != 0 {
					return w*64 + i
				}
			}
		}
	}
	return -1
}

func (b bits) intersects(o bits) bool {
	n := min(len(b), len(o))
	for w := range n {
		if b[w]&o[w] != 0 {
			return true
		}
	}
	return false
}

// MayApplyToApp reports whether any policy that is not off could apply to
// a sign-in to app (not a user action), whoever signs in and from where.
// When none can, evaluating is known to allow with nothing to record, so
// a caller on a hot path (every request to Sesame's own pages) can skip
// gathering the sign-in's facts.
func (s *Set) MayApplyToApp(app string) bool {
	if app == "" {
		app = AppSesame
	}
	i, ok := s.apps[app]
	if !ok {
		i = -1
	}
	for _, p := range s.policies {
		if p.state == StateOff || p.action || p.excludeApps.has(i) {
			continue
		}
		if p.allApps || p.includeApps.has(i) {
			return true
		}
	}
	return false
}
