package loadgen

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/config"
)

// TestRun provisions bench users and signs them in against an in-process
// server, with more workers than users so that users sign in concurrently.
func TestRun(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen, cfg.RateLimit = t.TempDir(), ln.Addr().String(), 0
	cfg.URL = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	a, err := app.Open(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	passkeys, stats, err := Provision(ctx, a, 3, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(passkeys) != 3 || stats.Registered != 3 || stats.CreatedUsers != 3 {
		t.Fatalf("provisioned %d passkeys, stats %+v", len(passkeys), stats)
	}
	rp, err := cfg.RelyingParty()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	res, err := Run(ctx, Config{
		Target: srv.URL, Origin: rp.Origins[0], RPID: rp.ID, Passkeys: passkeys,
		Concurrency: 5, Duration: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, MinSignIns: 10,
		Progress: &progress, ProgressEvery: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SignIns < 10 || res.Failed != 0 {
		t.Fatalf("%d sign-ins, %d failed: %+v", res.SignIns, res.Failed, res.Errors)
	}
	if l := res.Latency; l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if !strings.Contains(progress.String(), "sign-ins") {
		t.Errorf("no progress lines: %q", progress.String())
	}

	// A passkey for another site is refused at the first sign-in, with a hint.
	_, err = Run(ctx, Config{
		Target: srv.URL, Origin: "http://localhost:1", RPID: rp.ID, Passkeys: passkeys,
		Concurrency: 1, Duration: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "origin_mismatch") || !strings.Contains(err.Error(), "same --url") {
		t.Errorf("wrong origin: err = %v", err)
	}
}
