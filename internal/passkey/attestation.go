package passkey

// Attestation trust: whether a new passkey comes from an authenticator
// model the loaded FIDO metadata vouches for. Enforcement fails closed: no
// attestation, self attestation, an unknown model, a broken chain or a
// revoked model is "not trusted", never waved through.

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // RFC 5280 key identifier, not a security use
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
)

// AttestationFacts are what a registration response says about its
// authenticator, read by AttestationFactsFromResponse.
type AttestationFacts struct {
	Format string   // "none", "packed", "tpm", "fido-u2f", ...
	X5C    [][]byte // attestation certificate chain, DER, leaf first; empty for none and self attestation
	AAGUID []byte
}

// AttestationFactsFromResponse reads the attestation of a registration
// response body (the JSON the browser sent). It does not verify the
// attestation signature: call it on a body that RP.FinishRegistration
// accepted, which verified that signature over the new credential.
func AttestationFactsFromResponse(body []byte) (AttestationFacts, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return AttestationFacts{}, ErrMalformed.WithDetail("%s", libraryDetail(err))
	}
	att := parsed.Response.AttestationObject
	f := AttestationFacts{Format: att.Format, AAGUID: att.AuthData.AttData.AAGUID}
	if f.Format == "" {
		f.Format = "none"
	}
	if x5c, ok := att.AttStatement["x5c"].([]any); ok {
		for _, c := range x5c {
			der, ok := c.([]byte)
			if !ok {
				return AttestationFacts{}, ErrMalformed.WithDetail("x5c holds a %T, not a certificate", c)
			}
			f.X5C = append(f.X5C, der)
		}
	}
	return f, nil
}

// AttestationResult is the trust decision about a registration.
type AttestationResult struct {
	Trusted bool
	Reason  string // why not trusted, or which model and root it chained to
	Model   string // the model's name from the metadata, when found
}

// idFidoGenCeAAGUID is the certificate extension holding the AAGUID.
var idFidoGenCeAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// CheckAttestation decides whether the attestation f is trusted under the
// loaded metadata md at now: the chain verifies to an attestation root of
// the model's entry, the model has no revoked or compromised status report
// in effect, and the AAGUID in the certificate (when it carries one)
// matches the authenticator data. It assumes the attestation signature was
// verified (see AttestationFactsFromResponse).
func CheckAttestation(f AttestationFacts, md *Metadata, now time.Time) AttestationResult {
	no := func(format string, args ...any) AttestationResult {
		return AttestationResult{Reason: fmt.Sprintf(format, args...)}
	}
	if md == nil || len(md.Entries) == 0 {
		return no("no authenticator metadata is loaded (sesame metadata load FILE)")
	}
	if f.Format == "" || f.Format == "none" {
		return no("the authenticator sent no attestation")
	}
	if len(f.X5C) == 0 {
		return no("the authenticator attested itself (%s self attestation), which proves nothing about its model", f.Format)
	}
	chain := make([]*x509.Certificate, 0, len(f.X5C))
	for i, der := range f.X5C {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return no("attestation certificate %d cannot be read: %v", i+1, err)
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	if certAAGUID, ok, err := certificateAAGUID(leaf); err != nil {
		return no("the attestation certificate's AAGUID extension cannot be read: %v", err)
	} else if ok && !bytes.Equal(certAAGUID, f.AAGUID) {
		return no("the attestation certificate is for model %s but the passkey claims %s", FormatAAGUID(certAAGUID), FormatAAGUID(f.AAGUID))
	}
	entry, found := md.ByAAGUID(f.AAGUID)
	if !found && isZero(f.AAGUID) {
		entry, found = md.ByKeyID(keyIdentifiers(leaf))
	}
	if !found {
		if isZero(f.AAGUID) || len(f.AAGUID) != 16 {
			return no("the authenticator does not disclose its model and its attestation key is not in the metadata")
		}
		return no("model %s is not in the loaded metadata", FormatAAGUID(f.AAGUID))
	}
	res := AttestationResult{Model: entry.Name}
	for _, r := range entry.Status {
		if !slices.Contains(untrustedStatuses, r.Status) || !r.InEffect(now) {
			continue
		}
		if len(r.Certificate) > 0 && !slices.ContainsFunc(chain, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, r.Certificate) }) {
			continue // about another batch of this model
		}
		res.Reason = fmt.Sprintf("model %s has status %s", modelLabel(entry), r.Status)
		if r.EffectiveDate != "" {
			res.Reason += " since " + r.EffectiveDate
		}
		return res
	}
	if len(entry.Roots) == 0 {
		res.Reason = fmt.Sprintf("the metadata lists no attestation root for model %s", modelLabel(entry))
		return res
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, der := range entry.Roots {
		if c, err := x509.ParseCertificate(der); err == nil {
			roots.AddCert(c)
		}
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	verified, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		res.Reason = fmt.Sprintf("the attestation certificate does not chain to a root the metadata lists for model %s: %v", modelLabel(entry), err)
		return res
	}
	root := verified[0][len(verified[0])-1]
	res.Trusted = true
	res.Reason = fmt.Sprintf("model %s, attested by %q, chains to %q", modelLabel(entry), leaf.Subject.CommonName, root.Subject.CommonName)
	return res
}

func modelLabel(e *MetadataEntry) string {
	id := e.AAGUID
	if id == "" && len(e.KeyIDs) > 0 {
		id = "key " + e.KeyIDs[0]
	}
	if e.Name == "" {
		return id
	}
	return fmt.Sprintf("%q (%s)", e.Name, id)
}

// certificateAAGUID reads the id-fido-gen-ce-aaguid extension (an OCTET
// STRING of 16 bytes inside the extension value).
func certificateAAGUID(c *x509.Certificate) ([]byte, bool, error) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(idFidoGenCeAAGUID) {
			continue
		}
		var v []byte
		if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) > 0 || len(v) != 16 {
			return nil, false, fmt.Errorf("malformed AAGUID extension")
		}
		return v, true, nil
	}
	return nil, false, nil
}

// keyIdentifiers are the hex identifiers MDS uses for U2F attestation keys:
// the subject key identifier, and the SHA-1 of the public key (RFC 5280
// method 1).
func keyIdentifiers(c *x509.Certificate) []string {
	var ids []string
	if len(c.SubjectKeyId) > 0 {
		ids = append(ids, hex.EncodeToString(c.SubjectKeyId))
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err == nil {
		sum := sha1.Sum(spki.PublicKey.Bytes) //nolint:gosec
		ids = append(ids, hex.EncodeToString(sum[:]))
	}
	return ids
}
