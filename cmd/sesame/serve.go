package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/spf13/cobra"
)

func (e *env) serveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the Sesame server",
		Long: `Run the Sesame server.

With no options it keeps its data in ./sesame-data (SQLite, created on
first run with a generated server secret), listens on localhost:8080 and
serves http://localhost:8080. On first run, while no admin exists, it
prints a one-time setup link for the first admin.

Every option can also be set with an environment variable: --listen is
SESAME_LISTEN, --url is SESAME_URL, --origin is SESAME_ORIGIN (comma
separated), and so on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.serve(cmd.Context()) },
	}
	f := c.Flags()
	f.StringVar(&e.cfg.Listen, "listen", e.cfg.Listen, "address to listen on (host:port)")
	f.StringSliceVar(&e.cfg.ExtraOrigins, "origin", nil, "extra origin allowed for passkeys, on the RP ID or a subdomain of it (repeatable)")
	f.StringVar(&e.cfg.RPName, "rp-name", e.cfg.RPName, "organisation name shown in passkey prompts")
	f.DurationVar(&e.cfg.SessionIdle, "session-idle", e.cfg.SessionIdle, "sign a browser out after this long without activity")
	f.DurationVar(&e.cfg.SessionMax, "session-max", e.cfg.SessionMax, "sign a browser out this long after sign-in, whatever the activity")
	f.DurationVar(&e.cfg.ChallengeTTL, "challenge-ttl", e.cfg.ChallengeTTL, "how long a passkey ceremony may take before it expires")
	f.Float64Var(&e.cfg.RateLimit, "rate-limit", e.cfg.RateLimit, "credential checks per second allowed from one address (burst 4x); 0 turns the limit off")
	f.Uint32Var(&e.cfg.Argon2Memory, "argon2-memory", e.cfg.Argon2Memory, "argon2id memory for new password hashes, in KiB (8192 to 2097152; 65536 = 64 MiB)")
	f.Uint32Var(&e.cfg.Argon2Iterations, "argon2-iterations", e.cfg.Argon2Iterations, "argon2id passes for new password hashes (1 to 64)")
	f.Uint32Var(&e.cfg.Argon2Parallelism, "argon2-parallelism", e.cfg.Argon2Parallelism, "argon2id lanes for new password hashes (1 to 64)")
	f.StringVar(&e.cfg.GeoIPDB, "geoip-db", e.cfg.GeoIPDB, "MaxMind-format country database (e.g. GeoLite2-Country.mmdb) for Conditional Access country locations; without it every country is unknown")
	f.StringVar(&e.cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run to this file when the server stops (go tool pprof)")
	f.StringVar(&e.memProfile, "mem-profile", "", "write an allocation profile to this file when the server stops (go tool pprof -sample_index=alloc_space)")
	f.StringVar(&e.traceFile, "trace", "", "write an execution trace of the whole run to this file (go tool trace; -pprof=sched|syscall|sync for where requests wait)")
	return c
}

func (e *env) serve(ctx context.Context) error {
	// Profiles are for measuring the server under load (docs/performance.md):
	// the CPU profile covers the whole run, the allocation profile is
	// written as the server stops. A file that cannot be created is refused
	// before anything starts.
	stop, err := startCPUProfile(e.cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	stopTrace, err := startTrace(e.traceFile)
	if err != nil {
		return err
	}
	defer stopTrace()
	if e.memProfile != "" {
		f, err := os.Create(e.memProfile)
		if err != nil {
			return fmt.Errorf("--mem-profile: %w", err)
		}
		defer func() {
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(e.stderr, "--mem-profile: %v\n", err)
			}
			f.Close()
		}()
	}
	tuneGC()
	a, err := e.open(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	log := a.Log
	slog.SetDefault(log)

	ln, err := net.Listen("tcp", e.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", e.cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("sesame is serving", "listen", ln.Addr().String(), "url", e.cfg.URL, "data_dir", e.cfg.DataDir, "database", dbKind(e.cfg.Database))

	// The setup link is printed to the terminal, not the log: it is a
	// credential, and logs are shipped and kept.
	token, err := a.SignIn.PrepareSetup(ctx)
	if err != nil {
		return err
	}
	if token != "" {
		fmt.Fprintf(e.stdout, "\nNo admin exists yet. Open this one-time link to create the first admin\nand register their passkey (it works once; restarting prints a new one):\n\n    %s/setup?token=%s\n\n", e.cfg.URL, token)
	}

	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
				a.Sweep(sweepCtx)
			}
		}
	}()

	if a.OIDC != nil {
		go a.OIDC.RunLogoutDelivery(sweepCtx, 15*time.Second)
	}
	if a.SAML != nil {
		// SAML apps registered by URL are fetched again once a day; an
		// hourly look finds the due ones, claimed so one instance fetches.
		go a.SAML.RunMetadataRefresh(sweepCtx, time.Hour)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Finish in-flight requests before closing the database under them.
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// tuneGC sets the server's garbage collector, unless GOGC or GOMEMLIMIT
// say otherwise. Its live heap is small (tens of MB at 100,000 users), so
// the default of collecting whenever the heap doubles spent about a tenth
// of the CPU of a sign-in on collection: collecting at triple the live heap
// took sesame bench from 1,783 to 1,950 sign-ins/s (705 -> 618 us of
// server CPU each; peak RSS 56 -> 79 MB). The soft limit makes collection
// eager again should the heap approach it (docs/performance.md).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}

// startCPUProfile starts a CPU profile to path (none when path is empty)
// and returns what stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	return record("--cpu-profile", path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startTrace starts an execution trace to path (none when path is empty):
// where a CPU profile tells what the server computes, the trace tells what
// a slow request waited for (a core, a lock, a system call, the collector).
func startTrace(path string) (stop func(), err error) {
	return record("--trace", path, trace.Start, trace.Stop)
}

// record creates path and starts writing a recording (profile or trace)
// to it; errors name the flag that asked for it.
func record(flag, path string, start func(io.Writer) error, end func()) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return func() {
		end()
		f.Close()
	}, nil
}

func dbKind(url string) string {
	if url == "" {
		return "sqlite"
	}
	return "postgres"
}
