package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// There is no container engine on the machines that run the tests, so the
// test does what the image does without one: it builds the binary with the
// Dockerfile's own build command (read from the Dockerfile, so the two
// cannot drift apart), checks that it is static, and runs it the way the
// image runs it: alone in an empty root (chroot when the test runs as
// root), as the image's unprivileged user, with the image's environment
// and command. A static binary that needed anything from the build machine
// (libc, /etc, a writable working directory) would fail here as in the
// image.

func inCI() bool { return os.Getenv("CI") == "true" }

// need skips the test outside CI when a tool is missing, and fails it in CI.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if inCI() {
		t.Fatalf("CI=true but %s", what)
	}
	t.Skipf("skipped: %s", what)
}

// image is what the test reads from the Dockerfile.
type image struct {
	buildFlags []string // the go build flags, between "go build" and "-o"
	env        map[string]string
	user       int // numeric UID of USER (distroless "nonroot" is 65532)
	cmd        []string
	dataDir    string
}

func readDockerfile(t *testing.T) image {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	img := image{env: map[string]string{}}
	build := regexp.MustCompile(`RUN CGO_ENABLED=0 go build (.*?) -o /out/sesame \./cmd/sesame`).FindStringSubmatch(text)
	if build == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build ... -o /out/sesame ./cmd/sesame` line: update this test with it")
	}
	img.buildFlags = shellFields(build[1])
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "ENV "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "ENV ")) {
				k, v, ok := strings.Cut(kv, "=")
				if ok {
					img.env[k] = v
				}
			}
		case strings.HasPrefix(line, "USER "):
			switch u := strings.TrimSpace(strings.TrimPrefix(line, "USER ")); u {
			case "nonroot":
				img.user = 65532
			default:
				if img.user, err = strconv.Atoi(u); err != nil {
					t.Fatalf("USER %q: the test knows nonroot or a numeric UID", u)
				}
			}
		case strings.HasPrefix(line, "CMD "):
			for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(line, -1) {
				img.cmd = append(img.cmd, m[1])
			}
		}
	}
	img.dataDir = img.env["SESAME_DATA_DIR"]
	if len(img.cmd) == 0 || img.dataDir == "" || img.user == 0 {
		t.Fatalf("could not read CMD, SESAME_DATA_DIR and a non-root USER from the Dockerfile: %+v", img)
	}
	return img
}

// shellFields splits words as a shell does for the simple quoting a
// Dockerfile's RUN line uses: -ldflags="-s -w" is one word, -ldflags=-s -w.
func shellFields(s string) []string {
	var out []string
	var cur strings.Builder
	quote, inWord := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// built is the binary built once for both tests.
var built struct {
	once sync.Once
	path string
	err  error
	dir  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildStatic builds cmd/sesame as the Dockerfile does (once per run) and
// copies it to out.
func buildStatic(t *testing.T, img image, out string) {
	t.Helper()
	_, err := exec.LookPath("go")
	need(t, err == nil, "the go command is not on PATH")
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "sesame-deploy-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "sesame")
		args := append([]string{"build"}, img.buildFlags...)
		args = append(args, "-o", built.path, "./cmd/sesame")
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	f, err := elf.Open(built.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the binary is not static (it has a %v program header): the distroless static image has no libc", p.Type)
		}
	}
	b, err := os.ReadFile(built.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestShellFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`-trimpath -ldflags="-s -w"`, []string{"-trimpath", "-ldflags=-s -w"}},
		{`  -a   'b c' d`, []string{"-a", "b c", "d"}},
		{`-tags=""`, []string{"-tags="}},
		{``, nil},
	} {
		got := shellFields(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("shellFields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStaticBinaryRunsLikeTheImage(t *testing.T) {
	img := readDockerfile(t)
	root := t.TempDir()
	bin := filepath.Join(root, "usr", "local", "bin", "sesame")
	buildStatic(t, img, bin)

	// The image: the binary, and the data volume owned by USER. Nothing
	// else: no /etc, no /tmp, no shell.
	if err := os.Chmod(root, 0o755); err != nil { // as / is in the image
		t.Fatal(err)
	}
	data := filepath.Join(root, img.dataDir)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	env := []string{"SESAME_URL=" + base}
	for k, v := range img.env {
		switch k {
		case "SESAME_LISTEN":
			// The image listens on 0.0.0.0:8080 inside its own network;
			// here the port must be free on the host.
			v = fmt.Sprintf("127.0.0.1:%d", port)
		case "SESAME_DATA_DIR":
		}
		env = append(env, k+"="+v)
	}
	// Keep SESAME_SECRET and the like from leaking in: the image starts
	// with its ENV only.
	cmd := exec.Command(bin, img.cmd...)
	cmd.Env = env
	cmd.Dir = root
	if os.Geteuid() == 0 {
		if err := os.Chown(data, img.user, img.user); err != nil {
			t.Fatal(err)
		}
		cmd.Path = "/usr/local/bin/sesame"
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uint32(img.user), Gid: uint32(img.user)}}
	} else {
		// Without root there is no chroot: run from the empty root with
		// the data directory given as a path inside it.
		for i, kv := range cmd.Env {
			if strings.HasPrefix(kv, "SESAME_DATA_DIR=") {
				cmd.Env[i] = "SESAME_DATA_DIR=" + data
			}
		}
		t.Log("not root: running without chroot and as the current user")
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the binary: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	// Wait for /readyz (a readiness wait, not a timing assertion: the
	// deadline only stops a hung test).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
			t.Logf("/readyz: %d %s", res.StatusCode, body)
		}
		select {
		case err := <-exited:
			t.Fatalf("the binary exited before it was ready: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("/readyz never answered 200\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}

	// The first-run link: printed on the terminal (docker logs), and it
	// opens the first-admin page.
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/setup\?token=[A-Za-z0-9_-]+`).FindString(out.String())
	if link == "" {
		t.Fatalf("no first-run setup link in the output:\n%s", out.String())
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("<form")) {
		t.Fatalf("the setup link answered %d:\n%s", res.StatusCode, page)
	}
	if os.Geteuid() == 0 {
		// The secret and database were written as the image's user.
		st, err := os.Stat(filepath.Join(data, "secret.key"))
		if err != nil {
			t.Fatalf("no server secret in the data volume: %v", err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != uint32(img.user) {
			t.Errorf("secret.key belongs to uid %d, want %d", uid, img.user)
		}
	}

	// docker stop sends SIGTERM: Sesame finishes and exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("after SIGTERM the binary exited with %v\n%s", err, out.String())
	}
	exited <- nil // for the cleanup
}

