package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestPolicyMethodsCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	r := mustOK(t, run("policy", "methods", "show"), "policy methods show")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("show is not JSON: %v\n%s", err, r.stdout)
	}
	for _, want := range []string{`"revision": 0`, `"self_service_registration": true`, `"default_lifetime": "1h"`, `"registration_campaign"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("default policy lacks %s:\n%s", want, r.stdout)
		}
	}

	edited := strings.Replace(r.stdout, `"password": {
    "enabled": false,
    "scope": {}
  }`, `"password": {
    "enabled": true,
    "scope": {"groups": ["legacy-erp"]}
  }`, 1)
	if edited == r.stdout {
		t.Fatalf("could not edit the password section:\n%s", r.stdout)
	}
	file := filepath.Join(dir, "policy.json")
	os.WriteFile(file, []byte(edited), 0o600)
	mustFail(t, run("policy", "methods", "set", file), 1, `groups that do not exist: ["legacy-erp"]`)
	mustOK(t, run("group", "add", "legacy-erp"), "group add")
	r = mustOK(t, run("policy", "methods", "set", file), "policy methods set")
	if !strings.Contains(r.stdout, "revision 1") {
		t.Errorf("set output: %q", r.stdout)
	}
	mustFail(t, run("policy", "methods", "set", file), 1, "changed by someone else")
	r = mustOK(t, run("policy", "methods", "set", "--force", file), "policy methods set --force")
	if !strings.Contains(r.stdout, "revision 2") {
		t.Errorf("forced set output: %q", r.stdout)
	}
	r = mustOK(t, run("policy", "methods", "show"), "show after set")
	if !strings.Contains(r.stdout, `"legacy-erp"`) || !strings.Contains(r.stdout, `"revision": 2`) || !strings.Contains(r.stdout, `"updated_by": "cli"`) {
		t.Errorf("show after set:\n%s", r.stdout)
	}

	os.WriteFile(file, []byte(`{"passkey": {"enabeld": true}}`), 0o600)
	mustFail(t, run("policy", "methods", "set", file), 1, `unknown field "enabeld"`)
	os.WriteFile(file, []byte(strings.Replace(edited, `"length": 12`, `"length": 99`, 1)), 0o600)
	mustFail(t, run("policy", "methods", "set", file), 1, "the length must be between 8 and 48")
	mustFail(t, run("policy", "methods", "set", filepath.Join(dir, "missing.json")), 1, "cannot read")
	mustFail(t, run("policy", "methods", "set"), 2, "needs a FILE")

	os.WriteFile(file, []byte(`{"strengths": [{"id": "legacy-app", "name": "Legacy app", "combinations": [["password", "totp"], ["passkey"]]}]}`), 0o600)
	r = mustOK(t, run("policy", "strengths", "set", file), "strengths set")
	if !strings.Contains(r.stdout, "Saved 1 custom strengths, revision 1") {
		t.Errorf("strengths set: %q", r.stdout)
	}
	r = mustOK(t, run("policy", "strengths", "show", "--all"), "strengths show")
	for _, want := range []string{`"id": "mfa"`, `"id": "phishing-resistant-mfa-device-bound"`, `"id": "legacy-app"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("strengths show lacks %s", want)
		}
	}
}

func TestMetadataLoadCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Private MDS Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(dir, "root.pem")
	os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)

	blob := func(no int) string {
		header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{base64.StdEncoding.EncodeToString(der)}})
		payload, _ := json.Marshal(map[string]any{"no": no, "nextUpdate": "2020-01-01", "entries": []any{map[string]any{
			"aaguid":                 "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa",
			"metadataStatement":      map[string]any{"description": "Test Key A", "attestationRootCertificates": []string{base64.StdEncoding.EncodeToString(der)}},
			"statusReports":          []any{map[string]any{"status": "REVOKED", "effectiveDate": "2025-01-01"}},
			"timeOfLastStatusChange": "2025-01-01",
		}}})
		input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
		sig, err := jwt.SigningMethodES256.Sign(input, key)
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	blobFile := filepath.Join(dir, "blob.jwt")
	os.WriteFile(blobFile, []byte(blob(7)), 0o600)

	mustFail(t, run("metadata", "load", blobFile), 1, "does not chain to the trusted root")
	r := mustOK(t, run("metadata", "show"), "metadata show")
	if !strings.Contains(r.stdout, "No authenticator metadata is loaded") {
		t.Errorf("refused load changed something: %s", r.stdout)
	}
	r = mustOK(t, run("metadata", "load", blobFile, "--root", rootFile), "metadata load --root")
	if !strings.Contains(r.stdout, "Loaded metadata BLOB no. 7: 1 authenticator models") || !strings.Contains(r.stdout, "newer BLOB was due on 2020-01-01") {
		t.Errorf("load output: %q", r.stdout)
	}
	r = mustOK(t, run("metadata", "show"), "metadata show")
	for _, want := range []string{"BLOB no. 7", "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa", "Test Key A", "REVOKED"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("metadata show lacks %q:\n%s", want, r.stdout)
		}
	}
	os.WriteFile(blobFile, []byte(blob(6)), 0o600)
	mustFail(t, run("metadata", "load", blobFile, "--root", rootFile), 1, "older than the one already loaded")
	mustOK(t, run("metadata", "load", blobFile, "--root", rootFile, "--force"), "metadata load --force")
	os.WriteFile(blobFile, []byte("not a blob"), 0o600)
	mustFail(t, run("metadata", "load", blobFile, "--root", rootFile), 1, "not a JWT")
	mustFail(t, run("metadata", "load", blobFile, "--root", filepath.Join(dir, "nope.pem")), 2, "--root")
}
