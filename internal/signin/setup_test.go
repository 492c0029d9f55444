package signin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// createHookStore runs beforeCreate once when a user is next created.
type createHookStore struct {
	store.Store
	beforeCreate func()
}

func (s *createHookStore) CreateUser(ctx context.Context, u store.User) error {
	if f := s.beforeCreate; f != nil {
		s.beforeCreate = nil
		f()
	}
	return s.Store.CreateUser(ctx, u)
}

// TestSetupTokenGivenBack: a setup that fails after taking the token gives
// it back, but never over a newer link printed meanwhile.
func TestSetupTokenGivenBack(t *testing.T) {
	ctx := context.Background()
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	st := &createHookStore{Store: inner}
	now := func() time.Time { return time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC) }
	dir := &directory.Service{Store: st, Now: now}
	svc := &Service{Store: st, Dir: dir, Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// A non-admin holds the name the setup form will ask for, so the
	// creation fails after the token was taken.
	if _, err := dir.CreateUser(ctx, "test", directory.NewUser{Username: "taken"}); err != nil {
		t.Fatal(err)
	}

	first, err := svc.PrepareSetup(ctx)
	if err != nil || first == "" {
		t.Fatalf("PrepareSetup: %q %v", first, err)
	}
	if _, err := svc.CompleteSetup(ctx, first, directory.NewUser{Username: "taken"}, Meta{}); !errors.Is(err, directory.ErrUserExists) {
		t.Fatalf("setup with a taken name: %v", err)
	}
	if !svc.SetupValid(ctx, first) {
		t.Fatal("the token was not given back after a failed setup")
	}

	var second string
	st.beforeCreate = func() {
		if second, err = svc.PrepareSetup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CompleteSetup(ctx, first, directory.NewUser{Username: "taken"}, Meta{}); !errors.Is(err, directory.ErrUserExists) {
		t.Fatalf("setup with a taken name: %v", err)
	}
	if !svc.SetupValid(ctx, second) || svc.SetupValid(ctx, first) {
		t.Errorf("after a new link was printed during a failed setup: new valid %v, old valid %v; want true, false",
			svc.SetupValid(ctx, second), svc.SetupValid(ctx, first))
	}
}
