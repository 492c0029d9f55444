// Package app assembles Sesame from its configuration: it opens the store,
// loads or creates the server secret, and builds the domain services and the
// HTTP handler. `sesame serve`, every CLI command and the end-to-end tests
// build Sesame through here, so there is exactly one way the parts are put
// together.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/access"
	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/ops"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/samlidp"
	"github.com/sesame-idp/sesame/internal/scim"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
	"github.com/sesame-idp/sesame/internal/web"
)

// SecretFile is the name of the server secret in the data directory.
const SecretFile = "secret.key"

// DatabaseFile is the SQLite database in the data directory.
const DatabaseFile = "sesame.db"

// App is one assembled Sesame.
type App struct {
	Config  config.Config
	Store   store.Store
	Dir     *directory.Service
	TAPs    *methods.TAPs
	RP      *passkey.RP
	SignIn  *signin.Service
	Web     *web.Server
	OIDC    *oidc.Provider // nil when the database backend does not store the provider's records
	SAML    *samlidp.IdP   // nil when the backend does not store SAML apps (or OIDC records)
	Log     *slog.Logger
	Now     func() time.Time
	Metrics *ops.Metrics

	// The methods policy, authentication strengths, passwords and TOTP
	// (the legacy exception) and the FIDO metadata attestation is checked
	// against.
	Policies  *methods.Policies
	Strengths *methods.Strengths
	Legacy    *methods.Legacy
	Metadata  *passkey.MetadataStore
	// Access is Conditional Access: policies, named locations, the
	// country database, retention of the sign-in log.
	Access *access.Service
	// SCIM is the provisioning service at /scim/v2 and its bearer tokens.
	SCIM       *scim.Server
	SCIMTokens *scim.Tokens

	secret []byte
}

// Options adjust how an App is built; the zero value is production.
type Options struct {
	// Now replaces the clock (tests move time forward to expire things).
	Now func() time.Time
	// Logger replaces the default logger.
	Logger *slog.Logger
}

