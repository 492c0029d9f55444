package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/store"
)

// accessDir is a data directory with alice (staff), bob (admin) and a
// break-glass account.
func accessDir(t *testing.T) (string, func(args ...string) result) {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "alice"), "user add alice")
	mustOK(t, run("user", "add", "bob", "--admin"), "user add bob")
	mustOK(t, run("user", "add", "breakglass", "--admin"), "user add breakglass")
	mustOK(t, run("group", "add", "staff"), "group add")
	mustOK(t, run("group", "add-member", "staff", "alice"), "add-member")
	return dir, run
}

const accessPolicies = `locations:
  - name: Office
    ranges: [203.0.113.0/24]
    trusted: true
policies:
  - name: Passkey outside the office
    state: report-only
    users: {all: true, exclude: [breakglass]}
    apps: {all: true}
    conditions:
      locations: {include: [any], exclude: [trusted]}
    grant: {strength: Passwordless MFA}
  - name: Block legacy
    state: on
    users: {include_groups: [staff]}
    apps: {all: true}
    conditions: {client_types: [legacy]}
    grant: {block: true}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyFilesCommands(t *testing.T) {
	dir, run := accessDir(t)
	file := writeFile(t, "policies.yaml", accessPolicies)

	r := mustOK(t, run("policy", "import", file), "policy import")
	for _, want := range []string{"Imported 1 named locations and 2 policies (version 1)", "Added policy Block legacy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, run("policy", "list"), "policy list")
	for _, want := range []string{"Passkey outside the office", "report-only", "all users except breakglass", "location any except trusted", "require Passwordless MFA", "Block legacy", "group staff"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}

	// Export is import's format: it loads back unchanged.
	exported := mustOK(t, run("policy", "export"), "policy export").stdout
	if !strings.Contains(exported, "strength: passwordless-mfa") {
		t.Errorf("export:\n%s", exported)
	}
	r = mustOK(t, run("policy", "import", "--dry-run", writeFile(t, "again.yaml", exported)), "import --dry-run")
	if !strings.Contains(r.stdout, "Nothing changes.") {
		t.Errorf("re-import of the export changes something:\n%s", r.stdout)
	}

	// A bad file: every problem with path and line, and nothing changes.
	bad := strings.NewReplacer("[staff]", "[staf]", "203.0.113.0/24", "203.0.113.1/24", "state: on", "state: enabled").Replace(accessPolicies)
	r = run("policy", "import", writeFile(t, "bad.yaml", bad))
	mustFail(t, r, 1, "3 problems")
	for _, want := range []string{
		`line 3: locations[0].ranges[0]: "203.0.113.1/24" has address bits set past the /24; did you mean 203.0.113.0/24?`,
		`line 14: policies[1].state: "enabled" is not a state`,
		`line 15: policies[1].users.include_groups[0]: there is no group "staf"`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	mustFail(t, run("policy", "import", writeFile(t, "typo.yaml", strings.Replace(accessPolicies, "grant:", "grants:", 1))), 1,
		`line 12: policies[0].grants: unknown field "grants"`)
	if got := mustOK(t, run("policy", "export"), "export").stdout; got != exported {
		t.Errorf("a refused import changed the policies:\n%s", got)
	}

	mustOK(t, run("policy", "state", "passkey outside the office", "on"), "policy state")
	mustFail(t, run("policy", "state", "Passkey outside the office", "enabled"), 1, "not a state")
	mustFail(t, run("policy", "state", "nope", "on"), 1, "no Conditional Access policy")
	r = mustOK(t, run("policy", "show", "Passkey outside the office"), "policy show")
	if !strings.Contains(r.stdout, `state: "on"`) {
		t.Errorf("show:\n%s", r.stdout)
	}
	mustOK(t, run("policy", "delete", "Block legacy"), "policy delete")
	if r := mustOK(t, run("policy", "list"), "list"); strings.Contains(r.stdout, "Block legacy") || !strings.Contains(r.stdout, "Version 3") {
		t.Errorf("after delete:\n%s", r.stdout)
	}

	// Every change is in the audit log.
	a := openApp(t, dir)
	events, err := a.Store.ListAudit(context.Background(), 0)
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "access.") {
			actions = append(actions, e.Action)
		}
	}
	if got := strings.Join(actions, " "); got != "access.policy.delete access.policy.state access.import" {
		t.Errorf("audit: %s", got)
	}
}

func TestPolicyTemplateAndWhatIf(t *testing.T) {
	_, run := accessDir(t)
	r := mustOK(t, run("policy", "template"), "template list")
	for _, id := range []string{"admins-phishing-resistant", "passkey-outside-trusted", "block-legacy", "protect-registration"} {
		if !strings.Contains(r.stdout, id) {
			t.Errorf("template list lacks %s", id)
		}
	}
	mustFail(t, run("policy", "template", "block-legacy"), 1, "break-glass")
	mustFail(t, run("policy", "template", "block-legacy", "--exclude-user", "nobody"), 1, `there is no user "nobody"`)
	mustOK(t, run("policy", "template", "admins-phishing-resistant", "--exclude-user", "breakglass"), "template add")
	mustOK(t, run("policy", "template", "block-legacy", "--exclude-group", "staff", "--name", "No legacy"), "template add")
	mustFail(t, run("policy", "template", "block-legacy", "--exclude-group", "staff", "--name", "No legacy"), 1, "already exists")

	r = mustOK(t, run("policy", "whatif", "--user", "bob", "--app", "grafana", "--ip", "192.0.2.1", "--satisfies", "MFA"), "whatif")
	for _, want := range []string{
		"bob signs in to grafana from 192.0.2.1 (country unknown), browser client, device not trusted; admin.",
		"Result: allowed.",
		"Require phishing-resistant MFA for admins  report-only  report-only: would require Phishing-resistant MFA",
		"No legacy  report-only  client type browser is not included",
	} {
		// Column widths follow the longest policy name (the built-in one).
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("whatif lacks %q:\n%s", want, r.stdout)
		}
	}
	mustOK(t, run("policy", "state", "Require phishing-resistant MFA for admins", "on"), "state")
	r = mustOK(t, run("policy", "whatif", "--user", "bob", "--country", "de", "--auth-age", "2h", "--json"), "whatif --json")
	var out struct {
		Access  access.Access
		Unmet   []string
		Country string
		Results []access.Result
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if out.Access != access.AccessStepUp || len(out.Unmet) != 1 || out.Unmet[0] != access.StrengthPhishingResistant || out.Country != "DE" || len(out.Results) != 3 { // with the built-in admin console policy
		t.Errorf("whatif JSON: %+v", out)
	}
	r = mustOK(t, run("policy", "whatif", "--user", "breakglass", "--client", "legacy"), "whatif breakglass")
	if !strings.Contains(r.stdout, "user breakglass is excluded") {
		t.Errorf("break-glass:\n%s", r.stdout)
	}
	mustFail(t, run("policy", "whatif", "--app", "x"), 2, "--user is required")
	mustFail(t, run("policy", "whatif", "--user", "alice", "--device", "managed"), 2, "--device")
	mustFail(t, run("policy", "whatif", "--user", "alice", "--ip", "nope"), 1, "not an IP address")
	mustFail(t, run("policy", "whatif", "--user", "alice", "--satisfies", "strong"), 1, `no authentication strength "strong"`)
	mustFail(t, run("policy", "whatif", "--user", "alice", "--geoip-db", "/no/such.mmdb"), 1, "cannot open the country database")
}

func TestPolicyTestCommand(t *testing.T) {
	_, run := accessDir(t)
	policies := writeFile(t, "policies.yaml", accessPolicies)
	cases := `cases:
  - name: password + TOTP from the office
    context: {user: alice, groups: [staff], app: grafana, ip: 203.0.113.9, methods: [password, totp]}
    expect:
      access: allow
      policies: {Passkey outside the office: not-applied}
  - name: password + TOTP from home would need a passkey
    context: {user: alice, groups: [staff], app: grafana, ip: 192.0.2.9, methods: [password, totp]}
    expect:
      access: allow
      policies: {Passkey outside the office: step-up}
  - name: legacy is blocked for staff
    context: {user: alice, groups: [staff], client: legacy}
    expect: {access: block, blocked_by: Block legacy}
