package signin

// The legacy exception: signing in with a password, then an authenticator
// app code when the policy asks for one. Allowed only where the methods
// policy allows passwords, never for a passwordless-only user.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Sign-in log methods of the legacy exception.
const (
	MethodPassword     = "password"
	MethodPasswordTOTP = "password+totp"
)

// totpChallengeKind is the challenge that carries a sign-in from the
// password step to the code step.
const totpChallengeKind = "totp"

// ErrPasswordsOff: nobody may sign in with a password here.
var ErrPasswordsOff = problem.New(http.StatusForbidden, "password_not_allowed",
	"Passwords are not used for signing in here. Sign in with a passkey, or ask your administrator for a temporary access pass.")

// PasswordOutcome is where a password sign-in stands.
type PasswordOutcome struct {
	// Result is set once the user is signed in.
	Result *Result
	// Step is set when a code from an authenticator app is needed next:
	// the ID of the pending step to send back with the code.
	Step string
}

// PasswordsOffered reports whether the sign-in page should offer passwords
// at all: the password method is on for someone.
func (s *Service) PasswordsOffered(ctx context.Context) bool {
	if s.Legacy == nil {
		return false
	}
	p, err := s.Policy(ctx)
	return err == nil && p.Password.Enabled
}

// SignInWithPassword checks a username and password. It signs the user in,
// or asks for a TOTP code when the policy requires one for them. Failures
// are written to the sign-in log with method "password".
func (s *Service) SignInWithPassword(ctx context.Context, username, password string, meta Meta) (PasswordOutcome, error) {
	ev := store.SignInEvent{Method: MethodPassword, IP: meta.IP, UserAgent: meta.UserAgent}
	out, err := s.signInWithPassword(ctx, username, password, meta, &ev)
	if err != nil || out.Result != nil {
		s.record(ctx, &ev, err)
	}
	return out, err
}

func (s *Service) signInWithPassword(ctx context.Context, username, password string, meta Meta, ev *store.SignInEvent) (PasswordOutcome, error) {
	if s.Legacy == nil {
		return PasswordOutcome{}, ErrPasswordsOff
	}
	p, err := s.Policy(ctx)
	if err != nil {
		return PasswordOutcome{}, err
	}
	if !p.Password.Enabled {
		// Nobody may: saying so reveals nothing about any account.
		return PasswordOutcome{}, ErrPasswordsOff.WithDetail("the password method is turned off")
	}
	name, err := directory.NormalizeUsername(username)
	if err != nil {
		return PasswordOutcome{}, methods.ErrPasswordInvalid.WithDetail("malformed username")
	}
	ev.Username = name
	if len(password) > methods.MaxPasswordBytes {
		return PasswordOutcome{}, methods.ErrPasswordInvalid.WithDetail("oversized password")
	}
	var up *store.User
	u, err := s.Dir.User(ctx, name)
	if err == nil {
		up = &u
		ev.UserID = u.ID
	} else if !errors.Is(err, directory.ErrUnknownUser) {
		return PasswordOutcome{}, err
	}
	if err := s.Legacy.VerifyPassword(ctx, name, up, password, meta.IP); err != nil {
		return PasswordOutcome{}, err
	}
	// From here the password matched: the answers below tell nothing to
	// someone who does not know it.
	if u.Disabled {
		return PasswordOutcome{}, ErrUserDisabled
	}
	steps, err := s.legacySteps(ctx, p, u)
	if err != nil {
		return PasswordOutcome{}, err
	}
	if !slices.Contains(steps, methods.MethodTOTP) {
		res, err := s.newSession(ctx, u, []string{string(methods.MethodPassword)}, "", time.Time{}, meta)
		if err != nil {
			return PasswordOutcome{}, err
		}
		return PasswordOutcome{Result: &res}, nil
	}
	id, err := s.putTOTPStep(ctx, u.ID, s.Now().Add(s.ChallengeTTL))
	if err != nil {
		return PasswordOutcome{}, err
	}
	return PasswordOutcome{Step: id}, nil
}

// legacySteps is what a password sign-in asks of u under p, or a refusal
// when u may not use a password.
func (s *Service) legacySteps(ctx context.Context, p methods.Policy, u store.User) ([]methods.Method, error) {
	groups, err := s.Groups(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	st, err := s.Legacy.State(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	// Sesame's own pages and every app count as legacy-capable until apps
	// carry that mark: the methods policy's groups decide who may.
	if ok, why := methods.PasswordAllowed(p, groups, st, true); !ok {
		return nil, methods.ErrPasswordNotAllowed.WithDetail("%s", why)
	}
	return methods.LegacySteps(p, groups, st, true), nil
}

func (s *Service) putTOTPStep(ctx context.Context, userID string, expires time.Time) (string, error) {
	c := store.Challenge{ID: store.NewID(), Kind: totpChallengeKind, UserID: userID, Data: []byte("{}"), ExpiresAt: expires}
	if err := s.Store.PutChallenge(ctx, c); err != nil {
		return "", err
	}
	return c.ID, nil
}

// SignInWithTOTP finishes a password sign-in with a code from the user's
// authenticator app. A wrong code can be retried (within the attempt
// limit) with the new step ID returned beside the error; a code once used
// never works again. Every outcome is written to the sign-in log with
// method "password+totp".
func (s *Service) SignInWithTOTP(ctx context.Context, step, code string, meta Meta) (PasswordOutcome, error) {
	ev := store.SignInEvent{Method: MethodPasswordTOTP, IP: meta.IP, UserAgent: meta.UserAgent}
	out, err := s.signInWithTOTP(ctx, step, code, meta, &ev)
	s.record(ctx, &ev, err)
	return out, err
}

func (s *Service) signInWithTOTP(ctx context.Context, step, code string, meta Meta, ev *store.SignInEvent) (PasswordOutcome, error) {
	if s.Legacy == nil {
		return PasswordOutcome{}, ErrPasswordsOff
	}
	ch, err := s.takeChallenge(ctx, step, totpChallengeKind)
	if err != nil {
		return PasswordOutcome{}, err
	}
	u, err := s.Store.GetUser(ctx, ch.UserID)
	if err != nil {
		return PasswordOutcome{}, err
	}
	ev.UserID, ev.Username = u.ID, u.Username
	if u.Disabled {
		return PasswordOutcome{}, ErrUserDisabled
	}
	// The policy may have changed since the password step.
	p, err := s.Policy(ctx)
	if err != nil {
		return PasswordOutcome{}, err
	}
	steps, err := s.legacySteps(ctx, p, u)
	if err != nil {
		return PasswordOutcome{}, err
	}
	if len(code) > 32 {
		code = code[:32]
	}
	if err := s.Legacy.VerifyTOTP(ctx, u, code, meta.IP); err != nil {
		if problem.As(err).Code == methods.ErrTOTPInvalid.Code {
			// Another try, in a new step that keeps the first one's expiry.
			if next, perr := s.putTOTPStep(ctx, u.ID, ch.ExpiresAt); perr == nil {
				return PasswordOutcome{Step: next}, err
			}
		}
		return PasswordOutcome{}, err
	}
	methodsUsed := []string{string(methods.MethodPassword)}
	if slices.Contains(steps, methods.MethodTOTP) {
		methodsUsed = append(methodsUsed, string(methods.MethodTOTP))
	}
	res, err := s.newSession(ctx, u, methodsUsed, "", time.Time{}, meta)
	if err != nil {
		return PasswordOutcome{}, err
	}
	return PasswordOutcome{Result: &res}, nil
}
