// Package signin ties the sign-in flow together: WebAuthn ceremonies,
// temporary access passes, the first-admin setup link, sessions and the
// sign-in log. Handlers in web call it; it knows nothing about HTTP except
// the status codes its errors carry.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Refusals specific to the flow.
var (
	ErrChallengeUnknown = problem.New(http.StatusBadRequest, "challenge_unknown",
		"This sign-in request was already used or has been replaced. Please start again.")
	ErrChallengeExpired = problem.New(http.StatusBadRequest, "challenge_expired",
		"This request took too long and has expired. Please start again.")
	ErrUserDisabled = problem.New(http.StatusForbidden, "user_disabled",
		"Your account is disabled. Contact your administrator.")
	ErrNoSession = problem.New(http.StatusUnauthorized, "no_session",
		"Please sign in.")
)

// Service is the sign-in flow.
type Service struct {
	Store store.Store
	RP    *passkey.RP
	Dir   *directory.Service
	TAPs  *methods.TAPs
	// Policies is the methods policy (nil: the default policy, which
	// accepts every passkey). Metadata is the FIDO metadata attestation is
	// checked against when a profile enforces it (nil: none loaded, so
	// enforced attestation refuses every passkey). Legacy handles passwords
	// and TOTP codes (nil: password sign-in is off).
	Policies     *methods.Policies
	Metadata     *passkey.MetadataStore
	Legacy       *methods.Legacy
	Now          func() time.Time
	ChallengeTTL time.Duration
	SessionIdle  time.Duration
	SessionMax   time.Duration
	Log          *slog.Logger
	// OnRecord, when set, sees every sign-in record as it is written
	// (metrics).
	OnRecord func(store.SignInEvent)
	// OnSessionEnd, when set, is told before a session is signed out or a
	// passkey's sessions end (back-channel logout).
	OnSessionEnd store.SessionEndHook
	// CheckPasskeyRevocation, when set, is asked before a passkey of u is
	// revoked, and refuses (access.ErrAdminChangeLockout) when without it
	// no administrator could sign in to the admin console under the
	// Conditional Access policies in force.
	CheckPasskeyRevocation func(ctx context.Context, u store.User, c store.Credential) error
	// CeremonyKey seals passkey sign-in ceremonies (ceremony.go): 32 bytes
	// derived from the server secret, the same on every instance. Nil: a
	// random key of this process's own, which is only right for one
	// process (tests).
	CeremonyKey []byte
	seal        sealer
}

// Meta describes where a request came from, for sessions and the log.
type Meta struct {
	IP        string
	UserAgent string
}

// Ceremony is a started WebAuthn ceremony: the browser gets both, and
// sends the ID back with its response.
type Ceremony struct {
	ID      string          `json:"ceremony"`
	Options passkey.Options `json:"options"`
}

// Result is a successful sign-in.
type Result struct {
	Token   string // the session cookie value; only its hash is stored
	Session store.Session
	User    store.User
	// Credential is the passkey used, as it is after this sign-in (nil for
	// other methods).
	Credential *store.Credential
}

// BeginSignIn starts a passkey sign-in. With a username of a user who has
// passkeys, the browser is told which ones (username-first); otherwise the
// ceremony is discoverable. Unknown and known usernames look the same from
// outside, so the form cannot be used to find accounts.
func (s *Service) BeginSignIn(ctx context.Context, username string) (Ceremony, error) {
	var (
		u     *store.User
		creds []store.Credential
	)
	if username != "" {
		if found, err := s.Dir.User(ctx, username); err == nil && !found.Disabled {
			if creds, err = s.Store.ListCredentials(ctx, found.ID); err != nil {
				return Ceremony{}, err
			}
			u = &found
		} else if err != nil && !errors.Is(err, directory.ErrUnknownUser) {
			return Ceremony{}, err
		}
	}
	opts, state, err := s.RP.BeginLogin(u, creds)
	if err != nil {
		return Ceremony{}, err
	}
	c := sealed{Kind: "login", Data: state, ExpiresAt: s.Now().Add(s.ChallengeTTL)}
	if u != nil && len(creds) > 0 {
		c.UserID = u.ID
	}
	id, err := s.sealCeremony(c)
	if err != nil {
		return Ceremony{}, err
	}
	return Ceremony{ID: id, Options: opts}, nil
}

