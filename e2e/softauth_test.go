package e2e

// A software authenticator over HTTP: what a browser and a passkey do,
// done by github.com/descope/virtualwebauthn, so that a test can register
// and sign in without a browser, and forge every kind of bad response.

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/fxamacker/cbor/v2"
)

// softOptions describe a software passkey.
type softOptions struct {
	// Synced makes a backed-up passkey (BE and BS flags), as a password
	// manager or a platform keychain would; otherwise it is device-bound.
	Synced bool
	// AAGUID names the authenticator model, "8-4-4-4-12" hex; empty means
	// all zero (a model that does not say).
	AAGUID string
	// Counter is the signature counter of the registration; when it is
	// not zero the counter goes up by one at every sign-in, as a security
	// key's does. Zero keeps it at zero, as synced passkeys do.
	Counter uint32
}

// softPasskey is one passkey in a software authenticator.
type softPasskey struct {
	rp         virtualwebauthn.RelyingParty
	auth       virtualwebauthn.Authenticator
	cred       virtualwebauthn.Credential
	userHandle []byte // the user handle Sesame gave at registration
	counting   bool
}

// newSoftPasskey makes a new (not yet registered) passkey for inst's RP.
func newSoftPasskey(t testing.TB, inst *instance, o softOptions) *softPasskey {
	t.Helper()
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
		BackupEligible: o.Synced, BackupState: o.Synced,
	})
	auth.Aaguid = [16]byte{}
	if o.AAGUID != "" {
		b, err := hex.DecodeString(strings.ReplaceAll(o.AAGUID, "-", ""))
		if err != nil || len(b) != 16 {
			t.Fatalf("bad AAGUID %q", o.AAGUID)
		}
		copy(auth.Aaguid[:], b)
	}
	cred := newEC2Credential(t)
	cred.Counter = o.Counter
	return &softPasskey{
		rp:       virtualwebauthn.RelyingParty{ID: inst.RPID, Name: "Sesame", Origin: inst.Origin},
		auth:     auth,
		cred:     cred,
		counting: o.Counter != 0,
	}
}

// newEC2Credential makes a P-256 credential whose COSE key is well-formed.
// virtualwebauthn writes the X and Y coordinates with big.Int.Bytes, which
// drops leading zero bytes, so about one key in 128 has a coordinate
// shorter than 32 bytes and a relying party rightly refuses it ("EC2 key x
// or y coordinate has invalid length"): draw again until both are full.
func newEC2Credential(t testing.TB) virtualwebauthn.Credential {
	t.Helper()
	for range 100 {
		c := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		var k struct {
			X []byte `cbor:"-2,keyasint"`
			Y []byte `cbor:"-3,keyasint"`
		}
		if err := cbor.Unmarshal(c.Key.AttestationData(), &k); err != nil {
			t.Fatalf("decoding a COSE key: %v", err)
		}
		if len(k.X) == 32 && len(k.Y) == 32 {
			return c
		}
	}
	t.Fatal("no well-formed P-256 key in 100 tries")
	return virtualwebauthn.Credential{}
}

// credentialID is the WebAuthn credential ID.
func (pk *softPasskey) credentialID() []byte { return pk.cred.ID }

// forge describes how to tamper with a response; the zero value makes an
// honest one.
type forge struct {
	Origin        string // clientDataJSON origin instead of the RP's
	RPID          string // hash this RP ID into the authenticator data instead
	NoUV          bool   // clear the user-verified flag
	NoUP          bool   // clear the user-present flag
	UserHandle    []byte // return this user handle instead of the passkey's
	Counter       *uint32
	WrongKey      bool // sign an assertion with another key: a bad signature
	BadSignature  bool // change the attestation statement's signature
	CredentialID  []byte
	NoBackupFlags bool // clear BE and BS (a different passkey than registered)
}

func (pk *softPasskey) parts(f forge) (virtualwebauthn.RelyingParty, virtualwebauthn.Authenticator, virtualwebauthn.Credential) {
	rp, auth, cred := pk.rp, pk.auth, pk.cred
	if f.Origin != "" {
		rp.Origin = f.Origin
	}
	if f.RPID != "" {
		rp.ID = f.RPID
	}
	auth.Options.UserNotVerified = f.NoUV
	auth.Options.UserNotPresent = f.NoUP
	auth.Options.UserHandle = pk.userHandle
	if f.UserHandle != nil {
		auth.Options.UserHandle = f.UserHandle
	}
	if f.NoBackupFlags {
		auth.Options.BackupEligible, auth.Options.BackupState = false, false
	}
	if f.Counter != nil {
		cred.Counter = *f.Counter
	}
	if f.WrongKey {
		cred.Key = virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2).Key
	}
	if f.CredentialID != nil {
		cred.ID = f.CredentialID
	}
	return rp, auth, cred
}

// attestation answers registration options (the JSON Sesame sent).
func (pk *softPasskey) attestation(t testing.TB, options json.RawMessage, f forge) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatalf("parsing registration options: %v\n%s", err, options)
	}
	rp, auth, cred := pk.parts(f)
	out := json.RawMessage(virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *opts))
	if f.BadSignature {
		out = tamperAttestationSignature(t, out)
	}
	return out
}

