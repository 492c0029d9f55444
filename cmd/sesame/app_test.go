package main

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestAppCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	r := mustOK(t, run("app", "add", "grafana", "--redirect-uri", "https://grafana.example.com/login/generic_oauth",
		"--post-logout-redirect-uri", "https://grafana.example.com/"), "app add")
	secret := lastLine(r.stdout)
	if len(secret) != 43 || !strings.Contains(r.stdout, "Client ID:  grafana") || !strings.Contains(r.stdout, "http://localhost:8080/.well-known/openid-configuration") {
		t.Errorf("app add output:\n%s", r.stdout)
	}
	r = mustOK(t, run("app", "add", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb"), "app add --public")
	if !strings.Contains(r.stdout, "public, PKCE required") || strings.Contains(r.stdout, "secret") {
		t.Errorf("public app add output:\n%s", r.stdout)
	}
	mustOK(t, run("app", "add", "legacy", "--rs256", "--redirect-uri", "https://legacy.example.com/cb"), "app add --rs256")

	mustFail(t, run("app", "add", "grafana", "--redirect-uri", "https://x.example.com/cb"), 1, "already exists")
	mustFail(t, run("app", "add", "Bad Name", "--redirect-uri", "https://x.example.com/cb"), 1, "app name")
	mustFail(t, run("app", "add", "x"), 1, "at least one redirect URI")
	mustFail(t, run("app", "add", "x", "--redirect-uri", "http://x.example.com/cb"), 1, "redirect URI must be")
	mustFail(t, run("app", "add"), 2, "needs a NAME")
	mustFail(t, run("app", "add", "vault", "--redirect-uri", "https://vault.example.com/cb", "--strength", "strongest"), 1, "required strength must be")
	mustOK(t, run("app", "add", "vault", "--redirect-uri", "https://vault.example.com/cb", "--strength", "phishing-resistant-mfa-device-bound"))
	if r := mustOK(t, run("app", "show", "vault")); !strings.Contains(r.stdout, "phrh") {
		t.Errorf("app show lacks the required strength:\n%s", r.stdout)
	}
	mustOK(t, run("app", "set-strength", "vault", "mfa"))
	if r := mustOK(t, run("app", "show", "vault")); !regexp.MustCompile(`Required strength \(acr\):\s+mfa`).MatchString(r.stdout) {
		t.Errorf("set-strength did not change it:\n%s", r.stdout)
	}
	mustFail(t, run("app", "set-strength", "vault", "bogus"), 1, "required strength must be")
	mustFail(t, run("app", "set-strength", "nope", "mfa"), 1, "")
	mustOK(t, run("app", "set-strength", "vault", "none"))

	// PKCE: required by default; a confidential app can be exempted, a
	// public one cannot; the change is audited and shown.
	if r := mustOK(t, run("app", "show", "vault")); !regexp.MustCompile(`PKCE:\s+required \(S256\)`).MatchString(r.stdout) {
		t.Errorf("app show does not say PKCE is required:\n%s", r.stdout)
	}
	r = mustOK(t, run("app", "set", "vault", "--allow-missing-pkce=true"), "app set --allow-missing-pkce")
	if !strings.Contains(r.stdout, "PKCE NOT required") {
		t.Errorf("app set output:\n%s", r.stdout)
	}
	if r := mustOK(t, run("app", "show", "vault")); !strings.Contains(r.stdout, "PKCE:") || !strings.Contains(r.stdout, "NOT required") {
		t.Errorf("app show does not say the app is exempted:\n%s", r.stdout)
	}
	mustFail(t, run("app", "set", "spa", "--allow-missing-pkce=true"), 1, "public app cannot be exempted")
	mustFail(t, run("app", "set", "vault", "--allow-missing-pkce=maybe"), 2, "true or false")
	mustFail(t, run("app", "set", "vault"), 2, "nothing to change")
	mustFail(t, run("app", "set", "nope", "--allow-missing-pkce=false"), 1, "no app with that name")
	mustFail(t, run("app", "add", "spa2", "--public", "--allow-missing-pkce", "--redirect-uri", "http://localhost:3000/cb"), 1, "public app cannot be exempted")
	mustOK(t, run("app", "set", "vault", "--allow-missing-pkce=false"))
	if r := mustOK(t, run("app", "show", "vault")); strings.Contains(r.stdout, "NOT required") {
		t.Errorf("the exemption was not lifted:\n%s", r.stdout)
	}

	// Back-channel logout URI: set, shown, validated, removed.
	mustOK(t, run("app", "set", "vault", "--backchannel-logout-uri", "https://vault.example.com/oidc/backchannel"))
	if r := mustOK(t, run("app", "show", "vault")); !strings.Contains(r.stdout, "https://vault.example.com/oidc/backchannel") {
		t.Errorf("app show lacks the back-channel logout URI:\n%s", r.stdout)
	}
	mustFail(t, run("app", "set", "vault", "--backchannel-logout-uri", "http://vault.example.com/logout"), 1, "back-channel logout URI must be")
	mustFail(t, run("app", "add", "bcl", "--redirect-uri", "https://bcl.example.com/cb", "--backchannel-logout-uri", "ftp://x/"), 1, "back-channel logout URI must be")
	mustOK(t, run("app", "set", "vault", "--backchannel-logout-uri", ""))
	if r := mustOK(t, run("app", "show", "vault")); strings.Contains(r.stdout, "vault.example.com/oidc/backchannel") {
		t.Errorf("the back-channel logout URI was not removed:\n%s", r.stdout)
	}

	r = mustOK(t, run("app", "list"), "app list")
	for _, want := range []string{"grafana", "confidential", "spa", "public", "legacy", "RS256", "https://grafana.example.com/login/generic_oauth"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app list lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, secret) {
		t.Errorf("app list shows the secret")
	}
	r = mustOK(t, run("app", "show", "grafana"), "app show")
	for _, want := range []string{"https://grafana.example.com/", "/oauth2/token", "/oauth2/logout", "ES256"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("app show lacks %q:\n%s", want, r.stdout)
		}
	}
	mustFail(t, run("app", "show", "nope"), 1, "no app with that name")

	r = mustOK(t, run("app", "rotate-secret", "grafana"), "rotate-secret")
	if s := lastLine(r.stdout); len(s) != 43 || s == secret {
		t.Errorf("rotate-secret output:\n%s", r.stdout)
	}
	mustFail(t, run("app", "rotate-secret", "spa"), 1, "public app has no secret")

	// Keys: the apps' algorithms have a current and a next key; a rotation
	// promotes the next one, an immediate one retires the current key.
	r = mustOK(t, run("keys", "list"), "keys list")
	for _, want := range []string{"ES256  current", "ES256  next", "RS256  current", "RS256  next"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("keys list has no %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, run("keys", "rotate"), "keys rotate")
	if !strings.Contains(r.stdout, "The next ES256 key") {
		t.Errorf("keys rotate:\n%s", r.stdout)
	}
	mustOK(t, run("keys", "rotate", "--immediately"), "keys rotate --immediately")
	r = mustOK(t, run("keys", "list"), "keys list")
	for _, want := range []string{"ES256  retired", "ES256  current", "ES256  next"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("after rotate --immediately, no %q:\n%s", want, r.stdout)
		}
	}
	mustFail(t, run("keys", "rotate", "--drop-old"), 2, "--drop-old needs --immediately")
	mustFail(t, run("keys", "rotate", "--alg", "HS256"), 1, "unsupported signing algorithm")

	mustOK(t, run("app", "delete", "legacy"), "app delete")
	mustFail(t, run("app", "delete", "legacy"), 1, "no app with that name")

	// Every change is in the audit log.
	db, err := sql.Open("sqlite", filepath.Join(dir, "sesame.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE action LIKE 'app.%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 12 { // four adds, two strength changes, two PKCE and two back-channel changes, one rotation, one delete
		t.Errorf("%d app actions in the audit log, want 12", n)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'app.update' AND detail LIKE '%allow_missing_pkce%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d PKCE changes in the audit log, want 2", n)
	}
}
