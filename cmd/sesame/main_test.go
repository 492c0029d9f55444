package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/pgtest"
)

// The CLI is tested as operators use it: the real binary, real processes,
// exit codes and output, on a real SQLite data directory.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sesame-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sesame")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sesame failed:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// sesame runs the binary with the data directory given through the
// environment, as a container would.
func sesame(t *testing.T, dataDir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), "SESAME_DATA_DIR="+dataDir)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running sesame %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// cleanEnv drops SESAME_* variables of the developer's shell.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESAME_") {
			env = append(env, kv)
		}
	}
	return env
}

func mustOK(t *testing.T, r result, args ...string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("sesame %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func mustFail(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q does not contain %q", r.stderr, want)
	}
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }

	r := mustOK(t, run("user", "add", "Alice", "--email", "alice@example.com", "--name", "Alice Liddell"), "user add")
	if !strings.Contains(r.stdout, "Added user alice") {
		t.Errorf("user add output: %q", r.stdout)
	}
	mustFail(t, run("user", "add", "alice", "--email", "other@example.com"), 1, "already exists")
	mustFail(t, run("user", "add", "bob", "--email", "alice@example.com"), 1, "already exists")
	mustFail(t, run("user", "add", "bad name!"), 1, "username may only use")
	mustFail(t, run("user", "add", "carol", "--email", "not-an-email"), 1, "email address is not valid")
	mustFail(t, run("user", "add"), 2, "needs a USERNAME")
	mustFail(t, run("user", "add", "dave", "--no-such-flag"), 2, "unknown flag")

	mustOK(t, run("user", "add", "root", "--admin"), "user add --admin")
	r = mustOK(t, run("user", "list"), "user list")
	for _, want := range []string{"alice", "Alice Liddell", "alice@example.com", "root", "admin"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("user list lacks %q:\n%s", want, r.stdout)
		}
	}
	// Refused commands changed nothing.
	if strings.Contains(r.stdout, "bob") || strings.Contains(r.stdout, "carol") {
		t.Errorf("a refused user add created a user:\n%s", r.stdout)
	}

	r = mustOK(t, run("user", "show", "ALICE"), "user show")
	if !strings.Contains(r.stdout, "alice@example.com") || !strings.Contains(r.stdout, "Passkeys (0)") {
		t.Errorf("user show:\n%s", r.stdout)
	}
	mustFail(t, run("user", "show", "nobody"), 1, "no user with that username")

	mustOK(t, run("user", "disable", "alice"), "disable")
	if r := mustOK(t, run("user", "show", "alice")); !strings.Contains(r.stdout, "disabled") {
		t.Errorf("alice not shown disabled:\n%s", r.stdout)
	}
	mustOK(t, run("user", "enable", "alice"), "enable")
	mustFail(t, run("user", "disable", "nobody"), 1, "no user with that username")
	// The last admin cannot be disabled, demoted or deleted.
	mustFail(t, run("user", "disable", "root"), 1, "last enabled admin")
	mustFail(t, run("user", "delete", "root"), 1, "last enabled admin")
	mustFail(t, run("user", "remove-admin", "root"), 1, "last enabled admin")

	mustOK(t, run("user", "delete", "alice"), "delete")
	mustFail(t, run("user", "show", "alice"), 1, "no user with that username")
	mustFail(t, run("user", "delete", "alice"), 1, "no user with that username")
}

func TestGroupCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "alice"))
	mustOK(t, run("group", "add", "pilot", "--description", "passkey pilot"))
	mustFail(t, run("group", "add", "pilot"), 1, "already exists")
	mustOK(t, run("group", "add-member", "pilot", "alice"))
	mustOK(t, run("group", "add-member", "pilot", "alice")) // idempotent
	mustFail(t, run("group", "add-member", "pilot", "nobody"), 1, "no user")
	mustFail(t, run("group", "add-member", "nogroup", "alice"), 1, "no group")
	mustFail(t, run("group", "add-member", "pilot"), 2, "needs a GROUP and a USERNAME")

	r := mustOK(t, run("group", "list"))
	if !regexp.MustCompile(`pilot\s+alice\s+passkey pilot`).MatchString(r.stdout) {
		t.Errorf("group list:\n%s", r.stdout)
	}
	if r := mustOK(t, run("user", "show", "alice")); !strings.Contains(r.stdout, "pilot") {
		t.Errorf("user show lacks the group:\n%s", r.stdout)
	}
	mustOK(t, run("group", "remove-member", "pilot", "alice"))
	if r := mustOK(t, run("group", "list")); regexp.MustCompile(`pilot\s+alice`).MatchString(r.stdout) {
		t.Errorf("alice still a member:\n%s", r.stdout)
	}
	mustOK(t, run("group", "delete", "pilot"))
	mustFail(t, run("group", "delete", "pilot"), 1, "no group")
}

