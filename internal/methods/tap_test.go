package methods

import (
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

func TestTAPLifetime(t *testing.T) {
	p := DefaultTAPPolicy
	tests := []struct {
		in      time.Duration
		want    time.Duration
		wantErr bool
	}{
		{0, time.Hour, false},
		{10 * time.Minute, 10 * time.Minute, false},
		{30 * 24 * time.Hour, 30 * 24 * time.Hour, false},
		{9 * time.Minute, 0, true},
		{30*24*time.Hour + time.Second, 0, true},
		{-time.Hour, 0, true},
	}
	for _, tt := range tests {
		got, err := p.Lifetime(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Lifetime(%s) = %s, %v; want %s, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "between 10m and 30d") {
			t.Errorf("error should name the range: %v", err)
		}
	}
}

func TestCheckTAP(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	base := store.TAP{StartsAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	used := base
	used.UsedAt = now.Add(-time.Second)
	oneTimeUsed := used
	oneTimeUsed.OneTime = true
	future := base
	future.StartsAt = now.Add(time.Minute)
	expired := base
	expired.ExpiresAt = now
	tests := []struct {
		name string
		tap  store.TAP
		want TAPState
	}{
		{"fresh", base, TAPUsable},
		{"multi-use already used", used, TAPUsable},
		{"one-time used", oneTimeUsed, TAPUsed},
		{"not started", future, TAPNotStarted},
		{"expires exactly now", expired, TAPExpired},
	}
	for _, tt := range tests {
		if got := CheckTAP(tt.tap, now); got != tt.want {
			t.Errorf("%s: got %v want %v", tt.name, got, tt.want)
		}
	}
}

func TestPassHashing(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	pass := GeneratePass(12)
	if len(pass) != 12 || strings.Trim(pass, tapAlphabet) != "" {
		t.Fatalf("bad pass %q", pass)
	}
	tap := store.TAP{UserID: "u1", Hash: HashPass(key, "u1", pass)}
	typed := strings.ToUpper(pass[:4]) + "-" + pass[4:8] + " " + pass[8:]
	if !MatchPass(key, tap, typed) {
		t.Error("grouped, upper-case typing of the pass must match")
	}
	if MatchPass(key, tap, pass+"x") {
		t.Error("wrong pass matched")
	}
	if MatchPass([]byte("another key another key another k"), tap, pass) {
		t.Error("hash must depend on the server key")
	}
	other := store.TAP{UserID: "u2", Hash: tap.Hash}
	if MatchPass(key, other, pass) {
		t.Error("hash must be bound to the user")
	}
	if GeneratePass(12) == GeneratePass(12) {
		t.Error("passes repeat")
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"30m": 30 * time.Minute, "8h": 8 * time.Hour, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "xd", "1.5d", "d", "1dd"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) should fail", in)
		}
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 30 * 24 * time.Hour: "30d", 10 * time.Minute: "10m", 90 * time.Second: "1m30s"} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %s want %s", d, got, want)
		}
	}
}
