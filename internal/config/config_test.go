package config

import (
	"slices"
	"strings"
	"testing"
)

func TestRelyingParty(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		extra   []string
		wantID  string
		origins []string
		wantErr string
	}{
		{name: "localhost dev", url: "http://localhost:8080", wantID: "localhost", origins: []string{"http://localhost:8080"}},
		{name: "https host", url: "https://Login.Example.com", wantID: "login.example.com", origins: []string{"https://login.example.com"}},
		{name: "extra origin on same host", url: "http://localhost:8080", extra: []string{"http://localhost:9090"}, wantID: "localhost", origins: []string{"http://localhost:8080", "http://localhost:9090"}},
		{name: "extra subdomain origin", url: "https://example.com", extra: []string{"https://login.example.com"}, wantID: "example.com", origins: []string{"https://example.com", "https://login.example.com"}},
		{name: "http on public host", url: "http://example.com", wantErr: "plain http"},
		{name: "not a URL", url: "localhost:8080", wantErr: "absolute"},
		{name: "path", url: "https://example.com/sso", wantErr: "path"},
		{name: "foreign extra origin", url: "https://example.com", extra: []string{"https://evil.test"}, wantErr: "not on example.com"},
		{name: "suffix trick", url: "https://example.com", extra: []string{"https://badexample.com"}, wantErr: "not on example.com"},
		{name: "extra origin with path", url: "https://example.com", extra: []string{"https://example.com/x"}, wantErr: "must be an origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.URL, c.ExtraOrigins = tt.url, tt.extra
			rp, err := c.RelyingParty()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rp.ID != tt.wantID || !slices.Equal(rp.Origins, tt.origins) {
				t.Fatalf("got %+v, want id %s origins %v", rp, tt.wantID, tt.origins)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Listen = "8080" },
		func(c *Config) { c.DataDir = "" },
		func(c *Config) { c.SessionIdle = c.SessionMax + 1 },
		func(c *Config) { c.ChallengeTTL = 0 },
		func(c *Config) { c.LogFormat = "xml" },
		func(c *Config) { c.LogLevel = "loud" },
	}
	for i, mutate := range bad {
		c := Defaults()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: want error for %+v", i, c)
		}
	}
}

func TestSecureCookies(t *testing.T) {
	c := Defaults()
	if c.SecureCookies() {
		t.Error("plain-http localhost must not require Secure cookies")
	}
	c.URL = "https://login.example.com"
	if !c.SecureCookies() {
		t.Error("https must use Secure cookies")
	}
}

func TestArgon2Bounds(t *testing.T) {
	tests := []struct {
		name     string
		m, it, p uint32
		wantErr  string
	}{
		{"defaults", 64 * 1024, 3, 2, ""},
		{"smallest", Argon2MinMemoryKiB, Argon2MinIterations, Argon2MinParallelism, ""},
		{"largest", Argon2MaxMemoryKiB, Argon2MaxIterations, Argon2MaxParallelism, ""},
		{"OWASP minimum", 19 * 1024, 2, 1, ""},
		{"memory too small", Argon2MinMemoryKiB - 1, 3, 2, "--argon2-memory 8191 must be between 8192 and 2097152 KiB"},
		{"memory too large", Argon2MaxMemoryKiB + 1, 3, 2, "--argon2-memory"},
		{"memory zero", 0, 3, 2, "--argon2-memory"},
		{"no iterations", 64 * 1024, 0, 2, "--argon2-iterations 0 must be between 1 and 64"},
		{"too many iterations", 64 * 1024, 65, 2, "--argon2-iterations"},
		{"no parallelism", 64 * 1024, 3, 0, "--argon2-parallelism 0 must be between 1 and 64"},
		{"too much parallelism", 64 * 1024, 3, 65, "--argon2-parallelism"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.Argon2Memory, c.Argon2Iterations, c.Argon2Parallelism = tc.m, tc.it, tc.p
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}
