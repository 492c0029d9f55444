package methods

// TOTP (RFC 6238) codes from an authenticator app, the second factor of
// the legacy password exception: 30-second steps, six digits, SHA-1 (what
// every app supports), one step of clock skew either way, and a code
// accepted once only.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters.
const (
	TOTPPeriod     = 30 * time.Second
	TOTPDigits     = 6
	TOTPSkew       = 1  // steps accepted either side of the current one
	totpSecretSize = 20 // bytes: 160 bits, RFC 4226's recommendation
)

var totpOpts = totp.ValidateOpts{Period: uint(TOTPPeriod / time.Second), Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrollment is a new secret to show to the user once: as a QR code of
// URL, or Secret typed into the app.
type TOTPEnrollment struct {
	Secret string // base32, as apps take it
	URL    string // otpauth://totp/...
}

// NewTOTP generates a secret for account at issuer (the organisation's
// name, shown in the app).
func NewTOTP(issuer, account string) (TOTPEnrollment, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpOpts.Period, SecretSize: totpSecretSize,
		Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm,
	})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: k.Secret(), URL: k.URL()}, nil
}

// TOTPQRCode renders an otpauth URL as a PNG QR code of size x size pixels.
func TOTPQRCode(url string, size int) ([]byte, error) {
	k, err := otp.NewKeyFromURL(url)
	if err != nil {
		return nil, err
	}
	img, err := k.Image(size, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TOTPStep is the RFC 6238 time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// NormalizeTOTPCode removes the spaces and dashes people type or paste.
func NormalizeTOTPCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s)
}

// CheckTOTP decides whether code is valid for secret at now, within one
// step of skew, and returns the step it was made for. A code for a step at
// or before lastUsedStep is refused: once a code has been used, neither it
// nor an older one works again. The caller must also claim the returned
// step atomically (Legacy.VerifyTOTP does it with CountHit) so that two
// parallel uses of one code cannot both pass, and then store it as the new
// lastUsedStep.
func CheckTOTP(secret, code string, now time.Time, lastUsedStep int64) (int64, bool) {
	code = NormalizeTOTPCode(code)
	if len(code) != TOTPDigits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := TOTPStep(now)
	matched, found := int64(0), 0
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*int64(TOTPPeriod/time.Second), 0), totpOpts)
		if err != nil {
			return 0, false
		}
		// Compare every candidate, in constant time, whatever matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			matched, found = step, 1
		}
	}
	if found == 0 || matched <= lastUsedStep {
		return 0, false
	}
	return matched, true
}

// TOTP secrets are stored sealed with AES-256-GCM under a key the caller
// passes (App.DeriveKey("sesame/totp/v1")), with the user ID as associated
// data so a sealed secret copied to another user's record does not open.
const totpSealVersion = 1

// SealTOTPSecret encrypts a base32 secret for userID.
func SealTOTPSecret(key []byte, userID, secret string) ([]byte, error) {
	aead, err := totpAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{totpSealVersion}, nonce...)
	return aead.Seal(out, nonce, []byte(secret), totpAAD(userID)), nil
}

// ErrSealedSecret: a sealed secret that does not open (wrong key, another
// user's, damaged).
var ErrSealedSecret = errors.New("the stored TOTP secret cannot be decrypted")

// OpenTOTPSecret decrypts what SealTOTPSecret made for userID.
func OpenTOTPSecret(key []byte, userID string, sealed []byte) (string, error) {
	aead, err := totpAEAD(key)
	if err != nil {
		return "", err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != totpSealVersion {
		return "", ErrSealedSecret
	}
	nonce := sealed[1 : 1+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[1+aead.NonceSize():], totpAAD(userID))
	if err != nil {
		return "", ErrSealedSecret
	}
	return string(plain), nil
}

func totpAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("the TOTP encryption key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func totpAAD(userID string) []byte { return []byte("sesame/totp/v1\x00" + userID) }
