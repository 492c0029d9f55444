package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/scim"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

const base = "https://id.example.com/scim/v2"

// renames records the renames the directory's GroupRenamed hook was told
// of (in the app it rewrites the policies naming the group), proving a
// SCIM rename reaches it; fail makes the hook refuse.
type renames struct {
	seen []string
	fail error
}

func (r *renames) hook(_ context.Context, _ audit.Actor, oldName, newName string) error {
	if r.fail != nil {
		return r.fail
	}
	r.seen = append(r.seen, oldName+"->"+newName)
	return nil
}

type fixture struct {
	t       *testing.T
	st      store.Store
	dir     *directory.Service
	tokens  *scim.Tokens
	renames *renames
	h       http.Handler
	token   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rn := &renames{}
	dir := &directory.Service{Store: st, Now: time.Now, GroupRenamed: rn.hook}
	f := &fixture{t: t, st: st, dir: dir, tokens: &scim.Tokens{Store: st, Now: time.Now}, renames: rn}
	srv := &scim.Server{Store: st, Dir: dir, Tokens: f.tokens, BaseURL: base,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	f.h = srv.Handler()
	if f.token, err = f.tokens.Issue(context.Background(), audit.CLI, "hr"); err != nil {
		t.Fatal(err)
	}
	return f
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with the fixture's token unless headers say otherwise
// (pairs of name, value; "Authorization", "" removes it).
func (f *fixture) do(method, path, body string, headers ...string) reply {
	f.t.Helper()
	r := httptest.NewRequest(method, "/scim/v2"+path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+f.token)
	if body != "" {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
		} else {
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	rep := reply{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &rep.body); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %q", method, path, rep.raw)
		}
	}
	return rep
}

// scimError checks an error answer: RFC 7644's format, status and scimType.
func (f *fixture) scimError(what string, r reply, status int, scimType string) {
	f.t.Helper()
	schemas, _ := r.body["schemas"].([]any)
	if r.status != status || len(schemas) != 1 || schemas[0] != scim.ErrorSchema || r.body["status"] != itoa(status) ||
		(scimType != "" && r.body["scimType"] != scimType) || r.body["detail"] == "" || r.header.Get("Content-Type") != "application/scim+json" {
		f.t.Errorf("%s: want a SCIM error %d %s, got %d %s", what, status, scimType, r.status, r.raw)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (f *fixture) createUser(body string) map[string]any {
	f.t.Helper()
	r := f.do("POST", "/Users", body)
	if r.status != http.StatusCreated {
		f.t.Fatalf("create user: %d %s", r.status, r.raw)
	}
	return r.body
}

// snapshot is everything SCIM can change, to show that refused requests
// change nothing.
func (f *fixture) snapshot() string {
	f.t.Helper()
	ctx := context.Background()
	users, err := f.st.ListUsers(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	groups, err := f.st.ListGroups(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var members [][]store.User
	for _, g := range groups {
		m, _ := f.st.ListMembers(ctx, g.ID)
		members = append(members, m)
	}
	b, _ := json.Marshal([]any{users, groups, members})
	return string(b)
}

const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
const groupSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]`
const patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/Users", ""); r.status != http.StatusOK {
		t.Fatalf("with the token: %d %s", r.status, r.raw)
	}
	for _, tc := range []struct{ name, header string }{
		{"no header", ""},
		{"basic", "Basic aHI6eA=="},
		{"wrong token", "Bearer sesame_scim_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"other kind of secret", "Bearer " + strings.TrimPrefix(f.token, scim.TokenPrefix)},
		{"empty bearer", "Bearer "},
	} {
		r := f.do("GET", "/Users", "", "Authorization", tc.header)
		f.scimError(tc.name, r, http.StatusUnauthorized, "")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate challenge", tc.name)
		}
	}
	// A refused POST creates nothing.
	before := f.snapshot()
	f.scimError("create without token", f.do("POST", "/Users", `{`+userSchema+`,"userName":"mallory"}`, "Authorization", ""), http.StatusUnauthorized, "")
	if f.snapshot() != before {
		t.Error("a request without a token changed the directory")
	}
	// Revoked: refused at once.
	if err := f.tokens.Revoke(context.Background(), audit.CLI, "hr"); err != nil {
		t.Fatal(err)
	}
	f.scimError("revoked token", f.do("GET", "/Users", ""), http.StatusUnauthorized, "")
	// Guessing is throttled per address.
	var last reply
	for range 25 {
		last = f.do("GET", "/Users", "", "Authorization", "Bearer sesame_scim_guess")
	}
	f.scimError("after many wrong tokens", last, http.StatusTooManyRequests, "")
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/Users", `{`+userSchema+`,"externalId":"HR-1","userName":"Alice@Example.com",
		"name":{"givenName":"Alice","familyName":"Liddell"},"emails":[{"value":"alice.home@example.org","type":"home"},{"value":"alice@example.com","type":"work","primary":true}],
		"active":true,"groups":[{"value":"ignored, readOnly"}],"meta":{"resourceType":"User"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id, _ := r.body["id"].(string)
	if r.header.Get("Location") != base+"/Users/"+id || !strings.HasPrefix(r.header.Get("ETag"), `W/"`) {
		t.Errorf("Location %q ETag %q", r.header.Get("Location"), r.header.Get("ETag"))
	}
	meta, _ := r.body["meta"].(map[string]any)
	if r.body["userName"] != "alice@example.com" || r.body["displayName"] != "Alice Liddell" || r.body["externalId"] != "HR-1" ||
		r.body["active"] != true || meta["version"] != r.header.Get("ETag") || meta["resourceType"] != "User" || meta["location"] != r.header.Get("Location") {
		t.Errorf("created user: %s", r.raw)
	}
	u, err := f.st.GetUser(context.Background(), id)
	if err != nil || u.Email != "alice@example.com" || u.ExternalID != "HR-1" || u.Disabled {
		t.Errorf("stored: %+v %v", u, err)
	}
	// Core attributes Sesame has no place for (as Okta and Entra ID send
	// them) are accepted and dropped.
	r = f.do("POST", "/Users", `{`+userSchema+`,"userName":"olga","locale":"en-US","title":"CFO","phoneNumbers":[{"value":"+1 555","type":"work"}]}`)
	if r.status != http.StatusCreated || strings.Contains(r.raw, "CFO") || strings.Contains(r.raw, "locale") {
		t.Errorf("create with attributes not kept: %d %s", r.status, r.raw)
	}
	if r := f.do("PATCH", "/Users/"+r.body["id"].(string), `{`+patchSchema+`,"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].formatted","value":"1 Main St"},{"op":"remove","path":"title"}]}`); r.status != 200 {
		t.Errorf("patch of attributes not kept: %d %s", r.status, r.raw)
	}
	// Created inactive: stored disabled.
	r = f.do("POST", "/Users", `{`+userSchema+`,"userName":"bob","active":false}`)
	if r.status != http.StatusCreated || r.body["active"] != false {
		t.Errorf("create inactive: %d %s", r.status, r.raw)
	}

	before := f.snapshot()
	for _, tc := range []struct {
		name, body string
		status     int
		scimType   string
		headers    []string
	}{
		{"duplicate userName", `{` + userSchema + `,"userName":"ALICE@example.com"}`, 409, "uniqueness", nil},
		{"duplicate externalId", `{` + userSchema + `,"userName":"carol","externalId":"HR-1"}`, 409, "uniqueness", nil},
		{"duplicate email", `{` + userSchema + `,"userName":"carol","emails":[{"value":"alice@example.com"}]}`, 409, "uniqueness", nil},
		{"malformed JSON", `{` + userSchema + `,"userName":`, 400, "invalidSyntax", nil},
		{"not an object", `["userName"]`, 400, "invalidSyntax", nil},
		{"no schemas", `{"userName":"carol"}`, 400, "invalidSyntax", nil},
		{"group schema", `{` + groupSchema + `,"userName":"carol"}`, 400, "invalidValue", nil},
		{"enterprise extension", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"carol"}`, 400, "invalidValue", nil},
		{"unknown attribute", `{` + userSchema + `,"userName":"carol","shoeSize":44}`, 400, "invalidSyntax", nil},
		{"unknown name part", `{` + userSchema + `,"userName":"carol","name":{"nickname":"c"}}`, 400, "invalidSyntax", nil},
		{"attribute twice", `{` + userSchema + `,"userName":"carol","USERNAME":"dave"}`, 400, "invalidSyntax", nil},
		{"no userName", `{` + userSchema + `,"displayName":"Carol"}`, 400, "invalidValue", nil},
		{"bad userName", `{` + userSchema + `,"userName":"carol smith"}`, 400, "invalidValue", nil},
		{"password", `{` + userSchema + `,"userName":"carol","password":"hunter2"}`, 400, "invalidValue", nil},
		{"userName not a string", `{` + userSchema + `,"userName":7}`, 400, "invalidValue", nil},
		{"active not a boolean", `{` + userSchema + `,"userName":"carol","active":"maybe"}`, 400, "invalidValue", nil},
		{"bad email", `{` + userSchema + `,"userName":"carol","emails":[{"value":"not an address"}]}`, 400, "invalidValue", nil},
		{"emails not a list", `{` + userSchema + `,"userName":"carol","emails":"carol@example.com"}`, 400, "invalidValue", nil},
		{"oversized body", `{` + userSchema + `,"userName":"carol","displayName":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", nil},
		{"wrong content type", `{` + userSchema + `,"userName":"carol"}`, 415, "", []string{"Content-Type", "text/plain"}},
	} {
		f.scimError(tc.name, f.do("POST", "/Users", tc.body, tc.headers...), tc.status, tc.scimType)
	}
	if f.snapshot() != before {
		t.Error("a refused create changed the directory")
	}
}

func TestGetAndListUsers(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for i, name := range []string{"carol", "alice", "bob", "dave", "erin"} {
		u := f.createUser(`{` + userSchema + `,"userName":"` + name + `","externalId":"HR-` + itoa(i) + `"}`)
		ids = append(ids, u["id"].(string))
	}
	r := f.do("GET", "/Users/"+ids[0], "")
	if r.status != 200 || r.body["userName"] != "carol" || r.header.Get("ETag") == "" {
		t.Errorf("get: %d %s", r.status, r.raw)
	}
	f.scimError("unknown id", f.do("GET", "/Users/nope", ""), 404, "")

	names := func(r reply) []string {
		var out []string
		for _, res := range r.body["Resources"].([]any) {
			out = append(out, res.(map[string]any)["userName"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
		total int
	}{
		{"", []string{"alice", "bob", "carol", "dave", "erin"}, 5},
		{"?filter=" + q(`userName eq "Bob"`), []string{"bob"}, 1},
		{"?filter=" + q(`externalId eq "HR-3"`), []string{"dave"}, 1},
		{"?filter=" + q(`externalId eq "hr-3"`), nil, 0}, // caseExact
		{"?filter=" + q(`userName eq "nobody"`), nil, 0},
		{"?filter=" + q(`userName eq "not a username!"`), nil, 0},
		{"?startIndex=2&count=2", []string{"bob", "carol"}, 5},
		{"?startIndex=5&count=10", []string{"erin"}, 5},
		{"?startIndex=9", nil, 5},
		{"?startIndex=0&count=1", []string{"alice"}, 5},
		{"?count=0", nil, 5},
		{"?count=-3", nil, 5},
	} {
		r := f.do("GET", "/Users"+tc.query, "")
		if r.status != 200 || int(r.body["totalResults"].(float64)) != tc.total || !slices.Equal(names(r), tc.want) ||
			int(r.body["itemsPerPage"].(float64)) != len(tc.want) || r.body["schemas"].([]any)[0] != scim.ListSchema {
			t.Errorf("GET /Users%s: %d %s; want %v of %d", tc.query, r.status, r.raw, tc.want, tc.total)
		}
	}
	for _, tc := range []struct{ query, scimType string }{
		{"?filter=" + q(`userName co "a"`), "invalidFilter"},
		{"?filter=" + q(`userName eq "a" or userName eq "b"`), "invalidFilter"},
		{"?filter=" + q(`displayName eq "Alice"`), "invalidFilter"},
		{"?filter=" + q(`userName eq true`), "invalidFilter"},
		{"?filter=", "invalidFilter"},
		{"?startIndex=one", "invalidValue"},
		{"?count=many", "invalidValue"},
	} {
		f.scimError("GET /Users"+tc.query, f.do("GET", "/Users"+tc.query, ""), 400, tc.scimType)
	}
}

func q(s string) string { return strings.NewReplacer(" ", "%20", `"`, "%22").Replace(s) }

func TestPatchUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created := f.createUser(`{` + userSchema + `,"userName":"alice","externalId":"HR-1","emails":[{"value":"alice@example.com"}]}`)
	id := created["id"].(string)
	f.createUser(`{` + userSchema + `,"userName":"bob","externalId":"HR-2"}`)
	patch := func(ops string, headers ...string) reply {
		return f.do("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":`+ops+`}`, headers...)
	}

	r := patch(`[{"op":"replace","path":"displayName","value":"Alice L."},
		{"op":"Add","path":"emails[type eq \"work\"].value","value":"alice@corp.example.com"},
		{"op":"remove","path":"externalId"}]`)
	if r.status != 200 || r.body["displayName"] != "Alice L." || r.body["externalId"] != nil ||
		r.body["emails"].([]any)[0].(map[string]any)["value"] != "alice@corp.example.com" {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	// A replace without a path, as Entra ID sends it (attribute paths as keys).
	r = patch(`[{"op":"Replace","value":{"userName":"alice.l","name.formatted":"Alice Liddell","externalId":"HR-9"}}]`)
	if r.status != 200 || r.body["userName"] != "alice.l" || r.body["displayName"] != "Alice Liddell" || r.body["externalId"] != "HR-9" {
		t.Fatalf("patch without path: %d %s", r.status, r.raw)
	}

	// Deactivating (Entra ID sends the string "False") disables the user and
	// ends their sessions.
	now := time.Now()
	sess := store.Session{TokenHash: []byte("session-of-alice"), UserID: id, Methods: []string{"passkey"}, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := f.st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	etag := r.header.Get("ETag")
	r = patch(`[{"op":"Replace","path":"active","value":"False"}]`, "If-Match", etag)
	if r.status != 200 || r.body["active"] != false {
		t.Fatalf("deactivate: %d %s", r.status, r.raw)
	}
	if u, _ := f.st.GetUser(ctx, id); !u.Disabled {
		t.Error("not stored as disabled")
	}
	if _, err := f.st.GetSession(ctx, sess.TokenHash); err == nil {
		t.Error("the disabled user's session still exists")
	}
	// The old version no longer matches.
	f.scimError("stale If-Match", patch(`[{"op":"replace","path":"active","value":true}]`, "If-Match", etag), http.StatusPreconditionFailed, "")

	before := f.snapshot()
	for _, tc := range []struct {
		name, body string
		status     int
		scimType   string
	}{
		{"unknown path", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"shoeSize","value":44}]}`, 400, "invalidPath"},
		{"unknown path after a good op", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"X"},{"op":"replace","path":"costCenter","value":"7"}]}`, 400, "invalidPath"},
		{"enterprise attribute", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"R&D"}]}`, 400, "invalidPath"},
		{"bad filter in path", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"emails[type co \"w\"].value","value":"x@example.com"}]}`, 400, "invalidPath"},
		{"remove userName", `{` + patchSchema + `,"Operations":[{"op":"remove","path":"userName"}]}`, 400, "mutability"},
		{"remove without path", `{` + patchSchema + `,"Operations":[{"op":"remove"}]}`, 400, "noTarget"},
		{"unknown op", `{` + patchSchema + `,"Operations":[{"op":"move","path":"displayName","value":"X"}]}`, 400, "invalidSyntax"},
		{"no value", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName"}]}`, 400, "invalidValue"},
		{"no operations", `{` + patchSchema + `,"Operations":[]}`, 400, "invalidSyntax"},
		{"user schema", `{` + userSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"X"}]}`, 400, "invalidValue"},
		{"malformed JSON", `{` + patchSchema + `,"Operations":[{"op":`, 400, "invalidSyntax"},
		{"taken userName", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"userName","value":"bob"}]}`, 409, "uniqueness"},
		{"taken externalId", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"externalId","value":"HR-2"}]}`, 409, "uniqueness"},
		{"empty userName", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"userName","value":""}]}`, 400, "invalidValue"},
		{"active not boolean", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"active","value":"nope"}]}`, 400, "invalidValue"},
	} {
		f.scimError(tc.name, f.do("PATCH", "/Users/"+id, tc.body), tc.status, tc.scimType)
	}
	f.scimError("unknown id", f.do("PATCH", "/Users/nope", `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":false}]}`), 404, "")
	if f.snapshot() != before {
		t.Error("a refused PATCH changed the directory")
	}
}

func TestReplaceAndDeleteUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.createUser(`{` + userSchema + `,"userName":"alice","externalId":"HR-1","displayName":"Alice","emails":[{"value":"alice@example.com"}]}`)["id"].(string)
	f.createUser(`{` + userSchema + `,"userName":"bob"}`)

	// PUT replaces: what is left out is cleared (active stays as it was).
	r := f.do("PUT", "/Users/"+id, `{`+userSchema+`,"id":"ignored","userName":"alice2","name":{"formatted":"Alice Two"}}`)
	if r.status != 200 || r.body["userName"] != "alice2" || r.body["displayName"] != "Alice Two" || r.body["externalId"] != nil || r.body["emails"] != nil || r.body["active"] != true || r.body["id"] != id {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	before := f.snapshot()
	f.scimError("put taken userName", f.do("PUT", "/Users/"+id, `{`+userSchema+`,"userName":"bob"}`), 409, "uniqueness")
	f.scimError("put without userName", f.do("PUT", "/Users/"+id, `{`+userSchema+`,"displayName":"x"}`), 400, "invalidValue")
	f.scimError("put unknown attribute", f.do("PUT", "/Users/"+id, `{`+userSchema+`,"userName":"alice2","nickname2":"al"}`), 400, "invalidSyntax")
	f.scimError("put with a password", f.do("PUT", "/Users/"+id, `{`+userSchema+`,"userName":"alice2","password":"hunter2"}`), 400, "invalidValue")
	f.scimError("put unknown id", f.do("PUT", "/Users/nope", `{`+userSchema+`,"userName":"zed"}`), 404, "")
	f.scimError("delete with a stale If-Match", f.do("DELETE", "/Users/"+id, "", "If-Match", `W/"0000"`), 412, "")
	if f.snapshot() != before {
		t.Error("a refused PUT or DELETE changed the directory")
	}

	r = f.do("DELETE", "/Users/"+id, "")
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if _, err := f.st.GetUser(ctx, id); err == nil {
		t.Error("the user is still stored")
	}
	f.scimError("get deleted", f.do("GET", "/Users/"+id, ""), 404, "")
	f.scimError("delete again", f.do("DELETE", "/Users/"+id, ""), 404, "")
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	bob := f.createUser(`{` + userSchema + `,"userName":"bob"}`)["id"].(string)
	carol := f.createUser(`{` + userSchema + `,"userName":"carol"}`)["id"].(string)

	r := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Engineering","externalId":"dept-7","members":[{"value":"`+alice+`"},{"value":"`+bob+`","type":"User"}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	gid := r.body["id"].(string)
	memberIDs := func(r reply) []string {
		var out []string
		ms, _ := r.body["members"].([]any)
		for _, m := range ms {
			out = append(out, m.(map[string]any)["value"].(string))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	if r.body["displayName"] != "Engineering" || r.body["externalId"] != "dept-7" || !slices.Equal(memberIDs(r), sorted(alice, bob)) ||
		r.header.Get("Location") != base+"/Groups/"+gid {
		t.Errorf("created group: %s", r.raw)
	}
	// The user shows the group.
	if r := f.do("GET", "/Users/"+alice, ""); !strings.Contains(r.raw, `"display":"Engineering"`) {
		t.Errorf("alice's groups: %s", r.raw)
	}

	// Filters.
	for _, query := range []string{`displayName eq "Engineering"`, `externalId eq "dept-7"`} {
		r := f.do("GET", "/Groups?filter="+q(query), "")
		if r.status != 200 || r.body["totalResults"] != float64(1) {
			t.Errorf("filter %s: %s", query, r.raw)
		}
	}
	if r := f.do("GET", "/Groups?excludedAttributes=members", ""); strings.Contains(r.raw, `"members"`) || r.body["totalResults"] != float64(1) {
		t.Errorf("excludedAttributes=members: %s", r.raw)
	}
	f.scimError("filter by userName", f.do("GET", "/Groups?filter="+q(`userName eq "x"`), ""), 400, "invalidFilter")

	patch := func(ops string) reply {
		return f.do("PATCH", "/Groups/"+gid, `{`+patchSchema+`,"Operations":`+ops+`}`)
	}
	// Add carol, remove alice by value filter.
	r = patch(`[{"op":"add","path":"members","value":[{"value":"` + carol + `"}]},{"op":"remove","path":"members[value eq \"` + alice + `\"]"}]`)
	if r.status != 200 || !slices.Equal(memberIDs(r), sorted(bob, carol)) {
		t.Fatalf("patch members: %d %s", r.status, r.raw)
	}
	// Entra ID's remove: the members in the value.
	r = patch(`[{"op":"Remove","path":"members","value":[{"value":"` + bob + `"}]}]`)
	if r.status != 200 || !slices.Equal(memberIDs(r), []string{carol}) {
		t.Fatalf("remove with value: %d %s", r.status, r.raw)
	}
	// A rename reaches the directory's rename hook.
	r = patch(`[{"op":"replace","path":"displayName","value":"R&D"}]`)
	if r.status != 200 || r.body["displayName"] != "R&D" || !slices.Equal(f.renames.seen, []string{"Engineering->R&D"}) {
		t.Fatalf("rename: %d %s (renames %v)", r.status, r.raw, f.renames.seen)
	}
	if g, err := f.st.GetGroup(ctx, gid); err != nil || g.Name != "R&D" {
		t.Errorf("stored group: %+v %v", g, err)
	}

	f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Sales","externalId":"dept-9"}`)
	before := f.snapshot()
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"unknown member", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"add","path":"members","value":[{"value":"` + alice + `"},{"value":"nobody"}]}]}`, 400, "invalidValue"},
		{"member without value", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"add","path":"members","value":[{"display":"x"}]}]}`, 400, "invalidValue"},
		{"group as member", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"add","path":"members","value":[{"value":"` + alice + `","type":"Group"}]}]}`, 400, "invalidValue"},
		{"rename onto a taken name", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"Sales"}]}`, 409, "uniqueness"},
		{"taken externalId", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"externalId","value":"dept-9"}]}`, 409, "uniqueness"},
		{"remove displayName", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"remove","path":"displayName"}]}`, 400, "mutability"},
		{"unknown path", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"owner","value":"x"}]}`, 400, "invalidPath"},
		{"members sub-attribute", "PATCH", "/Groups/" + gid, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"members[value eq \"x\"].display","value":"x"}]}`, 400, "invalidPath"},
		{"duplicate name", "POST", "/Groups", `{` + groupSchema + `,"displayName":"Sales"}`, 409, "uniqueness"},
		{"no displayName", "POST", "/Groups", `{` + groupSchema + `,"externalId":"x"}`, 400, "invalidValue"},
		{"user schema", "POST", "/Groups", `{` + userSchema + `,"displayName":"Ops"}`, 400, "invalidValue"},
		{"unknown attribute", "POST", "/Groups", `{` + groupSchema + `,"displayName":"Ops","owners":[]}`, 400, "invalidSyntax"},
		{"create with unknown member", "POST", "/Groups", `{` + groupSchema + `,"displayName":"Ops","members":[{"value":"nobody"}]}`, 400, "invalidValue"},
		{"malformed JSON", "POST", "/Groups", `{"displayName"`, 400, "invalidSyntax"},
		{"put unknown id", "PUT", "/Groups/nope", `{` + groupSchema + `,"displayName":"Ops"}`, 404, ""},
		{"delete unknown id", "DELETE", "/Groups/nope", ``, 404, ""},
	} {
		f.scimError(tc.name, f.do(tc.method, tc.path, tc.body), tc.status, tc.scimType)
	}
	if f.snapshot() != before {
		t.Error("a refused group request changed the directory")
	}

	// PUT replaces name, external ID and members.
	r = f.do("PUT", "/Groups/"+gid, `{`+groupSchema+`,"displayName":"Research","members":[{"value":"`+alice+`"},{"value":"`+bob+`"}]}`)
	if r.status != 200 || r.body["displayName"] != "Research" || r.body["externalId"] != nil || !slices.Equal(memberIDs(r), sorted(alice, bob)) {
		t.Fatalf("put group: %d %s", r.status, r.raw)
	}
	if r := f.do("DELETE", "/Groups/"+gid, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete group: %d %s", r.status, r.raw)
	}
	f.scimError("get deleted group", f.do("GET", "/Groups/"+gid, ""), 404, "")
	if _, err := f.st.GetUser(ctx, alice); err != nil {
		t.Error("deleting a group deleted a member")
	}
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/ServiceProviderConfig", "")
	if r.status != 200 || r.body["patch"].(map[string]any)["supported"] != true || r.body["bulk"].(map[string]any)["supported"] != false ||
		r.body["etag"].(map[string]any)["supported"] != true || r.body["filter"].(map[string]any)["maxResults"] != float64(200) {
		t.Errorf("ServiceProviderConfig: %s", r.raw)
	}
	r = f.do("GET", "/ResourceTypes", "")
	if r.status != 200 || r.body["totalResults"] != float64(2) || !strings.Contains(r.raw, `"endpoint":"/Users"`) || !strings.Contains(r.raw, `"endpoint":"/Groups"`) {
		t.Errorf("ResourceTypes: %s", r.raw)
	}
	if r := f.do("GET", "/ResourceTypes/Group", ""); r.status != 200 || r.body["schema"] != scim.GroupSchema {
		t.Errorf("ResourceTypes/Group: %s", r.raw)
	}
	r = f.do("GET", "/Schemas", "")
	if r.status != 200 || r.body["totalResults"] != float64(2) {
		t.Errorf("Schemas: %s", r.raw)
	}
	r = f.do("GET", "/Schemas/"+scim.UserSchema, "")
	if r.status != 200 || !strings.Contains(r.raw, `"name":"userName"`) || !strings.Contains(r.raw, `"name":"active"`) {
		t.Errorf("Schemas/User: %s", r.raw)
	}
	f.scimError("unknown schema", f.do("GET", "/Schemas/urn:x", ""), 404, "")
	f.scimError("unknown resource type", f.do("GET", "/ResourceTypes/Device", ""), 404, "")
	f.scimError("bulk", f.do("POST", "/Bulk", "{}"), 404, "")
	f.scimError("me", f.do("GET", "/Me", ""), 404, "")
}

