package main

import (
	"strings"
	"testing"
)

func TestSCIMTokenCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	r := mustOK(t, run("scim", "token", "issue", "Workday"), "scim token issue")
	token := lastLine(r.stdout)
	if !strings.HasPrefix(token, "sesame_scim_") || len(token) != len("sesame_scim_")+43 ||
		!strings.Contains(r.stdout, "http://localhost:8080/scim/v2") || !strings.Contains(r.stdout, "token workday") {
		t.Errorf("scim token issue output:\n%s", r.stdout)
	}
	assertNotInDir(t, dir, token)
	mustOK(t, run("scim", "token", "issue", "entra"))
	mustFail(t, run("scim", "token", "issue", "workday"), 1, "already exists")
	mustFail(t, run("scim", "token", "issue", "bad name"), 1, "may only use")
	mustFail(t, run("scim", "token", "issue"), 2, "needs a NAME")

	r = mustOK(t, run("scim", "token", "list"))
	if !strings.Contains(r.stdout, "workday") || !strings.Contains(r.stdout, "entra") || !strings.Contains(r.stdout, "cli") || strings.Contains(r.stdout, token) {
		t.Errorf("scim token list:\n%s", r.stdout)
	}
	mustOK(t, run("scim", "token", "revoke", "workday"))
	mustFail(t, run("scim", "token", "revoke", "workday"), 1, "no SCIM token with that name")
	r = mustOK(t, run("scim", "token", "list"))
	if strings.Contains(r.stdout, "workday") || !strings.Contains(r.stdout, "entra") {
		t.Errorf("scim token list after revoke:\n%s", r.stdout)
	}
}
