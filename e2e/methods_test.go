package e2e

// The authentication methods policy end to end: passkey profiles at
// registration and sign-in, attestation against a generated FIDO metadata
// BLOB, self-service registration, temporary access pass sessions,
// revocation, the registration campaign, lock-out risk, and the admin
// console and API that edit the policy.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/fxamacker/cbor/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/methods"
	"github.com/sesame-idp/sesame/internal/methods/scope"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// Authenticator models of these tests (made up).
const (
	modelKeyA   = "a1a1a1a1-0000-4000-8000-00000000000a"
	modelKeyB   = "b2b2b2b2-0000-4000-8000-00000000000b"
	modelSynced = "c3c3c3c3-0000-4000-8000-00000000000c"
)

// ---------------------------------------------------------------- helpers

// editPolicy loads the methods policy, lets edit change it and saves it
// (as an admin would), failing the test on a refusal.
func (inst *instance) editPolicy(t testing.TB, edit func(p *methods.Policy)) methods.Policy {
	t.Helper()
	ctx := context.Background()
	p, err := inst.App.Policies.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edit(&p)
	saved, err := inst.App.Policies.Save(ctx, audit.CLI, p)
	if err != nil {
		t.Fatalf("saving the methods policy: %v", err)
	}
	return saved
}

// ensureMember puts a user in a group, creating the group when needed.
func (inst *instance) ensureMember(t testing.TB, group, username string) {
	t.Helper()
	ctx := context.Background()
	if _, err := inst.App.Store.GetGroupByName(ctx, group); errors.Is(err, store.ErrNotFound) {
		if _, err := inst.App.Dir.CreateGroup(ctx, audit.CLI, group, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.App.Dir.SetMember(ctx, audit.CLI, group, username, true); err != nil {
		t.Fatal(err)
	}
}

// adminClient makes an admin and a client signed in as them (with a pass).
func (inst *instance) adminClient(t testing.TB, username string) *client {
	t.Helper()
	u := inst.createUser(t, username, true)
	c := inst.newClient(t)
	c.signInWithTAP(t, username, inst.issueTAP(t, u, 7*24*time.Hour, false))
	return c
}

// auditActions lists the audit log's actions, newest first.
func (inst *instance) auditActions(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, e := range inst.audit(t) {
		out = append(out, e.Action)
	}
	return out
}

// lastAudit is the newest audit record with this action.
func (inst *instance) lastAudit(t testing.TB, action string) (store.AuditEvent, bool) {
	t.Helper()
	for _, e := range inst.audit(t) {
		if e.Action == action {
			return e, true
		}
	}
	return store.AuditEvent{}, false
}

// registerWith registers pk for the signed-in user, sending the response
// rewrite makes of the honest one (nil: the honest one).
func (c *client) registerWith(t testing.TB, pk *softPasskey, rewrite func(json.RawMessage) json.RawMessage) (response, ceremony) {
	t.Helper()
	cer := c.beginRegistration(t)
	resp := pk.attestation(t, cer.Options, forge{})
	if rewrite != nil {
		resp = rewrite(resp)
	}
	r := c.finishRegistration(t, cer, resp, "")
	if r.Status == http.StatusOK {
		var o struct {
			PublicKey struct {
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(cer.Options, &o); err == nil {
			pk.userHandle, _ = base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID)
		}
	}
	return r, cer
}

// attestationCA is a vendor's attestation root and its key.
type attestationCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var certSerial int64 = 100

func newCert(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *attestationCA) *x509.Certificate {
	t.Helper()
	certSerial++
	tmpl.SerialNumber = big.NewInt(certSerial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-24*time.Hour), time.Now().Add(3*365*24*time.Hour)
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

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newAttestationRoot(t testing.TB, cn string) *attestationCA {
	k := newECKey(t)
	return &attestationCA{newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, k, nil), k}
}

// attestationCert is a packed attestation certificate (WebAuthn §8.2.1)
// for the model aaguid, issued by ca.
func (ca *attestationCA) attestationCert(t testing.TB, aaguid string) *attestationCA {
	t.Helper()
	b, err := passkey.ParseAAGUID(aaguid)
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	k := newECKey(t)
	return &attestationCA{newCert(t, &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"SE"}, Organization: []string{"Test Keys AB"}, OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Key Attestation"},
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}, Value: v}},
	}, k, ca), k}
}