// Open validates cfg, prepares the data directory, opens the store (running
// migrations) and builds the services.
func Open(ctx context.Context, cfg config.Config, opt Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rpCfg, err := cfg.RelyingParty()
	if err != nil {
		return nil, err
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory %s: %w", cfg.DataDir, err)
	}
	secret, err := loadSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rp, err := passkey.NewRP(rpCfg, cfg.ChallengeTTL)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("WebAuthn configuration: %w", err)
	}
	a := &App{Config: cfg, Store: st, RP: rp, Log: log, Now: now, secret: secret, Metrics: ops.NewMetrics()}
	if p, ok := st.(interface{ DBStats() sql.DBStats }); ok {
		a.Metrics.RegisterDB(func() ops.DBStats {
			s := p.DBStats()
			return ops.DBStats{Open: s.OpenConnections, InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections}
		})
	}
	if p, ok := st.(interface{ WriteBatches() (int64, int64) }); ok {
		a.Metrics.RegisterWriteBatches(p.WriteBatches)
	}
	a.Dir = &directory.Service{Store: st, Now: now, GroupUsers: a.groupUsers, GroupRenamed: a.groupRenamed,
		CheckAdminRemoval: a.checkAdminRemoval}
	a.Policies = &methods.Policies{Store: st, Now: now}
	a.Strengths = &methods.Strengths{Store: st, Now: now}
	a.Legacy = &methods.Legacy{Store: st, Params: methods.Argon2FromConfig(cfg), TOTPKey: a.DeriveKey("sesame/totp/v1"), Issuer: rpCfg.Name, Now: now}
	a.Metadata = &passkey.MetadataStore{Store: st, Now: now}
	a.TAPs = &methods.TAPs{Store: st, Key: a.DeriveKey("sesame/tap-hmac/v1"), Policy: methods.DefaultTAPPolicy, Now: now, Policies: a.Policies}
	a.SignIn = &signin.Service{
		Store: st, RP: rp, Dir: a.Dir, TAPs: a.TAPs, Now: now, Log: log,
		Policies: a.Policies, Metadata: a.Metadata, Legacy: a.Legacy,
		ChallengeTTL: cfg.ChallengeTTL, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax,
		CeremonyKey:            a.DeriveKey("sesame/signin-ceremony/v1"),
		CheckPasskeyRevocation: a.checkPasskeyRevocation,
		OnRecord: func(ev store.SignInEvent) {
			a.Metrics.SignIns.WithLabelValues(ev.Method, ev.Result, ev.Reason).Inc()
		},
	}
	if err := a.openAccess(); err != nil {
		st.Close()
		return nil, err
	}
	a.Web = &web.Server{
		Store: st, SignIn: a.SignIn, Dir: a.Dir, TAPs: a.TAPs, Log: log, Now: now,
		Policies: a.Policies, Strengths: a.Strengths, Legacy: a.Legacy, Metadata: a.Metadata,
		SecureCookies: cfg.SecureCookies(), RateLimit: cfg.RateLimit,
		Access: a.Access, DeviceKey: a.DeriveKey(deviceKeyPurpose),
	}
	if cfg.Database != "" {
		// Several instances share a PostgreSQL database: so does the
		// per-address burst budget. One SQLite file has one server, whose
		// in-process limiter is the whole budget.
		a.Web.SharedLimits = st
	}
	a.SCIMTokens = &scim.Tokens{Store: st, Now: now}
	a.SCIM = &scim.Server{
		Store: st, Dir: a.Dir, Tokens: a.SCIMTokens,
		BaseURL: strings.TrimSuffix(cfg.URL, "/") + scim.Prefix, Log: log, Now: now,
	}
	a.Web.Rollout = a.Rollout()
	if ost, ok := st.(oidcstore.Store); ok {
		a.OIDC, err = oidc.New(oidc.Config{
			Issuer: cfg.URL, Store: st, OIDCStore: ost, Sessions: a.SignIn,
			CookieName: web.CookieName, SecureCookies: cfg.SecureCookies(),
			KeyEncryptionKey: a.DeriveKey("sesame/oidc-keys/v1"), CodeKey: a.DeriveKey("sesame/oidc-codes/v1"),
			Now: now, Log: log,
			OnToken: func(grant, result string) { a.Metrics.Tokens.WithLabelValues(grant, result).Inc() },
			Access:  a.Access, Strengths: a.CustomStrengths, DeviceKey: a.DeriveKey(deviceKeyPurpose),
		})
		if err != nil {
			st.Close()
			return nil, err
		}
		a.Web.Apps, a.Web.Issuer = appRegistry{a.OIDC}, cfg.URL
		// Back-channel logout: the apps hear when sessions end.
		a.SignIn.OnSessionEnd = a.OIDC.SessionsEnded
		a.Dir.OnSessionEnd = a.OIDC.SessionsEnded
		if sst, ok := st.(store.SAMLStore); ok {
			a.SAML, err = samlidp.New(samlidp.Config{
				BaseURL: cfg.URL, Store: st, Apps: sst, Gate: a.OIDC, Sessions: a.SignIn,
				CookieName: web.CookieName, SecureCookies: cfg.SecureCookies(),
				KeyEncryptionKey: a.DeriveKey("sesame/saml-keys/v1"), PairwiseKey: a.DeriveKey("sesame/saml-pairwise/v1"),
				Now: now, Log: log,
			})
			if err != nil {
				st.Close()
				return nil, err
			}
			a.Web.SAMLApps = a.SAML
		}
	} else {
		log.Warn("this database backend does not support the OpenID provider yet: apps cannot sign in")
	}
	return a, nil
}

// OpenStore opens the configured database: SQLite in the data directory
// unless a database URL is given.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch {
	case cfg.Database == "":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the data directory %s: %w", cfg.DataDir, err)
		}
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, DatabaseFile))
	case strings.HasPrefix(cfg.Database, "postgres://"), strings.HasPrefix(cfg.Database, "postgresql://"):
		return openPostgres(ctx, cfg.Database)
	}
	return nil, fmt.Errorf("--database %q is not supported: leave it empty for SQLite in the data directory, or give a postgres:// URL", redactURL(cfg.Database))
}

// Handler is the whole HTTP surface: the operator's endpoints (/readyz,
// /metrics) beside the web pages, all with request IDs and latency
// metrics.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", ops.Ready(a.ping))
	mux.Handle("GET /metrics", a.Metrics.Handler())
	if a.OIDC != nil {
		// Apps sign in through the OpenID provider: discovery and /oauth2/.
		h := a.OIDC.Handler()
		mux.Handle(oidc.PathDiscovery, h)
		// The registration campaign stands in front of the continue step.
		mux.Handle(oidc.PathPrefix, a.Web.CampaignGate(oidc.PathContinue, h))
	}
	// Provisioning clients (HR systems, Entra ID, Okta) with bearer tokens.
	mux.Handle(scim.Prefix+"/", a.SCIM.Handler())
	webHandler := a.Web.Handler()
	if a.SAML != nil {
		// SAML service providers sign in through /saml/: the sign-in rate
		// limit guards its unauthenticated endpoints, the registration
		// campaign its continue step.
		mux.Handle(samlidp.PathPrefix, a.SAML.Handler(a.Web.Limited, a.Web.CampaignGate))
	}
	mux.Handle("/", webHandler)
	return ops.RequestID(a.Metrics.Instrument(mux))
}

