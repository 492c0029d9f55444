package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/loadgen"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/pgtest"
)

// Past one machine: several real `sesame serve` processes on one
// database, under load, with instances and the database failing. These are
// the short versions of the proof; the soak script runs the long one.

// server is one `sesame serve` process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // where to reach it
	stderr *syncBuffer
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `sesame serve` on a free port with the given public URL
// (shared by every instance, as behind a load balancer) and environment.
func startServer(t *testing.T, publicURL string, port int, env []string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--url", publicURL, "--rate-limit", "0")
	cmd.Env = append(cleanEnv(), env...)
	s := &server{t: t, cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = io.Discard
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("log of the instance on %s:\n%s", s.base, lastLines(s.stderr.String(), 40))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitHealthy(t, ctx, s.base)
	return s
}

// kill stops the process at once, as a crash would (SIGKILL).
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// provision creates n users with software passkeys in the database through
// the real registration ceremony, in this process.
func provision(t *testing.T, cfg config.Config, n int) []loadgen.Passkey {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	passkeys, _, err := loadgen.Provision(ctx, a, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	return passkeys
}

func openStore(t *testing.T, cfg config.Config) store.Store {
	t.Helper()
	st, err := app.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// countSuccess counts successful passkey sign-in records since t0.
func countSuccess(t *testing.T, st store.Store, since time.Time) int {
	t.Helper()
	evs, err := st.ListSignIns(context.Background(), store.SignInFilter{Result: store.ResultSuccess, Since: since, Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func postJSON(t *testing.T, url string, body any, out any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, data)
		}
	}
	var e struct {
		Code string `json:"code"`
	}
	json.Unmarshal(data, &e)
	return resp.StatusCode, e.Code
}

// TestThreeInstancesOnePostgres: a ceremony begun on one instance finishes
// on another and its replay is refused on a third; load spread over the
// three keeps working when one is killed, and every acknowledged sign-in
// is in the log.
func TestThreeInstancesOnePostgres(t *testing.T) {
	dbURL := pgtest.Schema(t, pgtest.URL(t), 20)
	secret := randomSecret(t)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	publicURL := fmt.Sprintf("http://localhost:%d", ports[0])
	cfg := config.Defaults()
	cfg.URL, cfg.Database, cfg.DataDir = publicURL, dbURL, t.TempDir()
	t.Setenv(app.SecretEnv, secret)
	passkeys := provision(t, cfg, 20)
	st := openStore(t, cfg)

	env := []string{"SESAME_DATABASE=" + dbURL, app.SecretEnv + "=" + secret, "SESAME_DATA_DIR=" + t.TempDir()}
	var servers []*server
	for _, p := range ports {
		servers = append(servers, startServer(t, publicURL, p, env))
	}

	// Begin on the first, finish on the second, replay on the third.
	var begun struct {
		Ceremony string          `json:"ceremony"`
		Options  json.RawMessage `json:"options"`
	}
	if code, _ := postJSON(t, servers[0].base+"/signin/passkey/begin", map[string]string{"username": ""}, &begun); code != http.StatusOK {
		t.Fatalf("begin answered %d", code)
	}
	cred, err := loadgen.Assert(passkeys[0], publicURL, "localhost", begun.Options)
	if err != nil {
		t.Fatal(err)
	}
	finish := map[string]any{"ceremony": begun.Ceremony, "credential": cred}
	if code, reason := postJSON(t, servers[1].base+"/signin/passkey/finish", finish, nil); code != http.StatusOK {
		t.Fatalf("finish on another instance answered %d %s", code, reason)
	}
	if code, reason := postJSON(t, servers[2].base+"/signin/passkey/finish", finish, nil); code == http.StatusOK || reason != "challenge_unknown" {
		t.Fatalf("replay on a third instance answered %d %q, want a refusal challenge_unknown", code, reason)
	}

	// Load over the three; kill one a second in.
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res *loadgen.Result
	var runErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		res, runErr = loadgen.Run(ctx, loadgen.Config{
			Targets: []string{servers[0].base, servers[1].base, servers[2].base},
			Origin:  publicURL, RPID: "localhost", Passkeys: passkeys,
			Concurrency: 6, Duration: 4 * time.Second,
		})
	})
	time.Sleep(1500 * time.Millisecond)
	servers[2].kill()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	t.Logf("%d sign-ins, %d failed (instance killed), %d acknowledged", res.SignIns, res.Failed, res.Acknowledged)
	if res.SignIns < 20 {
		t.Fatalf("only %d sign-ins completed across the instances", res.SignIns)
	}

	// The survivors keep serving on their own.
	after, err := loadgen.Run(ctx, loadgen.Config{
		Targets: []string{servers[0].base, servers[1].base}, Origin: publicURL, RPID: "localhost",
		Passkeys: passkeys, Concurrency: 4, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if after.Failed > 0 || after.SignIns == 0 {
		t.Fatalf("after the kill: %d sign-ins, %d failed: %+v", after.SignIns, after.Failed, after.Errors)
	}
	// No acknowledged sign-in is missing from the log.
	want := int(res.Acknowledged + after.Acknowledged)
	if got := countSuccess(t, st, t0); got < want {
		t.Fatalf("%d successful sign-ins recorded, but %d were acknowledged", got, want)
	}
}

// TestPostgresRestartUnderLoad: while PostgreSQL is down the instances
// answer 503 (never 500, never hang), and they recover by themselves when
// it is back.
func TestPostgresRestartUnderLoad(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	secret := randomSecret(t)
	port := freePort(t)
	publicURL := fmt.Sprintf("http://localhost:%d", port)
	cfg := config.Defaults()
	cfg.URL, cfg.Database, cfg.DataDir = publicURL, cluster.URL, t.TempDir()
	t.Setenv(app.SecretEnv, secret)
	passkeys := provision(t, cfg, 10)
	srv := startServer(t, publicURL, port, []string{"SESAME_DATABASE=" + cluster.URL, app.SecretEnv + "=" + secret, "SESAME_DATA_DIR=" + t.TempDir()})

	// Probe username-first begin requests, which read the user and their
	// passkeys (a discoverable begin reads nothing: its state is sealed
	// into the ceremony), with no load generator: we want every status.
	probe := fmt.Sprintf(`{"username":%q}`, passkeys[0].Username)
	var statuses sync.Map // status code -> *atomic.Int64
	var maxLatency atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 15 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Post(srv.base+"/signin/passkey/begin", "application/json", strings.NewReader(probe))
				code := 0
				if err == nil {
					code = resp.StatusCode
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if d := int64(time.Since(start)); d > maxLatency.Load() {
					maxLatency.Store(d)
				}
				v, _ := statuses.LoadOrStore(code, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if code := get(t, srv.base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d while the database was down, want 503", code)
	}
	if code := get(t, srv.base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz answered %d while the database was down, want 200 (the process is up)", code)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	// Recovery: within a few seconds a full sign-in works again.
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Target: srv.base, Origin: publicURL, RPID: "localhost", Passkeys: passkeys, Concurrency: 2, Duration: 500 * time.Millisecond,
		})
		if err == nil && res.Failed == 0 && res.SignIns > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 15 s after PostgreSQL came back: %v %+v", err, res)
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	counts := map[int]int64{}
	statuses.Range(func(k, v any) bool { counts[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("statuses while PostgreSQL restarted: %v; slowest answer %s", counts, time.Duration(maxLatency.Load()))
	if counts[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 while the database was down: %v", counts)
	}
	for code, n := range counts {
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d (0 = no answer); only 200 and 503 are acceptable", n, code)
		}
	}
	if d := time.Duration(maxLatency.Load()); d > 10*time.Second {
		t.Errorf("a request took %s while the database was down: it should fail fast", d)
	}
}

// TestSQLiteKillUnderLoad: kill -9 the server under load, start it again:
// the database is intact and every acknowledged sign-in is recorded.
func TestSQLiteKillUnderLoad(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	publicURL := fmt.Sprintf("http://localhost:%d", port)
	cfg := config.Defaults()
	cfg.URL, cfg.DataDir = publicURL, dir
	passkeys := provision(t, cfg, 10)
	env := []string{"SESAME_DATA_DIR=" + dir}
	srv := startServer(t, publicURL, port, env)

	t0 := time.Now()
	var res *loadgen.Result
	var runErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		res, runErr = loadgen.Run(context.Background(), loadgen.Config{
			Target: srv.base, Origin: publicURL, RPID: "localhost", Passkeys: passkeys,
			Concurrency: 6, Duration: 3 * time.Second,
		})
	})
	time.Sleep(1500 * time.Millisecond)
	srv.kill()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	if res.Acknowledged == 0 {
		t.Fatal("no sign-in was acknowledged before the kill")
	}

	srv = startServer(t, publicURL, port, env)
	st := openStore(t, cfg)
	if got := countSuccess(t, st, t0); got < int(res.Acknowledged) {
		t.Fatalf("%d successful sign-ins recorded after the restart, %d were acknowledged", got, res.Acknowledged)
	}
	// The file is intact.
	if err := checkIntegrity(filepath.Join(dir, app.DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	after, err := loadgen.Run(context.Background(), loadgen.Config{
		Target: srv.base, Origin: publicURL, RPID: "localhost", Passkeys: passkeys, Concurrency: 2, Duration: 500 * time.Millisecond,
	})
	if err != nil || after.Failed > 0 {
		t.Fatalf("after the restart: %v %+v", err, after)
	}
}

// checkIntegrity runs SQLite's own consistency check on the file.
func checkIntegrity(path string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return fmt.Errorf("integrity_check: %s", result)
	}
	return nil
}
