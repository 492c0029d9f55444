package methods

import (
	"context"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestRehashDoesNotUndoAPasswordChange: the hash upgrade after a sign-in
// lands only over the hash that was checked, so a password changed or
// removed between the check and the upgrade stays as it was made.
func TestRehashDoesNotUndoAPasswordChange(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(l *Legacy, u store.User) error
		want   string // the password that must work afterwards ("" none)
	}{
		{"password changed", func(l *Legacy, u store.User) error { return l.SetPassword(ctx, audit.CLI, u, "new horse staple") }, "new horse staple"},
		{"made passwordless-only", func(l *Legacy, u store.User) error { return l.SetPasswordlessOnly(ctx, audit.CLI, u, true) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, st, _ := newLegacy(t)
			u := mustUser(t, st, "erp-user")
			if err := l.SetPassword(ctx, audit.CLI, u, "correct horse"); err != nil {
				t.Fatal(err)
			}
			slip := &slipStore{Store: st}
			signin := *l
			signin.Store = slip
			signin.Params.Iterations = l.Params.Iterations + 1 // the stored hash needs an upgrade
			slip.slip = func() {
				if err := tt.change(l, u); err != nil {
					t.Fatal(err)
				}
			}
			if err := signin.VerifyPassword(ctx, u.Username, &u, "correct horse", "192.0.2.1"); err != nil {
				t.Fatalf("the sign-in checked before the change: %v", err)
			}
			if slip.slip != nil {
				t.Fatal("no hash upgrade was attempted")
			}
			h, err := st.GetSetting(ctx, passwordKey(u.ID))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("the removed password was written back: %s", h)
				}
				return
			}
			if ok, _ := VerifyPassword(string(h), tt.want); !ok {
				t.Error("the new password no longer works")
			}
			if ok, _ := VerifyPassword(string(h), "correct horse"); ok {
				t.Error("the old password was written back over the new one")
			}
		})
	}
}

// TestTOTPUpdatesDoNotUndoEachOther: writes of a user's TOTP record that
// race (a sign-in, an enrolment, a confirmation, a removal) are each made
// on the record as it is, never on a stale copy.
func TestTOTPUpdatesDoNotUndoEachOther(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Legacy, *Legacy, *slipStore, *clock, store.User, TOTPEnrollment) {
		l, st, clk := newLegacy(t)
		u := mustUser(t, st, "erp-user")
		e, err := l.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.ConfirmTOTP(ctx, audit.CLI, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		clk.Add(30 * time.Second)
		slip := &slipStore{Store: st}
		racing := *l
		racing.Store = slip
		return l, &racing, slip, clk, u, e
	}

	t.Run("removed during a sign-in", func(t *testing.T) {
		l, racing, slip, clk, u, e := setup(t)
		slip.slip = func() {
			if err := l.RemoveTOTP(ctx, audit.CLI, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := racing.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); problem.As(err).Code != ErrTOTPNotEnrolled.Code {
			t.Errorf("sign-in with a secret removed meanwhile: %v", err)
		}
		if _, err := l.Store.GetSetting(ctx, totpKey(u.ID)); err == nil {
			t.Error("the sign-in wrote the removed secret back")
		}
	})

	t.Run("re-enrolment begun during a sign-in", func(t *testing.T) {
		l, racing, slip, clk, u, e := setup(t)
		var e2 TOTPEnrollment
		slip.slip = func() {
			var err error
			if e2, err = l.BeginTOTP(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := racing.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err != nil {
			t.Fatalf("sign-in with the confirmed secret: %v", err)
		}
		clk.Add(30 * time.Second)
		if err := l.ConfirmTOTP(ctx, audit.CLI, u, code(t, e2.Secret, clk.Now()), "192.0.2.1"); err != nil {
			t.Errorf("the sign-in lost the pending enrolment: %v", err)
		}
	})

	t.Run("re-enrolment restarted during a confirmation", func(t *testing.T) {
		l, racing, slip, clk, u, e := setup(t)
		first, err := l.BeginTOTP(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var second TOTPEnrollment
		slip.slip = func() {
			if second, err = l.BeginTOTP(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := racing.ConfirmTOTP(ctx, audit.CLI, u, code(t, first.Secret, clk.Now()), "192.0.2.1"); err == nil || problem.As(err).Code != ErrTOTPInvalid.Code {
			t.Fatalf("confirmation of a pending secret replaced meanwhile: %v", err)
		}
		// The replaced pending secret was not confirmed, the one still
		// pending is, and the old secret works until then.
		clk.Add(30 * time.Second)
		if err := l.VerifyTOTP(ctx, u, code(t, e.Secret, clk.Now()), "192.0.2.1"); err != nil {
			t.Errorf("the confirmed secret after the refused confirmation: %v", err)
		}
		clk.Add(30 * time.Second)
		if err := l.ConfirmTOTP(ctx, audit.CLI, u, code(t, second.Secret, clk.Now()), "192.0.2.1"); err != nil {
			t.Errorf("the pending secret: %v", err)
		}
	})
}

// putHookStore runs hook once just before the next PutSetting.
type putHookStore struct {
	store.Store
	hook func()
}

func (s *putHookStore) PutSetting(ctx context.Context, key string, value []byte) error {
	if f := s.hook; f != nil {
		s.hook = nil
		f()
	}
	return s.Store.PutSetting(ctx, key, value)
}

// TestSecretsSetWhileMadePasswordlessOnly: a password or TOTP enrolment
// that checked the flag before an admin made the user passwordless-only,
// and writes after the secrets were removed, takes itself back.
func TestSecretsSetWhileMadePasswordlessOnly(t *testing.T) {
	ctx := context.Background()

	t.Run("password", func(t *testing.T) {
		l, st, _ := newLegacy(t)
		u := mustUser(t, st, "erp-user")
		hook := &putHookStore{Store: st}
		racing := *l
		racing.Store = hook
		hook.hook = func() {
			if err := l.SetPasswordlessOnly(ctx, audit.CLI, u, true); err != nil {
				t.Fatal(err)
			}
		}
		if err := racing.SetPassword(ctx, audit.CLI, u, "correct horse"); problem.As(err).Code != ErrPasswordlessOnly.Code {
			t.Errorf("password set while made passwordless-only: %v", err)
		}
		if s, _ := l.State(ctx, u.ID); s.HasPassword || !s.PasswordlessOnly {
			t.Errorf("state %+v", s)
		}
	})

	t.Run("TOTP", func(t *testing.T) {
		l, st, _ := newLegacy(t)
		u := mustUser(t, st, "erp-user")
		slip := &slipStore{Store: st}
		racing := *l
		racing.Store = slip
		slip.slip = func() {
			if err := l.SetPasswordlessOnly(ctx, audit.CLI, u, true); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := racing.BeginTOTP(ctx, u); problem.As(err).Code != ErrPasswordlessOnly.Code {
			t.Errorf("TOTP enrolment begun while made passwordless-only: %v", err)
		}
		if _, err := st.GetSetting(ctx, totpKey(u.ID)); err == nil {
			t.Error("a TOTP record stayed for a passwordless-only user")
		}
	})
}
