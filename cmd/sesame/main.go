// Command sesame is the whole of Sesame: the server (`sesame serve`) and the
// operator's commands that work on the same data, even while it runs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/ops"
	"github.com/sesame-idp/sesame/internal/problem"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sesame: "+errorText(err))
		os.Exit(exitCode(err))
	}
}

// errorText is what the operator reads: the user-safe message of a refusal,
// the plain text of anything else (the CLI operator is trusted with details).
func errorText(err error) string {
	var p *problem.Error
	if errors.As(err, &p) {
		if p.Code == "internal" && p.Err != nil {
			return p.Err.Error()
		}
		return p.Message
	}
	return err.Error()
}

// exitCode: 2 for a usage mistake, 1 for everything else.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

type usageError struct{ error }

// env holds the settings every command shares, and opens Sesame with them.
type env struct {
	cfg    config.Config
	stdout io.Writer
	stderr io.Writer
	// Profiles and trace written by serve (--cpu-profile, --mem-profile, --trace).
	cpuProfile, memProfile, traceFile string
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	e := &env{cfg: config.Defaults(), stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "sesame",
		Short: "Sesame: passkey-first sign-in for your organisation's apps",
		Long: `Sesame is a passkey-first identity provider: people sign in with passkeys
(fingerprint, face or PIN), apps sign them in over OpenID Connect.

Start it with "sesame serve"; the other commands manage the same data
and may run while the server does. Every flag can also be set with an
environment variable SESAME_<FLAG>, e.g. --data-dir is SESAME_DATA_DIR.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.cfg.DataDir, "data-dir", e.cfg.DataDir, "directory for the SQLite database and the server secret (created if missing)")
	pf.StringVar(&e.cfg.Database, "database", e.cfg.Database, "database URL: empty for SQLite in --data-dir, or postgres://user:pass@host/db")
	pf.StringVar(&e.cfg.LogLevel, "log-level", e.cfg.LogLevel, "log level: debug, info, warn or error")
	pf.StringVar(&e.cfg.LogFormat, "log-format", e.cfg.LogFormat, "log format: text or json")
	// --url matters to every command that prints links or derives the RP ID.
	pf.StringVar(&e.cfg.URL, "url", e.cfg.URL, "public URL people open; the passkey RP ID and allowed origin derive from it (https required except on localhost)")

	root.AddCommand(e.serveCmd(), e.userCmd(), e.groupCmd(), e.tapCmd(), e.benchCmd(),
		e.migrateCmd(), e.backupCmd(), e.restoreCmd(), e.policyCmd(), e.metadataCmd(),
		e.appCmd(), e.keysCmd(), e.locationCmd(), e.logCmd(), e.seedCmd(), e.scimCmd(), e.reportCmd())
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	return root
}

// applyEnv fills every flag the user did not set on the command line from
// SESAME_<FLAG> (dashes become underscores), so containers and systemd units
// can configure Sesame without a command line. A bad value is an error that
// names the variable.
func applyEnv(cmd *cobra.Command) error {
	var err error
	set := func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := "SESAME_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if f.Value.Type() == "stringSlice" || f.Value.Type() == "stringArray" {
			for _, item := range strings.Split(v, ",") {
				if serr := f.Value.Set(strings.TrimSpace(item)); serr != nil {
					err = usageError{fmt.Errorf("%s=%q: %v", name, v, serr)}
				}
			}
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = usageError{fmt.Errorf("%s=%q: %v", name, v, serr)}
		}
	}
	cmd.Flags().VisitAll(set)
	cmd.InheritedFlags().VisitAll(set)
	return err
}

// logger builds the process logger from the configuration.
func (e *env) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(e.cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if e.cfg.LogFormat == "json" {
		return slog.New(ops.LogHandler(slog.NewJSONHandler(e.stderr, opts)))
	}
	return slog.New(ops.LogHandler(slog.NewTextHandler(e.stderr, opts)))
}

// open assembles Sesame for a command. Commands other than serve log only
// warnings, so their output stays readable.
func (e *env) open(ctx context.Context, quiet bool) (*app.App, error) {
	log := e.logger()
	if quiet {
		log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return app.Open(ctx, e.cfg, app.Options{Logger: log})
}
