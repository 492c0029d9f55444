package methods

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckTOTP(t *testing.T) {
	e, err := NewTOTP("Example Org", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 9, 0, 10, 0, time.UTC)
	step := TOTPStep(now)
	tests := []struct {
		name     string
		code     string
		lastUsed int64
		want     int64
		ok       bool
	}{
		{"current", code(t, e.Secret, now), 0, step, true},
		{"typed with a space", code(t, e.Secret, now)[:3] + " " + code(t, e.Secret, now)[3:], 0, step, true},
		{"one step behind", code(t, e.Secret, now.Add(-30*time.Second)), 0, step - 1, true},
		{"one step ahead", code(t, e.Secret, now.Add(30*time.Second)), 0, step + 1, true},
		{"two steps behind", code(t, e.Secret, now.Add(-60*time.Second)), 0, 0, false},
		{"two steps ahead", code(t, e.Secret, now.Add(60*time.Second)), 0, 0, false},
		{"already used", code(t, e.Secret, now), step, 0, false},
		{"older than the last used", code(t, e.Secret, now.Add(-30*time.Second)), step, 0, false},
		{"newer than the last used", code(t, e.Secret, now.Add(30*time.Second)), step, step + 1, true},
		{"letters", "12a456", 0, 0, false},
		{"too short", "12345", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := CheckTOTP(e.Secret, tt.code, now, tt.lastUsed)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: CheckTOTP = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTOTPEnrollment(t *testing.T) {
	e, err := NewTOTP("Example Org", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("URL %q", e.URL)
	}
	q := u.Query()
	if q.Get("secret") != e.Secret || q.Get("issuer") != "Example Org" || q.Get("period") != "30" || q.Get("digits") != "6" || q.Get("algorithm") != "SHA1" {
		t.Errorf("URL parameters %v", q)
	}
	if len(e.Secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q", e.Secret)
	}
	img, err := TOTPQRCode(e.URL, 200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Errorf("QR code is not a PNG: %v", err)
	}
}

func TestSealTOTPSecret(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	sealed, err := SealTOTPSecret(key, "u1", "JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("the secret is stored in plain text")
	}
	if s, err := OpenTOTPSecret(key, "u1", sealed); err != nil || s != "JBSWY3DPEHPK3PXP" {
		t.Errorf("open: %q %v", s, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() (string, error){
		"other user": func() (string, error) { return OpenTOTPSecret(key, "u2", sealed) },
		"other key":  func() (string, error) { return OpenTOTPSecret(bytes.Repeat([]byte{8}, 32), "u1", sealed) },
		"tampered":   func() (string, error) { return OpenTOTPSecret(key, "u1", tampered) },
		"truncated":  func() (string, error) { return OpenTOTPSecret(key, "u1", sealed[:10]) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := SealTOTPSecret(key[:16], "u1", "x"); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("short key: %v", err)
	}
}
