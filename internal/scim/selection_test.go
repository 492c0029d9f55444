package scim_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/scim"
	"github.com/sesame-idp/sesame/internal/store"
)

// readCounter is the real store, counting the reads of a group's members
// and of a user's groups, to show what a response leaves out is not read.
type readCounter struct {
	store.Store
	members, groups int
}

func (c *readCounter) ListMembers(ctx context.Context, groupID string) ([]store.User, error) {
	c.members++
	return c.Store.ListMembers(ctx, groupID)
}

func (c *readCounter) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	c.groups++
	return c.Store.ListUserGroups(ctx, userID)
}

// counting makes the fixture's server read through a readCounter.
func (f *fixture) counting() *readCounter {
	c := &readCounter{Store: f.st}
	srv := &scim.Server{Store: c, Dir: f.dir, Tokens: f.tokens, BaseURL: base,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	f.h = srv.Handler()
	return c
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func resources(t *testing.T, r reply) []map[string]any {
	t.Helper()
	list, _ := r.body["Resources"].([]any)
	var out []map[string]any
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// TestEntraExcludesMembers is Entra ID's request: the group without its
// members, which are not even read.
func TestEntraExcludesMembers(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	bob := f.createUser(`{` + userSchema + `,"userName":"bob"}`)["id"].(string)
	r := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Sales","externalId":"S-1","members":[{"value":"`+alice+`"},{"value":"`+bob+`"}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	gid := r.body["id"].(string)
	f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Ops","members":[{"value":"`+alice+`"}]}`)
	reads := f.counting()

	// The request Entra ID's provisioning service sends, encoded as it
	// sends it.
	r = f.do("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Sales"`), "")
	list := resources(t, r)
	if r.status != 200 || r.body["totalResults"] != float64(1) || len(list) != 1 {
		t.Fatalf("Entra's request: %d %s", r.status, r.raw)
	}
	if g := list[0]; g["id"] != gid || g["displayName"] != "Sales" || g["externalId"] != "S-1" || g["members"] != nil ||
		!slices.Equal(keys(g), []string{"displayName", "externalId", "id", "meta", "schemas"}) {
		t.Errorf("Entra's request: %s", r.raw)
	}
	if reads.members != 0 {
		t.Errorf("excludedAttributes=members read the members %d times", reads.members)
	}

	// One group, and every group of a list, the same way; names are
	// case-insensitive and may carry the schema URN.
	for _, path := range []string{
		"/Groups/" + gid + "?excludedAttributes=members",
		"/Groups/" + gid + "?excludedAttributes=MEMBERS",
		"/Groups/" + gid + "?excludedAttributes=" + url.QueryEscape("urn:ietf:params:scim:schemas:core:2.0:Group:members"),
		"/Groups?excludedAttributes=members",
		"/Groups?attributes=displayName",
	} {
		r := f.do("GET", path, "")
		if r.status != 200 || strings.Contains(r.raw, `"members"`) || strings.Contains(r.raw, alice) {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
	if r := f.do("GET", "/Groups?excludedAttributes=members", ""); len(resources(t, r)) != 2 {
		t.Errorf("list without members: %s", r.raw)
	}
	if reads.members != 0 {
		t.Errorf("leaving members out read them %d times", reads.members)
	}

	// Without the parameter, or when members are asked for, they are there.
	for _, path := range []string{"/Groups/" + gid, "/Groups/" + gid + "?attributes=members", "/Groups/" + gid + "?attributes=members.value"} {
		if r := f.do("GET", path, ""); r.status != 200 || !strings.Contains(r.raw, alice) || !strings.Contains(r.raw, bob) {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
	if reads.members == 0 {
		t.Error("the members were never read")
	}

	// A PATCH answered without the members still changes them.
	r = f.do("PATCH", "/Groups/"+gid+"?excludedAttributes=members", `{`+patchSchema+`,"Operations":[{"op":"remove","path":"members[value eq \"`+bob+`\"]"}]}`)
	if r.status != 200 || strings.Contains(r.raw, `"members"`) || r.body["displayName"] != "Sales" {
		t.Errorf("PATCH with excludedAttributes=members: %d %s", r.status, r.raw)
	}
	if m, _ := f.st.ListMembers(context.Background(), gid); len(m) != 1 || m[0].ID != alice {
		t.Errorf("members after the PATCH: %+v", m)
	}
}

func TestAttributesOnUsers(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(`{` + userSchema + `,"userName":"alice","displayName":"Alice","emails":[{"value":"alice@example.com"}],"externalId":"HR-1"}`)["id"].(string)
	f.createUser(`{` + userSchema + `,"userName":"bob","emails":[{"value":"bob@example.com"}]}`)
	f.createUser(`{` + userSchema + `,"userName":"carol"}`)
	f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Sales","members":[{"value":"`+alice+`"}]}`)
	reads := f.counting()

	// attributes=userName: id and schemas, which are always returned, and
	// userName; meta is "default" (RFC 7643 section 3.1), so it goes too,
	// as in RFC 7644 section 3.9's own example.
	r := f.do("GET", "/Users/"+alice+"?attributes=userName", "")
	if r.status != 200 || !slices.Equal(keys(r.body), []string{"id", "schemas", "userName"}) || r.body["id"] != alice || r.body["userName"] != "alice" {
		t.Errorf("attributes=userName: %d %s", r.status, r.raw)
	}
	// Every resource of a list.
	for query, want := range map[string][]string{
		"attributes=userName":           {"id", "schemas", "userName"},
		"attributes=id":                 {"id", "schemas"},
		"attributes=UserName,emails":    {"emails", "id", "schemas", "userName"},
		"attributes=title":              {"id", "schemas"}, // a name Sesame does not keep selects nothing
		"excludedAttributes=id,schemas": {"active", "displayName", "emails", "groups", "id", "meta", "name", "schemas", "userName"},
	} {
		r := f.do("GET", "/Users?"+query, "")
		list := resources(t, r)
		if r.status != 200 || len(list) != 3 {
			t.Errorf("%s: %d %s", query, r.status, r.raw)
			continue
		}
		for _, u := range list {
			got := keys(u)
			// emails, externalId and groups are left out when empty.
			got = slices.DeleteFunc(got, func(k string) bool { return k == "externalId" })
			want := slices.DeleteFunc(slices.Clone(want), func(k string) bool {
				return (k == "emails" && u["emails"] == nil) || (k == "groups" && u["groups"] == nil)
			})
			if !slices.Equal(got, want) || u["id"] == nil || u["schemas"] == nil {
				t.Errorf("%s: resource %v, want attributes %v", query, u, want)
			}
		}
	}
	if reads.groups != 3 { // only the last list, which returns groups, read them
		t.Errorf("users' groups read %d times, want 3", reads.groups)
	}
	// Sub-attributes.
	r = f.do("GET", "/Users/"+alice+"?attributes=emails.value,name.formatted,groups.display", "")
	if r.status != 200 || r.raw != `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+alice+`","name":{"formatted":"Alice"},"emails":[{"value":"alice@example.com"}],"groups":[{"display":"Sales"}]}` {
		t.Errorf("sub-attributes: %d %s", r.status, r.raw)
	}
	r = f.do("GET", "/Users/"+alice+"?excludedAttributes=emails.type,emails.primary,meta,groups,name", "")
	if r.status != 200 || r.raw != `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+alice+`","externalId":"HR-1","userName":"alice","displayName":"Alice","active":true,"emails":[{"value":"alice@example.com"}]}` {
		t.Errorf("excluded sub-attributes: %d %s", r.status, r.raw)
	}
	// The version covers the groups: it comes with a resource read whole,
	// and when asked for by name.
	full := f.do("GET", "/Users/"+alice, "")
	v := full.body["meta"].(map[string]any)["version"]
	if r := f.do("GET", "/Users/"+alice+"?attributes=meta.version", ""); r.header.Get("ETag") != v || r.raw != `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+alice+`","meta":{"version":`+itoaq(v)+`}}` {
		t.Errorf("attributes=meta.version: %s (ETag %s, want %v)", r.raw, r.header.Get("ETag"), v)
	}
	if r := f.do("GET", "/Users/"+alice+"?excludedAttributes=groups", ""); r.header.Get("ETag") != "" || strings.Contains(r.raw, `"version"`) || r.body["meta"] == nil {
		t.Errorf("excludedAttributes=groups: ETag %q, %s", r.header.Get("ETag"), r.raw)
	}
}

