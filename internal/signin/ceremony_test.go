package signin

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/problem"
)

func TestSealedCeremony(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	key := bytes.Repeat([]byte{7}, 32)
	svc := &Service{CeremonyKey: key, Now: func() time.Time { return now }}
	other := &Service{CeremonyKey: bytes.Repeat([]byte{8}, 32), Now: svc.Now}
	data := []byte(`{"challenge":"abc"}`)
	seal := func(t *testing.T, s *Service, c sealed) string {
		t.Helper()
		id, err := s.sealCeremony(c)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	login := sealed{Kind: "login", UserID: "u1", ExpiresAt: now.Add(5 * time.Minute), Data: data}

	t.Run("round trip", func(t *testing.T) {
		id := seal(t, svc, login)
		got, marker, err := svc.openSignInCeremony(id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != "login" || got.UserID != "u1" || !got.ExpiresAt.Equal(login.ExpiresAt) || !bytes.Equal(got.Data, data) {
			t.Fatalf("opened %+v, want %+v", got, login)
		}
		if !strings.HasPrefix(marker.ID, "used-") || len(marker.ID) > 64 || !marker.ExpiresAt.Equal(login.ExpiresAt) {
			t.Fatalf("marker %+v", marker)
		}
		// Another instance with the same key opens it and names it the same.
		again, marker2, err := (&Service{CeremonyKey: key, Now: svc.Now}).openSignInCeremony(id)
		if err != nil || marker2.ID != marker.ID || again.UserID != "u1" {
			t.Fatalf("same key elsewhere: %v, %q vs %q", err, marker2.ID, marker.ID)
		}
	})
	t.Run("each seal is a new ceremony", func(t *testing.T) {
		_, a, _ := svc.openSignInCeremony(seal(t, svc, login))
		_, b, _ := svc.openSignInCeremony(seal(t, svc, login))
		if a.ID == b.ID {
			t.Fatalf("two ceremonies share the marker %q", a.ID)
		}
	})

	valid := seal(t, svc, login)
	raw, _ := base64.RawURLEncoding.DecodeString(valid[len(sealedPrefix):])
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return sealedPrefix + base64.RawURLEncoding.EncodeToString(b)
	}
	for _, tc := range []struct {
		name string
		id   string
		svc  *Service
		want string
	}{
		{"empty", "", svc, "challenge_unknown"},
		{"a stored challenge ID", "k3J9x2", svc, "challenge_unknown"},
		{"prefix only", sealedPrefix, svc, "challenge_unknown"},
		{"not base64", sealedPrefix + "!!!!", svc, "challenge_unknown"},
		{"truncated", valid[:len(valid)-4], svc, "challenge_unknown"},
		{"nonce altered", flip(0), svc, "challenge_unknown"},
		{"ciphertext altered", flip(len(raw) - 20), svc, "challenge_unknown"},
		{"tag altered", flip(len(raw) - 1), svc, "challenge_unknown"},
		{"oversized", sealedPrefix + strings.Repeat("A", maxSealed), svc, "challenge_unknown"},
		{"another server secret", valid, other, "challenge_unknown"},
		{"a registration", seal(t, svc, sealed{Kind: "register", ExpiresAt: now.Add(time.Minute)}), svc, "challenge_unknown"},
		{"expired", seal(t, svc, sealed{Kind: "login", ExpiresAt: now}), svc, "challenge_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.svc.openSignInCeremony(tc.id)
			if err == nil {
				t.Fatal("opened, want a refusal")
			}
			if got := problem.As(err).Code; got != tc.want {
				t.Fatalf("refused with %q (%v), want %q", got, err, tc.want)
			}
		})
	}

	t.Run("bad key length", func(t *testing.T) {
		if _, err := (&Service{CeremonyKey: []byte("short"), Now: svc.Now}).sealCeremony(login); err == nil {
			t.Fatal("sealed with a 5-byte key")
		}
	})
}