func TestTAPIssue(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "alice"))

	r := mustOK(t, run("tap", "issue", "alice", "--lifetime", "2h", "--one-time"))
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	pass := lines[len(lines)-1]
	if !regexp.MustCompile(`^[a-z2-9]{12}$`).MatchString(pass) {
		t.Fatalf("last line %q is not a pass alone:\n%s", pass, r.stdout)
	}
	if !strings.Contains(r.stdout, "one-time") || !strings.Contains(r.stdout, "2h") {
		t.Errorf("tap issue output lacks its terms:\n%s", r.stdout)
	}
	if strings.Contains(r.stderr, pass) {
		t.Error("the pass was written to stderr (logs)")
	}
	// The pass is stored only as a hash: it appears nowhere in the data.
	assertNotInDir(t, dir, pass)

	r2 := mustOK(t, run("tap", "issue", "alice"))
	if !strings.Contains(r2.stdout, "1h") {
		t.Errorf("default lifetime is not 1h:\n%s", r2.stdout)
	}

	mustFail(t, run("tap", "issue", "alice", "--lifetime", "soon"), 2, "not a duration")
	mustFail(t, run("tap", "issue", "alice", "--lifetime", "5m"), 1, "between 10m and 30d")
	mustFail(t, run("tap", "issue", "alice", "--lifetime", "31d"), 1, "between 10m and 30d")
	mustFail(t, run("tap", "issue", "nobody"), 1, "no user with that username")
	mustOK(t, run("user", "disable", "alice"))
	mustFail(t, run("tap", "issue", "alice"), 1, "disabled")
}

func assertNotInDir(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s contains the secret in plain text", path)
		}
		return nil
	})
}

func TestDataDirFlagAndEnv(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// The flag wins over the environment.
	mustOK(t, sesame(t, a, nil, "user", "add", "inb", "--data-dir", b))
	if r := mustOK(t, sesame(t, b, nil, "user", "list")); !strings.Contains(r.stdout, "inb") {
		t.Errorf("--data-dir not used:\n%s", r.stdout)
	}
	if r := mustOK(t, sesame(t, a, nil, "user", "list")); strings.Contains(r.stdout, "inb") {
		t.Errorf("user landed in SESAME_DATA_DIR despite --data-dir:\n%s", r.stdout)
	}
	mustFail(t, sesame(t, a, []string{"SESAME_LOG_LEVEL=loud"}, "user", "list"), 1, "--log-level")
	mustFail(t, sesame(t, a, []string{"SESAME_SESSION_IDLE=forever"}, "serve"), 2, "SESAME_SESSION_IDLE")
	mustFail(t, sesame(t, a, []string{"SESAME_URL=http://example.com"}, "serve"), 1, "plain http on a non-local host")
	mustFail(t, sesame(t, a, []string{"SESAME_DATABASE=mysql://x"}, "user", "list"), 1, "not supported")
}