// rewriteAttestation replaces the attestation statement of a registration
// response: with attest nil, fmt "none" (what a browser sends when it
// declines to share attestation); otherwise packed attestation signed by
// attest's key with its certificate as x5c.
func rewriteAttestation(t testing.TB, resp json.RawMessage, attest *attestationCA) json.RawMessage {
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
	clientData, err := base64.RawURLEncoding.DecodeString(r["clientDataJSON"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := cbor.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	authData := obj["authData"].([]byte)
	out := map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData}
	if attest != nil {
		cd := sha256.Sum256(clientData)
		digest := sha256.Sum256(append(append([]byte{}, authData...), cd[:]...))
		sig, err := attest.key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		out = map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": -7, "sig": sig, "x5c": [][]byte{attest.cert.Raw}}, "authData": authData}
	}
	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = enc.Marshal(out); err != nil {
		t.Fatal(err)
	}
	r["attestationObject"] = base64.RawURLEncoding.EncodeToString(raw)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadMetadata signs an MDS3 BLOB listing the models (model A trusted,
// model B revoked) under a generated MDS root, verifies and loads it as
// `sesame metadata load --root` does.
func (inst *instance) loadMetadata(t testing.TB, vendor *attestationCA) {
	t.Helper()
	mdsRoot := newAttestationRoot(t, "Test MDS Root")
	signerKey := newECKey(t)
	signer := newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "mds.example.test"}, DNSNames: []string{"mds.example.test"},
		KeyUsage: x509.KeyUsageDigitalSignature}, signerKey, mdsRoot)
	entry := func(aaguid, name string, statuses ...map[string]any) map[string]any {
		return map[string]any{
			"aaguid": aaguid,
			"metadataStatement": map[string]any{
				"legalHeader": "test", "aaguid": aaguid, "description": name, "authenticatorVersion": 1, "protocolFamily": "fido2",
				"schema": 3, "attestationTypes": []string{"basic_full"},
				"attestationRootCertificates": []string{base64.StdEncoding.EncodeToString(vendor.cert.Raw)},
			},
			"statusReports":          append([]map[string]any{{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01"}}, statuses...),
			"timeOfLastStatusChange": "2024-01-01",
		}
	}
	header, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{base64.StdEncoding.EncodeToString(signer.Raw)}})
	payload, _ := json.Marshal(map[string]any{"legalHeader": "test", "no": 3, "nextUpdate": "2099-01-01", "entries": []any{
		entry(modelKeyA, "Test Key A"),
		entry(modelKeyB, "Test Key B", map[string]any{"status": "REVOKED", "effectiveDate": "2025-01-01"}),
	}})
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodES256.Sign(input, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte(input + "." + base64.RawURLEncoding.EncodeToString(sig))
	md, _, err := passkey.ParseMDS(blob, passkey.MDSOptions{Roots: []*x509.Certificate{mdsRoot.cert}}, inst.clock.Now())
	if err != nil {
		t.Fatalf("parsing the generated BLOB: %v", err)
	}
	if err := inst.App.Metadata.Save(context.Background(), audit.CLI, md, false); err != nil {
		t.Fatal(err)
	}
}

var (
	hiddenStep = regexp.MustCompile(`name="step" value="([^"]+)"`)
	totpSecret = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7]+)<`)
)

// ---------------------------------------------------------------- tests

// A passkey that a policy change makes non-compliant cannot sign in any
// more, says why, is flagged on My security info and the admin page, and
// is not deleted; changing the policy back makes it work again.
func TestNonCompliantPasskeyRefusedAtSignIn(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")
	_, keyA := inst.onboard(t, "alice", softOptions{AAGUID: modelKeyA})
	_, synced := inst.onboard(t, "bob", softOptions{Synced: true, AAGUID: modelSynced})
	_, carolKey := inst.onboard(t, "carol", softOptions{AAGUID: modelKeyA})
	alice, bob, carol := inst.user(t, "alice"), inst.user(t, "bob"), inst.user(t, "carol")
	inst.ensureMember(t, "contractors", "carol")

	inst.editPolicy(t, func(p *methods.Policy) {
		p.Passkey.Profiles = []passkey.Profile{{
			Name: "default", Scope: scope.All(), Types: passkey.TypesDeviceBound,
			KeyRestriction: passkey.KeyRestriction{Mode: passkey.RestrictBlock, AAGUIDs: []string{modelKeyA}},
		}}
		p.Passkey.Scope.Exclude = []string{"contractors"}
	})

	cases := []struct {
		name, username string
		user           store.User
		pk             *softPasskey
		code, words    string
	}{
		{"AAGUID now blocked", "alice", alice, keyA, passkey.CodeModelBlocked, "blocked this passkey provider"},
		{"type no longer allowed", "bob", bob, synced, passkey.CodeTypeNotAllowed, "no longer accepts this type of passkey"},
		{"passkey method excluded for the user", "carol", carol, carolKey, methods.CodeMethodNotAllowed, "no longer allows passkeys for your account"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := inst.snapshot(t)
			for _, username := range []string{"", tc.username} { // usernameless and username-first
				c := inst.newClient(t)
				cer := c.beginSignIn(t, username)
				r := c.finishSignIn(t, cer, tc.pk.assertion(t, cer.Options, forge{}))
				expectRefusal(t, r, http.StatusForbidden, tc.code)
				if !strings.Contains(string(r.Body), tc.words) || !strings.Contains(string(r.Body), "can no longer be used to sign in") {
					t.Errorf("the refusal does not say why: %s", r)
				}
				if setsSessionCookie(r) {
					t.Error("a refused sign-in set a session cookie")
				}
				ev := inst.lastSignIn(t)
				if ev.Result != store.ResultFailure || ev.Reason != tc.code || ev.Method != "passkey" || ev.UserID != tc.user.ID || ev.Detail == "" {
					t.Errorf("sign-in record: %+v", ev)
				}
			}
			inst.assertUnchanged(t, before) // nothing deleted, counters untouched
			if n := len(inst.credentials(t, tc.user)); n != 1 {
				t.Errorf("%s has %d passkeys, want 1 (kept)", tc.username, n)
			}

			// Flagged for the user (signed in with a pass) and the admin.
			c := inst.newClient(t)
			c.signInWithTAP(t, tc.username, inst.issueTAP(t, tc.user, 0, false))
			page := c.get(t, "/my")
			if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `data-compliance="`+tc.code+`"`) || !strings.Contains(string(page.Body), "Cannot sign in") {
				t.Errorf("/my does not flag the passkey: %s", page)
			}
			ap := admin.get(t, "/admin/users/"+tc.username)
			if !strings.Contains(string(ap.Body), `data-compliance="`+tc.code+`"`) || !strings.Contains(string(ap.Body), "Non-compliant") {
				t.Errorf("the admin page does not flag the passkey: %s", ap)
			}
		})
	}

	// The admin list counts passkeys that cannot sign in and flags the
	// lock-out risk they leave.
	list := string(admin.get(t, "/admin").Body)
	if !strings.Contains(list, "1 cannot sign in") || !strings.Contains(list, `data-username="alice" data-passkeys="1" data-at-risk="true"`) {
		t.Errorf("the admin list does not flag non-compliant passkeys:\n%s", list)
	}

	// Back to the default policy: the same passkeys work again.
	inst.editPolicy(t, func(p *methods.Policy) {
		d := methods.DefaultPolicy()
		d.Revision = p.Revision
		*p = d
	})
	inst.newClient(t).signInWithPasskey(t, keyA, "")
	inst.newClient(t).signInWithPasskey(t, synced, "bob")
}

// Registration applies the profiles: a synced passkey is refused under a
// device-bound-only profile, with a clear message and an audit record; a
// device-bound one is accepted. A model not on an allow list is refused.
func TestRegistrationProfiles(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Passkey.Profiles = []passkey.Profile{
			{Name: "device-bound only", Scope: scope.All(), Types: passkey.TypesDeviceBound, KeyRestriction: passkey.KeyRestriction{Mode: passkey.RestrictNone}},
		}
	})
	alice := inst.createUser(t, "alice", false)
	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 0, false))

	if page := string(c.get(t, "/my").Body); !strings.Contains(page, `id="device-bound-hint"`) {
		t.Errorf("/my does not say only device-bound passkeys are accepted")
	}
	before := inst.snapshot(t)
	r, _ := c.registerWith(t, newSoftPasskey(t, inst, softOptions{Synced: true}), nil)
	expectRefusal(t, r, http.StatusForbidden, passkey.CodeTypeNotAllowed)
	if !strings.Contains(string(r.Body), "only device-bound passkeys") {
		t.Errorf("the refusal does not say what is accepted: %s", r)
	}
	inst.assertUnchanged(t, before)
	ev, ok := inst.lastAudit(t, "passkey.register_refused")
	if !ok || ev.Target != "alice" || !strings.Contains(ev.Detail, passkey.CodeTypeNotAllowed) || !strings.Contains(ev.Detail, `"type":"synced"`) {
		t.Errorf("refusal not audited: %+v", ev)
	}

	if r, _ := c.registerWith(t, newSoftPasskey(t, inst, softOptions{}), nil); r.Status != http.StatusOK {
		t.Fatalf("a device-bound passkey was refused: %s", r)
	}
	if ev, _ := inst.lastAudit(t, "passkey.register"); !strings.Contains(ev.Detail, `"profile":"device-bound only"`) {
		t.Errorf("registration audit lacks the profile: %+v", ev)
	}

	// A profile limited to an allow list, for the admins group.
	inst.ensureMember(t, "admins", "alice")
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Passkey.Profiles = []passkey.Profile{
			{Name: "admins", Scope: scope.Groups("admins"), Types: passkey.TypesBoth, KeyRestriction: passkey.KeyRestriction{Mode: passkey.RestrictAllow, AAGUIDs: []string{modelKeyA}}},
			{Name: "others", Scope: scope.Scope{AllUsers: true, Exclude: []string{"admins"}}, Types: passkey.TypesBoth, KeyRestriction: passkey.KeyRestriction{Mode: passkey.RestrictNone}},
		}
	})
	r, _ = c.registerWith(t, newSoftPasskey(t, inst, softOptions{AAGUID: modelKeyB}), nil)
	expectRefusal(t, r, http.StatusForbidden, passkey.CodeModelNotAllowed)
	if r, _ := c.registerWith(t, newSoftPasskey(t, inst, softOptions{AAGUID: modelKeyA}), nil); r.Status != http.StatusOK {
		t.Fatalf("a listed model was refused: %s", r)
	}
}

// With attestation enforced, a registration is accepted only with packed
// attestation chaining to a root of a model in the loaded metadata; no
// metadata, fmt "none", self attestation and a revoked model are refused
// (fail closed).
func TestAttestationEnforced(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Passkey.Profiles = []passkey.Profile{{Name: "verified keys", Scope: scope.All(), Types: passkey.TypesBoth, AttestationEnforced: true,
			KeyRestriction: passkey.KeyRestriction{Mode: passkey.RestrictNone}}}
	})
	alice := inst.createUser(t, "alice", false)
	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 0, false))
	vendor := newAttestationRoot(t, "Test Vendor Attestation Root")

	cer := c.beginRegistration(t)
	if !strings.Contains(string(cer.Options), `"attestation":"direct"`) {
		t.Errorf("registration options do not request direct attestation: %s", cer.Options)
	}

	refused := func(name string, pk *softPasskey, rewrite func(json.RawMessage) json.RawMessage, reason string) {
		t.Run(name, func(t *testing.T) {
			before := inst.snapshot(t)
			r, _ := c.registerWith(t, pk, rewrite)
			expectRefusal(t, r, http.StatusForbidden, passkey.CodeAttestationRequired)
			if !strings.Contains(string(r.Body), "could not be verified") {
				t.Errorf("unclear refusal: %s", r)
			}
			inst.assertUnchanged(t, before)
			if ev, ok := inst.lastAudit(t, "passkey.register_refused"); !ok || !strings.Contains(ev.Detail, reason) {
				t.Errorf("audit record lacks %q: %+v", reason, ev)
			}
		})
	}
	keyA := func() *softPasskey { return newSoftPasskey(t, inst, softOptions{AAGUID: modelKeyA}) }
	chainA := vendor.attestationCert(t, modelKeyA)
	refused("no metadata loaded", keyA(), func(r json.RawMessage) json.RawMessage { return rewriteAttestation(t, r, chainA) }, "no authenticator metadata is loaded")

	inst.loadMetadata(t, vendor)
	refused("attestation none", keyA(), func(r json.RawMessage) json.RawMessage { return rewriteAttestation(t, r, nil) }, "sent no attestation")
	refused("self attestation", keyA(), nil, "self attestation")
	refused("revoked model", newSoftPasskey(t, inst, softOptions{AAGUID: modelKeyB}),
		func(r json.RawMessage) json.RawMessage {
			return rewriteAttestation(t, r, vendor.attestationCert(t, modelKeyB))
		}, "REVOKED")
	stranger := newAttestationRoot(t, "Unknown Vendor")
	refused("chain to another root", keyA(),
		func(r json.RawMessage) json.RawMessage {
			return rewriteAttestation(t, r, stranger.attestationCert(t, modelKeyA))
		}, "does not chain")

	pk := keyA()
	r, _ := c.registerWith(t, pk, func(r json.RawMessage) json.RawMessage { return rewriteAttestation(t, r, chainA) })
	if r.Status != http.StatusOK {
		t.Fatalf("a verified packed attestation was refused: %s", r)
	}
	if ev, _ := inst.lastAudit(t, "passkey.register"); !strings.Contains(ev.Detail, `"attestation_trusted":"true"`) {
		t.Errorf("registration audit lacks the attestation verdict: %+v", ev)
	}
	// Enforcement applies to registrations only: the passkey signs in.
	inst.newClient(t).signInWithPasskey(t, pk, "")
}

// Self-service registration off: a passkey session cannot add passkeys; a
// session begun with a pass can.
func TestSelfServiceRegistrationOff(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	_, pk := inst.onboard(t, "alice", softOptions{})
	inst.editPolicy(t, func(p *methods.Policy) { p.Passkey.SelfServiceRegistration = false })

	c := inst.newClient(t)
	c.signInWithPasskey(t, pk, "")
	r := c.postJSON(t, "/my/passkeys/register/begin", map[string]any{})
	expectRefusal(t, r, http.StatusForbidden, "registration_not_allowed")
	if page := string(c.get(t, "/my").Body); !strings.Contains(page, `id="registration-off"`) || strings.Contains(page, `id="add-passkey"`) {
		t.Errorf("/my offers registration although it is off")
	}
	if ev, ok := inst.lastAudit(t, "passkey.register_refused"); !ok || !strings.Contains(ev.Detail, "self-service registration is off") {
		t.Errorf("refusal not audited: %+v", ev)
	}

	d := inst.newClient(t)
	d.signInWithTAP(t, "alice", inst.issueTAP(t, inst.user(t, "alice"), 0, false))
	d.registerPasskey(t, newSoftPasskey(t, inst, softOptions{}), "")
}

// A session begun with a one-time pass ends 10 minutes after the pass was
// used; one with a multi-use pass when the pass expires. Users see their
// pass's expiry and can delete it.
func TestTemporaryAccessPassSessions(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	alice := inst.createUser(t, "alice", false)

	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, time.Hour, true))
	page := string(c.get(t, "/my").Body)
	if !strings.Contains(page, `id="session-ends"`) || !strings.Contains(page, `id="tap-expiry"`) {
		t.Errorf("/my does not say when the pass session ends")
	}
	inst.clock.Advance(methods.OneTimeTAPRegistrationWindow - time.Minute)
	if !c.signedIn(t) {
		t.Fatal("the one-time pass session ended early")
	}
	inst.clock.Advance(2 * time.Minute)
	if c.signedIn(t) {
		t.Fatal("the one-time pass session outlived the 10-minute registration window")
	}

	// Multi-use: until the pass expires.
	d := inst.newClient(t)
	d.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 30*time.Minute, false))
	page = string(d.get(t, "/my").Body)
	if !strings.Contains(page, `id="tap-expires"`) || !strings.Contains(page, `action="/my/tap/delete"`) {
		t.Errorf("/my does not show the pass's expiry and a delete button")
	}
	inst.clock.Advance(20 * time.Minute)
	if !d.signedIn(t) {
		t.Fatal("the multi-use pass session ended before the pass")
	}

	// Deleting the pass: it no longer works.
	r := d.postForm(t, "/my/tap/delete", url.Values{})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/my?notice=tap_deleted" {
		t.Fatalf("deleting the pass: %s", r)
	}
	if _, err := inst.App.Store.GetTAP(context.Background(), alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pass is still stored (%v)", err)
	}
	if ev, ok := inst.lastAudit(t, "tap.delete"); !ok || ev.Actor != "alice" {
		t.Errorf("deleting the pass not audited: %+v", ev)
	}
	if page := string(d.get(t, "/my").Body); strings.Contains(page, `id="tap-expiry"`) {
		t.Error("/my still shows a deleted pass")
	}
	inst.clock.Advance(20 * time.Minute)
	if d.signedIn(t) {
		t.Fatal("the session outlived the pass's expiry")
	}
}

// TestOneTimePassSessionContinuesWithPasskey: the session of a one-time
// pass that registers a passkey goes on as a session of that passkey (a new
// session cookie, the normal lifetime, a passkey's strength for apps)
// rather than ending 10 minutes after the pass's use. A multi-use pass
// session keeps ending with its pass.
func TestOneTimePassSessionContinuesWithPasskey(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	rp := newRelyingParty(t, inst, "intranet", rpOptions{})
	alice := inst.createUser(t, "alice", false)

	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 7*24*time.Hour, true))
	passCookie := c.sessionCookie()
	if app := rp.signIn(t, c); app.claims.ACR != "urn:sesame:acr:tap" || !slices.Equal(app.claims.AMR, []string{"otp"}) {
		t.Errorf("the pass session's app sign-in: acr %q amr %v", app.claims.ACR, app.claims.AMR)
	}
	pk := newSoftPasskey(t, inst, softOptions{})
	reg := c.registerPasskey(t, pk, "")
	registered := inst.clock.Now()
	if c.sessionCookie() == passCookie {
		t.Fatal("registering did not give a new session cookie")
	}
	if m := c.whoami(t); !slices.Equal(m.Methods, []string{"passkey"}) {
		t.Errorf("after registering, the session's methods are %v", m.Methods)
	}
	old := inst.newClient(t)
	old.setSessionCookie(passCookie)
	if old.signedIn(t) {
		t.Error("the pass session still works after it continued as a passkey session")
	}
	if ev, ok := inst.lastAudit(t, "session.continue_with_passkey"); !ok || ev.Actor != "alice" || !strings.Contains(ev.Detail, reg.ID) {
		t.Errorf("the continuation is not audited: %+v", ev)
	}
	if page := string(c.get(t, "/my").Body); strings.Contains(page, `id="session-ends"`) {
		t.Error("/my still says the session ends with the pass")
	}

	inst.clock.Advance(methods.OneTimeTAPRegistrationWindow + time.Minute)
	if !c.signedIn(t) {
		t.Fatal("the session ended with the pass's registration window")
	}
	app := rp.signIn(t, c)
	if app.claims.ACR != "phrh" || !slices.Contains(app.claims.AMR, "hwk") {
		t.Errorf("the app sign-in after registering: acr %q amr %v, want a device-bound passkey's", app.claims.ACR, app.claims.AMR)
	}
	// The normal lifetime: the session ends when a passkey session does
	// (kept alive meanwhile), not when the pass expires.
	for inst.clock.Now().Before(registered.Add(inst.App.Config.SessionMax - time.Hour)) {
		inst.clock.Advance(time.Hour)
		if !c.signedIn(t) {
			t.Fatalf("the passkey session ended %s after it began", inst.clock.Now().Sub(registered))
		}
	}
	inst.clock.Advance(time.Hour)
	if c.signedIn(t) {
		t.Error("the passkey session outlived the maximum session lifetime")
	}

	// A multi-use pass session still ends with the pass.
	bob := inst.createUser(t, "bob", false)
	d := inst.newClient(t)
	d.signInWithTAP(t, "bob", inst.issueTAP(t, bob, time.Hour, false))
	bobCookie := d.sessionCookie()
	d.registerPasskey(t, newSoftPasskey(t, inst, softOptions{}), "")
	if d.sessionCookie() != bobCookie {
		t.Error("a multi-use pass session was replaced")
	}
	inst.clock.Advance(time.Hour + time.Minute)
	if d.signedIn(t) {
		t.Error("the multi-use pass session outlived its pass")
	}
}

// Revoking a passkey (admin or user) ends the sessions made with it, and
// only those.
func TestRevocationEndsSessions(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")
	owner, pk1 := inst.onboard(t, "alice", softOptions{})
	pk2 := newSoftPasskey(t, inst, softOptions{Synced: true})
	owner.registerPasskey(t, pk2, "phone")
	alice := inst.user(t, "alice")
	creds := inst.credentials(t, alice)

	lost, kept := inst.newClient(t), inst.newClient(t)
	lost.signInWithPasskey(t, pk1, "")
	kept.signInWithPasskey(t, pk2, "")

	r := admin.postForm(t, "/admin/users/alice/passkeys/"+creds[0].ID+"/revoke", url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("revoking: %s", r)
	}
	if lost.signedIn(t) {
		t.Error("the session made with the revoked passkey survived")
	}
	if !kept.signedIn(t) || !owner.signedIn(t) {
		t.Error("a session made otherwise ended")
	}
	c := inst.newClient(t)
	cer := c.beginSignIn(t, "")
	expectRefusal(t, c.finishSignIn(t, cer, pk1.assertion(t, cer.Options, forge{})), http.StatusUnauthorized, "unknown_credential")

	// The user revokes the other one from a pass session: its session ends.
	r = owner.postForm(t, "/my/passkeys/"+creds[1].ID+"/delete", url.Values{"confirm": {"yes"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("removing: %s", r)
	}
	if kept.signedIn(t) {
		t.Error("the session made with the removed passkey survived")
	}
}

// Lock-out risk: the admin list flags users with fewer than two usable
// passkeys or all on one device-bound model; admins are nudged to add a
// roaming security key.
func TestLockoutRisk(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")
	c, _ := inst.onboard(t, "alice", softOptions{AAGUID: modelKeyA})
	c.registerPasskey(t, newSoftPasskey(t, inst, softOptions{AAGUID: modelKeyA}), "second of the same model")
	d, _ := inst.onboard(t, "bob", softOptions{AAGUID: modelKeyA})
	d.registerPasskey(t, newSoftPasskey(t, inst, softOptions{Synced: true}), "phone")

	list := string(admin.get(t, "/admin").Body)
	if !strings.Contains(list, `data-username="alice" data-passkeys="2" data-at-risk="true"`) {
		t.Errorf("alice (two passkeys of one device-bound model) is not flagged:\n%s", list)
	}
	if !strings.Contains(list, `<tr data-username="bob" data-passkeys="2">`) {
		t.Errorf("bob (two kinds of passkey) is flagged")
	}
	if !strings.Contains(list, "Add a security key") {
		t.Errorf("the admin without a security key is not nudged")
	}
	if page := string(c.get(t, "/my").Body); !strings.Contains(page, `id="advice"`) {
		t.Errorf("alice's /my has no lock-out advice")
	}
	if page := string(admin.get(t, "/my").Body); !strings.Contains(page, `id="key-nudge"`) {
		t.Errorf("the admin's /my does not suggest a roaming security key")
	}
}

// The registration campaign: after signing in without a usable passkey, a
// user in scope is asked to add one; "Not now" works as often as allowed,
// then registering is required (signing out still works); the outcomes
// are in the audit log.
func TestRegistrationCampaign(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 2}
	})
	alice := inst.createUser(t, "alice", false)
	pass := inst.issueTAP(t, alice, 30*24*time.Hour, false)

	signIn := func() (*client, string) {
		c := inst.newClient(t)
		r := c.submitTAP(t, "alice", pass)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("signing in: %s", r)
		}
		return c, r.Header.Get("Location")
	}
	prompt := "/my/add-passkey?return_to=" + url.QueryEscape("/my?welcome=tap")
	for left := 2; left > 0; left-- {
		c, loc := signIn()
		if loc != prompt {
			t.Fatalf("after sign-in went to %q, want the prompt %q", loc, prompt)
		}
		page := c.get(t, loc)
		if page.Status != http.StatusOK || !strings.Contains(string(page.Body), fmt.Sprintf(`data-snoozes-left="%d"`, left)) || !strings.Contains(string(page.Body), `id="snooze"`) {
			t.Fatalf("prompt with %d snoozes left: %s", left, page)
		}
		r := c.postForm(t, "/my/add-passkey/snooze", url.Values{"return_to": {"/my?welcome=tap"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/my?welcome=tap" {
			t.Fatalf("snoozing: %s", r)
		}
		// Snoozed: the next sign-in goes straight on.
		if _, loc := signIn(); loc != "/my?welcome=tap" {
			t.Errorf("a snoozed prompt was shown again (%q)", loc)
		}
		inst.clock.Advance(25 * time.Hour)
	}

	// No snooze left: registering is required; signing out still works.
	c, loc := signIn()
	if loc != prompt {
		t.Fatalf("after the last snooze, sign-in went to %q", loc)
	}
	page := string(c.get(t, loc).Body)
	if !strings.Contains(page, `id="prompt-required"`) || strings.Contains(page, `id="snooze"`) || !strings.Contains(page, `id="prompt-signout"`) {
		t.Errorf("the required prompt offers a snooze or no sign-out:\n%s", page)
	}
	expectStatus := c.postForm(t, "/my/add-passkey/snooze", url.Values{"return_to": {"/my"}})
	if expectStatus.Status != http.StatusConflict || !strings.Contains(string(expectStatus.Body), "postponed this as often as") {
		t.Errorf("a snooze beyond the limit: %s", expectStatus)
	}

	// Registering ends the campaign for her.
	c.registerPasskey(t, newSoftPasskey(t, inst, softOptions{}), "")
	if _, loc := signIn(); loc != "/my?welcome=tap" {
		t.Errorf("with a passkey, sign-in still went to %q", loc)
	}
	actions := strings.Join(inst.auditActions(t), " ")
	for _, want := range []string{"campaign.shown", "campaign.snoozed", "campaign.snooze_refused"} {
		if !strings.Contains(actions, want) {
			t.Errorf("the audit log lacks %s: %s", want, actions)
		}
	}
}

// The prompt page records a registration made from it.
func TestRegistrationCampaignRecordsRegistration(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 3}
	})
	alice := inst.createUser(t, "alice", false)
	c := inst.newClient(t)
	c.signInWithTAP(t, "alice", inst.issueTAP(t, alice, 0, false))
	pk := newSoftPasskey(t, inst, softOptions{})
	cer := c.beginRegistration(t)
	r := c.postJSON(t, "/my/passkeys/register/finish", map[string]any{"ceremony": cer.ID, "credential": pk.attestation(t, cer.Options, forge{}), "source": "campaign"})
	if r.Status != http.StatusOK {
		t.Fatalf("registering: %s", r)
	}
	if ev, ok := inst.lastAudit(t, "campaign.registered"); !ok || ev.Actor != "alice" {
		t.Errorf("registration from the prompt not recorded: %+v", ev)
	}

	// Out of scope (an excluded group): no prompt.
	bob := inst.createUser(t, "bob", false)
	inst.ensureMember(t, "service-accounts", "bob")
	inst.editPolicy(t, func(p *methods.Policy) { p.Campaign.Scope.Exclude = []string{"service-accounts"} })
	if r := inst.newClient(t).submitTAP(t, "bob", inst.issueTAP(t, bob, 0, false)); r.Header.Get("Location") != "/my?welcome=tap" {
		t.Errorf("an excluded user was prompted: %s (%q)", r, r.Header.Get("Location"))
	}
}

// The admin API edits the methods policy and the strengths with the
// admin's session: bad input is 400 and changes nothing, a stale revision
// is 409, every change is audited.
func TestPolicyAdminAPI(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")
	user := inst.newClient(t)
	u := inst.createUser(t, "alice", false)
	user.signInWithTAP(t, "alice", inst.issueTAP(t, u, 0, false))

	put := func(c *client, path, body string) response {
		return c.do(t, http.MethodPut, path, "application/json", []byte(body))
	}
	stored := func() string {
		b, err := inst.App.Store.GetSetting(context.Background(), methods.MethodsPolicyKey)
		if errors.Is(err, store.ErrNotFound) {
			return ""
		}
		return string(b)
	}

	// Only admins, only signed in.
	expectRefusal(t, inst.newClient(t).get(t, "/api/admin/policy/methods"), http.StatusUnauthorized, "no_session")
	expectRefusal(t, user.get(t, "/api/admin/policy/methods"), http.StatusForbidden, "not_admin")
	expectRefusal(t, put(user, "/api/admin/policy/methods", `{}`), http.StatusForbidden, "not_admin")

	r := admin.get(t, "/api/admin/policy/methods")
	var p methods.Policy
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &p) != nil || p.Revision != 0 || !p.Passkey.Enabled {
		t.Fatalf("GET policy: %s", r)
	}

	audits := len(inst.audit(t))
	for _, tc := range []struct{ name, body, words string }{
		{"not JSON", `{"passkey": `, "not valid JSON"},
		{"unknown field", `{"passkey": {"enabeld": true}}`, "enabeld"},
		{"wrong type", `{"revision": "one"}`, "revision"},
		{"nobody can sign in", `{"schema": 1, "revision": 0}`, "nobody could sign in"},
		{"unknown group", strings.Replace(string(r.Body), `"all_users": true`, `"groups": ["no-such-group"]`, 1), "do not exist"},
		{"bad TAP lifetime", strings.Replace(string(r.Body), `"default_lifetime": "1h"`, `"default_lifetime": "90d"`, 1), "default lifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := put(admin, "/api/admin/policy/methods", tc.body)
			if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), tc.words) {
				t.Errorf("want 400 saying %q, got %s", tc.words, res)
			}
			if stored() != "" {
				t.Error("a refused policy was stored")
			}
		})
	}
	if n := len(inst.audit(t)); n != audits {
		t.Errorf("refused saves were audited as changes (%d → %d)", audits, n)
	}

	// A good change: revision 1, audited with before and after.
	p.Password.Enabled, p.Password.Scope = true, scope.All()
	b, _ := json.Marshal(p)
	r = put(admin, "/api/admin/policy/methods", string(b))
	var saved methods.Policy
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &saved) != nil || saved.Revision != 1 || !saved.Password.Enabled || saved.UpdatedBy != "root" {
		t.Fatalf("PUT policy: %s", r)
	}
	if ev, ok := inst.lastAudit(t, "policy.methods.update"); !ok || ev.Actor != "root" || !strings.Contains(ev.Detail, `"before"`) || !strings.Contains(ev.Detail, `"after"`) {
		t.Errorf("change not audited: %+v", ev)
	}

	// The same document again is stale (revision 0 was replaced).
	before := stored()
	r = put(admin, "/api/admin/policy/methods", string(b))
	expectRefusal(t, r, http.StatusConflict, "policy_changed")
	if stored() != before {
		t.Error("a stale save changed the policy")
	}

	// Strengths.
	r = admin.get(t, "/api/admin/policy/strengths")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"strengths":[]`) {
		t.Fatalf("GET strengths: %s", r)
	}
	expectRefusal(t, put(admin, "/api/admin/policy/strengths", `{"strengths": [{"id": "mfa", "name": "x", "combinations": [["passkey"]]}]}`), http.StatusBadRequest, "bad_request")
	expectRefusal(t, put(admin, "/api/admin/policy/strengths", `{"strengths": [{"id": "legacy", "name": "Legacy", "combinations": [["password", "sms"]]}]}`), http.StatusBadRequest, "bad_request")
	expectRefusal(t, put(admin, "/api/admin/policy/strengths", `{"strenghts": []}`), http.StatusBadRequest, "bad_request")
	good := `{"revision": 0, "strengths": [{"id": "legacy-mfa", "name": "Legacy MFA", "combinations": [["password", "totp"], ["passkey"]]}]}`
	r = put(admin, "/api/admin/policy/strengths", good)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"revision":1`) {
		t.Fatalf("PUT strengths: %s", r)
	}
	expectRefusal(t, put(admin, "/api/admin/policy/strengths", good), http.StatusConflict, "policy_changed")
	if _, ok := inst.lastAudit(t, "policy.strengths.update"); !ok {
		t.Error("strengths change not audited")
	}
}

// The console's Sign-in methods page: the policy as JSON with errors shown
// next to it, and the method switches.
func TestPolicyConsole(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	admin := inst.adminClient(t, "root")

	page := admin.get(t, "/admin/methods")
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `id="policy-json"`) || !strings.Contains(string(page.Body), `data-method="passkey" data-enabled="true"`) {
		t.Fatalf("the methods page: %s", page)
	}
	r := admin.postForm(t, "/admin/methods/policy", url.Values{"policy": {`{"passkey": {"enabled": "yes"}}`}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="policy-error"`) || !strings.Contains(string(r.Body), "enabled") ||
		!strings.Contains(string(r.Body), `{&#34;passkey&#34;: {&#34;enabled&#34;: &#34;yes&#34;}}`) {
		t.Errorf("a bad policy is not shown back with its error: %s", r)
	}
	if _, err := inst.App.Store.GetSetting(context.Background(), methods.MethodsPolicyKey); !errors.Is(err, store.ErrNotFound) {
		t.Error("a refused policy was stored")
	}
	// TOTP without passwords is refused, next to the switches.
	r = admin.postForm(t, "/admin/methods/toggles", url.Values{"revision": {"0"}, "method_passkey": {"on"}, "method_tap": {"on"}, "method_totp": {"on"}, "self_service": {"on"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="toggles-error"`) {
		t.Errorf("an invalid switch change: %s", r)
	}
	r = admin.postForm(t, "/admin/methods/toggles", url.Values{"revision": {"0"}, "method_passkey": {"on"}, "method_tap": {"on"}, "campaign": {"on"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("switching: %s", r)
	}
	p, _ := inst.App.Policies.Load(context.Background())
	if p.Revision != 1 || p.Passkey.SelfServiceRegistration || !p.Campaign.Enabled {
		t.Errorf("the switches did not apply: %+v", p)
	}
	// Stale form.
	r = admin.postForm(t, "/admin/methods/toggles", url.Values{"revision": {"0"}, "method_passkey": {"on"}, "method_tap": {"on"}})
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "changed by someone else") {
		t.Errorf("a stale switch change: %s", r)
	}
	// A whole document from the page.
	doc, _ := methods.EncodePolicy(p)
	r = admin.postForm(t, "/admin/methods/policy", url.Values{"policy": {strings.Replace(string(doc), `"self_service_registration": false`, `"self_service_registration": true`, 1)}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("saving the document: %s", r)
	}
	if p, _ := inst.App.Policies.Load(context.Background()); p.Revision != 2 || !p.Passkey.SelfServiceRegistration {
		t.Errorf("the document did not apply: %+v", p)
	}
}

// ---------------------------------------------------------------- in the browser

// browserPasskeySignIn signs in with the passkey button (autofill off, so
// only the button's ceremony runs).
func browserPasskeySignIn(t testing.TB, ctx context.Context, base string) {
	t.Helper()
	navigate(t, ctx, base+"/signin?autofill=off")
	waitFor(t, ctx, `document.readyState === "complete"`)
	click(t, ctx, "#passkey-button")
}

// A block list applied after registration stops that passkey at sign-in
// with a clear message, marks it on My security info, and keeps it.
func TestBrowserBlockedModelAfterRegistration(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	alice := inst.createUser(t, "alice", false)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)
	browserSignInWithTAP(t, ctx, inst.URL, "alice", inst.issueTAP(t, alice, 0, false))
	browserAddPasskey(t, ctx, "laptop")
	creds := inst.credentials(t, alice)
	if len(creds) != 1 {
		t.Fatalf("%d passkeys after registering one", len(creds))
	}
	model := passkey.FormatAAGUID(creds[0].AAGUID)
	if model == "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("the browser hid the authenticator model: cannot block it")
	}
	// Sign out without landing on /signin, whose autofill request the
	// virtual authenticator would answer at once.
	evaluate[chromedp.Void](t, ctx, `fetch("/signout", {method: "POST"}).then(() => location.assign("/signin?autofill=off"))`)
	waitFor(t, ctx, `location.pathname === "/signin" && location.search === "?autofill=off" && document.readyState === "complete"`)

	inst.editPolicy(t, func(p *methods.Policy) {
		p.Passkey.Profiles[0].KeyRestriction = passkey.KeyRestriction{Mode: passkey.RestrictBlock, AAGUIDs: []string{model}}
	})
	browserPasskeySignIn(t, ctx, inst.URL)
	if msg := visibleErrorText(t, ctx); !strings.Contains(msg, "can no longer be used to sign in") || !strings.Contains(msg, "temporary access pass") {
		t.Errorf("the refusal shown: %q", msg)
	}
	if ev := inst.lastSignIn(t); ev.Reason != passkey.CodeModelBlocked || ev.UserID != alice.ID {
		t.Errorf("sign-in record: %+v", ev)
	}
	if n := len(inst.credentials(t, alice)); n != 1 {
		t.Fatalf("the blocked passkey was deleted (%d left)", n)
	}

	browserSignInWithTAP(t, ctx, inst.URL, "alice", inst.issueTAP(t, alice, 0, false))
	waitFor(t, ctx, `!!document.querySelector(".passkey.non-compliant[data-compliance=\"passkey_model_blocked\"] .non-compliant-badge")`)
	if msg := text(t, ctx, ".passkey.non-compliant .compliance"); !strings.Contains(msg, "blocked") {
		t.Errorf("the passkey's note: %q", msg)
	}
}

// TAP onboarding under a device-bound-only profile: a synced passkey is
// refused with a clear message, a device-bound one is accepted.
func TestBrowserDeviceBoundOnlyProfile(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) { p.Passkey.Profiles[0].Types = passkey.TypesDeviceBound })
	alice := inst.createUser(t, "alice", false)
	ctx := newTab(t)
	synced := addAuthenticator(t, ctx, true)
	browserSignInWithTAP(t, ctx, inst.URL, "alice", inst.issueTAP(t, alice, 0, false))
	if !exists(t, ctx, "#device-bound-hint") {
		t.Error("/my does not say that only device-bound passkeys are accepted")
	}
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#add-passkey")`)
	click(t, ctx, "#add-passkey")
	if msg := visibleErrorText(t, ctx); !strings.Contains(msg, "only device-bound passkeys") {
		t.Errorf("the refusal shown: %q", msg)
	}
	if n := len(inst.credentials(t, alice)); n != 0 {
		t.Fatalf("a synced passkey was stored under a device-bound-only profile")
	}
	removeAuthenticator(t, ctx, synced)
	addAuthenticator(t, ctx, false)
	navigate(t, ctx, inst.URL+"/my")
	browserAddPasskey(t, ctx, "")
	if rows := waitRows(t, ctx, 1); rows[0].Type != "Device-bound" {
		t.Errorf("registered %+v", rows[0])
	}
}

// The registration campaign in the browser: the prompt after sign-in,
// "Not now", and adding a passkey from the prompt.
func TestBrowserRegistrationCampaign(t *testing.T) {
	requireBrowser(t)
	inst := startSesame(t, sesameOptions{})
	inst.editPolicy(t, func(p *methods.Policy) {
		p.Campaign = methods.Campaign{Enabled: true, Scope: scope.All(), SnoozeDays: 1, SnoozesAllowed: 1}
	})
	alice := inst.createUser(t, "alice", false)
	pass := inst.issueTAP(t, alice, 7*24*time.Hour, false)
	ctx := newTab(t)
	addAuthenticator(t, ctx, false)

	signIn := func() {
		navigate(t, ctx, inst.URL+"/signin/tap")
		setValue(t, ctx, "#username", "alice")
		setValue(t, ctx, "#pass", pass)
		click(t, ctx, "#tap-submit")
	}
	signIn()
	waitPage(t, ctx, "/my/add-passkey")
	if got := text(t, ctx, "#snoozes-left"); !strings.Contains(got, "1 more time") {
		t.Errorf("snoozes left: %q", got)
	}
	click(t, ctx, "#snooze")
	waitPage(t, ctx, "/my")

	inst.clock.Advance(25 * time.Hour)
	signIn()
	waitPage(t, ctx, "/my/add-passkey")
	if !exists(t, ctx, "#prompt-required") || exists(t, ctx, "#snooze") {
		t.Errorf("with no snooze left the prompt still offers one")
	}
	waitFor(t, ctx, `document.readyState === "complete" && !!document.querySelector("#add-passkey")`)
	click(t, ctx, "#add-passkey")
	waitFor(t, ctx, `location.pathname === "/my" && location.search.includes("notice=added")`)
	if n := len(inst.credentials(t, alice)); n != 1 {
		t.Fatalf("%d passkeys after adding one from the prompt", n)
	}
	actions := strings.Join(inst.auditActions(t), " ")
	for _, want := range []string{"campaign.shown", "campaign.snoozed", "campaign.registered"} {
		if !strings.Contains(actions, want) {
			t.Errorf("the audit log lacks %s: %s", want, actions)
		}
	}
}
