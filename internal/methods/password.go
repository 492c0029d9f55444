package methods

// Passwords, for the legacy exception only: argon2id hashes in the PHC
// string format, so each hash carries its own salt and parameters and a
// change of parameters can rehash at the next successful sign-in.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/sesame-idp/sesame/internal/config"
)

// Argon2Params are the argon2id cost parameters (config-settable).
type Argon2Params struct {
	Memory      uint32 `json:"memory_kib"` // KiB
	Iterations  uint32 `json:"iterations"`
	Parallelism uint8  `json:"parallelism"`
	SaltLength  uint32 `json:"salt_length"`
	KeyLength   uint32 `json:"key_length"`
}

// DefaultArgon2 is the configuration's default cost (RFC 9106's second
// recommended option, 64 MiB and three passes, with two lanes).
var DefaultArgon2 = Argon2FromConfig(config.Defaults())

// Argon2FromConfig is the cost the operator configured (already checked by
// config.Validate), with a 16-byte salt and a 32-byte key.
func Argon2FromConfig(c config.Config) Argon2Params {
	return Argon2Params{Memory: c.Argon2Memory, Iterations: c.Argon2Iterations, Parallelism: uint8(min(c.Argon2Parallelism, 255)), SaltLength: 16, KeyLength: 32}
}

// Limits on parameters read from a stored hash, so a damaged or planted
// hash cannot make a sign-in allocate gigabytes or run for minutes: the
// configuration's bounds, so every hash Sesame can make it can verify.
const (
	maxArgon2Memory     = config.Argon2MaxMemoryKiB
	maxArgon2Iterations = config.Argon2MaxIterations
	// MaxPasswordBytes bounds what is hashed; longer input is refused.
	MaxPasswordBytes = 1024
	// MinPasswordLength (in characters) for a new password (NIST SP 800-63B).
	MinPasswordLength = 8
)

// Validate checks the parameters (for config).
func (p Argon2Params) Validate() error {
	switch {
	case p.Memory < config.Argon2MinMemoryKiB || p.Memory > maxArgon2Memory:
		return fmt.Errorf("argon2 memory must be between 8 MiB and 2 GiB (given in KiB), not %d KiB", p.Memory)
	case p.Iterations < config.Argon2MinIterations || p.Iterations > maxArgon2Iterations:
		return fmt.Errorf("argon2 iterations must be between 1 and %d, not %d", maxArgon2Iterations, p.Iterations)
	case p.Parallelism < config.Argon2MinParallelism || p.Parallelism > config.Argon2MaxParallelism:
		return fmt.Errorf("argon2 parallelism must be between %d and %d, not %d", config.Argon2MinParallelism, config.Argon2MaxParallelism, p.Parallelism)
	case p.SaltLength < 16 || p.SaltLength > 64:
		return fmt.Errorf("argon2 salt length must be between 16 and 64 bytes, not %d", p.SaltLength)
	case p.KeyLength < 16 || p.KeyLength > 64:
		return fmt.Errorf("argon2 key length must be between 16 and 64 bytes, not %d", p.KeyLength)
	}
	return nil
}

// ValidateNewPassword checks a password a user or admin sets.
func ValidateNewPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errors.New("the password contains invalid characters")
	}
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return fmt.Errorf("a password must be at least %d characters long", MinPasswordLength)
	}
	if len(pw) > MaxPasswordBytes {
		return fmt.Errorf("a password must be at most %d bytes long", MaxPasswordBytes)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string of a new argon2id hash of pw:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>.
func HashPassword(p Argon2Params, pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", fmt.Errorf("a password must be at most %d bytes long", MaxPasswordBytes)
	}
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrBadHash: a stored hash that is not an argon2id PHC string Sesame can
// read.
var ErrBadHash = errors.New("not an argon2id password hash Sesame can read")

type phc struct {
	params    Argon2Params
	salt, key []byte
}

func parsePHC(encoded string) (phc, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, ErrBadHash
	}
	var h phc
	var m, t, p uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return phc{}, ErrBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return phc{}, ErrBadHash
		}
	}
	if m < 8 || m > maxArgon2Memory || t < 1 || t > maxArgon2Iterations || p < 1 || p > 255 {
		return phc{}, ErrBadHash
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return phc{}, ErrBadHash
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return phc{}, ErrBadHash
	}
	h.params = Argon2Params{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(p), SaltLength: uint32(len(h.salt)), KeyLength: uint32(len(h.key))}
	return h, nil
}

// VerifyPassword compares pw with an encoded hash in constant time. An
// unreadable hash is an error, never a match.
func VerifyPassword(encoded, pw string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// NeedsRehash reports whether a hash was made with other parameters than p
// (or cannot be read): after a successful sign-in, hash the password again
// with p and store that.
func NeedsRehash(encoded string, p Argon2Params) bool {
	h, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return h.params != p
}

// dummyHash is verified against when a user has no password, so that
// "no such user" and "wrong password" take the same time.
func dummyHash(p Argon2Params) string {
	salt := make([]byte, p.SaltLength)
	key := make([]byte, p.KeyLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}
