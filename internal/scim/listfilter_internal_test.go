package scim

import (
	"testing"

	"github.com/sesame-idp/sesame/internal/store"
)

func TestUserMatches(t *testing.T) {
	u := store.User{ID: "U1", Username: "alice", Email: "alice@example.com", ExternalID: "E-1"}
	noMail := store.User{ID: "U2", Username: "bob"}
	for _, tc := range []struct {
		filter string
		user   store.User
		want   bool
	}{
		{`id eq "U1"`, u, true},
		{`id eq "u1"`, u, false},
		{`userName eq "Alice"`, u, true},
		{`userName eq "not a name!"`, u, false},
		{`externalId eq "E-1"`, u, true},
		{`externalId eq "e-1"`, u, false},
		{`externalId eq ""`, noMail, false},
		{`emails.value eq "ALICE@example.com"`, u, true},
		{`emails[type eq "work"].value eq "alice@example.com"`, u, true},
		{`emails[type eq "WORK"].value eq "alice@example.com"`, u, true},
		{`emails[type eq "home"].value eq "alice@example.com"`, u, false},
		{`emails[type eq "work"].value eq "bob@example.com"`, u, false},
		{`emails[type eq "work"].value eq ""`, noMail, false},
	} {
		terms, err := ParseListFilter(tc.filter, userFilterShapes...)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := userMatches(tc.user, terms[0]); got != tc.want {
			t.Errorf("userMatches(%s, %s) = %v", tc.user.Username, tc.filter, got)
		}
	}
}

func TestGroupMatches(t *testing.T) {
	g := store.Group{ID: "G1", Name: "Sales", ExternalID: "D-1"}
	userGroups := []store.Group{{ID: "G0"}, {ID: "G1"}}
	for _, tc := range []struct {
		filter     string
		userGroups []store.Group
		want       bool
	}{
		{`id eq "G1"`, nil, true},
		{`displayName eq " Sales "`, nil, true},
		{`displayName eq "sales"`, nil, false},
		{`externalId eq "D-1"`, nil, true},
		{`members[value eq "U1"]`, userGroups, true},
		{`members[value eq "U1"]`, userGroups[:1], false},
		{`members[value eq "U1"]`, nil, false},
	} {
		terms, err := ParseListFilter(tc.filter, groupFilterShapes...)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := groupMatches(g, terms[0], tc.userGroups); got != tc.want {
			t.Errorf("groupMatches(%s) = %v", tc.filter, got)
		}
	}
}