func TestServeHelp(t *testing.T) {
	r := mustOK(t, sesame(t, t.TempDir(), nil, "serve", "--help"))
	for _, want := range []string{"--listen", "--url", "--data-dir", "--origin", "SESAME_LISTEN", "SESAME_URL", "setup link"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestServe starts the real server on an empty data directory: it must
// create its database and secret, print the first-run link, answer
// /healthz, accept CLI commands on the same data meanwhile, and stop
// cleanly on SIGTERM.
func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "data")
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Env = append(cleanEnv(), "SESAME_DATA_DIR="+dir, fmt.Sprintf("SESAME_LISTEN=127.0.0.1:%d", port), "SESAME_URL="+base)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer // written by exec's copying goroutine while the test reads it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	link := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, base+"/setup?token=") {
				link <- l
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var setup string
	select {
	case setup = <-link:
	case <-ctx.Done():
		t.Fatalf("no setup link printed; stderr:\n%s", stderr.String())
	}

	waitHealthy(t, ctx, base)
	for _, f := range []string{"sesame.db", "secret.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("serve did not create %s: %v", f, err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "secret.key")); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("secret.key mode %v, want 0600", info.Mode().Perm())
	}

	// The setup link opens the setup page; a forged one does not.
	if code := get(t, setup); code != http.StatusOK {
		t.Errorf("setup link answered %d", code)
	}
	if code := get(t, base+"/setup?token=forged"); code != http.StatusForbidden {
		t.Errorf("forged setup link answered %d, want 403", code)
	}
	// The token is not in the logs.
	token := setup[strings.Index(setup, "token=")+len("token="):]
	if strings.Contains(stderr.String(), token) {
		t.Error("the setup token was written to the log")
	}

	// CLI on the same data while the server runs.
	mustOK(t, sesame(t, dir, nil, "user", "add", "alice"))
	r := mustOK(t, sesame(t, dir, []string{"SESAME_URL=" + base}, "tap", "issue", "alice"))
	if !strings.Contains(r.stdout, base+"/signin/tap") {
		t.Errorf("tap issue does not name the sign-in address:\n%s", r.stdout)
	}

	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop on interrupt")
	}
}

func waitHealthy(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server never became healthy: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "alice"))
	backup := filepath.Join(t.TempDir(), "sesame.backup")
	mustOK(t, run("backup", backup))
	mustFail(t, run("backup", backup), 1, "exists already")

	mustOK(t, run("user", "add", "bob"))
	// A file that is not a Sesame database is refused and changes nothing.
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	mustFail(t, run("restore", junk), 1, "not a usable Sesame backup")
	if r := mustOK(t, run("user", "list")); !strings.Contains(r.stdout, "bob") {
		t.Fatalf("a refused restore changed the data:\n%s", r.stdout)
	}

	r := mustOK(t, run("restore", backup))
	if !strings.Contains(r.stdout, "before-restore") {
		t.Errorf("restore does not say where the old database went:\n%s", r.stdout)
	}
	r = mustOK(t, run("user", "list"))
	if !strings.Contains(r.stdout, "alice") || strings.Contains(r.stdout, "bob") {
		t.Errorf("restored data is not the backup's:\n%s", r.stdout)
	}
	mustOK(t, run("migrate"))
}

