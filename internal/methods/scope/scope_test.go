package scope

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		scope  Scope
		groups []string
		want   bool
		reason string
	}{
		{"zero value selects nobody", Scope{}, []string{"staff"}, false, "no users are included"},
		{"all users", All(), nil, true, "all users"},
		{"all users, excluded", Scope{AllUsers: true, Exclude: []string{"contractors"}}, []string{"staff", "contractors"}, false, `excluded as a member of group "contractors"`},
		{"named group", Groups("pilot"), []string{"staff", "pilot"}, true, `group "pilot"`},
		{"not in named group", Groups("pilot", "it"), []string{"staff"}, false, "not a member of an included group (pilot, it)"},
		{"exclusion wins over inclusion", Scope{Groups: []string{"pilot"}, Exclude: []string{"break-glass"}}, []string{"pilot", "break-glass"}, false, "excluded"},
		{"exclusion of a group the user is not in", Scope{Groups: []string{"pilot"}, Exclude: []string{"break-glass"}}, []string{"pilot"}, true, "included"},
		{"names are exact", Groups("Pilot"), []string{"pilot"}, false, "not a member"},
		{"user without groups", Groups("pilot"), nil, false, "not a member"},
	}
	for _, tt := range tests {
		got, why := tt.scope.Match(tt.groups)
		if got != tt.want || !strings.Contains(why, tt.reason) {
			t.Errorf("%s: Match(%v) = %v, %q; want %v, containing %q", tt.name, tt.groups, got, why, tt.want, tt.reason)
		}
		if tt.scope.Includes(tt.groups) != tt.want {
			t.Errorf("%s: Includes disagrees with Match", tt.name)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		scope Scope
		err   string
	}{
		{All(), ""},
		{Scope{Groups: []string{"a", "b"}, Exclude: []string{"c"}}, ""},
		{Scope{Groups: []string{"a", "a"}}, "listed twice"},
		{Scope{Groups: []string{"a"}, Exclude: []string{"a"}}, "both included and excluded"},
		{Scope{Groups: []string{" a"}}, "not a valid group name"},
		{Scope{Exclude: []string{""}}, "not a valid group name"},
		{Scope{Groups: []string{"a\nb"}}, "not a valid group name"},
		{Scope{Groups: []string{strings.Repeat("x", 65)}}, "not a valid group name"},
	}
	for _, tt := range tests {
		err := tt.scope.Validate("rule")
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Validate(%+v) = %v; want error containing %q", tt.scope, err, tt.err)
		}
	}
}

func TestReferencedAndString(t *testing.T) {
	s := Scope{Groups: []string{"pilot", "it"}, Exclude: []string{"contractors", "it-admins"}}
	if got := s.Referenced(); !slices.Equal(got, []string{"contractors", "it", "it-admins", "pilot"}) {
		t.Errorf("Referenced = %v", got)
	}
	for s, want := range map[*Scope]string{
		{AllUsers: true, Exclude: []string{"x"}}: "all users except x",
		{Groups: []string{"a", "b"}}:             "groups a, b",
		{}:                                       "nobody",
	} {
		if got := s.String(); got != want {
			t.Errorf("String() = %q want %q", got, want)
		}
	}
}
