package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const spMetadata = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://crm.example.com/saml">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false">
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://crm.example.com/saml/acs" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`

func TestSAMLAppCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	r := mustOK(t, run("app", "add", "wiki", "--saml-acs", "https://wiki.example.com/saml/acs", "--saml-entity-id", "https://wiki.example.com/saml"), "app add --saml-acs")
	for _, want := range []string{"Added SAML app wiki", "http://localhost:8080/saml/metadata", "http://localhost:8080/saml/sso", "/saml/idp/wiki"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app add output lacks %q:\n%s", want, r.stdout)
		}
	}
	file := filepath.Join(t.TempDir(), "crm.xml")
	if err := os.WriteFile(file, []byte(spMetadata), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOK(t, run("app", "add", "crm", "--saml-metadata", file, "--nameid-format", "persistent", "--strength", "phishing-resistant-mfa"), "app add --saml-metadata FILE")

	// Metadata from a URL.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(spMetadata, "crm.example.com", "hr.example.com"), "https://hr.example.com/saml/acs", "http://localhost/acs")))
	}))
	defer srv.Close()
	mustOK(t, run("app", "add", "hr", "--saml-metadata", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/metadata"), "app add --saml-metadata URL")

	r = mustOK(t, run("app", "show", "crm"))
	for _, want := range []string{"https://crm.example.com/saml", "https://crm.example.com/saml/acs", "persistent", "phr"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app show crm lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, run("app", "list"))
	for _, want := range []string{"wiki", "crm", "hr", "saml"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app list lacks %q:\n%s", want, r.stdout)
		}
	}
	mustOK(t, run("app", "set-strength", "wiki", "mfa"))

	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte("<EntityDescriptor"), 0o600)
	mustFail(t, run("app", "add", "bad", "--saml-metadata", bad), 1, "SAML metadata cannot be used")
	mustFail(t, run("app", "add", "bad", "--saml-metadata", filepath.Join(dir, "missing.xml")), 1, "cannot read the SAML metadata file")
	mustFail(t, run("app", "add", "bad", "--saml-acs", "https://x.example.com/acs"), 1, "both an ACS URL and an entity ID")
	mustFail(t, run("app", "add", "bad", "--saml-acs", "http://x.example.com/acs", "--saml-entity-id", "x"), 1, "ACS URL must be")
	mustFail(t, run("app", "add", "bad", "--saml-acs", "https://x.example.com/acs", "--saml-entity-id", "x", "--redirect-uri", "https://x.example.com/cb"), 1, "not OpenID Connect flags")
	mustFail(t, run("app", "add", "bad", "--saml-acs", "https://x.example.com/acs", "--saml-entity-id", "x", "--nameid-format", "transient"), 1, "NameID format")
	mustFail(t, run("app", "add", "dup", "--saml-acs", "https://wiki.example.com/saml/acs", "--saml-entity-id", "https://wiki.example.com/saml"), 1, "already exists")
	mustFail(t, run("app", "add", "bad", "--redirect-uri", "https://x.example.com/cb", "--nameid-format", "email"), 1, "for SAML apps")
	mustFail(t, run("app", "add", "bad", "--saml-metadata", "https://127.0.0.1:1/none"), 1, "could not be fetched")

	mustOK(t, run("app", "delete", "wiki"))
	mustFail(t, run("app", "show", "wiki"), 1, "no app with that name")
}

func TestSAMLAppRefresh(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	// An SP whose metadata changes between fetches (plain http is accepted
	// on localhost only, as at registration).
	var mu sync.Mutex
	status, body := http.StatusOK, ""
	serve := func(s int, b string) {
		mu.Lock()
		defer mu.Unlock()
		status, body = s, b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	hr := func(acs string) string {
		return strings.ReplaceAll(strings.ReplaceAll(spMetadata, "crm.example.com", "hr.example.com"), "https://hr.example.com/saml/acs", acs)
	}
	serve(http.StatusOK, hr("http://localhost/acs"))
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/metadata"
	mustOK(t, run("app", "add", "hr", "--saml-metadata", url), "app add --saml-metadata URL")
	r := mustOK(t, run("app", "show", "hr"))
	for _, want := range []string{"Metadata from:", url, "Metadata fetched at:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app show hr lacks %q:\n%s", want, r.stdout)
		}
	}

	serve(http.StatusOK, hr("http://localhost/acs2"))
	r = mustOK(t, run("app", "refresh", "hr"))
	if !strings.Contains(r.stdout, "it changed") || !strings.Contains(r.stdout, "ACS: http://localhost/acs2") {
		t.Errorf("refresh of changed metadata:\n%s", r.stdout)
	}
	r = mustOK(t, run("app", "refresh", "hr"))
	if !strings.Contains(r.stdout, "unchanged") {
		t.Errorf("refresh of unchanged metadata:\n%s", r.stdout)
	}

	serve(http.StatusInternalServerError, "")
	mustFail(t, run("app", "refresh", "hr"), 1, "could not be fetched. Reason: ")
	serve(http.StatusOK, strings.ReplaceAll(hr("http://localhost/acs3"), `entityID="https://hr.example.com/saml"`, `entityID="https://other.example.com/saml"`))
	mustFail(t, run("app", "refresh", "hr"), 1, "another entity ID")
	r = mustOK(t, run("app", "show", "hr"))
	if !strings.Contains(r.stdout, "http://localhost/acs2") || strings.Contains(r.stdout, "acs3") || !strings.Contains(r.stdout, "Last fetch failed at:") {
		t.Errorf("after refused refreshes app show hr is:\n%s", r.stdout)
	}

	file := filepath.Join(t.TempDir(), "crm.xml")
	if err := os.WriteFile(file, []byte(spMetadata), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOK(t, run("app", "add", "crm", "--saml-metadata", file))
	mustFail(t, run("app", "refresh", "crm"), 1, "no metadata URL")
	mustOK(t, run("app", "add", "grafana", "--redirect-uri", "https://grafana.example.com/login/generic_oauth"))
	mustFail(t, run("app", "refresh", "grafana"), 1, "is an OpenID Connect app")
	mustFail(t, run("app", "refresh", "ghost"), 1, "no app with that name")
	mustFail(t, run("app", "refresh"), 2, "NAME")
}
