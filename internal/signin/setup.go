package signin

import (
	"context"
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// setupKey names the setting that holds the hash of the first-run link's
// token. It exists only while there is no admin.
const setupKey = "setup_token_sha256"

// setupSessionLifetime bounds the session the setup link gives: long
// enough to register a passkey, short enough not to linger.
const setupSessionLifetime = 30 * time.Minute

// ErrSetupInvalid: the link was used, replaced by a newer one, or an admin
// exists already.
var ErrSetupInvalid = problem.New(http.StatusForbidden, "setup_invalid",
	"This setup link is no longer valid: it was used already or replaced by a newer one. Restart `sesame serve` to print a new link, or create an admin with `sesame user add NAME --admin`.")

// PrepareSetup returns a fresh one-time setup token when Sesame has no
// admin yet (and "" when it has one). Each call replaces the previous
// token, so only the link printed last works.
func (s *Service) PrepareSetup(ctx context.Context) (string, error) {
	n, err := s.Store.CountUsers(ctx, true)
	if err != nil || n > 0 {
		return "", err
	}
	token := newToken()
	h := sha256.Sum256([]byte(token))
	if err := s.Store.PutSetting(ctx, setupKey, h[:]); err != nil {
		return "", err
	}
	return token, nil
}

// SetupValid reports whether token is the current setup token, without
// using it (to decide which page to show).
func (s *Service) SetupValid(ctx context.Context, token string) bool {
	stored, err := s.Store.GetSetting(ctx, setupKey)
	h := sha256.Sum256([]byte(token))
	return err == nil && token != "" && string(stored) == string(h[:])
}

// CompleteSetup uses the setup token to create the first admin and sign
// them in, so they can register their passkey straight away.
func (s *Service) CompleteSetup(ctx context.Context, token string, in directory.NewUser, meta Meta) (Result, error) {
	if n, err := s.Store.CountUsers(ctx, true); err != nil {
		return Result{}, err
	} else if n > 0 {
		return Result{}, ErrSetupInvalid.WithDetail("an admin exists")
	}
	// Validate before consuming the token, so a typo does not burn the link.
	if _, err := directory.NormalizeUsername(in.Username); err != nil {
		return Result{}, err
	}
	if _, err := directory.NormalizeEmail(in.Email); err != nil {
		return Result{}, err
	}
	h := sha256.Sum256([]byte(token))
	ok, err := s.Store.DeleteSettingIf(ctx, setupKey, h[:])
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, ErrSetupInvalid
	}
	in.Admin = true
	u, err := s.Dir.CreateUser(ctx, audit.Actor("setup-link"), in)
	if err != nil {
		// Give the token back: nothing was created. Only into an empty
		// slot: a newer link printed meanwhile (PrepareSetup) stays the
		// only one that works.
		_ = s.Store.SwapSetting(ctx, setupKey, nil, h[:])
		return Result{}, err
	}
	ev := store.SignInEvent{Time: s.Now(), UserID: u.ID, Username: u.Username, IP: meta.IP, UserAgent: meta.UserAgent, Method: "setup", Result: store.ResultSuccess}
	if _, err := s.Store.AppendSignIn(ctx, ev); err != nil {
		s.Log.ErrorContext(ctx, "sign-in log write failed", "err", err)
	}
	return s.newSession(ctx, u, []string{"setup"}, "", s.Now().Add(setupSessionLifetime), meta)
}
