package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/samlidp"
)

const spMetadataV1 = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://wiki.example.com/saml">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://wiki.example.com/acs" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`

// samlEnv is testEnv with the SAML IdP over its store, and a service
// provider serving (changeable) metadata over TLS.
func samlEnv(t *testing.T) (*testEnv, func(status int, body string), string) {
	t.Helper()
	var mu sync.Mutex
	status, body := http.StatusOK, spMetadataV1
	sp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(sp.Close)
	e := newTestEnv(t)
	idp, err := samlidp.New(samlidp.Config{BaseURL: "https://login.example.com", Store: e.st, Apps: e.st, HTTPClient: sp.Client(),
		KeyEncryptionKey: bytes.Repeat([]byte{1}, 32), PairwiseKey: bytes.Repeat([]byte{2}, 32), Now: e.srv.Now, Log: e.srv.Log})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SAMLApps = idp
	e.h = e.srv.Handler()
	serve := func(s int, b string) {
		mu.Lock()
		defer mu.Unlock()
		status, body = s, b
	}
	return e, serve, sp.URL + "/saml/metadata"
}

func (e *testEnv) api(method, path, token, body string) *httptest.ResponseRecorder {
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

func TestAPIRefreshSAMLApp(t *testing.T) {
	e, serve, mdURL := samlEnv(t)
	expect(t, e.api("POST", "/api/admin/saml-apps", e.rootTok, `{"name": "wiki", "metadata_url": "`+mdURL+`"}`), http.StatusCreated)
	expect(t, e.api("POST", "/api/admin/saml-apps", e.rootTok, `{"name": "file", "metadata": `+jsonString(strings.ReplaceAll(spMetadataV1, "wiki.", "files."))+`}`), http.StatusCreated)
	expect(t, e.api("GET", "/api/admin/saml-apps/wiki", e.rootTok, ""), http.StatusOK, `"metadata_fetched_at"`, `"metadata_url"`)

	// Only admins.
	expect(t, e.api("POST", "/api/admin/saml-apps/wiki/refresh", e.bobTok, ""), http.StatusForbidden)

	serve(http.StatusOK, strings.Replace(spMetadataV1, "https://wiki.example.com/acs", "https://wiki.example.com/saml/acs", 1))
	var got struct {
		samlidp.App
		Changed bool `json:"changed"`
	}
	body := expect(t, e.api("POST", "/api/admin/saml-apps/wiki/refresh", e.rootTok, ""), http.StatusOK)
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Changed || got.Name != "wiki" || len(got.ACSURLs) != 1 || got.ACSURLs[0] != "https://wiki.example.com/saml/acs" || got.MetadataFetchedAt.IsZero() {
		t.Errorf("refresh answered %s", body)
	}
	expect(t, e.api("POST", "/api/admin/saml-apps/wiki/refresh", e.rootTok, ""), http.StatusOK, `"changed":false`)

	// A refused refresh says why and changes nothing.
	serve(http.StatusOK, strings.ReplaceAll(spMetadataV1, "wiki.example.com", "evil.example.com"))
	expect(t, e.api("POST", "/api/admin/saml-apps/wiki/refresh", e.rootTok, ""), http.StatusConflict,
		`"code":"saml_entity_changed"`, `https://evil.example.com/saml`)
	serve(http.StatusNotFound, "")
	expect(t, e.api("POST", "/api/admin/saml-apps/wiki/refresh", e.rootTok, ""), http.StatusBadGateway,
		`"code":"saml_metadata_fetch"`, `404 Not Found`)
	expect(t, e.api("GET", "/api/admin/saml-apps/wiki", e.rootTok, ""), http.StatusOK, `https://wiki.example.com/saml/acs`)
	expect(t, e.api("POST", "/api/admin/saml-apps/file/refresh", e.rootTok, ""), http.StatusConflict, `"code":"saml_no_metadata_url"`)
	expect(t, e.api("POST", "/api/admin/saml-apps/ghost/refresh", e.rootTok, ""), http.StatusNotFound, `"code":"unknown_app"`)

	var refreshes []string
	for _, a := range e.auditActions() {
		if strings.Contains(a, "saml_app.refresh") {
			refreshes = append(refreshes, a)
		}
	}
	if len(refreshes) != 4 || refreshes[0] != "root saml_app.refresh wiki" {
		t.Errorf("audited refreshes: %v", refreshes)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (e *testEnv) samlRefreshes() int {
	n := 0
	for _, a := range e.auditActions() {
		if strings.Contains(a, "saml_app.refresh") {
			n++
		}
	}
	return n
}

func TestConsoleRefreshSAMLApp(t *testing.T) {
	e, serve, mdURL := samlEnv(t)
	expect(t, e.api("POST", "/api/admin/saml-apps", e.rootTok, `{"name": "wiki", "metadata_url": "`+mdURL+`"}`), http.StatusCreated)
	expect(t, e.api("POST", "/api/admin/saml-apps", e.rootTok, `{"name": "file", "metadata": `+jsonString(strings.ReplaceAll(spMetadataV1, "wiki.", "files."))+`}`), http.StatusCreated)
	fetched := `Metadata fetched at <time datetime="2026-03-14T09:26:00Z">14 Mar 2026 09:26 UTC</time>`

	// The page shows when the metadata was fetched; only the app with a
	// metadata URL can be refreshed.
	page := expect(t, e.do("GET", "/admin/saml-apps", e.rootTok, nil), http.StatusOK,
		fetched, `action="/admin/saml-apps/wiki/refresh"`, "Registered from a file or an ACS URL")
	if strings.Contains(page, `action="/admin/saml-apps/file/refresh"`) || strings.Contains(page, "Last attempt failed") || strings.Contains(page, `id="refresh-error"`) {
		t.Errorf("page offers a refresh of the file app, or shows a failure:\n%s", page)
	}

	// Only admins, and only from Sesame's own pages.
	serve(http.StatusOK, strings.Replace(spMetadataV1, "https://wiki.example.com/acs", "https://wiki.example.com/saml/acs", 1))
	expect(t, e.do("POST", "/admin/saml-apps/wiki/refresh", e.bobTok, url.Values{}), http.StatusForbidden)
	cross := httptest.NewRequest("POST", "/admin/saml-apps/wiki/refresh", strings.NewReader(""))
	cross.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	cross.AddCookie(&http.Cookie{Name: CookieName, Value: e.rootTok})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, cross)
	expect(t, w, http.StatusForbidden)
	if n := e.samlRefreshes(); n != 0 {
		t.Fatalf("%d refreshes after refused requests", n)
	}

	// A refresh says whether the metadata changed, and the page shows the new metadata.
	expect(t, e.do("POST", "/admin/saml-apps/wiki/refresh", e.rootTok, url.Values{}), http.StatusOK,
		`id="notice"`, "The metadata of wiki was fetched again: it changed", "https://wiki.example.com/saml/acs", fetched)
	expect(t, e.do("POST", "/admin/saml-apps/wiki/refresh", e.rootTok, url.Values{}), http.StatusOK,
		"The metadata of wiki was fetched again: unchanged.")

	// A refused refresh shows its reason beside the app and changes nothing.
	before, err := e.st.GetSAMLApp(t.Context(), "wiki")
	if err != nil {
		t.Fatal(err)
	}
	serve(http.StatusOK, strings.ReplaceAll(spMetadataV1, "wiki.example.com", "evil.example.com"))
	page = expect(t, e.do("POST", "/admin/saml-apps/wiki/refresh", e.rootTok, url.Values{}), http.StatusConflict,
		`id="refresh-error"`, "another entity ID", "https://evil.example.com/saml", "https://wiki.example.com/saml/acs")
	if strings.Contains(page, "fetched again") || strings.Contains(page, "https://evil.example.com/acs") {
		t.Errorf("a refused refresh reads as done:\n%s", page)
	}
	serve(http.StatusNotFound, "")
	expect(t, e.do("POST", "/admin/saml-apps/wiki/refresh", e.rootTok, url.Values{}), http.StatusBadGateway,
		`id="refresh-error"`, "could not be fetched", "404 Not Found")
	after, err := e.st.GetSAMLApp(t.Context(), "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after.Metadata, before.Metadata) || !after.MetadataFetchedAt.Equal(before.MetadataFetchedAt) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("a refused refresh changed the app: %+v, was %+v", after, before)
	}
	expect(t, e.do("POST", "/admin/saml-apps/file/refresh", e.rootTok, url.Values{}), http.StatusConflict,
		`id="refresh-error"`, "it has no metadata URL to fetch again")
	expect(t, e.do("POST", "/admin/saml-apps/ghost/refresh", e.rootTok, url.Values{}), http.StatusNotFound)

	// A later failed attempt (as the daily refresh records it) is shown
	// with the time of the last good metadata.
	if won, err := e.st.ClaimSAMLMetadataCheck(t.Context(), "wiki", testNow.Add(time.Hour+time.Second), testNow.Add(time.Hour)); err != nil || !won {
		t.Fatalf("claim: %v, %v", won, err)
	}
	expect(t, e.do("GET", "/admin/saml-apps", e.rootTok, nil), http.StatusOK, fetched,
		`Last attempt failed at <time datetime="2026-03-14T10:26:00Z">14 Mar 2026 10:26 UTC</time> (the last good metadata is kept`)
}
