package signin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// A passkey sign-in ceremony's state (the challenge and what go-webauthn
// checks the response against) travels with the browser, sealed, instead
// of being written to the database when the ceremony begins and deleted
// when it ends. Beginning a sign-in then writes nothing, and finishing it
// writes once: the ceremony is marked used in the same transaction as the
// session (store.SignInCompletion.Ceremony), which is what keeps it
// single-use. The seal is AES-256-GCM under a key derived from the server
// secret, so every instance sharing the secret opens every ceremony, and
// the browser can neither read a different challenge into it nor stretch
// its expiry.
//
// Registration and the TOTP step keep their state in the challenges table:
// they are rare, and a registration ceremony is bound to a signed-in user.

// sealedPrefix marks a sealed ceremony; stored challenge IDs never start
// with it, so the two kinds cannot be confused.
const sealedPrefix = "s1."

// maxSealed bounds a sealed ceremony as the browser sends it back. Its size
// grows with the passkeys listed for a username-first sign-in (each
// credential ID up to 1,023 bytes); beyond this it is refused unread.
const maxSealed = 16 << 10

// ceremonyAAD binds a seal to its use: a value sealed under the same key
// for another purpose does not open as a sign-in ceremony.
var ceremonyAAD = []byte("sesame/signin-ceremony/v1")

// sealed is what a sealed ceremony holds.
type sealed struct {
	Kind      string
	UserID    string
	ExpiresAt time.Time
	Data      []byte
}

// sealer seals and opens ceremonies. The zero Service uses a random key of
// its own (one process); app.Open sets CeremonyKey from the server secret.
type sealer struct {
	once sync.Once
	aead cipher.AEAD
	err  error
}

func (s *Service) ceremonyAEAD() (cipher.AEAD, error) {
	s.seal.once.Do(func() {
		key := s.CeremonyKey
		if key == nil {
			key = make([]byte, 32)
			rand.Read(key)
		}
		if len(key) != 32 {
			s.seal.err = fmt.Errorf("signin: CeremonyKey must be 32 bytes, not %d", len(key))
			return
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			s.seal.err = err
			return
		}
		s.seal.aead, s.seal.err = cipher.NewGCM(block)
	})
	return s.seal.aead, s.seal.err
}

// sealCeremony returns the ceremony ID the browser carries: the prefix and
// base64url(nonce || ciphertext). The nonce is random and names the
// ceremony when it is marked used.
func (s *Service) sealCeremony(c sealed) (string, error) {
	aead, err := s.ceremonyAEAD()
	if err != nil {
		return "", err
	}
	kind, user := []byte(c.Kind), []byte(c.UserID)
	if len(kind) > 255 || len(user) > 255 {
		return "", errors.New("signin: ceremony kind or user ID too long")
	}
	plain := make([]byte, 0, 8+2+len(kind)+len(user)+len(c.Data))
	plain = binary.BigEndian.AppendUint64(plain, uint64(c.ExpiresAt.UnixNano()))
	plain = append(plain, byte(len(kind)))
	plain = append(plain, kind...)
	plain = append(plain, byte(len(user)))
	plain = append(plain, user...)
	plain = append(plain, c.Data...)

	ns := aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", err
	}
	out = aead.Seal(out, out[:ns], plain, ceremonyAAD)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// openCeremony opens a sealed ceremony and names it for the used-ceremony
// marker. Anything that does not open (not sealed, another key, altered,
// truncated) is ErrChallengeUnknown.
func (s *Service) openCeremony(id string) (sealed, string, error) {
	if len(id) <= len(sealedPrefix) || id[:len(sealedPrefix)] != sealedPrefix || len(id) > maxSealed {
		return sealed{}, "", ErrChallengeUnknown.WithDetail("not a sign-in ceremony")
	}
	aead, err := s.ceremonyAEAD()
	if err != nil {
		return sealed{}, "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(id[len(sealedPrefix):])
	ns := aead.NonceSize()
	if err != nil || len(raw) < ns+aead.Overhead() {
		return sealed{}, "", ErrChallengeUnknown.WithDetail("malformed ceremony")
	}
	plain, err := aead.Open(nil, raw[:ns], raw[ns:], ceremonyAAD)
	if err != nil {
		return sealed{}, "", ErrChallengeUnknown.WithDetail("ceremony does not open (altered, or sealed under another server secret)")
	}
	// The layout was written by sealCeremony under this key, so a short
	// read here would be a bug rather than an attack; check anyway.
	bad := ErrChallengeUnknown.WithDetail("ceremony layout")
	if len(plain) < 9 {
		return sealed{}, "", bad
	}
	var c sealed
	c.ExpiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(plain))).UTC()
	rest := plain[8:]
	n := int(rest[0])
	if len(rest) < 1+n+1 {
		return sealed{}, "", bad
	}
	c.Kind, rest = string(rest[1:1+n]), rest[1+n:]
	n = int(rest[0])
	if len(rest) < 1+n {
		return sealed{}, "", bad
	}
	c.UserID, c.Data = string(rest[1:1+n]), rest[1+n:]
	// The marker's name starts with the ceremony's expiry, so markers are
	// inserted in (nearly) increasing key order: they land on the
	// rightmost pages of the challenges table, which a batch of sign-ins
	// shares, not on a random page each. The nonce makes it unique.
	var exp [8]byte
	binary.BigEndian.PutUint64(exp[:], uint64(c.ExpiresAt.UnixMilli()))
	return c, "used-" + hex.EncodeToString(exp[2:]) + base64.RawURLEncoding.EncodeToString(raw[:ns]), nil
}

// openSignInCeremony opens a sign-in ceremony and checks its kind and
// expiry; the marker to write with the session comes back as a challenge.
func (s *Service) openSignInCeremony(id string) (sealed, store.Challenge, error) {
	c, name, err := s.openCeremony(id)
	if err != nil {
		return c, store.Challenge{}, err
	}
	if c.Kind != "login" {
		return c, store.Challenge{}, ErrChallengeUnknown.WithDetail("ceremony is a %s, not a login", c.Kind)
	}
	if !s.Now().Before(c.ExpiresAt) {
		return c, store.Challenge{}, ErrChallengeExpired.WithDetail("ceremony expired at %s", c.ExpiresAt.Format(time.RFC3339))
	}
	// The marker lives as long as the ceremony could still be finished;
	// the sweep of expired challenges removes it after that.
	return c, store.Challenge{ID: name, Kind: "login-used", UserID: c.UserID, Data: []byte{}, ExpiresAt: c.ExpiresAt}, nil
}
