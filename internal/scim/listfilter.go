package scim

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/store"
)

// Evaluating list filters. The store has a lookup for one user by id,
// userName or externalId and one group by id, displayName or externalId:
// the first term of a filter that names one of those finds the one
// candidate, and the other terms are checked here on it. That serves every
// filter Microsoft Entra ID sends (userName, externalId or the work email
// on Users; displayName, externalId, or `id eq ... and members[value eq
// ...]` on Groups) without reading more than one resource.

// The term shapes (Term.shape) a list filter may use, as named in errors.
var (
	userFilterShapes  = []string{"userName", "externalId", "id", "emails.value", "emails[type].value"}
	groupFilterShapes = []string{"displayName", "externalId", "id", "members[value]"}
)

// leadTerm is the index of the first term in terms with one of the shapes
// in lookups, or -1.
func leadTerm(terms []Term, lookups ...string) int {
	return slices.IndexFunc(terms, func(t Term) bool { return slices.Contains(lookups, t.shape()) })
}

func (s *Server) filterUsers(ctx context.Context, terms []Term) ([]store.User, error) {
	lead := leadTerm(terms, "id", "username", "externalid")
	if lead < 0 {
		// The store cannot look users up by email; reading every user to
		// compare would not scale, so it is refused.
		return nil, errInvalidFilter("A filter on Users needs one of userName, externalId or id eq \"...\" (Sesame does not search users by email); it may add other terms with and.")
	}
	t := terms[lead]
	v := t.Value.(string)
	var u store.User
	var err error
	switch t.shape() {
	case "id":
		u, err = s.Store.GetUser(ctx, v)
	case "username":
		// userName is case-insensitive (caseExact false): Sesame keeps
		// usernames lower-case.
		name, nerr := directory.NormalizeUsername(v)
		if nerr != nil {
			return nil, nil
		}
		u, err = s.Store.GetUserByUsername(ctx, name)
	default:
		u, err = s.Store.GetUserByExternalID(ctx, v)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	for i, t := range terms {
		if i != lead && !userMatches(u, t) {
			return nil, nil
		}
	}
	return []store.User{u}, nil
}

// userMatches reports whether u satisfies the term t of a Users filter.
func userMatches(u store.User, t Term) bool {
	v, _ := t.Value.(string)
	switch t.shape() {
	case "id":
		return u.ID == v
	case "username":
		name, err := directory.NormalizeUsername(v)
		return err == nil && u.Username == name
	case "externalid":
		// externalId is caseExact (RFC 7643 section 3.1).
		return u.ExternalID != "" && u.ExternalID == v
	case "emails.value", "emails[type].value":
		// Sesame keeps one address and presents it as the primary "work"
		// email; emails.value and type are case-insensitive.
		if u.Email == "" || !strings.EqualFold(u.Email, v) {
			return false
		}
		if f := t.Path.Filter; f != nil {
			typ, _ := f.Value.(string)
			return strings.EqualFold(typ, "work")
		}
		return true
	}
	return false
}

func (s *Server) filterGroups(ctx context.Context, terms []Term) ([]store.Group, error) {
	lead := leadTerm(terms, "id", "displayname", "externalid")
	if lead < 0 {
		// Only members[value eq ...] terms: the user's groups are one
		// read too.
		lead = leadTerm(terms, "members[value]")
	}
	t := terms[lead] // every Groups term has one of those shapes
	var candidates []store.Group
	switch t.shape() {
	case "members[value]":
		gs, err := s.Store.ListUserGroups(ctx, t.Path.Filter.Value.(string))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		candidates = gs
	default:
		var g store.Group
		var err error
		switch v := t.Value.(string); t.shape() {
		case "id":
			g, err = s.Store.GetGroup(ctx, v)
		case "displayname":
			g, err = s.Store.GetGroupByName(ctx, strings.TrimSpace(v))
		default:
			g, err = s.Store.GetGroupByExternalID(ctx, v)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		candidates = []store.Group{g}
	}
	for i, t := range terms {
		if i == lead || len(candidates) == 0 {
			continue
		}
		var userGroups []store.Group
		if t.shape() == "members[value]" {
			// One user's groups are fewer than one group's members.
			var err error
			userGroups, err = s.Store.ListUserGroups(ctx, t.Path.Filter.Value.(string))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		candidates = slices.DeleteFunc(candidates, func(g store.Group) bool { return !groupMatches(g, t, userGroups) })
	}
	return candidates, nil
}

// groupMatches reports whether g satisfies the term t of a Groups filter.
// For members[value eq "id"], userGroups are the groups of user "id".
func groupMatches(g store.Group, t Term, userGroups []store.Group) bool {
	v, _ := t.Value.(string)
	switch t.shape() {
	case "id":
		return g.ID == v
	case "displayname":
		return g.Name == strings.TrimSpace(v)
	case "externalid":
		return g.ExternalID != "" && g.ExternalID == v
	case "members[value]":
		return slices.ContainsFunc(userGroups, func(ug store.Group) bool { return ug.ID == g.ID })
	}
	return false
}
