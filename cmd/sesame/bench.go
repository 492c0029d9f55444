package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/loadgen"
)

// benchCmd is the load generator: it gives bench users software passkeys
// and signs them in over HTTP against a running server.
func (e *env) benchCmd() *cobra.Command {
	var (
		targets     []string
		paceRate    float64
		users       int
		concurrency int
		duration    time.Duration
		warmup      time.Duration
		progress    time.Duration
		serverPID   int
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a running server with passkey sign-ins",
		Long: `Load-test a running Sesame server with full passkey sign-ins.

First it makes sure users bench-0001 .. bench-N exist, each with a software
passkey registered through the real registration ceremony, in the same data
as the server (--data-dir or --database). Their private keys are kept in
bench-keys.json (mode 0600) in the data directory, so a second run reuses the
users and passkeys of the first. Use a data directory made for benchmarks:
every sign-in leaves a session and a sign-in record behind.

Then --concurrency workers sign in over HTTP against --target for --duration
(after --warmup), each sign-in the whole flow a browser makes: begin a
discoverable (usernameless) ceremony, sign it with the passkey, finish, and
use the session cookie once (GET /api/me). It prints sign-ins per second,
errors by kind and the latency percentiles; with --server-pid also the
server's CPU time per sign-in (Linux).

The passkeys sign for the RP ID and origin of --url, which must be the
server's --url; --target is only where requests go (by default --url).
The server's per-address rate limit must be off for load from one address:
  sesame serve --rate-limit 0
  sesame bench --users 200 --concurrency 16 --duration 20s

bench exits with status 1 when any sign-in failed.`,
		Args: cobra.NoArgs,
		RunE: e.run(func(cmd *cobra.Command, a *app.App, _ []string) error {
			if users < 1 || users > 99999 {
				return usageError{fmt.Errorf("--users %d must be between 1 and 99999", users)}
			}
			if concurrency < 1 {
				return usageError{fmt.Errorf("--concurrency %d must be at least 1", concurrency)}
			}
			if paceRate < 0 {
				return usageError{fmt.Errorf("--rate %v must be 0 (no cap) or positive", paceRate)}
			}
			if duration <= 0 || warmup < 0 {
				return usageError{fmt.Errorf("--duration must be positive and --warmup not negative")}
			}
			if len(targets) == 0 {
				targets = []string{e.cfg.URL}
			}
			for _, target := range targets {
				if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
					return usageError{fmt.Errorf("--target %q must be the server's base URL, such as http://localhost:8080", target)}
				}
			}
			rp, err := e.cfg.RelyingParty()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			passkeys, _, err := loadgen.Provision(ctx, a, users, e.stdout)
			if err != nil {
				return err
			}
			// The load goes over HTTP only. A store left open would run
			// its own WAL checkpoints next to the server's, on the cores
			// being measured, and hold the checkpoint lock the server's
			// checkpointer needs (it found it busy for seconds at a time).
			if err := a.Close(); err != nil {
				return err
			}
			stopProfile, err := startCPUProfile(e.cpuProfile)
			if err != nil {
				return err
			}
			res, err := loadgen.Run(ctx, loadgen.Config{
				Target: targets[0], Targets: targets, Origin: rp.Origins[0], RPID: rp.ID, Passkeys: passkeys,
				Concurrency: concurrency, Duration: duration, Warmup: warmup, Rate: paceRate,
				Progress: e.stdout, ProgressEvery: progress, ServerPID: serverPID,
			})
			stopProfile()
			if err != nil {
				return err
			}
			res.Print(e.stdout)
			if res.Failed > 0 {
				return fmt.Errorf("%d of %d sign-ins failed", res.Failed, res.Failed+res.SignIns)
			}
			if res.SignIns == 0 {
				return fmt.Errorf("no sign-in completed in %s", res.Elapsed.Round(time.Millisecond))
			}
			return nil
		}),
	}
	f := c.Flags()
	f.StringSliceVar(&targets, "target", nil, "base URL of the running server to load (default: --url); repeat (or comma-separate) for several instances, which then take requests in turn")
	f.Float64Var(&paceRate, "rate", 0, "cap on sign-ins started per second (0: as fast as the server answers); for soak runs")
	f.IntVar(&users, "users", 200, "number of bench users (bench-0001 ...), each with a software passkey")
	f.IntVar(&concurrency, "concurrency", 16, "sign-ins in flight at once (each worker signs in, then starts the next)")
	f.DurationVar(&duration, "duration", 20*time.Second, "how long to measure")
	f.DurationVar(&warmup, "warmup", 3*time.Second, "how long to run the load before measuring (0 for none)")
	f.DurationVar(&progress, "progress", 2*time.Second, "how often to print a progress line")
	f.IntVar(&serverPID, "server-pid", 0, "process ID of the server, to report its CPU time per sign-in (Linux: read from /proc)")
	f.StringVar(&e.cpuProfile, "cpu-profile", "", "write a CPU profile of the load generator (warm-up and measurement) to this file (go tool pprof)")
	return c
}
