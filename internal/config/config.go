// Package config holds Sesame's one configuration struct and derives the
// WebAuthn relying-party settings from the public URL, so that origins and
// the RP ID come from configuration only, never from a request.
package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is everything an operator can set. Flags and SESAME_* environment
// variables fill it (see cmd/sesame).
type Config struct {
	Listen       string        // address to listen on, e.g. "localhost:8080"
	URL          string        // public URL users open, e.g. "https://login.example.com"
	ExtraOrigins []string      // more origins allowed for WebAuthn (same RP ID), e.g. a second port
	DataDir      string        // where the SQLite database and key file live
	Database     string        // empty: SQLite in DataDir; later "postgres://..."
	RPName       string        // the organisation name browsers show in passkey prompts
	SessionIdle  time.Duration // sign out after this long without activity
	SessionMax   time.Duration // sign out this long after signing in, whatever the activity
	ChallengeTTL time.Duration // how long a WebAuthn ceremony may take
	LogFormat    string        // "text" or "json"
	LogLevel     string        // "debug", "info", "warn", "error"
	// RateLimit is how many credential-checking requests per second one
	// address may make (burst 4x); 0 turns the per-address limit off.
	RateLimit float64
	// GeoIPDB is a MaxMind-format country database file (e.g.
	// GeoLite2-Country.mmdb) for Conditional Access country locations;
	// empty: every country is unknown.
	GeoIPDB string
	// Argon2Memory (KiB), Argon2Iterations and Argon2Parallelism are the
	// argon2id cost of new password hashes (the legacy password exception).
	// Each hash records its own parameters, so a change applies to new
	// hashes and existing ones still verify (and are rehashed with the new
	// cost at their next successful sign-in). Plain numbers here; the
	// methods package turns them into its parameters.
	Argon2Memory      uint32
	Argon2Iterations  uint32
	Argon2Parallelism uint32
}

// Bounds on the argon2id parameters: below them a hash is too cheap to
// guess against, above them one sign-in could exhaust a server's memory
// or time. The methods package refuses stored hashes outside them too.
const (
	Argon2MinMemoryKiB   = 8 * 1024 // 8 MiB
	Argon2MaxMemoryKiB   = 1 << 21  // 2 GiB
	Argon2MinIterations  = 1
	Argon2MaxIterations  = 64
	Argon2MinParallelism = 1
	Argon2MaxParallelism = 64
)

// Defaults are chosen so that `sesame serve` alone works on a laptop.
func Defaults() Config {
	return Config{
		Listen:       "localhost:8080",
		URL:          "http://localhost:8080",
		DataDir:      "sesame-data",
		RPName:       "Sesame",
		SessionIdle:  8 * time.Hour,
		SessionMax:   24 * time.Hour,
		ChallengeTTL: 5 * time.Minute,
		LogFormat:    "text",
		LogLevel:     "info",
		RateLimit:    5,
		// RFC 9106's second recommended option (64 MiB, three passes),
		// with two lanes for the small machines Sesame runs on.
		Argon2Memory:      64 * 1024,
		Argon2Iterations:  3,
		Argon2Parallelism: 2,
	}
}

// RelyingParty is the WebAuthn identity of this deployment.
type RelyingParty struct {
	ID      string   // the RP ID: the host of the public URL
	Name    string   // display name
	Origins []string // exact origins accepted in clientDataJSON
}

// PublicURL parses and checks the public URL.
func (c Config) PublicURL() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--url %q must be an absolute http:// or https:// URL such as https://login.example.com", c.URL)
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("--url %q uses plain http on a non-local host: browsers only allow passkeys over https (http is accepted for localhost only)", c.URL)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("--url %q must not have a path: Sesame is served from the root of its host", c.URL)
	}
	return u, nil
}

// RelyingParty derives the RP ID and origins from the public URL and the
// extra origins. Extra origins must be on the RP ID or a subdomain of it,
// as WebAuthn requires.
func (c Config) RelyingParty() (RelyingParty, error) {
	u, err := c.PublicURL()
	if err != nil {
		return RelyingParty{}, err
	}
	rp := RelyingParty{ID: strings.ToLower(u.Hostname()), Name: c.RPName}
	rp.Origins = append(rp.Origins, u.Scheme+"://"+strings.ToLower(u.Host))
	for _, o := range c.ExtraOrigins {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		ou, err := url.Parse(o)
		if err != nil || ou.Host == "" || (ou.Scheme != "http" && ou.Scheme != "https") || (ou.Path != "" && ou.Path != "/") {
			return RelyingParty{}, fmt.Errorf("--origin %q must be an origin such as https://login.example.com", o)
		}
		host := strings.ToLower(ou.Hostname())
		if host != rp.ID && !strings.HasSuffix(host, "."+rp.ID) {
			return RelyingParty{}, fmt.Errorf("--origin %q is not on %s or a subdomain of it, so passkeys for %s cannot work there", o, rp.ID, rp.ID)
		}
		rp.Origins = append(rp.Origins, ou.Scheme+"://"+strings.ToLower(ou.Host))
	}
	return rp, nil
}

// SecureCookies reports whether cookies must carry the Secure attribute:
// always, except for plain-http localhost development.
func (c Config) SecureCookies() bool {
	u, err := c.PublicURL()
	return err != nil || u.Scheme == "https"
}

// Validate checks everything that can be checked without touching disk.
func (c Config) Validate() error {
	if _, err := c.RelyingParty(); err != nil {
		return err
	}
	if c.Listen == "" {
		return fmt.Errorf("--listen must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q must be host:port or :port", c.Listen)
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 || c.SessionIdle > c.SessionMax {
		return fmt.Errorf("session timeouts must be positive and --session-idle (%s) at most --session-max (%s)", c.SessionIdle, c.SessionMax)
	}
	if c.ChallengeTTL < 30*time.Second || c.ChallengeTTL > 30*time.Minute {
		return fmt.Errorf("--challenge-ttl %s must be between 30s and 30m", c.ChallengeTTL)
	}
	if c.RateLimit < 0 {
		return fmt.Errorf("--rate-limit %v must be 0 (off) or positive", c.RateLimit)
	}
	if err := c.validateArgon2(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q must be text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// IsLoopbackHost reports whether host names this machine.
func IsLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) validateArgon2() error {
	switch {
	case c.Argon2Memory < Argon2MinMemoryKiB || c.Argon2Memory > Argon2MaxMemoryKiB:
		return fmt.Errorf("--argon2-memory %d must be between %d and %d KiB (8 MiB to 2 GiB), e.g. 65536 for 64 MiB", c.Argon2Memory, Argon2MinMemoryKiB, Argon2MaxMemoryKiB)
	case c.Argon2Iterations < Argon2MinIterations || c.Argon2Iterations > Argon2MaxIterations:
		return fmt.Errorf("--argon2-iterations %d must be between %d and %d", c.Argon2Iterations, Argon2MinIterations, Argon2MaxIterations)
	case c.Argon2Parallelism < Argon2MinParallelism || c.Argon2Parallelism > Argon2MaxParallelism:
		return fmt.Errorf("--argon2-parallelism %d must be between %d and %d", c.Argon2Parallelism, Argon2MinParallelism, Argon2MaxParallelism)
	}
	return nil
}