`
	casesFile := writeFile(t, "cases.yaml", cases)
	// Against a file, without any database.
	r := sesame(t, filepath.Join(t.TempDir(), "never-created"), nil, "policy", "test", casesFile, "--policies", policies)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "3 passed, 0 failed\n") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The file can name its policies, relative to itself.
	withRef := filepath.Join(filepath.Dir(policies), "cases.yaml")
	os.WriteFile(withRef, []byte("policies: policies.yaml\n"+cases), 0o600)
	mustOK(t, run("policy", "test", withRef), "policy test with policies:")

	// Against the policies in force: none yet, so the step-up expectation fails.
	r = run("policy", "test", casesFile)
	mustFail(t, r, 1, "3 of 3 policy tests failed")
	if !strings.Contains(r.stdout, `policies["Passkey outside the office"]:`) || !strings.Contains(r.stdout, "got  (no such policy)") ||
		!strings.Contains(r.stdout, "0 passed, 3 failed") {
		t.Errorf("report:\n%s", r.stdout)
	}
	mustOK(t, run("policy", "import", policies), "import")
	mustOK(t, run("policy", "test", casesFile), "policy test against the policies in force")

	mustFail(t, run("policy", "test", writeFile(t, "bad.yaml", "cases:\n  - name: x\n    context: {ip: 1.2.3}\n    expect: {access: allow}\n")), 1,
		`line 3: cases[0].context.ip: "1.2.3" is not an IP address`)
}

// TestPolicyReplayAndImpact seeds the sign-in log and replays a draft.
func TestPolicyReplayAndImpact(t *testing.T) {
	dir, run := accessDir(t)
	mustOK(t, run("policy", "import", writeFile(t, "p.yaml", accessPolicies)), "import")

	a := openApp(t, dir)
	ctx := context.Background()
	alice, _ := a.Store.GetUserByUsername(ctx, "alice")
	bob, _ := a.Store.GetUserByUsername(ctx, "bob")
	now := time.Now()
	for _, ev := range []store.SignInEvent{
		{Time: now.Add(-time.Hour), UserID: alice.ID, Username: "alice", IP: "203.0.113.5", App: "grafana", Client: "browser", Method: "password+totp", Result: store.ResultSuccess},
		{Time: now.Add(-2 * time.Hour), UserID: alice.ID, Username: "alice", IP: "192.0.2.5", App: "grafana", Client: "browser", Method: "password+totp", Result: store.ResultSuccess},
		{Time: now.Add(-3 * time.Hour), UserID: bob.ID, Username: "bob", IP: "192.0.2.6", App: "grafana", Client: "browser", Method: "passkey", PasskeyType: "synced", Result: store.ResultSuccess},
		{Time: now.Add(-3 * 24 * time.Hour), UserID: alice.ID, Username: "alice", IP: "192.0.2.5", App: "grafana", Client: "browser", Method: "tap", Result: store.ResultSuccess},
		{Time: now.Add(-time.Hour), UserID: alice.ID, Username: "alice", IP: "192.0.2.5", Method: "passkey", Result: store.ResultFailure, Reason: "unknown_credential"},
	} {
		if _, err := a.Store.AppendSignIn(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	r := mustOK(t, run("policy", "impact"), "policy impact")
	for _, want := range []string{
		"Passkey outside the office (report-only, require Passwordless MFA):",
		"24h     3         2      2 (2 users)  0            1 (1 users)",
		"7d      4         2      3 (2 users)  0            2 (1 users)",
		"Over 30d: would require a step-up for 2 sign-ins of 1 user (applies to 3 sign-ins of 2 users; 4 sign-ins of 2 users evaluated).",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("impact lacks %q:\n%s", want, r.stdout)
		}
	}

	draft := writeFile(t, "draft.yaml", `policies:
  - name: Staff only from the office
    state: off
    users: {include_groups: [staff]}
    apps: {all: true}
    conditions: {locations: {exclude: [Office]}}
    grant: {block: true}
