package oidc

import (
	"bytes"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
)

var t0 = time.Date(2031, 3, 14, 12, 0, 0, 0, time.UTC)

func key(id, alg string, notBefore time.Duration) oidcstore.SigningKey {
	return oidcstore.SigningKey{ID: id, Algorithm: alg, NotBefore: t0.Add(notBefore)}
}

func TestKeySchedule(t *testing.T) {
	const day = 24 * time.Hour
	retain := 2 * time.Hour
	keys := []oidcstore.SigningKey{
		key("e1", ES256, 0),
		key("e2", ES256, 30*day),
		key("e3", ES256, 60*day),
		key("r1", RS256, 10*day),
	}
	tests := []struct {
		at    time.Duration
		want  map[string]keyState
		until map[string]time.Duration
	}{
		{time.Hour, map[string]keyState{"e1": keyCurrent, "e2": keyNext, "e3": keyNext, "r1": keyNext}, nil},
		{15 * day, map[string]keyState{"e1": keyCurrent, "e2": keyNext, "e3": keyNext, "r1": keyCurrent}, nil},
		// e2 took over an hour ago: e1 still published for the rest of retain.
		{30*day + time.Hour, map[string]keyState{"e1": keyRetired, "e2": keyCurrent, "e3": keyNext, "r1": keyCurrent},
			map[string]time.Duration{"e1": 30*day + retain}},
		{30*day + retain, map[string]keyState{"e1": keyExpired, "e2": keyCurrent, "e3": keyNext, "r1": keyCurrent},
			map[string]time.Duration{"e1": 30*day + retain}},
		{61 * day, map[string]keyState{"e1": keyExpired, "e2": keyExpired, "e3": keyCurrent, "r1": keyCurrent}, nil},
	}
	for _, tc := range tests {
		states, until := keySchedule(keys, t0.Add(tc.at), retain)
		for id, want := range tc.want {
			if states[id] != want {
				t.Errorf("at +%v: key %s is %v, want %v", tc.at, id, states[id], want)
			}
		}
		for id, d := range tc.until {
			if !until[id].Equal(t0.Add(d)) {
				t.Errorf("at +%v: key %s published until %v, want %v", tc.at, id, until[id], t0.Add(d))
			}
		}
	}
	// Keys with the same NotBefore take over in ID order, as AddSigningKey
	// compares.
	states, _ := keySchedule([]oidcstore.SigningKey{key("b", ES256, 0), key("a", ES256, 0)}, t0, retain)
	if states["b"] != keyCurrent || states["a"] != keyRetired {
		t.Errorf("tie: %v", states)
	}
}

func TestRotationDue(t *testing.T) {
	const day = 24 * time.Hour
	p := KeyPolicy{RotateEvery: 30 * day, PublishAhead: 6 * time.Minute, Propagation: time.Minute, Retain: 2 * time.Hour}
	tests := []struct {
		name string
		keys []oidcstore.SigningKey
		at   time.Duration
		due  bool
		from time.Duration
	}{
		{"no key: made on first use, not scheduled", nil, 0, false, 0},
		{"a current key and no next: the next is published at once", []oidcstore.SigningKey{key("e1", ES256, 0)}, 0, true, 30 * day},
		{"later in the period", []oidcstore.SigningKey{key("e1", ES256, 0)}, 10 * day, true, 30 * day},
		{"a next key exists", []oidcstore.SigningKey{key("e1", ES256, 0), key("e2", ES256, 30*day)}, 29*day + time.Hour, false, 0},
		{"the next key took over: a new next", []oidcstore.SigningKey{key("e1", ES256, 0), key("e2", ES256, 30*day)}, 30*day + time.Second, true, 60 * day},
		{"overdue: published for PublishAhead first", []oidcstore.SigningKey{key("e1", ES256, 0)}, 45 * day, true, 45*day + 6*time.Minute},
		{"other algorithm does not count", []oidcstore.SigningKey{key("r1", RS256, 0), key("e1", ES256, 20*day), key("e2", ES256, 50*day)}, 29*day + time.Hour, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, from := rotationDue(tc.keys, ES256, t0.Add(tc.at), p)
			if due != tc.due || (due && !from.Equal(t0.Add(tc.from))) {
				t.Errorf("rotationDue = %v, %v; want %v, %v", due, from, tc.due, t0.Add(tc.from))
			}
		})
	}
}