// tamperAttestationSignature changes the last byte of the packed
// attestation signature: still well-formed DER, but not a valid signature.
// (Signing with another key, as for assertions, would not do: the
// attestation carries the public key it is checked with.)
func tamperAttestationSignature(t testing.TB, resp json.RawMessage) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	r := m["response"].(map[string]any)
	raw, err := base64.RawURLEncoding.DecodeString(r["attestationObject"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := cbor.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("decoding the attestation object: %v", err)
	}
	stmt := obj["attStmt"].(map[any]any)
	sig := stmt["sig"].([]byte)
	sig[len(sig)-1] ^= 0x01
	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = enc.Marshal(obj); err != nil {
		t.Fatal(err)
	}
	r["attestationObject"] = base64.RawURLEncoding.EncodeToString(raw)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertion answers sign-in options. An honest assertion moves a counting
// passkey's counter forward first, as an authenticator does.
func (pk *softPasskey) assertion(t testing.TB, options json.RawMessage, f forge) json.RawMessage {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatalf("parsing sign-in options: %v\n%s", err, options)
	}
	if pk.counting && f.Counter == nil {
		pk.cred.Counter++
	}
	rp, auth, cred := pk.parts(f)
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *opts))
}

// ceremony is what a begin endpoint answers.
type ceremony struct {
	ID      string          `json:"ceremony"`
	Options json.RawMessage `json:"options"`
}

func decodeCeremony(t testing.TB, r response) ceremony {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("begin: want 200, got %s", r)
	}
	var c ceremony
	if err := json.Unmarshal(r.Body, &c); err != nil || c.ID == "" || len(c.Options) == 0 {
		t.Fatalf("begin: not a ceremony (%v): %s", err, r)
	}
	return c
}

// finishBody is what the pages' scripts post to a finish endpoint.
type finishBody struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name,omitempty"`
	ReturnTo   string          `json:"return_to,omitempty"`
}

// beginRegistration starts registering a passkey for the signed-in user.
func (c *client) beginRegistration(t testing.TB) ceremony {
	t.Helper()
	return decodeCeremony(t, c.postJSON(t, "/my/passkeys/register/begin", map[string]any{}))
}

// finishRegistration sends a registration response.
func (c *client) finishRegistration(t testing.TB, cer ceremony, credential json.RawMessage, name string) response {
	t.Helper()
	return c.postJSON(t, "/my/passkeys/register/finish", finishBody{Ceremony: cer.ID, Credential: credential, Name: name})
}

// registered is what a successful registration answers.
type registered struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Model string `json:"model"`
	Type  string `json:"type"`
}

// registerPasskey registers pk for the signed-in user and remembers the
// user handle Sesame gave it.
func (c *client) registerPasskey(t testing.TB, pk *softPasskey, name string) registered {
	t.Helper()
	cer := c.beginRegistration(t)
	opts, err := virtualwebauthn.ParseAttestationOptions(string(cer.Options))
	if err != nil {
		t.Fatalf("parsing registration options: %v", err)
	}
	r := c.finishRegistration(t, cer, pk.attestation(t, cer.Options, forge{}), name)
	if r.Status != http.StatusOK {
		t.Fatalf("registering a passkey: want 200, got %s", r)
	}
	var reg registered
	if err := json.Unmarshal(r.Body, &reg); err != nil || reg.ID == "" {
		t.Fatalf("registering a passkey: unexpected answer (%v): %s", err, r)
	}
	pk.userHandle = []byte(opts.UserID)
	return reg
}

// beginSignIn starts a passkey sign-in; an empty username makes it
// discoverable (usernameless).
func (c *client) beginSignIn(t testing.TB, username string) ceremony {
	t.Helper()
	return decodeCeremony(t, c.postJSON(t, "/signin/passkey/begin", map[string]string{"username": username}))
}

// finishSignIn sends a sign-in response.
func (c *client) finishSignIn(t testing.TB, cer ceremony, credential json.RawMessage) response {
	t.Helper()
	return c.postJSON(t, "/signin/passkey/finish", finishBody{Ceremony: cer.ID, Credential: credential})
}

// signInWithPasskey signs in with pk (usernameless when username is "")
// and expects success.
func (c *client) signInWithPasskey(t testing.TB, pk *softPasskey, username string) {
	t.Helper()
	cer := c.beginSignIn(t, username)
	r := c.finishSignIn(t, cer, pk.assertion(t, cer.Options, forge{}))
	if r.Status != http.StatusOK || !setsSessionCookie(r) {
		t.Fatalf("signing in with a passkey: want 200 with a session cookie, got %s", r)
	}
}

// allowList is the credential IDs a sign-in ceremony names (empty for a
// discoverable one).
func allowList(t testing.TB, cer ceremony) []string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(cer.Options))
	if err != nil {
		t.Fatalf("parsing sign-in options: %v", err)
	}
	return opts.AllowCredentials
}

// b64 is base64url without padding, as WebAuthn JSON uses.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// onboard creates a user, issues a pass, signs in with it on a new client
// and registers a software passkey: the user's first day.
func (inst *instance) onboard(t testing.TB, username string, o softOptions) (*client, *softPasskey) {
	t.Helper()
	u := inst.createUser(t, username, false)
	pass := inst.issueTAP(t, u, 0, false)
	c := inst.newClient(t)
	c.signInWithTAP(t, username, pass)
	pk := newSoftPasskey(t, inst, o)
	c.registerPasskey(t, pk, "")
	return c, pk
}
