package oidc

import (
	"bytes"
	"net/url"
	"testing"

	"github.com/sesame-idp/sesame/internal/config"
)

// FuzzValidateRedirectURI: whatever is accepted is an absolute https URL,
// or http on this machine, with no fragment or user info.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example.com/cb", "http://localhost:3000/cb", "http://127.0.0.1/x?y=z",
		"http://evil.example/cb", "https://a/b#c", "javascript:alert(1)", "http://localhost.evil.com/", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && config.IsLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted %q with scheme %q host %q", raw, u.Scheme, u.Hostname())
		}
	})
}

// FuzzKeySealerOpen: a sealed key that was tampered with never opens, and
// nothing panics.
func FuzzKeySealerOpen(f *testing.F) {
	s, _ := newKeySealer(bytes.Repeat([]byte{9}, 32))
	sealed := s.seal("kid", ES256, []byte("secret key material"))
	f.Add(sealed, "kid")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, b []byte, id string) {
		plain, err := s.open(id, ES256, b)
		if err == nil && (!bytes.Equal(b, sealed) || id != "kid" || string(plain) != "secret key material") {
			t.Fatalf("opened a sealed key that is not the one sealed")
		}
	})
}
