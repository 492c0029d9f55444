package scim

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	users := []string{"username", "externalid"}
	for _, tc := range []struct {
		in      string
		want    Filter
		wantErr string // substring of the detail; "" = success
	}{
		{`userName eq "alice"`, Filter{"username", "alice"}, ""},
		{`USERNAME EQ "Alice@Example.com"`, Filter{"username", "Alice@Example.com"}, ""},
		{`  externalId   eq   "HR-1"  `, Filter{"externalid", "HR-1"}, ""},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"`, Filter{"username", "bob"}, ""},
		{`userName eq "quote \" and \\ backslash"`, Filter{"username", `quote " and \ backslash`}, ""},
		{`userName eq "with ) paren"`, Filter{"username", "with ) paren"}, ""},
		{`userName eq "a" and externalId eq "b"`, Filter{}, `"and" is not supported`},
		{`userName eq "a" or userName eq "b"`, Filter{}, `"or" is not supported`},
		{`not (userName eq "a")`, Filter{}, `"not" is not supported`},
		{`(userName eq "a")`, Filter{}, "parentheses"},
		{`emails[type eq "work"]`, Filter{}, "Complex attribute filters"},
		{`userName co "a"`, Filter{}, `"co" is not supported`},
		{`userName pr`, Filter{}, `"pr" is not supported`},
		{`userName sw "a"`, Filter{}, `"sw" is not supported`},
		{`userName is "a"`, Filter{}, "not a filter operator"},
		{`userName`, Filter{}, "no operator"},
		{`userName eq`, Filter{}, "compares with nothing"},
		{`userName eq alice`, Filter{}, "quoted string, true or false"},
		{`userName eq 42`, Filter{}, "quoted string, true or false"},
		{`userName eq "unterminated`, Filter{}, "well-formed"},
		{`userName eq "a" garbage`, Filter{}, "Unexpected text"},
		{`displayName eq "Sales"`, Filter{}, "not supported; supported: username, externalid"},
		{`1name eq "a"`, Filter{}, "not an attribute name"},
		{`a.b.c eq "a"`, Filter{}, "not an attribute name"},
		{``, Filter{}, "empty"},
	} {
		got, err := ParseFilter(tc.in, users...)
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseFilter(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Status != 400 || e.SCIMType != "invalidFilter" || !strings.Contains(e.Detail, tc.wantErr) {
			t.Errorf("ParseFilter(%q) = %+v, %v; want invalidFilter containing %q", tc.in, got, err, tc.wantErr)
		}
	}
	// Booleans, for value filters such as emails[primary eq true].
	if f, err := ParseFilter("primary eq True", "primary"); err != nil || f.Value != true {
		t.Errorf("primary eq True: %+v %v", f, err)
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     string // Path.String(); "" = error
		filterEq any
	}{
		{"active", "active", nil},
		{"userName", "username", nil},
		{"name.givenName", "name.givenname", nil},
		{`members[value eq "abc"]`, "members[value eq ...]", "abc"},
		{`members[value eq "MiXeD"]`, "members[value eq ...]", "MiXeD"},
		{`emails[type eq "work"].value`, "emails[type eq ...].value", "work"},
		{`emails[primary eq true].value`, "emails[primary eq ...].value", true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:displayName`, "displayname", nil},
		{"", "", nil},
		{"a.b.c", "", nil},
		{"members[", "", nil},
		{`members[value co "a"]`, "", nil},
		{`members[display eq "a"]`, "", nil},
		{`members[value eq "a"]x`, "", nil},
		{`members[value eq "a"].b.c`, "", nil},
		{`mem.bers[value eq "a"]`, "", nil},
		{"İactive", "", nil},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "", nil},
	} {
		p, err := ParsePath(tc.in, "value", "type", "primary")
		if tc.want == "" {
			if e, ok := err.(*Error); !ok || e.SCIMType != "invalidPath" {
				t.Errorf("ParsePath(%q) = %v, %v; want invalidPath", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParsePath(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
			continue
		}
		if tc.filterEq != nil && p.Filter.Value != tc.filterEq {
			t.Errorf("ParsePath(%q) filter value %v, want %v", tc.in, p.Filter.Value, tc.filterEq)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "alice"`, `externalId eq "x\"y"`, `a eq true`, `(a eq "b")`, `members[value eq "x"].y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fl, err := ParseFilter(s, "username", "externalid", "a"); err == nil {
			if fl.Attr == "" || fl.Value == nil {
				t.Fatalf("accepted %q as %+v", s, fl)
			}
		} else if _, ok := err.(*Error); !ok {
			t.Fatalf("error of another type: %v", err)
		}
		if p, err := ParsePath(s, "value"); err == nil && p.Attr == "" {
			t.Fatalf("accepted path %q as %+v", s, p)
		} else if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of another type: %v", err)
			}
		}
	})
}

func TestParseListFilter(t *testing.T) {
	shapes := []string{"userName", "externalId", "id", "emails.value", "emails[type].value", "members[value]"}
	term := func(attr, sub string, value any) Term { return Term{Path: Path{Attr: attr, Sub: sub}, Value: value} }
	within := func(attr, fAttr string, fValue any, sub string, value any) Term {
		return Term{Path: Path{Attr: attr, Filter: &Filter{fAttr, fValue}, Sub: sub}, Value: value}
	}
	for _, tc := range []struct {
		in      string
		want    []Term
		wantErr string // substring of the detail; "" = success
	}{
		{`userName eq "alice"`, []Term{term("username", "", "alice")}, ""},
		{`userName eq "a" and externalId eq "b"`, []Term{term("username", "", "a"), term("externalid", "", "b")}, ""},
		{`userName eq "a"  AND  externalId eq "b" aNd id eq "c"`, []Term{term("username", "", "a"), term("externalid", "", "b"), term("id", "", "c")}, ""},
		{`userName eq "x and y"`, []Term{term("username", "", "x and y")}, ""},
		{`userName eq "x \" and y"`, []Term{term("username", "", `x " and y`)}, ""},
		{`emails.value eq "a@b"`, []Term{term("emails", "value", "a@b")}, ""},
		{`emails[type eq "work"].value eq "A@b"`, []Term{within("emails", "type", "work", "value", "A@b")}, ""},
		{`EMAILS[TYPE EQ "Work"].VALUE EQ "A@b"`, []Term{within("emails", "type", "Work", "value", "A@b")}, ""},
		{`id eq "G1" and members[value eq "U1"]`, []Term{term("id", "", "G1"), within("members", "value", "U1", "", nil)}, ""},
		{`members[value eq "a and b"] and id eq "G"`, []Term{within("members", "value", "a and b", "", nil), term("id", "", "G")}, ""},
		{`members[value eq "x]y"]`, []Term{within("members", "value", "x]y", "", nil)}, ""},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"`, []Term{term("username", "", "bob")}, ""},
		{`userName eq "a" or userName eq "b"`, nil, `"or" is not supported`},
		{`userName eq "a" and userName eq "b" or id eq "c"`, nil, `"or" is not supported`},
		{`userName eq "a" and (id eq "b")`, nil, "parentheses"},
		{`(userName eq "a")`, nil, "parentheses"},
		{`not (userName eq "a")`, nil, `"not" is not supported`},
		{`userName eq "a" and not (id eq "b")`, nil, `"not" is not supported`},
		{`userName eq "a" and`, nil, `"and" must join`},
		{`userName eq "a" and  and id eq "b"`, nil, `"and" must join`},
		{`and`, nil, "no operator"},
		{`userName co "a"`, nil, `"co" is not supported`},
		{`emails[type eq "work"].value sw "a"`, nil, `"sw" is not supported`},
		{`emails[type ne "work"].value eq "a"`, nil, `"ne" is not supported`},
		{`emails[type eq "work" or type eq "home"].value eq "a"`, nil, `"or" is not supported`},
		{`emails[type eq "work"].value`, nil, "no operator"},
		{`members[value eq "x"] eq "y"`, nil, "comparison by itself"},
		{`members[value eq "x"`, nil, "unclosed"},
		{`emails[type eq "work"].value.x eq "a"`, nil, "not an attribute path"},
		{`members[value eq "x"].value eq "y"`, nil, `Filtering by members[value].value is not supported; supported: userName, externalId, id`},
		{`displayName eq "a"`, nil, "Filtering by displayname is not supported"},
		{`userName eq "a" garbage`, nil, "Unexpected text"},
		{`userName eq alice`, nil, "quoted string, true or false"},
		{`  `, nil, "empty"},
	} {
		got, err := ParseListFilter(tc.in, shapes...)
		if tc.wantErr == "" {
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseListFilter(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Status != 400 || e.SCIMType != "invalidFilter" || !strings.Contains(e.Detail, tc.wantErr) {
			t.Errorf("ParseListFilter(%q) = %+v, %v; want invalidFilter containing %q", tc.in, got, err, tc.wantErr)
		}
	}
}

// FuzzParseListFilter: any filter is either refused with a SCIM 400
// invalidFilter or gives terms of the allowed shapes, each compared with a
// value unless it is a bare value filter.
func FuzzParseListFilter(f *testing.F) {
	for _, s := range []string{`userName eq "alice"`, `id eq "g" and members[value eq "u"]`, `userName eq "a" AND emails[type eq "work"].value eq "b"`,
		`a eq "b" or c eq "d"`, `members[value eq "x]"]`, `x eq "and" and`} {
		f.Add(s)
	}
	shapes := []string{"userName", "id", "emails.value", "emails[type].value", "members[value]"}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := ParseListFilter(s, shapes...)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Status != 400 || e.SCIMType != "invalidFilter" {
				t.Fatalf("%q: error %v, want invalidFilter", s, err)
			}
			return
		}
		if len(terms) == 0 {
			t.Fatalf("accepted %q with no terms", s)
		}
		for _, tm := range terms {
			if !slices.ContainsFunc(shapes, func(a string) bool { return strings.EqualFold(a, tm.shape()) }) ||
				(tm.Value == nil) != (tm.Path.Filter != nil && tm.Path.Sub == "") ||
				tm.Path.Filter != nil && tm.Path.Filter.Value == nil {
				t.Fatalf("accepted %q as %+v", s, tm)
			}
		}
	})
}