func TestPromotionTime(t *testing.T) {
	const day = 24 * time.Hour
	p := KeyPolicy{RotateEvery: 30 * day, PublishAhead: 6 * time.Minute, Propagation: time.Minute, Retain: 2 * time.Hour}
	next := func(created, notBefore time.Duration) oidcstore.SigningKey {
		return oidcstore.SigningKey{ID: "n", Algorithm: ES256, CreatedAt: t0.Add(created), NotBefore: t0.Add(notBefore)}
	}
	tests := []struct {
		name        string
		key         oidcstore.SigningKey
		at          time.Duration
		immediately bool
		want        time.Duration
		sooner      bool
	}{
		{"published long ago: after propagation", next(0, 30*day), 10 * day, false, 10*day + time.Minute, true},
		{"published just now: after PublishAhead", next(0, 30*day), time.Minute, false, 6 * time.Minute, true},
		{"immediately: now, however young", next(0, 30*day), time.Second, true, time.Second, true},
		{"already due sooner", next(0, 3*time.Minute), time.Minute, false, 6 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at, sooner := promotionTime(tc.key, t0.Add(tc.at), tc.immediately, p)
			if !at.Equal(t0.Add(tc.want)) || sooner != tc.sooner {
				t.Errorf("promotionTime = %v, %v; want %v, %v", at, sooner, t0.Add(tc.want), tc.sooner)
			}
		})
	}
}

func TestKeySealer(t *testing.T) {
	s, err := newKeySealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.seal("kid1", ES256, []byte("private key"))
	if bytes.Contains(sealed, []byte("private key")) {
		t.Fatal("the sealed key contains the plaintext")
	}
	got, err := s.open("kid1", ES256, sealed)
	if err != nil || string(got) != "private key" {
		t.Fatalf("open = %q, %v", got, err)
	}
	// Bound to its record: another ID or algorithm does not open it.
	for _, tc := range []struct{ id, alg string }{{"kid2", ES256}, {"kid1", RS256}} {
		if _, err := s.open(tc.id, tc.alg, sealed); err == nil {
			t.Errorf("opened with id %s alg %s", tc.id, tc.alg)
		}
	}
	other, _ := newKeySealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open("kid1", ES256, sealed); err == nil {
		t.Error("opened with another server secret")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.open("kid1", ES256, tampered); err == nil {
		t.Error("opened a tampered key")
	}
	if _, err := s.open("kid1", ES256, []byte{1, 2}); err == nil {
		t.Error("opened a truncated key")
	}
	if _, err := newKeySealer([]byte("short")); err == nil {
		t.Error("a short key-encryption key was accepted")
	}
}

func TestNewSigningKeyRoundTrip(t *testing.T) {
	s, _ := newKeySealer(bytes.Repeat([]byte{7}, 32))
	r := &keyring{sealer: s}
	for _, alg := range Algorithms {
		rec, err := newSigningKey(s, alg, t0, t0)
		if err != nil {
			t.Fatal(err)
		}
		k, err := r.decode(rec)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if string(k.SignatureAlgorithm()) != alg || k.Use() != "sig" || k.ID() != rec.ID {
			t.Errorf("%s: decoded %+v", alg, k.rec)
		}
		// A record whose algorithm does not match its key is refused.
		wrong := rec
		wrong.Algorithm = map[string]string{ES256: RS256, RS256: ES256}[alg]
		wrong.PrivateKey = s.seal(rec.ID, wrong.Algorithm, mustOpen(t, s, rec))
		if _, err := r.decode(wrong); err == nil {
			t.Errorf("%s key marked %s was accepted", alg, wrong.Algorithm)
		}
	}
	if _, err := newSigningKey(s, "HS256", t0, t0); err == nil {
		t.Error("HS256 key made")
	}
}

func mustOpen(t *testing.T, s *keySealer, rec oidcstore.SigningKey) []byte {
	t.Helper()
	b, err := s.open(rec.ID, rec.Algorithm, rec.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLogoutRetry(t *testing.T) {
	tests := []struct {
		n     int
		wait  time.Duration
		again bool
	}{
		{1, 30 * time.Second, true},
		{2, time.Minute, true},
		{3, 2 * time.Minute, true},
		{7, 32 * time.Minute, true},
		{logoutAttempts, 0, false},
		{logoutAttempts + 3, 0, false},
	}
	for _, tc := range tests {
		wait, again := logoutRetry(tc.n)
		if wait != tc.wait || again != tc.again {
			t.Errorf("logoutRetry(%d) = %v, %v; want %v, %v", tc.n, wait, again, tc.wait, tc.again)
		}
	}
	if a, b := SessionID([]byte("h1")), SessionID([]byte("h1")); a != b || a == SessionID([]byte("h2")) || SessionID(nil) != "" {
		t.Error("SessionID is not a stable, distinct name per session")
	}
}
