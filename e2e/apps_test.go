package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var appSecretPattern = regexp.MustCompile(`<code id="app-secret">([^<]+)</code>`)

// TestAdminApps: an admin registers, lists, re-keys and deletes apps in the
// console; bad input is refused next to the form and changes nothing.
func TestAdminApps(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	root := inst.createUser(t, "root", true)
	admin := inst.newClient(t)
	admin.signInWithTAP(t, "root", inst.issueTAP(t, root, time.Hour, false))

	r := admin.postForm(t, "/admin/apps", url.Values{"name": {"grafana"}, "redirect_uris": {"https://grafana.example.com/login/generic_oauth\n"}})
	if r.Status != http.StatusOK {
		t.Fatalf("adding an app: %s", r)
	}
	m := appSecretPattern.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no secret shown after adding a confidential app: %s", r)
	}
	secret := string(m[1])

	list := admin.get(t, "/admin/apps")
	if !strings.Contains(string(list.Body), `data-app="grafana"`) || strings.Contains(string(list.Body), secret) {
		t.Fatalf("the list does not show the app, or shows its secret again: %s", list)
	}

	// Refusals: shown on the page, nothing registered.
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"bad redirect", url.Values{"name": {"evil"}, "redirect_uris": {"javascript:alert(1)"}}, http.StatusBadRequest},
		{"no redirect", url.Values{"name": {"empty"}}, http.StatusBadRequest},
		{"bad name", url.Values{"name": {"Not A Name!"}, "redirect_uris": {"https://x.example.com/cb"}}, http.StatusBadRequest},
		{"duplicate", url.Values{"name": {"grafana"}, "redirect_uris": {"https://other.example.com/cb"}}, http.StatusConflict},
	} {
		r := admin.postForm(t, "/admin/apps", tc.form)
		if r.Status != tc.want || !strings.Contains(string(r.Body), `id="app-error"`) {
			t.Errorf("%s: %s, want %d with the error next to the form", tc.name, r, tc.want)
		}
	}
	apps, err := inst.App.OIDC.ListApps(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].RedirectURIs[0] != "https://grafana.example.com/login/generic_oauth" {
		t.Fatalf("apps after the refusals: %+v", apps)
	}

	r = admin.postForm(t, "/admin/apps/grafana/rotate-secret", url.Values{})
	m = appSecretPattern.FindSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil || string(m[1]) == secret {
		t.Fatalf("rotating the secret: %s", r)
	}

	// The signing keys are listed with their states.
	list = admin.get(t, "/admin/apps")
	if !strings.Contains(string(list.Body), `id="signing-keys"`) || !strings.Contains(string(list.Body), `<td class="key-state">next</td>`) ||
		!strings.Contains(string(list.Body), `<td class="key-state">current</td>`) {
		t.Errorf("the apps page does not show the signing keys and their states: %s", list)
	}

	// PKCE exemption and back-channel logout URI, audited; bad input
	// changes nothing.
	if r := admin.postForm(t, "/admin/apps/grafana/settings", url.Values{"allow_missing_pkce": {"yes"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("exempting from PKCE: %s", r)
	}
	if r := admin.postForm(t, "/admin/apps/grafana/settings", url.Values{"backchannel_logout_uri": {"http://evil.example/logout"}}); r.Status != http.StatusBadRequest {
		t.Errorf("a bad back-channel logout URI: %s", r)
	}
	if r := admin.postForm(t, "/admin/apps/grafana/settings", url.Values{"allow_missing_pkce": {"perhaps"}}); r.Status != http.StatusBadRequest {
		t.Errorf("a bad PKCE value: %s", r)
	}
	if a, _ := inst.App.OIDC.App(t.Context(), "grafana"); !a.AllowMissingPKCE || a.BackchannelLogoutURI != "" {
		t.Errorf("after the settings: %+v", a)
	}
	if list = admin.get(t, "/admin/apps"); !strings.Contains(string(list.Body), "<strong>Not required</strong> (exempted)") {
		t.Errorf("the page does not say the app is exempted from PKCE")
	}
	if r := admin.postForm(t, "/admin/apps/grafana/settings", url.Values{"allow_missing_pkce": {"no"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("requiring PKCE again: %s", r)
	}

	// The JSON admin API: read and change the same settings.
	if r := admin.get(t, "/api/admin/apps"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"client_id":"grafana"`) ||
		!strings.Contains(string(r.Body), `"allow_missing_pkce":false`) || strings.Contains(string(r.Body), secret) {
		t.Errorf("GET /api/admin/apps: %s", r)
	}
	patch := func(body string) response {
		return admin.do(t, http.MethodPatch, "/api/admin/apps/grafana", "application/json", []byte(body))
	}
	if r := patch(`{"allow_missing_pkce":true,"backchannel_logout_uri":"https://grafana.example.com/bcl"}`); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"allow_missing_pkce":true`) || !strings.Contains(string(r.Body), `"backchannel_logout_uri":"https://grafana.example.com/bcl"`) {
		t.Errorf("PATCH: %s", r)
	}
	for _, bad := range []string{`{}`, `{"allow_missing_pkce":"yes"}`, `{"colour":"red"}`, `{"backchannel_logout_uri":"http://evil.example/"}`, `not json`} {
		if r := patch(bad); r.Status != http.StatusBadRequest || r.errorCode() == "" {
			t.Errorf("PATCH %s: %s, want 400 with an error code", bad, r)
		}
	}
	if r := admin.do(t, http.MethodPatch, "/api/admin/apps/nope", "application/json", []byte(`{"allow_missing_pkce":true}`)); r.Status != http.StatusNotFound {
		t.Errorf("PATCH of an unknown app: %s", r)
	}
	if a, _ := inst.App.OIDC.App(t.Context(), "grafana"); !a.AllowMissingPKCE || a.BackchannelLogoutURI != "https://grafana.example.com/bcl" {
		t.Errorf("after the API: %+v", a)
	}
	if r := patch(`{"allow_missing_pkce":false,"backchannel_logout_uri":""}`); r.Status != http.StatusOK {
		t.Errorf("PATCH back: %s", r)
	}

	// Only admins.
	bob := inst.createUser(t, "bob", false)
	user := inst.newClient(t)
	user.signInWithTAP(t, "bob", inst.issueTAP(t, bob, time.Hour, false))
	if r := user.get(t, "/admin/apps"); r.Status != http.StatusForbidden {
		t.Errorf("a non-admin got %s", r)
	}
	if r := user.do(t, http.MethodPatch, "/api/admin/apps/grafana", "application/json", []byte(`{"allow_missing_pkce":true}`)); r.Status != http.StatusForbidden {
		t.Errorf("a non-admin patching: %s", r)
	}
	if r := user.postForm(t, "/admin/apps/grafana/delete", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("a non-admin deleting: %s", r)
	}

	r = admin.postForm(t, "/admin/apps/grafana/delete", url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("deleting: %s", r)
	}
	if r := admin.postForm(t, "/admin/apps/grafana/delete", url.Values{}); r.Status != http.StatusNotFound {
		t.Errorf("deleting again: %s, want 404", r)
	}
	var actions []string
	for _, e := range inst.audit(t) {
		actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
	}
	joined := strings.Join(actions, "\n")
	for _, want := range []string{"root app.create grafana", "root app.rotate_secret grafana", "root app.update grafana", "root app.delete grafana"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %q:\n%s", want, joined)
		}
	}
}
