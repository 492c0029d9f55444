package passkey

// A test PKI made on the fly: a metadata signing root, authenticator
// vendors' attestation roots and certificates, signed MDS3 BLOBs and
// packed-attestation registrations. No network, no files.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/store"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64 = 1

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue signs tmpl with parent (self-signed when parent is nil).
func issue(t *testing.T, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *testCA) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRootCA(t *testing.T, cn string) *testCA {
	k := newKey(t)
	c := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, k, nil)
	return &testCA{c, k}
}

func (ca *testCA) intermediate(t *testing.T, cn string) *testCA {
	k := newKey(t)
	c := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, k, ca)
	return &testCA{c, k}
}

// attestationCert makes a packed attestation certificate (WebAuthn §8.2.1)
// for the model aaguid (nil: no AAGUID extension).
func (ca *testCA) attestationCert(t *testing.T, aaguid []byte) *testCA {
	k := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"SE"}, Organization: []string{"Test Keys AB"}, OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Key Attestation"},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if aaguid != nil {
		v, err := asn1.Marshal(aaguid)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: idFidoGenCeAAGUID, Value: v}}
	}
	return &testCA{issue(t, tmpl, k, ca), k}
}

// signerCert makes a BLOB signing certificate for the DNS name.
func (ca *testCA) signerCert(t *testing.T, dns string) *testCA {
	k := newKey(t)
	return &testCA{issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns}, KeyUsage: x509.KeyUsageDigitalSignature}, k, ca), k}
}

func b64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// mdsEntryJSON is one payload entry as the FIDO Alliance writes it.
func mdsEntryJSON(aaguid, name string, roots []*x509.Certificate, statuses ...map[string]any) map[string]any {
	var r []string
	for _, c := range roots {
		r = append(r, b64(c))
	}
	if len(statuses) == 0 {
		statuses = []map[string]any{{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01"}}
	}
	return map[string]any{
		"aaguid": aaguid,
		"metadataStatement": map[string]any{
			"legalHeader": "test", "aaguid": aaguid, "description": name, "authenticatorVersion": 1, "protocolFamily": "fido2",
			"schema": 3, "attestationTypes": []string{"basic_full"}, "attestationRootCertificates": r,
			"icon": "data:image/png;base64,AAAA",
		},
		"statusReports":          statuses,
		"timeOfLastStatusChange": "2024-01-01",
	}
}

// signBlob makes a compact JWS MDS3 BLOB signed by signer with chain x5c.
func signBlob(t *testing.T, signer *testCA, chain []*x509.Certificate, no int, entries ...map[string]any) []byte {
	t.Helper()
	var x5c []string
	for _, c := range chain {
		x5c = append(x5c, b64(c))
	}
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": x5c})
	payload, _ := json.Marshal(map[string]any{"legalHeader": "test", "no": no, "nextUpdate": "2026-12-01", "entries": entries})
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodES256.Sign(input, signer.key)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(input + "." + base64.RawURLEncoding.EncodeToString(sig))
}

const testOrigin = "http://localhost:8080"

func testRP(t *testing.T) *RP {
	t.Helper()
	rp, err := NewRP(config.RelyingParty{ID: "localhost", Name: "Sesame test", Origins: []string{testOrigin}}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// authenticator describes what a generated registration claims.
type authenticator struct {
	aaguid []byte
	synced bool
	// attestation: nil for fmt "none"; otherwise packed with this
	// certificate (and chain) or, with selfAttest, packed self attestation.
	attest     *testCA
	chain      []*x509.Certificate // intermediates after the leaf
	selfAttest bool
}

// register runs a registration ceremony on rp for a new user with a
// generated authenticator and returns the response body and the ceremony
// state.
func (a authenticator) register(t *testing.T, rp *RP) (store.User, []byte, []byte) {
	t.Helper()
	u := store.User{ID: store.NewID(), Username: "alice", DisplayName: "Alice"}
	opts, session, err := rp.BeginRegistration(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	credKey := newKey(t)
	credID := make([]byte, 16)
	rand.Read(credID)
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: credKey.X.FillBytes(make([]byte, 32)), -3: credKey.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		t.Fatal(err)
	}
	rpHash := sha256.Sum256([]byte("localhost"))
	flags := byte(0x01 | 0x04 | 0x40) // UP, UV, AT
	if a.synced {
		flags |= 0x08 | 0x10 // BE, BS
	}
	authData := append(rpHash[:], flags)
	authData = binary.BigEndian.AppendUint32(authData, 0)
	aaguid := a.aaguid
	if aaguid == nil {
		aaguid = make([]byte, 16)
	}
	authData = append(authData, aaguid...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(credID)))
	authData = append(authData, credID...)
	authData = append(authData, cose...)
	clientData, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": testOrigin, "crossOrigin": false})
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))

	att := map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData}
	switch {
	case a.selfAttest:
		sig, err := ecdsa.SignASN1(rand.Reader, credKey, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		att = map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": sig}, "authData": authData}
	case a.attest != nil:
		sig, err := a.attest.key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		x5c := []any{a.attest.cert.Raw}
		for _, c := range a.chain {
			x5c = append(x5c, c.Raw)
		}
		att = map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": sig, "x5c": x5c}, "authData": authData}
	}
	attObj, err := webauthncbor.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	id := base64.RawURLEncoding.EncodeToString(credID)
	body, _ := json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "cross-platform",
		"response": map[string]any{
			"clientDataJSON":    base64.RawURLEncoding.EncodeToString(clientData),
			"attestationObject": base64.RawURLEncoding.EncodeToString(attObj),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return u, body, session
}

func mustAAGUID(t *testing.T, s string) []byte {
	t.Helper()
	b, err := ParseAAGUID(strings.ToLower(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
