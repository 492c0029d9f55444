package scim_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestEntraFilters: the list filters Microsoft Entra ID's provisioning
// service sends, over the real store through the handler: each finds the
// one resource or none (200, totalResults 0), and what Sesame does not
// support is a 400 invalidFilter.
func TestEntraFilters(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(`{` + userSchema + `,"userName":"alice","externalId":"E-1","emails":[{"value":"Alice@Example.com","type":"work","primary":true}]}`)["id"].(string)
	bob := f.createUser(`{` + userSchema + `,"userName":"bob","emails":[{"value":"bob@example.com","type":"work"}]}`)["id"].(string)
	carol := f.createUser(`{` + userSchema + `,"userName":"carol"}`)["id"].(string)
	newGroup := func(body string) string {
		r := f.do("POST", "/Groups", `{`+groupSchema+`,`+body+`}`)
		if r.status != 201 {
			t.Fatalf("create group: %d %s", r.status, r.raw)
		}
		return r.body["id"].(string)
	}
	eng := newGroup(`"displayName":"Engineering","externalId":"dept-7","members":[{"value":"` + alice + `"},{"value":"` + bob + `"}]`)
	sales := newGroup(`"displayName":"Sales","members":[{"value":"` + alice + `"},{"value":"` + carol + `"}]`)

	list := func(path, filter string) ([]string, reply) {
		t.Helper()
		r := f.do("GET", path+"filter="+url.QueryEscape(filter), "")
		if r.status != 200 {
			t.Errorf("GET %s filter %s: %d %s", path, filter, r.status, r.raw)
			return nil, r
		}
		var ids []string
		for _, res := range r.body["Resources"].([]any) {
			ids = append(ids, res.(map[string]any)["id"].(string))
		}
		if int(r.body["totalResults"].(float64)) != len(ids) {
			t.Errorf("filter %s: totalResults %v for %d resources", filter, r.body["totalResults"], len(ids))
		}
		return ids, r
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "alice"`, []string{alice}},
		{`userName eq "ALICE"`, []string{alice}},
		{`externalId eq "E-1"`, []string{alice}},
		{`externalId eq "e-1"`, nil}, // caseExact
		{`id eq "` + bob + `"`, []string{bob}},
		{`id eq "nope"`, nil},
		{`userName eq "alice" and emails[type eq "work"].value eq "alice@example.com"`, []string{alice}},
		{`emails[type eq "work"].value eq "ALICE@example.COM" AND userName eq "alice"`, []string{alice}},
		{`externalId eq "E-1" And emails.value eq "alice@example.com"`, []string{alice}},
		{`userName eq "alice" and emails[type eq "work"].value eq "bob@example.com"`, nil},
		{`userName eq "alice" and emails[type eq "home"].value eq "alice@example.com"`, nil},
		{`userName eq "carol" and emails[type eq "work"].value eq ""`, nil},
		{`userName eq "alice" and externalId eq "E-1"`, []string{alice}},
		{`userName eq "alice" and userName eq "bob"`, nil},
		{`userName eq "nobody" and emails[type eq "work"].value eq "alice@example.com"`, nil},
	} {
		if got, _ := list("/Users?", tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("Users filter %s: %v, want %v", tc.filter, got, tc.want)
		}
	}

	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`displayName eq "Engineering"`, []string{eng}},
		{`externalId eq "dept-7"`, []string{eng}},
		{`id eq "` + eng + `"`, []string{eng}},
		{`id eq "` + eng + `" and members[value eq "` + alice + `"]`, []string{eng}},
		{`id eq "` + eng + `" and members[value eq "` + bob + `"]`, []string{eng}},
		{`id eq "` + eng + `" and members[value eq "` + carol + `"]`, nil},
		{`id eq "` + eng + `" AND members[value eq "nope"]`, nil},
		{`id eq "` + sales + `" aNd members[value eq "` + carol + `"]`, []string{sales}},
		{`id eq "nope" and members[value eq "` + alice + `"]`, nil},
		{`members[value eq "` + bob + `"] and id eq "` + eng + `"`, []string{eng}},
		{`displayName eq "Engineering" and members[value eq "` + carol + `"]`, nil},
		{`members[value eq "` + alice + `"] and members[value eq "` + carol + `"]`, []string{sales}},
		{`members[value eq "` + alice + `"]`, sorted(eng, sales)},
		{`members[value eq "nope"]`, nil},
	} {
		got, _ := list("/Groups?excludedAttributes=members&", tc.filter)
		if slices.Sort(got); !slices.Equal(got, tc.want) {
			t.Errorf("Groups filter %s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	// Entra checks one membership without downloading the members.
	if _, r := list("/Groups?excludedAttributes=members&", `id eq "`+eng+`" and members[value eq "`+alice+`"]`); strings.Contains(r.raw, `"members"`) {
		t.Errorf("excludedAttributes=members still lists members: %s", r.raw)
	}

	before := f.snapshot()
	for _, tc := range []struct{ path, filter, detail string }{
		{"/Users", `emails[type eq "work"].value eq "alice@example.com"`, "userName"},
		{"/Users", `emails.value eq "alice@example.com"`, "userName"},
		{"/Users", `userName eq "alice" or userName eq "bob"`, `"or" is not supported`},
		{"/Users", `userName eq "alice" and externalId eq "E-1" OR userName eq "bob"`, `"or" is not supported`},
		{"/Users", `userName eq "alice" and (externalId eq "E-1")`, "parentheses"},
		{"/Users", `userName eq "alice" and not (externalId eq "E-1")`, `"not"`},
		{"/Users", `userName eq "alice" and`, "and"},
		{"/Users", `userName eq "alice" and title eq "x"`, "supported: userName, externalId, id"},
		{"/Users", `nickName eq "x"`, "not supported"},
		{"/Users", `userName eq "alice" and emails[type co "w"].value eq "x"`, `"co"`},
		{"/Users", `userName eq "alice" and emails[type eq "work"].value co "x"`, `"co"`},
		{"/Users", `userName eq "alice" and emails[type eq "work"]`, "not supported"},
		{"/Users", `userName eq "alice" and members[value eq "x"]`, "not supported"},
		{"/Groups", `id eq "` + eng + `" or members[value eq "` + alice + `"]`, `"or" is not supported`},
		{"/Groups", `id eq "` + eng + `" and members[display eq "alice"]`, "not supported"},
		{"/Groups", `id eq "` + eng + `" and members[value eq "` + alice + `"].value eq "x"`, "not supported"},
		{"/Groups", `id eq "` + eng + `" and members[value eq "` + alice + `"] eq "x"`, "comparison by itself"},
		{"/Groups", `id eq "` + eng + `" and members[value eq true]`, "quoted string"},
		{"/Groups", `id eq "` + eng + `" and members[value eq "x"`, "unclosed"},
		{"/Groups", `emails[type eq "work"].value eq "x"`, "supported: displayName, externalId, id, members[value]"},
	} {
		r := f.do("GET", tc.path+"?filter="+url.QueryEscape(tc.filter), "")
		f.scimError(tc.path+" filter "+tc.filter, r, 400, "invalidFilter")
		if d, _ := r.body["detail"].(string); !strings.Contains(d, tc.detail) {
			t.Errorf("%s filter %s: detail %q, want it to say %q", tc.path, tc.filter, d, tc.detail)
		}
	}
	if f.snapshot() != before {
		t.Error("a refused filter changed something")
	}
}