// takeChallenge consumes a ceremony: whatever happens next, it cannot be
// used again.
func (s *Service) takeChallenge(ctx context.Context, id, kind string) (store.Challenge, error) {
	if id == "" || len(id) > 64 {
		return store.Challenge{}, ErrChallengeUnknown
	}
	c, err := s.Store.TakeChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrChallengeUnknown.WithDetail("ceremony %q not found (replayed or never issued)", id)
	} else if err != nil {
		return c, err
	}
	if c.Kind != kind {
		return c, ErrChallengeUnknown.WithDetail("ceremony %q is a %s, not a %s", id, c.Kind, kind)
	}
	if !s.Now().Before(c.ExpiresAt) {
		return c, ErrChallengeExpired.WithDetail("ceremony expired at %s", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// FinishSignIn verifies a passkey response and creates a session. Every
// outcome is written to the sign-in log.
func (s *Service) FinishSignIn(ctx context.Context, ceremonyID string, response []byte, meta Meta) (Result, error) {
	ev := store.SignInEvent{Method: "passkey", IP: meta.IP, UserAgent: meta.UserAgent}
	res, err := s.finishSignIn(ctx, ceremonyID, response, meta, &ev)
	if err != nil {
		s.record(ctx, &ev, err)
		return res, err
	}
	// A success's record was written with its session (CompleteSignIn).
	if s.OnRecord != nil {
		s.OnRecord(ev)
	}
	return res, nil
}

func (s *Service) finishSignIn(ctx context.Context, ceremonyID string, response []byte, meta Meta, ev *store.SignInEvent) (Result, error) {
	ch, used, err := s.openSignInCeremony(ceremonyID)
	if err != nil {
		return Result{}, err
	}
	a, err := s.RP.ParseAssertion(response)
	if err != nil {
		return Result{}, err
	}
	// The passkey and its user in one read.
	cred, u, err := s.Store.GetCredentialWithUser(ctx, a.CredentialID())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, passkey.ErrUnknownCredential.WithDetail("credential id %s", base64.RawURLEncoding.EncodeToString(a.CredentialID()))
	} else if err != nil {
		return Result{}, err
	}
	describeCredential(ev, cred)
	ev.UserID, ev.Username = u.ID, u.Username
	if u.Disabled {
		return Result{}, ErrUserDisabled
	}
	if ch.UserID != "" && ch.UserID != u.ID {
		return Result{}, passkey.ErrUserHandleMismatch.WithDetail("ceremony began for user %s", ch.UserID)
	}
	verified, err := s.RP.FinishLogin(u, cred, ch.Data, a)
	if err != nil {
		return Result{}, err
	}
	// The passkey is genuine; is it still acceptable? A policy change may
	// have made it non-compliant: refuse it, keep it (My security info and
	// the admin pages show why).
	p, err := s.Policy(ctx)
	if err != nil {
		return Result{}, err
	}
	// A policy that names no group decides the same for everyone: the
	// user's groups are read only when it names some.
	var groups []string
	if len(p.ReferencedGroups()) > 0 {
		if groups, err = s.Groups(ctx, u.ID); err != nil {
			return Result{}, err
		}
	}
	if v := methods.PasskeyAllowed(p, groups, passkey.FactsOf(cred)); !v.OK {
		return Result{}, signInRefusal(v)
	}
	// The ceremony's use, the passkey's use, the session and the success
	// record are written together, in one transaction: the sign-in's only
	// write. When it fails, nothing was written and the caller records the
	// failure as for any other. A refused response does not use the
	// ceremony up: another response to the same challenge would have to be
	// signed by a passkey again, and the ceremony expires anyway.
	now := s.Now()
	after := cred
	after.BackupState = verified.BackupState
	done := *ev
	describeCredential(&done, after)
	done.Time, done.Result = now, store.ResultSuccess
	token, sess := s.session(u, []string{"passkey"}, cred.ID, time.Time{}, meta)
	use := store.CredentialUse{SignCount: verified.SignCount, BackupState: verified.BackupState, UsedAt: now}
	done.ID, err = s.Store.CompleteSignIn(ctx, store.SignInCompletion{Ceremony: used, CredentialID: cred.ID, Use: use, Session: sess, Event: done})
	if errors.Is(err, store.ErrReplayed) {
		return Result{}, ErrChallengeUnknown.WithDetail("ceremony already used (replayed)")
	} else if errors.Is(err, store.ErrConflict) {
		return Result{}, passkey.ErrCounterRegression.WithDetail("counter %d not above stored value (concurrent use)", verified.SignCount)
	} else if err != nil {
		return Result{}, err
	}
	*ev = done
	return Result{Token: token, Session: sess, User: u, Credential: &after}, nil
}

func describeCredential(ev *store.SignInEvent, c store.Credential) {
	ev.CredentialID = c.ID
	ev.AAGUID = passkey.FormatAAGUID(c.AAGUID)
	ev.Model = passkey.ModelName(c.AAGUID)
	ev.PasskeyType = string(passkey.Classify(c.BackupEligible, c.BackupState))
}

// SignInWithTAP signs a user in with a temporary access pass, so they can
// register a passkey (first day, or after losing a device).
func (s *Service) SignInWithTAP(ctx context.Context, username, pass string, meta Meta) (Result, error) {
	ev := store.SignInEvent{Method: "tap", IP: meta.IP, UserAgent: meta.UserAgent}
	res, err := s.signInWithTAP(ctx, username, pass, meta, &ev)
	s.record(ctx, &ev, err)
	return res, err
}

func (s *Service) signInWithTAP(ctx context.Context, username, pass string, meta Meta, ev *store.SignInEvent) (Result, error) {
	name, err := directory.NormalizeUsername(username)
	if err != nil {
		return Result{}, methods.ErrTAPInvalid.WithDetail("malformed username")
	}
	ev.Username = name
	var up *store.User
	u, err := s.Dir.User(ctx, name)
	if err == nil {
		up = &u
		ev.UserID = u.ID
	} else if !errors.Is(err, directory.ErrUnknownUser) {
		return Result{}, err
	}
	if len(pass) > 128 {
		return Result{}, methods.ErrTAPInvalid.WithDetail("oversized pass")
	}
	tap, err := s.TAPs.Verify(ctx, name, up, pass, meta.IP)
	if err != nil {
		return Result{}, err
	}
	if u.Disabled {
		return Result{}, ErrUserDisabled
	}
	// A session made with a pass ends when the pass does, and one made
	// with a one-time pass soon after its use (methods.TAPSessionEnd): its
	// only purpose is to register a passkey.
	return s.newSession(ctx, u, []string{"tap"}, "", methods.TAPSessionEnd(tap, s.Now().Add(s.SessionMax)), meta)
}

// record writes the sign-in log entry for an attempt.
func (s *Service) record(ctx context.Context, ev *store.SignInEvent, err error) {
	ev.Time = s.Now()
	ev.Result = store.ResultSuccess
	if err != nil {
		p := problem.As(err)
		ev.Result, ev.Reason, ev.Detail = store.ResultFailure, p.Code, p.Detail
		ev.Phishing = p.Code == passkey.ErrOriginMismatch.Code || p.Code == passkey.ErrRPIDMismatch.Code
		level := slog.LevelInfo
		if ev.Phishing {
			level = slog.LevelWarn
		}
		if p.Code == "internal" {
			level = slog.LevelError
			ev.Detail = p.Error()
		}
		s.Log.Log(ctx, level, "sign-in refused", "method", ev.Method, "user", ev.Username, "reason", p.Code,
			"detail", ev.Detail, "ip", ev.IP, "possible_phishing", ev.Phishing)
	}
	// Every attempt is recorded, even when the client has gone away
	// meanwhile (a browser that navigated off the page cancels the request).
	if _, werr := s.Store.AppendSignIn(context.WithoutCancel(ctx), *ev); werr != nil {
		s.Log.ErrorContext(ctx, "sign-in log write failed", "err", werr)
	}
	if s.OnRecord != nil {
		s.OnRecord(*ev)
	}
}

// newSession creates a session with a fresh random token: a new ID at
// every sign-in, so a token planted before sign-in is worthless after it.
func (s *Service) newSession(ctx context.Context, u store.User, methods []string, credID string, notAfter time.Time, meta Meta) (Result, error) {
	token, sess := s.session(u, methods, credID, notAfter, meta)
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		return Result{}, err
	}
	return Result{Token: token, Session: sess, User: u}, nil
}

