package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/audit"
)

func (e *testEnv) doJSON(method, path, token, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *testEnv) groupNames() []string {
	e.t.Helper()
	gs, err := e.st.ListGroups(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func TestAdminRenameGroup(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	var hooked []string
	e.srv.Dir.GroupRenamed = func(_ context.Context, _ audit.Actor, oldName, newName string) error {
		hooked = append(hooked, oldName+"->"+newName)
		return nil
	}
	for _, g := range []string{"pilot/1", "sales"} {
		if _, err := e.srv.Dir.CreateGroup(ctx, audit.CLI, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, e.do("GET", "/admin", e.rootTok, nil), http.StatusOK, `action="/admin/groups/pilot%2F1/rename"`, `aria-label="Rename group pilot/1"`)

	// Console: refusals are shown on the page and change nothing.
	expect(t, e.do("POST", "/admin/groups/pilot%2F1/rename", e.rootTok, url.Values{"name": {"sales"}}), http.StatusConflict, `id="rename-group-error"`, "Renaming pilot/1", "already exists")
	expect(t, e.do("POST", "/admin/groups/pilot%2F1/rename", e.rootTok, url.Values{"name": {" "}}), http.StatusBadRequest, `id="rename-group-error"`, "1 to 64 characters")
	expect(t, e.do("POST", "/admin/groups/nope/rename", e.rootTok, url.Values{"name": {"x"}}), http.StatusNotFound)
	expect(t, e.do("POST", "/admin/groups/pilot%2F1/rename", e.bobTok, url.Values{"name": {"x"}}), http.StatusForbidden)
	if got := e.groupNames(); !slices.Equal(got, []string{"pilot/1", "sales"}) {
		t.Fatalf("refused renames changed the groups: %v", got)
	}
	expectRedirect(t, e.do("POST", "/admin/groups/pilot%2F1/rename", e.rootTok, url.Values{"name": {"wave 1"}}), "/admin?notice=group_renamed")
	expect(t, e.do("GET", "/admin?notice=group_renamed", e.rootTok, nil), http.StatusOK, "Group renamed", `data-group="wave 1"`)

	// JSON API.
	w := e.doJSON("POST", "/api/admin/groups/wave%201/rename", e.rootTok, `{"name": "wave-2"}`)
	expect(t, w, http.StatusOK, `"name":"wave-2"`)
	for _, tc := range []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"taken", "/api/admin/groups/wave-2/rename", `{"name": "sales"}`, http.StatusConflict, "already exists"},
		{"invalid name", "/api/admin/groups/wave-2/rename", `{"name": ""}`, http.StatusBadRequest, "1 to 64 characters"},
		{"no name", "/api/admin/groups/wave-2/rename", `{}`, http.StatusBadRequest, `{\"name\": \"NEW\"}`},
		{"not JSON", "/api/admin/groups/wave-2/rename", `name=x`, http.StatusBadRequest, "not valid JSON"},
		{"unknown group", "/api/admin/groups/nope/rename", `{"name": "x"}`, http.StatusNotFound, "no group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, e.doJSON("POST", tc.path, e.rootTok, tc.body), tc.status, tc.msg)
		})
	}
	expect(t, e.doJSON("POST", "/api/admin/groups/wave-2/rename", e.bobTok, `{"name": "x"}`), http.StatusForbidden)
	if got := e.groupNames(); !slices.Equal(got, []string{"sales", "wave-2"}) {
		t.Fatalf("groups after the API calls: %v", got)
	}
	if want := []string{"pilot/1->wave 1", "wave 1->wave-2"}; !slices.Equal(hooked, want) {
		t.Errorf("policy rewrite hook saw %v, want %v", hooked, want)
	}
	for _, a := range []string{"root group.rename wave 1", "root group.rename wave-2"} {
		if !slices.Contains(e.auditActions(), a) {
			t.Errorf("audit lacks %q: %v", a, e.auditActions())
		}
	}
}
