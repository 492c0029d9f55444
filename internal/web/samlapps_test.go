package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