func TestAuditNamesTheToken(t *testing.T) {
	f := newFixture(t)
	id := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	f.do("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":false}]}`)
	f.do("DELETE", "/Users/"+id, "")
	evs, err := f.st.ListAudit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Actor+" "+e.Action)
	}
	want := []string{"scim:hr user.delete", "scim:hr user.disable", "scim:hr user.create", "cli scim.token.issue"}
	if !slices.Equal(got, want) {
		t.Errorf("audit log %v, want %v", got, want)
	}
}

// TestGroupChangesAllOrNothing: a PUT or PATCH of a group that is refused
// at any step leaves its name, externalId and members as they were, read
// back through SCIM, and writes no audit record.
func TestGroupChangesAllOrNothing(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	bob := f.createUser(`{` + userSchema + `,"userName":"bob"}`)["id"].(string)
	carol := f.createUser(`{` + userSchema + `,"userName":"carol"}`)["id"].(string)
	r := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Engineering","externalId":"dept-7","members":[{"value":"`+alice+`"},{"value":"`+carol+`"}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	gid := r.body["id"].(string)
	if r := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Sales","externalId":"dept-9"}`); r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	// read is the group as SCIM shows it: what a client compares.
	read := func() string {
		t.Helper()
		r := f.do("GET", "/Groups/"+gid, "")
		if r.status != 200 {
			t.Fatalf("get group: %d %s", r.status, r.raw)
		}
		var ms []string
		for _, m := range r.body["members"].([]any) {
			ms = append(ms, m.(map[string]any)["value"].(string))
		}
		slices.Sort(ms)
		return fmt.Sprintf("%v|%v|%v", r.body["displayName"], r.body["externalId"], ms)
	}
	audits := func() int {
		t.Helper()
		evs, err := f.st.ListAudit(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	patch := func(ops string) string { return `{` + patchSchema + `,"Operations":` + ops + `}` }
	before, beforeAudits := read(), audits()

	for _, tc := range []struct {
		name, method, body string
		status             int
		scimType           string
	}{
		{"patch: rename, add a user and an unknown one", "PATCH", patch(`[{"op":"replace","path":"displayName","value":"R&D"},` +
			`{"op":"add","path":"members","value":[{"value":"` + bob + `"},{"value":"nobody"}]}]`), 400, "invalidValue"},
		{"put: rename, add a user and an unknown one", "PUT", `{` + groupSchema + `,"displayName":"R&D","externalId":"dept-7","members":[` +
			`{"value":"` + alice + `"},{"value":"` + bob + `"},{"value":"nobody"}]}`, 400, "invalidValue"},
		// Before the change was made as a whole, these two renamed the
		// group and then failed on the external ID.
		{"patch: rename, taken externalId, add, remove", "PATCH", patch(`[{"op":"replace","path":"displayName","value":"R&D"},` +
			`{"op":"replace","path":"externalId","value":"dept-9"},{"op":"add","path":"members","value":[{"value":"` + bob + `"}]},` +
			`{"op":"remove","path":"members[value eq \"` + carol + `\"]"}]`), 409, "uniqueness"},
		{"put: rename, taken externalId, new members", "PUT", `{` + groupSchema + `,"displayName":"R&D","externalId":"dept-9","members":[` +
			`{"value":"` + bob + `"}]}`, 409, "uniqueness"},
		{"patch: taken name with members", "PATCH", patch(`[{"op":"add","path":"members","value":[{"value":"` + bob + `"}]},` +
			`{"op":"replace","path":"displayName","value":"Sales"}]`), 409, "uniqueness"},
		{"put: bad name with members", "PUT", `{` + groupSchema + `,"displayName":"R\u0001D","members":[{"value":"` + bob + `"}]}`, 400, "invalidValue"},
	} {
		f.scimError(tc.name, f.do(tc.method, "/Groups/"+gid, tc.body), tc.status, tc.scimType)
		if got := read(); got != before {
			t.Errorf("%s: group is %s, was %s", tc.name, got, before)
		}
	}

	// A rename the policies cannot follow undoes the whole change.
	f.renames.fail = errors.New("policy store unavailable")
	f.scimError("rename hook fails", f.do("PATCH", "/Groups/"+gid, patch(`[{"op":"replace","path":"displayName","value":"R&D"},`+
		`{"op":"replace","path":"externalId","value":"dept-8"},{"op":"add","path":"members","value":[{"value":"`+bob+`"}]}]`)), 500, "")
	if got := read(); got != before {
		t.Errorf("after a failed rename hook: group is %s, was %s", got, before)
	}
	f.renames.fail = nil
	if n := audits(); n != beforeAudits || len(f.renames.seen) != 0 {
		t.Fatalf("refused changes wrote %d audit records, renamed %v", n-beforeAudits, f.renames.seen)
	}

	// The same PUT without the conflict is made whole, audited as before.
	r = f.do("PUT", "/Groups/"+gid, `{`+groupSchema+`,"displayName":"R&D","externalId":"dept-8","members":[{"value":"`+alice+`"},{"value":"`+bob+`"}]}`)
	if r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	if got, want := read(), fmt.Sprintf("R&D|dept-8|%v", sortedIDs(alice, bob)); got != want {
		t.Errorf("after put: %s, want %s", got, want)
	}
	evs, err := f.st.ListAudit(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target+" "+e.Detail)
	}
	want := []string{
		`scim:hr group.remove_member R&D {"user":"carol"}`,
		`scim:hr group.add_member R&D {"user":"bob"}`,
		`scim:hr group.set_external_id R&D {"after":"dept-8","before":"dept-7"}`,
		`scim:hr group.rename R&D {"after":"R\u0026D","before":"Engineering"}`,
	}
	if !slices.Equal(got, want) || !slices.Equal(f.renames.seen, []string{"Engineering->R&D"}) {
		t.Errorf("audit log %q, want %q; renames %v", got, want, f.renames.seen)
	}
}