// TestOperatorEndpoints checks /readyz and /metrics on a running server.
func TestOperatorEndpoints(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--url", base, "--log-format", "json")
	cmd.Env = append(cleanEnv(), "SESAME_DATA_DIR="+dir)
	var stderr syncBuffer // written by exec's copying goroutine while the test reads it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitHealthy(t, ctx, base)
	if code := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz answered %d", code)
	}
	// A refused sign-in shows up in the metrics.
	resp, err := http.Post(base+"/signin/passkey/finish", "application/json", strings.NewReader(`{"ceremony":"nope","credential":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the response")
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`sesame_signins_total{method="passkey",reason="challenge_unknown",result="failure"} 1`, `sesame_http_request_duration_seconds_bucket{code="4xx",route="/signin/passkey/finish"`, "sesame_db_connections_open", "sesame_db_write_transactions_total", "sesame_db_batched_writes_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if !strings.Contains(stderr.String(), `"request_id"`) {
		t.Errorf("JSON log lines carry no request_id:\n%s", stderr.String())
	}
}

// TestPostgresDatabase runs the CLI on PostgreSQL when one is given.
func TestPostgresDatabase(t *testing.T) {
	url := pgtest.Schema(t, pgtest.URL(t), 4)
	env := []string{"SESAME_DATABASE=" + url}
	dir := t.TempDir()
	mustOK(t, sesame(t, dir, env, "migrate"))
	mustOK(t, sesame(t, dir, env, "user", "add", "pgalice", "--email", "pg@example.com"))
	mustFail(t, sesame(t, dir, env, "user", "add", "pgalice"), 1, "already exists")
	if r := mustOK(t, sesame(t, dir, env, "user", "list")); !strings.Contains(r.stdout, "pgalice") {
		t.Errorf("user not listed from PostgreSQL:\n%s", r.stdout)
	}
	// Nothing went to SQLite.
	if _, err := os.Stat(filepath.Join(dir, "sesame.db")); err == nil {
		t.Error("a SQLite database was created although --database was given")
	}
	mustFail(t, sesame(t, dir, env, "backup", filepath.Join(t.TempDir(), "b")), 1, "pg_dump")
}

func TestSeed(t *testing.T) {
	dir := t.TempDir()
	r := mustOK(t, sesame(t, dir, nil, "seed", "--users", "30", "--passkeys-per-user", "2", "--workers", "3"))
	if !strings.Contains(r.stdout, "Created 30 users with 60 passkeys") {
		t.Fatalf("seed output:\n%s", r.stdout)
	}
	// A second run skips what exists.
	r = mustOK(t, sesame(t, dir, nil, "seed", "--users", "31"))
	if !strings.Contains(r.stdout, "Created 1 users with 2 passkeys (30 existed already)") {
		t.Fatalf("second seed output:\n%s", r.stdout)
	}
	if r := mustOK(t, sesame(t, dir, nil, "user", "show", "seed-0000007")); !strings.Contains(r.stdout, "Passkeys (2)") {
		t.Fatalf("seeded user:\n%s", r.stdout)
	}
	mustFail(t, sesame(t, dir, nil, "seed", "--users", "0"), 2, "--users must be")
	mustFail(t, sesame(t, dir, nil, "seed", "--users", "31", "--signins", "-1"), 2, "--signins 0 to")

	// Sign-in records for the users that exist, counted by the report.
	r = mustOK(t, sesame(t, dir, nil, "seed", "--users", "31", "--signins", "200"))
	if !strings.Contains(r.stdout, "Added 200 sign-in records") {
		t.Fatalf("seed --signins output:\n%s", r.stdout)
	}
	r = mustOK(t, sesame(t, dir, nil, "report", "rollout", "--format", "json"))
	var rep struct {
		Overall struct {
			SignIns []struct{ Days, Passkey int } `json:"sign_ins"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	// 180 successes at random times in the last 90 days: the last 30
	// days miss every one of them with probability (2/3)^180.
	if n := len(rep.Overall.SignIns); n == 0 || rep.Overall.SignIns[n-1].Passkey == 0 {
		t.Fatalf("the roll-out report does not count the seeded sign-ins:\n%s", r.stdout)
	}
}

// TestGroupNamedByPolicy: a group a policy names cannot be deleted (a
// break-glass exclusion would silently vanish).
func TestGroupNamedByPolicy(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "root", "--admin"))
	mustOK(t, run("group", "add", "break-glass"))
	mustOK(t, run("group", "add-member", "break-glass", "root"))
	mustOK(t, run("policy", "template", "admins-phishing-resistant", "--exclude-group", "break-glass"))
	mustFail(t, run("group", "delete", "break-glass"), 1, "Conditional Access policy")
	if r := mustOK(t, run("group", "list")); !strings.Contains(r.stdout, "break-glass") {
		t.Fatalf("the refused delete removed the group:\n%s", r.stdout)
	}
	mustOK(t, run("group", "add", "unused"))
	mustOK(t, run("group", "delete", "unused"))
}

func TestUserImport(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "existing", "--email", "taken@example.com"))
	mustOK(t, run("group", "add", "pilot"))
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "users.csv")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}

	// Every problem is reported at once, and nothing is added.
	bad := write("Username,Email,Name,Groups\n" +
		"alice,alice@example.com,Alice,pilot\n" +
		"bad name!,x@example.com,X,\n" +
		"alice,other@example.com,Again,\n" +
		"bob,taken@example.com,Bob,\n" +
		"carol,carol@example.com,Carol,nogroup\n" +
		"existing,,,\n")
	r := run("user", "import", bad)
	for _, want := range []string{"nothing was imported", "line 3:", "line 4: username alice repeats line 2", "line 5: email taken@example.com belongs to user existing", `line 6: there is no group "nogroup"`, "line 7: user existing exists already"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad import: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	if r := mustOK(t, run("user", "list")); strings.Contains(r.stdout, "alice") {
		t.Fatalf("a refused import added users:\n%s", r.stdout)
	}
	mustFail(t, run("user", "import", write("login,email\nx,y\n")), 1, "unknown column")
	mustFail(t, run("user", "import", write("")), 1, "empty")
	mustFail(t, run("user", "import", write("username,admin\nx,maybe\n")), 1, "must be yes or no")

	good := write("\ufeffusername,email,name,groups,admin\n" +
		"alice,alice@example.com,Alice Liddell,pilot,no\n" +
		"bob,bob@example.com,\"Bob, the builder\",,yes\n")
	r = mustOK(t, run("user", "import", good))
	if !strings.Contains(r.stdout, "Imported 2 users") {
		t.Errorf("import output: %s", r.stdout)
	}
	if r := mustOK(t, run("user", "show", "bob")); !strings.Contains(r.stdout, "Bob, the builder") || !strings.Contains(r.stdout, "admin") {
		t.Errorf("bob after import:\n%s", r.stdout)
	}
	if r := mustOK(t, run("group", "list")); !regexp.MustCompile(`pilot\s+alice`).MatchString(r.stdout) {
		t.Errorf("alice not in pilot:\n%s", r.stdout)
	}
}

