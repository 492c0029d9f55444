// Package scope says which users a rule applies to: everyone or named
// groups, minus excluded groups. The methods policy, passkey profiles and
// the registration campaign all target users this way, so an admin reads
// the same shape everywhere and exclusion wins everywhere.
package scope

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Scope selects users by group name. The zero value selects nobody.
type Scope struct {
	// AllUsers includes every user; Groups is then ignored for inclusion.
	AllUsers bool `json:"all_users,omitempty"`
	// Groups includes the members of these groups (by name).
	Groups []string `json:"groups,omitempty"`
	// Exclude leaves out the members of these groups, even when AllUsers is
	// set or they are also in an included group: exclusion wins.
	Exclude []string `json:"exclude,omitempty"`
}

// All is the scope of every user.
func All() Scope { return Scope{AllUsers: true} }

// Groups is the scope of the members of the named groups.
func Groups(names ...string) Scope { return Scope{Groups: names} }

// Match decides whether a user who is a member of userGroups is in the
// scope, and if not why, in words for admins (what-if, logs).
func (s Scope) Match(userGroups []string) (bool, string) {
	for _, g := range s.Exclude {
		if slices.Contains(userGroups, g) {
			return false, fmt.Sprintf("excluded as a member of group %q", g)
		}
	}
	if s.AllUsers {
		return true, "included as one of all users"
	}
	for _, g := range s.Groups {
		if slices.Contains(userGroups, g) {
			return true, fmt.Sprintf("included as a member of group %q", g)
		}
	}
	if len(s.Groups) == 0 {
		return false, "no users are included"
	}
	return false, fmt.Sprintf("not a member of an included group (%s)", strings.Join(s.Groups, ", "))
}

// Includes is Match without the reason.
func (s Scope) Includes(userGroups []string) bool {
	ok, _ := s.Match(userGroups)
	return ok
}

// Referenced returns the group names the scope mentions, sorted and
// without repeats, so the caller can check them against the directory.
func (s Scope) Referenced() []string {
	var out []string
	out = append(out, s.Groups...)
	out = append(out, s.Exclude...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks the shape of the scope (not whether the groups exist:
// that is the directory's to say). what names the rule for the message.
func (s Scope) Validate(what string) error {
	for _, list := range [][]string{s.Groups, s.Exclude} {
		seen := map[string]bool{}
		for _, g := range list {
			if strings.TrimSpace(g) != g || g == "" || len(g) > 64 || strings.ContainsFunc(g, unicode.IsControl) {
				return fmt.Errorf("%s: %q is not a valid group name", what, g)
			}
			if seen[g] {
				return fmt.Errorf("%s: group %q is listed twice", what, g)
			}
			seen[g] = true
		}
	}
	for _, g := range s.Groups {
		if slices.Contains(s.Exclude, g) {
			return fmt.Errorf("%s: group %q is both included and excluded", what, g)
		}
	}
	return nil
}

// String describes the scope for admins: "all users except contractors".
func (s Scope) String() string {
	var b strings.Builder
	switch {
	case s.AllUsers:
		b.WriteString("all users")
	case len(s.Groups) == 0:
		b.WriteString("nobody")
	default:
		b.WriteString("groups " + strings.Join(s.Groups, ", "))
	}
	if len(s.Exclude) > 0 && (s.AllUsers || len(s.Groups) > 0) {
		b.WriteString(" except " + strings.Join(s.Exclude, ", "))
	}
	return b.String()
}

// RenameGroup returns the scope with every mention of group oldName (in
// Groups and Exclude) changed to newName, and whether there was any. The
// lists of s are not modified.
func (s Scope) RenameGroup(oldName, newName string) (Scope, bool) {
	var changed bool
	s.Groups, changed = renameIn(s.Groups, oldName, newName)
	var ex bool
	s.Exclude, ex = renameIn(s.Exclude, oldName, newName)
	return s, changed || ex
}

// renameIn replaces oldName by newName in a copy of list (dropping a
// second mention, should newName already be there).
func renameIn(list []string, oldName, newName string) ([]string, bool) {
	if !slices.Contains(list, oldName) {
		return list, false
	}
	out := make([]string, 0, len(list))
	for _, n := range list {
		if n == oldName {
			n = newName
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, true
}