// session is a new session with a fresh token, not yet stored.
func (s *Service) session(u store.User, methods []string, credID string, notAfter time.Time, meta Meta) (string, store.Session) {
	now := s.Now()
	token := newToken()
	sess := store.Session{
		TokenHash: HashToken(token), UserID: u.ID, Methods: methods, CredentialID: credID,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.SessionMax),
		IP: meta.IP, UserAgent: truncate(meta.UserAgent, 512),
	}
	if !notAfter.IsZero() && notAfter.Before(sess.ExpiresAt) {
		sess.ExpiresAt = notAfter
	}
	return token, sess
}

func newToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is how session tokens are stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// touchEvery limits session writes: last-seen only moves when it is older
// than this, which is far below any sensible idle timeout.
const touchEvery = time.Minute

// Authenticate returns the live session and user for a cookie value, or
// ErrNoSession. Idle and absolute timeouts are enforced here.
func (s *Service) Authenticate(ctx context.Context, token string) (store.Session, store.User, error) {
	if token == "" || len(token) > 100 {
		return store.Session{}, store.User{}, ErrNoSession
	}
	hash := HashToken(token)
	// The session and its user in one read: every signed-in request makes
	// it. A session whose user is gone is gone with it.
	sess, u, err := s.Store.GetSessionWithUser(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return sess, store.User{}, ErrNoSession
	} else if err != nil {
		return sess, store.User{}, err
	}
	now := s.Now()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.SessionIdle)) {
		_ = s.Store.DeleteSession(ctx, hash)
		return sess, store.User{}, ErrNoSession.WithDetail("session timed out")
	}
	if u.Disabled {
		_ = s.Store.DeleteSession(ctx, hash)
		return sess, u, ErrNoSession.WithDetail("user disabled")
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.Store.TouchSession(ctx, hash, now); err != nil {
			return sess, u, err
		}
		sess.LastSeenAt = now
	}
	return sess, u, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	hash := HashToken(token)
	if s.OnSessionEnd != nil {
		if sess, err := s.Store.GetSession(ctx, hash); err == nil {
			s.OnSessionEnd(ctx, store.SessionEnd{UserID: sess.UserID, SessionHashes: [][]byte{hash}, Reason: "signout"})
		}
	}
	return s.Store.DeleteSession(ctx, hash)
}