func itoaq(v any) string { s, _ := v.(string); return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestAttributesOnChanges: POST, PUT and PATCH return a resource, so they
// honour the parameters too (RFC 7644 section 3.9: "any operation that
// returns a resource").
func TestAttributesOnChanges(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/Users?attributes=userName", `{`+userSchema+`,"userName":"alice","displayName":"Alice"}`)
	id, _ := r.body["id"].(string)
	if r.status != http.StatusCreated || !slices.Equal(keys(r.body), []string{"id", "schemas", "userName"}) || r.header.Get("Location") != base+"/Users/"+id {
		t.Fatalf("POST with attributes=userName: %d %s", r.status, r.raw)
	}
	r = f.do("PUT", "/Users/"+id+"?attributes=displayName", `{`+userSchema+`,"userName":"alice","displayName":"Alice L"}`)
	if r.status != 200 || r.raw != `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`","displayName":"Alice L"}` {
		t.Errorf("PUT with attributes=displayName: %d %s", r.status, r.raw)
	}
	r = f.do("PATCH", "/Users/"+id+"?excludedAttributes=meta,name,emails,groups,userName,displayName", `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if r.status != 200 || r.raw != `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`","active":false}` {
		t.Errorf("PATCH with excludedAttributes: %d %s", r.status, r.raw)
	}
	r = f.do("POST", "/Groups?excludedAttributes=members", `{`+groupSchema+`,"displayName":"Sales","members":[{"value":"`+id+`"}]}`)
	if r.status != http.StatusCreated || strings.Contains(r.raw, `"members"`) || r.body["displayName"] != "Sales" {
		t.Errorf("POST /Groups with excludedAttributes=members: %d %s", r.status, r.raw)
	}
	gid, _ := r.body["id"].(string)
	if m, _ := f.st.ListMembers(context.Background(), gid); len(m) != 1 {
		t.Errorf("members of the created group: %+v", m)
	}
	r = f.do("PUT", "/Groups/"+gid+"?attributes=members", `{`+groupSchema+`,"displayName":"Sales","members":[]}`)
	if r.status != 200 || !slices.Equal(keys(r.body), []string{"id", "schemas"}) {
		t.Errorf("PUT /Groups emptied with attributes=members: %d %s", r.status, r.raw)
	}
}

// TestSelectionErrors: malformed parameters get 400 invalidValue, whatever
// the method, and a refused change changes nothing.
func TestSelectionErrors(t *testing.T) {
	f := newFixture(t)
	id := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	gid := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Sales"}`).body["id"].(string)
	before := f.snapshot()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/Users?attributes=userName&excludedAttributes=emails", ""},
		{"GET", "/Users/" + id + "?attributes=userName&excludedAttributes=emails", ""},
		{"GET", "/Groups?excludedAttributes=members&attributes=displayName&filter=" + q(`displayName eq "Sales"`), ""},
		{"GET", "/Groups/" + gid + "?excludedAttributes=members,,meta", ""},
		{"GET", "/Users?attributes=" + q(`emails[type eq "work"].value`), ""},
		{"GET", "/Users/" + id + "?attributes=name.givenName.x", ""},
		{"POST", "/Users?attributes=userName&excludedAttributes=id", `{` + userSchema + `,"userName":"bob"}`},
		{"PUT", "/Users/" + id + "?attributes=user%20name", `{` + userSchema + `,"userName":"alice2"}`},
		{"PATCH", "/Users/" + id + "?attributes=a,", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{"POST", "/Groups?attributes=*", `{` + groupSchema + `,"displayName":"Ops"}`},
		{"PATCH", "/Groups/" + gid + "?attributes=id&excludedAttributes=members", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"Ops"}]}`},
	} {
		f.scimError(tc.method+" "+tc.path, f.do(tc.method, tc.path, tc.body), 400, "invalidValue")
	}
	if f.snapshot() != before {
		t.Error("a request with bad attributes changed the directory")
	}
}
