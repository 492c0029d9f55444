package scim

import (
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
