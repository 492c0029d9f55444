package scim

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

func TestParseSelection(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  Selection
		err   string // scimType
	}{
		{"", Selection{}, ""},
		{"filter=x", Selection{}, ""},
		{"attributes=", Selection{}, ""},
		{"attributes=%20,%20", Selection{}, ""},
		{"attributes=userName", Selection{Only: true, Refs: []AttrRef{{Attr: "username"}}}, ""},
		{"attributes=id", Selection{Only: true, Refs: []AttrRef{{Attr: "id"}}}, ""},
		{"excludedAttributes=members", Selection{Refs: []AttrRef{{Attr: "members"}}}, ""},
		{"excludedAttributes=Members,%20MEMBERS.Display", Selection{Refs: []AttrRef{{Attr: "members"}, {Attr: "members", Sub: "display"}}}, ""},
		{"attributes=name.givenName,emails.value", Selection{Only: true, Refs: []AttrRef{{Attr: "name", Sub: "givenname"}, {Attr: "emails", Sub: "value"}}}, ""},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName", Selection{Only: true, Refs: []AttrRef{{URN: "urn:ietf:params:scim:schemas:core:2.0:user", Attr: "username"}}}, ""},
		{"attributes=URN:IETF:params:scim:schemas:core:2.0:User:name.familyName", Selection{Only: true, Refs: []AttrRef{{URN: "urn:ietf:params:scim:schemas:core:2.0:user", Attr: "name", Sub: "familyname"}}}, ""},
		{"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Selection{Only: true, Refs: []AttrRef{{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", Attr: "department"}}}, ""},
		{"attributes=members.$ref", Selection{Only: true, Refs: []AttrRef{{Attr: "members", Sub: "$ref"}}}, ""},
		// Names the resource does not have are well-formed: accepted.
		{"attributes=title,nickName", Selection{Only: true, Refs: []AttrRef{{Attr: "title"}, {Attr: "nickname"}}}, ""},
		// Repeated parameters add up.
		{"attributes=userName&attributes=active", Selection{Only: true, Refs: []AttrRef{{Attr: "username"}, {Attr: "active"}}}, ""},
		// An empty one next to a given one is as if absent.
		{"attributes=&excludedAttributes=members", Selection{Refs: []AttrRef{{Attr: "members"}}}, ""},

		{"attributes=userName&excludedAttributes=members", Selection{}, "invalidValue"},
		{"attributes=userName,,active", Selection{}, "invalidValue"},
		{"attributes=userName,", Selection{}, "invalidValue"},
		{"excludedAttributes=user%20name", Selection{}, "invalidValue"},
		{"excludedAttributes=name.givenName.x", Selection{}, "invalidValue"},
		{"attributes=emails[type%20eq%20%22work%22]", Selection{}, "invalidValue"},
		{"attributes=emails[type%20eq%20%22work%22].value", Selection{}, "invalidValue"},
		{"attributes=1userName", Selection{}, "invalidValue"},
		{"attributes=.value", Selection{}, "invalidValue"},
		{"attributes=name.", Selection{}, "invalidValue"},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:", Selection{}, "invalidValue"},
		{"attributes=core:userName", Selection{}, "invalidValue"},
		{"attributes=urn:userName", Selection{}, "invalidValue"},
		{"attributes=*", Selection{}, "invalidValue"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSelection(q)
		if tc.err != "" {
			if e, ok := err.(*Error); !ok || e.SCIMType != tc.err || e.Status != 400 || e.Detail == "" {
				t.Errorf("%s: err %v, want 400 %s", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
}

func testUser() *userResource {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return newUserResource("https://x/scim/v2",
		store.User{ID: "u1", Username: "alice", DisplayName: "Alice", Email: "alice@example.com", ExternalID: "E1", CreatedAt: at, UpdatedAt: at},
		[]store.Group{{ID: "g1", Name: "Sales"}}, true)
}

func testGroup() *groupResource {
	return newGroupResource("https://x/scim/v2", store.Group{ID: "g1", Name: "Sales", ExternalID: "S"},
		[]store.User{{ID: "u1", DisplayName: "Alice"}, {ID: "u2", DisplayName: "Bob"}}, true)
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sel(t *testing.T, query string) Selection {
	t.Helper()
	q, _ := url.ParseQuery(query)
	s, err := ParseSelection(q)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The attribute tables must name every field the resources write, in their
// order: projecting with a selection that takes nothing out writes the
// very same bytes as the resource itself.
func TestProjectionCoversResources(t *testing.T) {
	nothing := sel(t, "excludedAttributes=nosuchattribute")
	for _, res := range []resource{testUser(), testGroup()} {
		if whole, projected := marshal(t, res), marshal(t, nothing.apply(res)); whole != projected {
			t.Errorf("the attribute table differs from the resource:\n%s\n%s", whole, projected)
		}
	}
}

func TestProjection(t *testing.T) {
	user := testUser()
	group := testGroup()
	for _, tc := range []struct {
		query string
		res   resource
		want  string
	}{
		{"attributes=userName", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"alice"}`},
		{"attributes=USERNAME", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"alice"}`},
		{"attributes=id", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"alice"}`},
		// Another schema's attribute is not this one's.
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:Group:displayName", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"attributes=title", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"attributes=userName.x", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"attributes=emails.value,name", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","name":{"formatted":"Alice"},"emails":[{"value":"alice@example.com"}]}`},
		// givenName is "never" returned: asking for it returns nothing.
		{"attributes=name.givenName", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"attributes=groups.display,meta.location", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","groups":[{"display":"Sales"}],"meta":{"location":"https://x/scim/v2/Users/u1"}}`},
		{"excludedAttributes=groups,meta,emails,name,displayName,externalId,active", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"alice"}`},
		// "always" attributes stay whatever is excluded.
		{"excludedAttributes=id,schemas,userName,groups,meta,emails,name,displayName,externalId,active", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"}`},
		{"excludedAttributes=name.formatted,emails.type,emails.primary,groups,meta.version,meta.created,meta.lastModified,meta.location", user, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","externalId":"E1","userName":"alice","displayName":"Alice","active":true,"emails":[{"value":"alice@example.com"}],"meta":{"resourceType":"User"}}`},
		{"excludedAttributes=members", group, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","externalId":"S","displayName":"Sales","meta":{"resourceType":"Group","location":"https://x/scim/v2/Groups/g1","version":"VERSION"}}`},
		{"attributes=members.value", group, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","members":[{"value":"u1"},{"value":"u2"}]}`},
		{"excludedAttributes=members.display,members.$ref,members.type,meta", group, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","externalId":"S","displayName":"Sales","members":[{"value":"u1"},{"value":"u2"}]}`},
	} {
		want := strings.ReplaceAll(tc.want, "VERSION", strings.ReplaceAll(tc.res.version(), `"`, `\"`))
		if got := marshal(t, sel(t, tc.query).apply(tc.res)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.query, got, want)
		}
	}
}

func TestReads(t *testing.T) {
	for _, tc := range []struct {
		query          string
		groups, member bool
	}{
		{"", true, true},
		{"excludedAttributes=members", true, false},
		{"excludedAttributes=groups", false, true},
		{"excludedAttributes=members.display", true, true},
		{"excludedAttributes=members.value,members.display,members.$ref,members.type", true, false},
		{"attributes=userName", false, false},
		{"attributes=displayName", false, false},
		{"attributes=members.value", false, true},
		{"attributes=groups", true, false},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:groups", true, false},
		// The version covers the members: asking for it reads them.
		{"attributes=meta.version", true, true},
		{"attributes=meta", true, true},
		{"excludedAttributes=meta", true, true},
	} {
		s := sel(t, tc.query)
		if s.readsGroups() != tc.groups || s.readsMembers() != tc.member {
			t.Errorf("%s: reads groups %v, members %v; want %v, %v", tc.query, s.readsGroups(), s.readsMembers(), tc.groups, tc.member)
		}
	}
}

// /Schemas declares the returned characteristic the projection applies.
func TestSchemasReturnedMatchesProjection(t *testing.T) {
	s := &Server{BaseURL: "https://x/scim/v2"}
	tables := map[string][]attrDef{UserSchema: userDefs, GroupSchema: groupDefs}
	for _, schema := range s.schemaList() {
		defs := tables[schema["id"].(string)]
		if defs == nil {
			t.Fatalf("no attribute table for %s", schema["id"])
		}
		declared := schema["attributes"].([]map[string]any)
		checkReturned(t, schema["id"].(string), declared, defs, true)
	}
}

// common are RFC 7643 section 3.1's attributes (and schemas), which /Schemas
// leaves out as the RFC's own schema documents do.
var common = map[string]bool{"schemas": true, "id": true, "meta": true}

func checkReturned(t *testing.T, where string, declared []map[string]any, defs []attrDef, top bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range declared {
		name := a["name"].(string)
		seen[name] = true
		var d *attrDef
		for i := range defs {
			if defs[i].name == name {
				d = &defs[i]
			}
		}
		if d == nil {
			t.Errorf("%s: /Schemas declares %s, which the projection does not know", where, name)
			continue
		}
		if a["returned"] != string(d.returned) {
			t.Errorf("%s.%s: /Schemas says returned %v, the projection applies %s", where, name, a["returned"], d.returned)
		}
		subs, _ := a["subAttributes"].([]map[string]any)
		checkReturned(t, where+"."+name, subs, d.subs, false)
	}
	for _, d := range defs {
		if !seen[d.name] && !(top && common[d.name]) {
			t.Errorf("%s: the projection knows %s, which /Schemas does not declare", where, d.name)
		}
	}
}

// FuzzParseSelection: any query either is refused with a SCIM 400 or gives
// names in attribute notation, and a selection never drops id or schemas.
func FuzzParseSelection(f *testing.F) {
	for _, s := range []string{"attributes=userName", "excludedAttributes=members", "attributes=urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
		"attributes=a,,b", "attributes=x&excludedAttributes=y", "attributes=emails[type eq \"work\"]", "excludedAttributes=members.$ref"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		s, err := ParseSelection(q)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Status != 400 || e.SCIMType != "invalidValue" {
				t.Fatalf("%q: %v", query, err)
			}
			return
		}
		for _, r := range s.Refs {
			path := r.Attr
			if r.Sub != "" {
				path += "." + r.Sub
			}
			if !isAttrPath(path) || (r.URN != "" && !strings.HasPrefix(r.URN, "urn:")) {
				t.Fatalf("%q: bad name %+v", query, r)
			}
		}
		out := marshal(t, s.apply(testUser()))
		if !strings.HasPrefix(out, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"`) {
			t.Fatalf("%q: %s", query, out)
		}
	})
}
