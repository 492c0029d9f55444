package methods

import (
	"bytes"
	"testing"
	"time"
)

// Parsers of admin and stored input must never panic, and what they accept
// must survive a round trip.

func FuzzDecodePolicy(f *testing.F) {
	b, _ := EncodePolicy(DefaultPolicy())
	f.Add(b)
	b, _ = EncodePolicy(legacyPolicy())
	f.Add(b)
	f.Add([]byte(`{"tap": {"policy": {"max_lifetime": "1d12h"}}}`))
	f.Add([]byte(`{"passkey": {"profiles": [{"name": "x", "types": "device-bound", "key_restriction": {"mode": "allow", "aaguids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}}]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePolicy(bytes.NewReader(in))
		if err != nil || p.Validate() != nil {
			return
		}
		out, err := EncodePolicy(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodePolicy(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-decoding a valid policy: %v\n%s", err, out)
		}
		again, _ := EncodePolicy(back)
		if !bytes.Equal(out, again) {
			t.Fatalf("round trip not stable:\n%s\n%s", out, again)
		}
	})
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword(testArgon2, "pw")
	f.Add(h, "pw")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if h, err := parsePHC(encoded); err == nil && h.params.Memory > 64*1024 {
			return // valid but too slow to run while fuzzing
		}
		ok, err := VerifyPassword(encoded, pw)
		if ok && err != nil {
			t.Fatal("a match with an error")
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30m", "7d", "1d12h", "0m", "d", "-1h", "999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %s", s, d)
		}
	})
}

func FuzzCheckTOTP(f *testing.F) {
	f.Add("JBSWY3DPEHPK3PXP", "123456", int64(0))
	f.Add("", "", int64(-1))
	f.Add("not base32!", "000000", int64(5))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, secret, code string, last int64) {
		if step, ok := CheckTOTP(secret, code, now, last); ok && (step <= last || step < TOTPStep(now)-1 || step > TOTPStep(now)+1) {
			t.Fatalf("accepted step %d (last %d)", step, last)
		}
	})
}
