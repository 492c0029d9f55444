package scim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/store"
)

func TestGroupChange(t *testing.T) {
	g := store.Group{ID: "g1", Name: "Engineering", ExternalID: "dept-7"}
	cur := groupModel{DisplayName: "Engineering", ExternalID: "dept-7", Members: []string{"a", "b"}}
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name string
		m    groupModel
		want directory.GroupChange
	}{
		{"same", cur, directory.GroupChange{}},
		{"same, members reordered", groupModel{DisplayName: "Engineering", ExternalID: "dept-7", Members: []string{"b", "a"}}, directory.GroupChange{}},
		{"same, with spaces", groupModel{DisplayName: " Engineering ", ExternalID: " dept-7", Members: []string{"a", "b"}}, directory.GroupChange{}},
		{"rename", groupModel{DisplayName: " R&D ", ExternalID: "dept-7", Members: []string{"a", "b"}}, directory.GroupChange{Name: s("R&D")}},
		{"rename in case only", groupModel{DisplayName: "engineering", ExternalID: "dept-7", Members: []string{"a", "b"}}, directory.GroupChange{Name: s("engineering")}},
		{"external ID cleared", groupModel{DisplayName: "Engineering", Members: []string{"a", "b"}}, directory.GroupChange{ExternalID: s("")}},
		{"external ID changed", groupModel{DisplayName: "Engineering", ExternalID: "dept-8", Members: []string{"a", "b"}}, directory.GroupChange{ExternalID: s("dept-8")}},
		{"members added and removed, in order", groupModel{DisplayName: "Engineering", ExternalID: "dept-7", Members: []string{"d", "b", "c"}},
			directory.GroupChange{Add: []string{"d", "c"}, Remove: []string{"a"}}},
		{"all members removed", groupModel{DisplayName: "Engineering", ExternalID: "dept-7"}, directory.GroupChange{Remove: []string{"a", "b"}}},
		{"everything", groupModel{DisplayName: "R&D", ExternalID: "dept-8", Members: []string{"c"}},
			directory.GroupChange{Name: s("R&D"), ExternalID: s("dept-8"), Add: []string{"c"}, Remove: []string{"a", "b"}}},
	} {
		if got := groupChange(g, cur, tc.m); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %s, want %s", tc.name, show(got), show(tc.want))
		}
	}
}

func show(c directory.GroupChange) string {
	p := func(s *string) string {
		if s == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", *s)
	}
	return fmt.Sprintf("{Name:%s ExternalID:%s Add:%q Remove:%q}", p(c.Name), p(c.ExternalID), c.Add, c.Remove)
}
