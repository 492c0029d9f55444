package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
)

// sesame user passwordless-only USERNAME on|off removes the password and
// keeps any from working, and can be undone.
func TestUserPasswordlessOnly(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result { return sesame(t, dir, nil, args...) }
	mustOK(t, run("user", "add", "dave"), "user add")

	open := func() *app.App {
		cfg := config.Defaults()
		cfg.DataDir = dir
		a, err := app.Open(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ctx := context.Background()
	a := open()
	dave, err := a.Dir.User(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Legacy.SetPassword(ctx, audit.CLI, dave, "daves password"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	mustFail(t, run("user", "passwordless-only", "dave", "maybe"), 2, "on or off")
	mustFail(t, run("user", "passwordless-only", "nobody", "on"), 1, "")
	r := mustOK(t, run("user", "passwordless-only", "dave", "on"), "passwordless-only on")
	if r.stdout == "" {
		t.Error("no confirmation printed")
	}
	a = open()
	st, err := a.Legacy.State(ctx, dave.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.PasswordlessOnly || st.HasPassword {
		t.Errorf("after on: %+v", st)
	}
	if err := a.Legacy.VerifyPassword(ctx, "dave", &dave, "daves password", "192.0.2.1"); err == nil {
		t.Error("the password still works")
	}
	if err := a.Legacy.SetPassword(ctx, audit.CLI, dave, "another password"); err == nil {
		t.Error("a password could be set for a passwordless-only user")
	}
	a.Close()

	mustOK(t, run("user", "passwordless-only", "dave", "off"), "passwordless-only off")
	a = open()
	defer a.Close()
	if st, _ := a.Legacy.State(ctx, dave.ID); st.PasswordlessOnly {
		t.Errorf("after off: %+v", st)
	}
	if err := a.Legacy.SetPassword(ctx, audit.CLI, dave, "another password"); err != nil {
		t.Errorf("setting a password after off: %v", err)
	}
}
