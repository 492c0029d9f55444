package passkey

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/methods/scope"
)

// attestationWorld is a vendor with two models and a loaded BLOB.
type attestationWorld struct {
	vendor, vendorInter *testCA
	md                  *Metadata
}

func newAttestationWorld(t *testing.T) attestationWorld {
	t.Helper()
	mdsRoot := newRootCA(t, "Test MDS Root")
	signer := mdsRoot.signerCert(t, "mds.example.test")
	vendor := newRootCA(t, "Vendor Attestation Root")
	blob := signBlob(t, signer, []*x509.Certificate{signer.cert}, 7,
		mdsEntryJSON(modelA, "Test Key A", []*x509.Certificate{vendor.cert}),
		mdsEntryJSON(modelB, "Test Key B", []*x509.Certificate{vendor.cert},
			map[string]any{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01"},
			map[string]any{"status": "REVOKED", "effectiveDate": "2025-06-01"}),
	)
	md, _, err := ParseMDS(blob, MDSOptions{Roots: []*x509.Certificate{mdsRoot.cert}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return attestationWorld{vendor: vendor, vendorInter: vendor.intermediate(t, "Vendor Batch CA"), md: md}
}

// The whole path: a registration ceremony verified by go-webauthn (the
// attestation signature), then the trust decision against the BLOB.
func TestAttestationCeremonies(t *testing.T) {
	w := newAttestationWorld(t)
	rp := testRP(t)
	a, b := mustAAGUID(t, modelA), mustAAGUID(t, modelB)
	stranger := newRootCA(t, "Unknown Vendor")
	tests := []struct {
		name    string
		auth    authenticator
		trusted bool
		reason  string
	}{
		{"packed, chain to the model's root", authenticator{aaguid: a, attest: w.vendor.attestationCert(t, a)}, true, `model "Test Key A"`},
		{"packed via an intermediate", authenticator{aaguid: a, attest: w.vendorInter.attestationCert(t, a), chain: []*x509.Certificate{w.vendorInter.cert}}, true, "chains to"},
		{"packed without AAGUID extension", authenticator{aaguid: a, attest: w.vendor.attestationCert(t, nil)}, true, ""},
		{"no attestation", authenticator{aaguid: a}, false, "sent no attestation"},
		{"self attestation", authenticator{aaguid: a, selfAttest: true}, false, "self attestation"},
		{"revoked model", authenticator{aaguid: b, attest: w.vendor.attestationCert(t, b)}, false, "status REVOKED since 2025-06-01"},
		{"model not in the BLOB", authenticator{aaguid: mustAAGUID(t, yubikey5), attest: w.vendor.attestationCert(t, mustAAGUID(t, yubikey5))}, false, "not in the loaded metadata"},
		{"undisclosed model", authenticator{attest: w.vendor.attestationCert(t, nil)}, false, "does not disclose its model"},
		{"chain to another vendor's root", authenticator{aaguid: a, attest: stranger.attestationCert(t, a)}, false, "does not chain to a root the metadata lists"},
		{"intermediate missing from x5c", authenticator{aaguid: a, attest: w.vendorInter.attestationCert(t, a)}, false, "does not chain"},
	}
	for _, tt := range tests {
		u, body, session := tt.auth.register(t, rp)
		cred, err := rp.FinishRegistration(u, nil, session, body)
		if err != nil {
			t.Errorf("%s: the ceremony failed before attestation trust: %v", tt.name, err)
			continue
		}
		f, err := AttestationFactsFromResponse(body)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if f.Format != cred.AttestationFormat {
			t.Errorf("%s: facts format %q, credential %q", tt.name, f.Format, cred.AttestationFormat)
		}
		res := CheckAttestation(f, w.md, time.Now())
		if res.Trusted != tt.trusted || !strings.Contains(res.Reason, tt.reason) {
			t.Errorf("%s: CheckAttestation = %+v; want trusted %v, reason containing %q", tt.name, res, tt.trusted, tt.reason)
		}
		// Under a profile that enforces attestation, exactly the trusted
		// registrations are accepted (fail closed).
		enforced := []Profile{{Name: "verified keys", Scope: scope.All(), Types: TypesBoth, AttestationEnforced: true}}
		facts := FactsOf(cred)
		facts.Registration, facts.AttestationTrusted, facts.AttestationReason = true, res.Trusted, res.Reason
		if v := CheckCompliance(enforced, nil, facts); v.OK != tt.trusted || !v.OK && v.Code != CodeAttestationRequired {
			t.Errorf("%s: enforced profile verdict %+v", tt.name, v)
		}
	}
}

// A forged attestation (signed by a key other than the certificate's) never
// reaches the trust decision: the ceremony itself refuses it.
func TestForgedAttestationRefusedByCeremony(t *testing.T) {
	w := newAttestationWorld(t)
	rp := testRP(t)
	a := mustAAGUID(t, modelA)
	good := w.vendor.attestationCert(t, a)
	forged := &testCA{cert: good.cert, key: newKey(t)}
	u, body, session := authenticator{aaguid: a, attest: forged}.register(t, rp)
	if _, err := rp.FinishRegistration(u, nil, session, body); err == nil {
		t.Fatal("a forged attestation signature was accepted")
	}
	// Nor can a certificate for another model be reused.
	u, body, session = authenticator{aaguid: a, attest: w.vendor.attestationCert(t, mustAAGUID(t, modelB))}.register(t, rp)
	if _, err := rp.FinishRegistration(u, nil, session, body); err == nil {
		t.Fatal("an attestation certificate of another model was accepted")
	}
}

func TestCheckAttestationEdges(t *testing.T) {
	w := newAttestationWorld(t)
	a := mustAAGUID(t, modelA)
	cert := w.vendor.attestationCert(t, a)
	ok := AttestationFacts{Format: "packed", X5C: [][]byte{cert.cert.Raw}, AAGUID: a}
	now := time.Now()
	tests := []struct {
		name   string
		f      AttestationFacts
		md     *Metadata
		at     time.Time
		reason string
	}{
		{"no metadata loaded", ok, nil, now, "no authenticator metadata is loaded"},
		{"empty metadata", ok, &Metadata{}, now, "no authenticator metadata is loaded"},
		{"empty format", AttestationFacts{AAGUID: a}, w.md, now, "sent no attestation"},
		{"garbage certificate", AttestationFacts{Format: "packed", X5C: [][]byte{{1, 2, 3}}, AAGUID: a}, w.md, now, "cannot be read"},
		{"certificate for another model", AttestationFacts{Format: "packed", X5C: [][]byte{w.vendor.attestationCert(t, mustAAGUID(t, modelB)).cert.Raw}, AAGUID: a}, w.md, now, "is for model " + modelB},
		{"expired certificate", ok, w.md, now.Add(3 * 365 * 24 * time.Hour), "does not chain"},
	}
	for _, tt := range tests {
		res := CheckAttestation(tt.f, tt.md, tt.at)
		if res.Trusted || !strings.Contains(res.Reason, tt.reason) {
			t.Errorf("%s: %+v; want untrusted containing %q", tt.name, res, tt.reason)
		}
	}
	if res := CheckAttestation(ok, w.md, now); !res.Trusted || res.Model != "Test Key A" {
		t.Errorf("baseline %+v", res)
	}

	// Status reports: in effect by date; scoped to a certificate when they name one.
	md := *w.md
	md.Entries = append([]MetadataEntry(nil), w.md.Entries...)
	entry := &md.Entries[0]
	other := w.vendor.attestationCert(t, a)
	for _, tt := range []struct {
		name    string
		reports []StatusReport
		trusted bool
	}{
		{"certified", []StatusReport{{Status: "FIDO_CERTIFIED_L2"}}, true},
		{"compromise in the future", []StatusReport{{Status: "ATTESTATION_KEY_COMPROMISE", EffectiveDate: "2999-01-01"}}, true},
		{"compromise sunset", []StatusReport{{Status: "USER_KEY_PHYSICAL_COMPROMISE", EffectiveDate: "2020-01-01", SunsetDate: "2021-01-01"}}, true},
		{"compromise in effect", []StatusReport{{Status: "USER_VERIFICATION_BYPASS", EffectiveDate: "2020-01-01"}}, false},
		{"compromise of this batch", []StatusReport{{Status: "ATTESTATION_KEY_COMPROMISE", Certificate: cert.cert.Raw}}, false},
		{"compromise of another batch", []StatusReport{{Status: "ATTESTATION_KEY_COMPROMISE", Certificate: other.cert.Raw}}, true},
		{"revoked after certification", []StatusReport{{Status: "FIDO_CERTIFIED_L1", EffectiveDate: "2020-01-01"}, {Status: "REVOKED", EffectiveDate: "2021-01-01"}}, false},
	} {
		entry.Status = tt.reports
		if res := CheckAttestation(ok, &md, now); res.Trusted != tt.trusted {
			t.Errorf("%s: %+v", tt.name, res)
		}
	}
	entry.Status, entry.Roots = nil, nil
	if res := CheckAttestation(ok, &md, now); res.Trusted || !strings.Contains(res.Reason, "no attestation root") {
		t.Errorf("entry without roots: %+v", res)
	}
}

func TestAttestationFactsFromResponseMalformed(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"id":"x","type":"public-key","response":{"attestationObject":"!!"}}`} {
		if _, err := AttestationFactsFromResponse([]byte(body)); err == nil {
			t.Errorf("AttestationFactsFromResponse(%q) accepted", body)
		}
	}
}