// TestSystemdUnit checks deploy/sesame.service with systemd-analyze verify.
// The unit names /usr/local/bin/sesame, which verify insists exists, so a
// copy pointing at a freshly built binary is verified; every other line is
// the unit's own. Any warning fails the test (verify itself exits 0 on
// unknown keys and bad values).
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	need(t, err == nil, "systemd-analyze is not installed (apt-get install systemd)")
	unit, err := os.ReadFile("sesame.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/sesame serve")) {
		t.Fatal("the unit's ExecStart changed: update this test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sesame")
	buildStatic(t, readDockerfile(t), bin)
	copyPath := filepath.Join(dir, "sesame.service")
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(unit, []byte("/usr/local/bin/sesame"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The check is real: a broken copy is reported.
	broken := bytes.Replace(unit, []byte("ProtectSystem=strict"), []byte("ProtectSystem=sometimes"), 1)
	brokenPath := filepath.Join(dir, "broken.service")
	os.WriteFile(brokenPath, bytes.ReplaceAll(broken, []byte("/usr/local/bin/sesame"), []byte(bin)), 0o644)
	if out, _ := exec.Command(analyze, "verify", brokenPath).CombinedOutput(); len(bytes.TrimSpace(out)) == 0 {
		t.Error("systemd-analyze verify did not report a bad ProtectSystem value: the check would miss mistakes")
	}
}
