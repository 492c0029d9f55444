package methods

import (
	"strings"
	"testing"

	"github.com/sesame-idp/sesame/internal/config"
)

// cheap parameters keep the tests fast; the format is the same.
var testArgon2 = Argon2Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword(testArgon2, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := HashPassword(testArgon2, "correct horse battery staple")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
		{strings.Repeat("x", MaxPasswordBytes+1), false},
	}
	for _, tt := range tests {
		ok, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%.20q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

func TestVerifyPasswordBadHashes(t *testing.T) {
	good, _ := HashPassword(testArgon2, "pw")
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=8192,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=8192,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5], // 95 GiB: refused, not allocated
		"$argon2id$v=19$m=8192,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=8192,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=8192,t=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=8192,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=8192,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=8192,t=1,p=1$" + parts[4] + "$c2hvcnQ",
	}
	for _, h := range bad {
		if ok, err := VerifyPassword(h, "pw"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", h, ok, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := HashPassword(testArgon2, "pw")
	stronger := testArgon2
	stronger.Iterations = 2
	tests := []struct {
		hash string
		p    Argon2Params
		want bool
	}{
		{h, testArgon2, false},
		{h, stronger, true},
		{"garbage", testArgon2, true},
	}
	for _, tt := range tests {
		if got := NeedsRehash(tt.hash, tt.p); got != tt.want {
			t.Errorf("NeedsRehash(%q, %+v) = %v", tt.hash, tt.p, got)
		}
	}
}

func TestPasswordValidation(t *testing.T) {
	for pw, want := range map[string]string{
		"short":                                 "at least 8",
		"long enough":                           "",
		"ünïcödé!":                              "",
		strings.Repeat("x", MaxPasswordBytes+1): "at most",
		"bad\xffbyte":                           "invalid characters",
	} {
		err := ValidateNewPassword(pw)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateNewPassword(%.20q) = %v want %q", pw, err, want)
		}
	}
	if err := DefaultArgon2.Validate(); err != nil {
		t.Errorf("default argon2 parameters: %v", err)
	}
	if err := (Argon2Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}).Validate(); err == nil {
		t.Error("1 MiB accepted")
	}
}

func TestPasswordAllowed(t *testing.T) {
	p := legacyPolicy()
	with := LegacyState{HasPassword: true, TOTPEnrolled: true}
	tests := []struct {
		name   string
		groups []string
		st     LegacyState
		app    bool
		want   bool
		reason string
		steps  []Method
	}{
		{"legacy user, legacy app", []string{"legacy-erp"}, with, true, true, "", []Method{MethodPassword, MethodTOTP}},
		{"legacy user without TOTP", []string{"legacy-erp"}, LegacyState{HasPassword: true}, true, true, "", []Method{MethodPassword}},
		{"not a legacy app", []string{"legacy-erp"}, with, false, false, "not marked legacy-capable", nil},
		{"other user", []string{"staff"}, with, true, false, "not a member", nil},
		{"passwordless-only wins", []string{"legacy-erp"}, LegacyState{HasPassword: true, PasswordlessOnly: true}, true, false, "passwordless-only", nil},
		{"no password", []string{"legacy-erp"}, LegacyState{}, true, false, "no password", nil},
	}
	for _, tt := range tests {
		got, why := PasswordAllowed(p, tt.groups, tt.st, tt.app)
		if got != tt.want || !strings.Contains(why, tt.reason) {
			t.Errorf("%s: PasswordAllowed = %v %q", tt.name, got, why)
		}
		steps := LegacySteps(p, tt.groups, tt.st, tt.app)
		if strings.Join(methodStrings(steps), ",") != strings.Join(methodStrings(tt.steps), ",") {
			t.Errorf("%s: LegacySteps = %v want %v", tt.name, steps, tt.steps)
		}
	}
}

func methodStrings(ms []Method) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m))
	}
	return out
}

// TestArgon2FromConfig: the configured cost is what new hashes use (it is
// written into each hash), and a hash made under another cost still
// verifies, because verification reads the cost from the hash.
func TestArgon2FromConfig(t *testing.T) {
	c := config.Defaults()
	c.Argon2Memory, c.Argon2Iterations, c.Argon2Parallelism = 9*1024, 2, 3
	p := Argon2FromConfig(c)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := HashPassword(p, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=9216,t=2,p=3$") {
		t.Errorf("hash %s does not carry the configured cost", h)
	}
	old, err := HashPassword(testArgon2, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{h, old} {
		if ok, err := VerifyPassword(enc, "correct horse"); !ok || err != nil {
			t.Errorf("VerifyPassword(%s) = %v %v", enc, ok, err)
		}
	}
	if !NeedsRehash(old, p) || NeedsRehash(h, p) {
		t.Error("NeedsRehash does not follow the configured cost")
	}
	if DefaultArgon2 != Argon2FromConfig(config.Defaults()) || DefaultArgon2.Memory != 64*1024 {
		t.Errorf("DefaultArgon2 %+v is not the configuration's default", DefaultArgon2)
	}
	// Every cost the configuration accepts is one Validate accepts.
	for _, c := range []config.Config{
		{Argon2Memory: config.Argon2MinMemoryKiB, Argon2Iterations: config.Argon2MinIterations, Argon2Parallelism: config.Argon2MinParallelism},
		{Argon2Memory: config.Argon2MaxMemoryKiB, Argon2Iterations: config.Argon2MaxIterations, Argon2Parallelism: config.Argon2MaxParallelism},
	} {
		if err := Argon2FromConfig(c).Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
