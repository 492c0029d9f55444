package app_test

import (
	"context"
	"testing"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
)

// TestArgon2Configured: the configured cost reaches the password hashes,
// and a password hashed under another cost still signs in after a
// restart with the new configuration.
func TestArgon2Configured(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Argon2Memory, cfg.Argon2Iterations, cfg.Argon2Parallelism = 8*1024, 1, 1
	a, err := app.Open(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Legacy.Params.Memory != 8*1024 || a.Legacy.Params.Iterations != 1 || a.Legacy.Params.Parallelism != 1 {
		t.Fatalf("legacy params %+v", a.Legacy.Params)
	}
	u, err := a.Dir.CreateUser(ctx, audit.CLI, directory.NewUser{Username: "erp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Legacy.SetPassword(ctx, audit.CLI, u, "correct horse"); err != nil {
		t.Fatal(err)
	}
	a.Close()

	cfg.Argon2Memory, cfg.Argon2Iterations = 9*1024, 2
	b, err := app.Open(ctx, cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Legacy.VerifyPassword(ctx, u.Username, &u, "correct horse", "192.0.2.1"); err != nil {
		t.Fatalf("a hash made under the old cost no longer verifies: %v", err)
	}
	if b.Legacy.Params != methods.Argon2FromConfig(cfg) {
		t.Errorf("params %+v", b.Legacy.Params)
	}

	cfg.Argon2Iterations = 0
	if _, err := app.Open(ctx, cfg, app.Options{}); err == nil {
		t.Error("opened with zero argon2 iterations")
	}
}
