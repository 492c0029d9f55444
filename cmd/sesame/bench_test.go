package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/loadgen"
	"github.com/sesame-idp/sesame/internal/store"
)

// benchServer runs Sesame in this process on a loopback port, serving the
// data directory dir, as `sesame serve --rate-limit RATE` would. Its public
// URL names localhost while requests go to 127.0.0.1, as a load balancer in
// front of a server would have it.
func benchServer(t *testing.T, dir string, rateLimit float64) (a *app.App, publicURL, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Listen = ln.Addr().String()
	cfg.URL = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	cfg.RateLimit = rateLimit
	a, err = app.Open(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return a, cfg.URL, srv.URL
}

var signInsLine = regexp.MustCompile(`sign-ins:\s+(\d+) complete`)

func TestBench(t *testing.T) {
	dir := t.TempDir()
	a, publicURL, target := benchServer(t, dir, 0)
	bench := func() string {
		t.Helper()
		r := mustOK(t, sesame(t, dir, nil, "bench", "--url", publicURL, "--target", target,
			"--users", "6", "--concurrency", "3", "--duration", "1500ms", "--warmup", "200ms", "--progress", "500ms",
			"--server-pid", strconv.Itoa(os.Getpid())), "bench")
		m := signInsLine.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no sign-in count in the output:\n%s", r.stdout)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Fatalf("no sign-in completed:\n%s", r.stdout)
		}
		for _, want := range []string{"errors:    0\n", "p50 ", "p99 "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
		if runtime.GOOS == "linux" && !strings.Contains(r.stdout, "server CPU:") {
			t.Errorf("no server CPU figure:\n%s", r.stdout)
		}
		return r.stdout
	}

	if out := bench(); !strings.Contains(out, "6/6 users ready (6 passkeys registered, 0 reused)") {
		t.Errorf("first run did not register 6 passkeys:\n%s", out)
	}
	keys := filepath.Join(dir, loadgen.KeysFile)
	if fi, err := os.Stat(keys); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keys, fi.Mode().Perm())
	}
	// A second run reuses the users and passkeys of the first.
	if out := bench(); !strings.Contains(out, "6/6 users ready (0 passkeys registered, 6 reused)") {
		t.Errorf("second run did not reuse the 6 passkeys:\n%s", out)
	}

	// The sign-ins were real: recorded by the server, one passkey each.
	ctx := context.Background()
	for i := 1; i <= 6; i++ {
		u, err := a.Store.GetUserByUsername(ctx, loadgen.Username(i))
		if err != nil {
			t.Fatal(err)
		}
		creds, err := a.Store.ListCredentials(ctx, u.ID)
		if err != nil || len(creds) != 1 {
			t.Fatalf("%s has %d passkeys (%v), want 1", u.Username, len(creds), err)
		}
		if creds[0].LastUsedAt.IsZero() {
			t.Errorf("%s's passkey was never used", u.Username)
		}
	}
	events, err := a.Store.ListSignIns(ctx, store.SignInFilter{Result: store.ResultFailure})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Errorf("the server recorded %d failed sign-ins, first: %+v", len(events), events[0])
	}
}

// TestBenchRateLimited: against a server with its per-address limit on,
// bench fails and says how to turn the limit off.
func TestBenchRateLimited(t *testing.T) {
	dir := t.TempDir()
	_, publicURL, target := benchServer(t, dir, 1)
	r := sesame(t, dir, nil, "bench", "--url", publicURL, "--target", target,
		"--users", "2", "--concurrency", "2", "--duration", "500ms", "--warmup", "0")
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "--rate-limit 0") {
		t.Errorf("no hint to turn the rate limit off:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
}