func TestGroupRename(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "root", "--admin"))
	mustOK(t, run("group", "add", "break-glass"))
	mustOK(t, run("group", "add", "sales"))
	mustOK(t, run("group", "add-member", "break-glass", "root"))
	mustOK(t, run("policy", "template", "admins-phishing-resistant", "--exclude-group", "break-glass"))

	mustFail(t, run("group", "rename", "break-glass"), 2, "needs the OLD and the NEW group name")
	mustFail(t, run("group", "rename", "break-glass", "sales"), 1, "already exists")
	mustFail(t, run("group", "rename", "break-glass", " "), 1, "1 to 64 characters")
	mustFail(t, run("group", "rename", "nope", "other"), 1, "no group")

	r := mustOK(t, run("group", "rename", "break-glass", "emergency"))
	if !strings.Contains(r.stdout, "Renamed group break-glass to emergency.") {
		t.Errorf("rename said:\n%s", r.stdout)
	}
	if r := mustOK(t, run("group", "list")); !regexp.MustCompile(`emergency\s+root`).MatchString(r.stdout) || strings.Contains(r.stdout, "break-glass") {
		t.Errorf("group list after the rename:\n%s", r.stdout)
	}
	if r := mustOK(t, run("policy", "export")); !strings.Contains(r.stdout, "emergency") || strings.Contains(r.stdout, "break-glass") {
		t.Errorf("the policy does not follow the rename:\n%s", r.stdout)
	}
	// The policy names the new name, so the group is still protected.
	mustFail(t, run("group", "delete", "emergency"), 1, "Conditional Access policy")
}

// TestServeArgon2Bounds: argon2id costs out of bounds, by flag or by
// environment variable, stop the server before it starts, with a message
// naming the option and its range.
func TestServeArgon2Bounds(t *testing.T) {
	dir := t.TempDir()
	mustFail(t, sesame(t, dir, nil, "serve", "--argon2-memory", "1024"), 1, "--argon2-memory 1024 must be between 8192 and 2097152 KiB")
	mustFail(t, sesame(t, dir, nil, "serve", "--argon2-iterations", "0"), 1, "--argon2-iterations 0 must be between 1 and 64")
	mustFail(t, sesame(t, dir, []string{"SESAME_ARGON2_PARALLELISM=100"}, "serve"), 1, "--argon2-parallelism 100 must be between 1 and 64")
	mustFail(t, sesame(t, dir, nil, "serve", "--argon2-memory", "-5"), 2, "--argon2-memory")
	r := mustOK(t, sesame(t, dir, nil, "serve", "--help"))
	for _, want := range []string{"--argon2-memory", "--argon2-iterations", "--argon2-parallelism"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

// TestServeRecordingFlags: a profile or trace file that cannot be created
// is refused before the server starts, naming the flag.
func TestServeRecordingFlags(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "out")
	for _, flag := range []string{"--cpu-profile", "--mem-profile", "--trace"} {
		mustFail(t, sesame(t, dir, nil, "serve", "--listen", "localhost:0", flag, missing), 1, flag+": open "+missing)
	}
	r := mustOK(t, sesame(t, dir, nil, "serve", "--help"))
	for _, want := range []string{"--cpu-profile", "--mem-profile", "--trace"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}