// ping checks the database for readiness.
func (a *App) ping(ctx context.Context) error {
	if p, ok := a.Store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	_, err := a.Store.CountUsers(ctx, true)
	return err
}

// DeriveKey returns a 32-byte key for one purpose, derived from the server
// secret, so that one secret to back up serves every keyed hash and
// encryption Sesame does, and no two purposes share a key.
func (a *App) DeriveKey(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, a.secret, nil, purpose, 32)
	if err != nil {
		panic("sesame: hkdf: " + err.Error())
	}
	return k
}

// Sweep deletes expired challenges, sessions and old rate-limit counters. It runs periodically in
// the server; expired ones are refused anyway, this only keeps tables small.
func (a *App) Sweep(ctx context.Context) {
	now := a.Now()
	if n, err := a.Store.DeleteExpiredChallenges(ctx, now); err != nil {
		a.Log.WarnContext(ctx, "sweeping expired challenges failed", "err", err)
	} else if n > 0 {
		a.Log.DebugContext(ctx, "swept expired challenges", "count", n)
	}
	// No rate-limit window is longer than a day.
	if _, err := a.Store.DeleteHitsBefore(ctx, now.Add(-24*time.Hour)); err != nil {
		a.Log.WarnContext(ctx, "sweeping old rate-limit counters failed", "err", err)
	}
	if a.Config.RateLimit > 0 {
		if _, err := a.Store.DeleteBucketsBefore(ctx, now.Add(-web.BucketIdle(a.Config.RateLimit))); err != nil {
			a.Log.WarnContext(ctx, "sweeping idle rate-limit buckets failed", "err", err)
		}
	}
	if n, err := a.Store.DeleteExpiredSessions(ctx, now); err != nil {
		a.Log.WarnContext(ctx, "sweeping expired sessions failed", "err", err)
	} else if n > 0 {
		a.Log.DebugContext(ctx, "swept expired sessions", "count", n)
	}
	if a.OIDC != nil {
		a.OIDC.Sweep(ctx)
	}
	a.sweepSignIns(ctx)
}

// Close releases the store and the country database.
func (a *App) Close() error {
	if a.Access != nil {
		a.Access.Countries.Close()
	}
	return a.Store.Close()
}

// SecretEnv lets several instances share one secret without a shared data
// directory (base64 of 32 random bytes).
const SecretEnv = "SESAME_SECRET"

// loadSecret reads the server secret from SESAME_SECRET or the data
// directory, creating it on first run. The file is created exclusively so
// that two processes starting at once cannot write different secrets.
func loadSecret(dataDir string) ([]byte, error) {
	if v := os.Getenv(SecretEnv); v != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(b) < 32 {
			return nil, fmt.Errorf("%s must be the base64 encoding of at least 32 random bytes (e.g. `openssl rand -base64 32`)", SecretEnv)
		}
		return b, nil
	}
	path := filepath.Join(dataDir, SecretFile)
	for range 3 {
		b, err := os.ReadFile(path)
		if err == nil {
			key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
			if derr != nil || len(key) < 32 {
				return nil, fmt.Errorf("%s is damaged: it must hold the base64 encoding of at least 32 bytes; restore it from a backup (without it, issued passes stop working)", path)
			}
			return key, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot read the server secret %s: %w", path, err)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue // another process made it first: read theirs
		} else if err != nil {
			return nil, fmt.Errorf("cannot create the server secret %s: %w", path, err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("cannot write the server secret %s: %w", path, werr)
		}
		return key, nil
	}
	return nil, fmt.Errorf("cannot read or create the server secret %s", path)
}

// redactURL hides a password in a database URL for messages.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.Index(s[i+3:], "@"); j >= 0 {
			cred := s[i+3 : i+3+j]
			if k := strings.Index(cred, ":"); k >= 0 {
				return s[:i+3] + cred[:k] + ":***" + s[i+3+j:]
			}
		}
	}
	return s
}