func sortedIDs(ids ...string) []string { slices.Sort(ids); return ids }

// raceDir is the directory with a member deleted between the SCIM server's
// check of the members and the change that adds them: what happens when an
// admin deletes a user while a POST /Groups naming them is under way.
type raceDir struct {
	*directory.Service
	st     store.Store
	victim string
}

func (d raceDir) ChangeGroup(ctx context.Context, actor audit.Actor, id string, c directory.GroupChange) (store.Group, error) {
	if err := d.st.DeleteUser(ctx, d.victim); err != nil {
		return store.Group{}, err
	}
	return d.Service.ChangeGroup(ctx, actor, id, c)
}

// TestCreateGroupMemberGoneLeavesNothing: a POST /Groups whose members
// cannot all be added is refused and leaves no group behind.
func TestCreateGroupMemberGoneLeavesNothing(t *testing.T) {
	f := newFixture(t)
	alice := f.createUser(`{` + userSchema + `,"userName":"alice"}`)["id"].(string)
	bob := f.createUser(`{` + userSchema + `,"userName":"bob"}`)["id"].(string)
	srv := &scim.Server{Store: f.st, Dir: raceDir{f.dir, f.st, bob}, Tokens: f.tokens, BaseURL: base,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	f.h = srv.Handler()
	r := f.do("POST", "/Groups", `{`+groupSchema+`,"displayName":"Engineering","members":[{"value":"`+alice+`"},{"value":"`+bob+`"}]}`)
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("POST with a member deleted meanwhile: %d %s, want a 4xx refusal", r.status, r.raw)
	}
	if _, err := f.st.GetGroupByName(context.Background(), "Engineering"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("group left behind after the refused POST: %v", err)
	}
	if r := f.do("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "Engineering"`), ""); r.status != 200 || r.body["totalResults"] != float64(0) {
		t.Fatalf("list after the refused POST: %d %s", r.status, r.raw)
	}
}