`)
	r = mustOK(t, run("policy", "replay", "--file", draft), "policy replay")
	for _, want := range []string{`Replay of "Staff only from the office" (block)`, "Over 30d: would block 2 sign-ins of 1 user"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("replay lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustOK(t, run("policy", "replay", "--policy", "Block legacy", "--since", "2d", "--json"), "replay --json")
	var ims []access.Impact
	if err := json.Unmarshal([]byte(r.stdout), &ims); err != nil || len(ims) != 1 || ims[0].SignIns != 3 || ims[0].Applied != 0 {
		t.Errorf("replay JSON %v: %s", err, r.stdout)
	}
	mustFail(t, run("policy", "replay"), 2, "give --file")
	mustFail(t, run("policy", "replay", "--policy", "nope"), 1, "no Conditional Access policy")
	mustFail(t, run("policy", "replay", "--policy", "Block legacy", "--since", "yesterday"), 2, "not a time")
}

// inProcess runs one of this file's top-level commands (not yet wired into
// the root command) in this process against a data directory.
func inProcess(t *testing.T, dir string, mk func(*env) *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{cfg: config.Defaults(), stdout: &out, stderr: &errb}
	e.cfg.DataDir = dir
	c := mk(e)
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func openApp(t *testing.T, dir string) *app.App {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = dir
	a, err := app.Open(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLocationCommands(t *testing.T) {
	dir, run := accessDir(t)
	loc := func(args ...string) (string, string, error) { return inProcess(t, dir, (*env).locationCmd, args...) }

	if out, _, err := loc("add", "Office", "--range", "203.0.113.0/24,2001:db8::/48", "--trusted"); err != nil || !strings.Contains(out, "Added the named location Office (version 1)") {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, _, err := loc("add", "EU", "--country", "de", "--country", "FR", "--include-unknown"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loc("add", "Office", "--range", "198.51.100.0/24"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := loc("add", "Bad", "--range", "10.0.0.0/33"); err == nil || !strings.Contains(err.Error(), "locations[2].ranges[0]") {
		t.Errorf("invalid CIDR: %v", err)
	}
	if _, _, err := loc("add", "Overlap", "--range", "10.0.0.0/8", "--range", "10.1.0.0/16"); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlap: %v", err)
	}
	if _, stderr, err := loc("add", "Provider", "--range", "203.0.0.0/16"); err != nil || !strings.Contains(stderr, "Warning: named locations \"Office\" (203.0.113.0/24) and \"Provider\" (203.0.0.0/16) overlap") {
		t.Errorf("overlap across locations: %v %q", err, stderr)
	}
	if _, _, err := loc("add", "Both", "--range", "10.0.0.0/8", "--country", "DE"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("ranges and countries: %v", err)
	}

	out, _, err := loc("list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Office    ranges     yes", "203.0.113.0/24, 2001:db8::/48", "EU        countries  no       DE, FR + unknown"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := loc("delete", "nope"); err == nil {
		t.Error("deleted an unknown location")
	}
	if out, _, err := loc("delete", "eu"); err != nil || !strings.Contains(out, "Deleted the named location eu") {
		t.Errorf("delete: %v %s", err, out)
	}

	// A location a policy names cannot go; the policy's file keeps it.
	exported := mustOK(t, run("policy", "export"), "export").stdout
	// The export ends with the policies (the built-in one at least).
	withPolicy := exported + `  - name: Passkey away from the office
    state: report-only
    users: {all: true, exclude: [breakglass]}
    apps: {all: true}
    conditions: {locations: {exclude: [Office]}}
    grant: {strength: passwordless-mfa}
