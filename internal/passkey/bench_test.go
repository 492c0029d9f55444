package passkey_test

// Benchmarks of WebAuthn assertion verification at the relying-party
// level (no storage), next to one raw P-256 verification for scale; each
// also reports its CPU time in P-256 verifications (p256-verifies/op):
//
//	go test -run '^$' -bench . -benchmem ./internal/passkey ./internal/signin
//
// See docs/performance.md.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/loadgen/benchmeter"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// BenchmarkP256Verify is the unit: one raw ECDSA P-256 verification of a
// SHA-256 digest.
func BenchmarkP256Verify(b *testing.B) { benchmeter.BenchmarkP256Verify(b) }

// newCredential is a software P-256 passkey whose public key
// virtualwebauthn encodes correctly (it drops leading zero bytes of the
// coordinates, which would make one key in about 128 unusable).
func newCredential(b *testing.B) virtualwebauthn.Credential {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		pub, _ := key.PublicKey.Bytes()
		if pub[1] == 0 || pub[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			b.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// signedAssertion registers a synced software passkey with rp and answers
// one discoverable sign-in ceremony with it. Verifying the same answer
// again and again is what the benchmarks do: at this level nothing makes
// a challenge single-use (the store does that).
func signedAssertion(b *testing.B) (rp *passkey.RP, u store.User, cred store.Credential, session, response []byte) {
	b.Helper()
	const origin, rpID = "https://login.example.com", "login.example.com"
	rp, err := passkey.NewRP(config.RelyingParty{ID: rpID, Name: "Sesame", Origins: []string{origin}}, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	u = store.User{ID: store.NewID(), Username: "bench-0001", DisplayName: "Bench"}
	vrp := virtualwebauthn.RelyingParty{ID: rpID, Name: "Sesame", Origin: origin}
	vcred := newCredential(b)
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
		UserHandle: []byte(u.ID), BackupEligible: true, BackupState: true,
	})

	opts, state, err := rp.BeginRegistration(u, nil)
	if err != nil {
		b.Fatal(err)
	}
	aopts, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		b.Fatal(err)
	}
	cred, err = rp.FinishRegistration(u, nil, state, []byte(virtualwebauthn.CreateAttestationResponse(vrp, auth, vcred, *aopts)))
	if err != nil {
		b.Fatal(err)
	}

	opts, session, err = rp.BeginLogin(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	lopts, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		b.Fatal(err)
	}
	response = []byte(virtualwebauthn.CreateAssertionResponse(vrp, auth, vcred, *lopts))
	return rp, u, cred, session, response
}

// BenchmarkVerifyAssertion is the WebAuthn part of finishing a sign-in:
// parse the response (JSON, base64, CBOR), check origin and RP ID, and
// verify it against the ceremony and the stored passkey (go-webauthn,
// including the P-256 signature check).
func BenchmarkVerifyAssertion(b *testing.B) {
	rp, u, cred, session, response := signedAssertion(b)
	m := benchmeter.Start(b)
	for b.Loop() {
		a, err := rp.ParseAssertion(response)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rp.FinishLogin(u, cred, session, a); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}

// BenchmarkParseAssertion is the parsing alone.
func BenchmarkParseAssertion(b *testing.B) {
	rp, _, _, _, response := signedAssertion(b)
	m := benchmeter.Start(b)
	for b.Loop() {
		if _, err := rp.ParseAssertion(response); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}

// BenchmarkBeginLogin makes the options and state of a discoverable
// ceremony (no storage).
func BenchmarkBeginLogin(b *testing.B) {
	rp, _, _, _, _ := signedAssertion(b)
	m := benchmeter.Start(b)
	for b.Loop() {
		if _, _, err := rp.BeginLogin(nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}