`
	mustOK(t, run("policy", "import", writeFile(t, "p.yaml", withPolicy)), "import")
	if _, _, err := loc("delete", "Office"); err == nil || !strings.Contains(err.Error(), "used by Passkey away from the office") {
		t.Errorf("deleting a location in use: %v", err)
	}
	if out, _, _ := loc("list"); !strings.Contains(out, "Passkey away from the office") {
		t.Errorf("list does not show the user of a location:\n%s", out)
	}
}

func TestLogCommands(t *testing.T) {
	dir, _ := accessDir(t)
	a := openApp(t, dir)
	ctx := context.Background()
	alice, _ := a.Store.GetUserByUsername(ctx, "alice")
	now := time.Now()
	for i, ev := range []store.SignInEvent{
		{Time: now.Add(-time.Hour), UserID: alice.ID, Username: "alice", IP: "203.0.113.5", App: "grafana", Method: "passkey", Result: store.ResultSuccess},
		{Time: now.Add(-2 * time.Hour), UserID: alice.ID, Username: "alice", IP: "192.0.2.5", App: "gitlab", Method: "tap", Result: store.ResultSuccess, UserAgent: "=cmd|' /C calc'!A0"},
		{Time: now.Add(-10 * 24 * time.Hour), UserID: alice.ID, Username: "alice", IP: "192.0.2.5", Method: "passkey", Result: store.ResultFailure, Reason: "unknown_credential"},
		{Time: now.Add(-time.Hour), Username: "mallory", IP: "198.51.100.1", Method: "passkey", Result: store.ResultFailure, Reason: "unknown_user"},
	} {
		if _, err := a.Store.AppendSignIn(ctx, ev); err != nil {
			t.Fatal(i, err)
		}
	}
	a.Close()
	logCmd := func(args ...string) (string, string, error) { return inProcess(t, dir, (*env).logCmd, args...) }

	out, _, err := logCmd("export")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	var first access.LogLine
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Username == "" || first.Result == "" || first.Time.IsZero() {
		t.Errorf("first line %s: %v", lines[0], err)
	}

	out, _, err = logCmd("export", "--user", "Alice", "--since", "7d", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" {
		t.Fatalf("csv %v:\n%s", err, out)
	}
	if rows[2][5] != "'=cmd|' /C calc'!A0" {
		t.Errorf("formula not defused: %q", rows[2][5])
	}
	for _, tc := range []struct {
		args []string
		n    int
	}{
		{[]string{"--app", "gitlab"}, 1},
		{[]string{"--result", "failure"}, 2},
		{[]string{"--user", "mallory"}, 1},
		{[]string{"--until", "1d"}, 1},
		{[]string{"--app", "sesame"}, 2},
	} {
		out, _, err := logCmd(append([]string{"export"}, tc.args...)...)
		if got := len(strings.Split(strings.TrimSpace(out), "\n")); err != nil || (strings.TrimSpace(out) == "" && tc.n != 0) || got != tc.n {
			t.Errorf("export %v: %d lines, want %d (%v)", tc.args, got, tc.n, err)
		}
	}
	path := filepath.Join(t.TempDir(), "log.jsonl")
	if out, _, err := logCmd("export", "-o", path); err != nil || !strings.Contains(out, "Wrote 4 sign-in records") {
		t.Errorf("export -o: %v %s", err, out)
	}
	for _, bad := range [][]string{{"export", "--format", "xml"}, {"export", "--result", "maybe"}, {"export", "--since", "soon"}} {
		if _, _, err := logCmd(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}

	if out, _, err := logCmd("retention"); err != nil || !strings.Contains(out, "kept for ever") {
		t.Errorf("retention: %v %s", err, out)
	}
	if out, stderr, err := logCmd("retention", "14"); err != nil || !strings.Contains(out, "kept 14 days") || !strings.Contains(stderr, "30 days") {
		t.Errorf("retention 14: %v %s %s", err, out, stderr)
	}
	if out, _, err := logCmd("retention"); err != nil || !strings.Contains(out, "kept 14 days") {
		t.Errorf("retention: %v %s", err, out)
	}
	for _, bad := range []string{"-1", "x", "99999"} {
		if _, _, err := logCmd("retention", bad); err == nil {
			t.Errorf("retention %s accepted", bad)
		}
	}
}
