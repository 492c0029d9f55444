package passkey

// FIDO Metadata Service (MDS3): the admin loads a metadata BLOB from a file
// (`sesame metadata load FILE`; Sesame never fetches it), it is verified
// against the BLOB signing root and the parts attestation checks need are
// kept in the store as one document.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// MetadataKey is the settings key of the loaded metadata.
const MetadataKey = "passkey/metadata"

// MetadataSchema is the version of the stored metadata document.
const MetadataSchema = 1

// Metadata is what Sesame keeps of a verified MDS3 BLOB.
type Metadata struct {
	Schema     int             `json:"schema"`
	Number     int             `json:"no"`          // the BLOB's serial number, increasing
	NextUpdate string          `json:"next_update"` // YYYY-MM-DD: a newer BLOB is due then
	Signer     string          `json:"signer"`      // subject of the certificate that signed it
	LoadedAt   time.Time       `json:"loaded_at"`
	LoadedBy   string          `json:"loaded_by,omitempty"`
	Entries    []MetadataEntry `json:"entries"`
}

// MetadataEntry is one authenticator model.
type MetadataEntry struct {
	AAGUID           string         `json:"aaguid,omitempty"`  // canonical; FIDO2 models
	KeyIDs           []string       `json:"key_ids,omitempty"` // hex attestation key identifiers; U2F models
	Name             string         `json:"name"`
	AttestationTypes []string       `json:"attestation_types,omitempty"`
	Roots            [][]byte       `json:"roots"` // DER attestation root certificates
	Status           []StatusReport `json:"status,omitempty"`
}

// StatusReport is one MDS status report of a model.
type StatusReport struct {
	Status        string `json:"status"`
	EffectiveDate string `json:"effective_date,omitempty"` // YYYY-MM-DD
	SunsetDate    string `json:"sunset_date,omitempty"`
	// Certificate, when set, limits the report to attestations whose chain
	// contains this (DER) certificate, e.g. one compromised batch.
	Certificate []byte `json:"certificate,omitempty"`
}

// Statuses that make an authenticator untrustworthy while in effect.
var untrustedStatuses = []string{
	string(metadata.Revoked),
	string(metadata.AttestationKeyCompromise),
	string(metadata.UserVerificationBypass),
	string(metadata.UserKeyRemoteCompromise),
	string(metadata.UserKeyPhysicalCompromise),
}

// InEffect reports whether the report applies at now.
func (r StatusReport) InEffect(now time.Time) bool {
	day := now.UTC().Format(time.DateOnly)
	if r.EffectiveDate != "" && r.EffectiveDate > day {
		return false
	}
	if r.SunsetDate != "" && r.SunsetDate <= day {
		return false
	}
	return true
}

// ByAAGUID finds the entry of a model.
func (m *Metadata) ByAAGUID(aaguid []byte) (*MetadataEntry, bool) {
	a := FormatAAGUID(aaguid)
	if m == nil || a == "" || isZero(aaguid) {
		return nil, false
	}
	for i := range m.Entries {
		if m.Entries[i].AAGUID == a {
			return &m.Entries[i], true
		}
	}
	return nil, false
}

// ByKeyID finds the entry listing an attestation key identifier.
func (m *Metadata) ByKeyID(ids []string) (*MetadataEntry, bool) {
	if m == nil {
		return nil, false
	}
	for i := range m.Entries {
		for _, id := range ids {
			if slices.Contains(m.Entries[i].KeyIDs, id) {
				return &m.Entries[i], true
			}
		}
	}
	return nil, false
}

// ModelName names a model from the loaded metadata, falling back to the
// built-in table.
func (m *Metadata) ModelName(aaguid []byte) string {
	if name := ModelName(aaguid); name != UnknownModelName {
		return name
	}
	if e, ok := m.ByAAGUID(aaguid); ok && e.Name != "" {
		return e.Name
	}
	return UnknownModelName
}

// MDSOptions say what a BLOB must chain to.
type MDSOptions struct {
	// Roots are the trust anchors; empty means the FIDO Alliance's
	// (DefaultMDSRoots).
	Roots []*x509.Certificate
	// SignerNames, when set, must include a DNS name of the signing
	// certificate. With the FIDO roots, which are a public web CA's, this
	// is what stops any certificate that CA issued from signing a BLOB.
	SignerNames []string
}

// FIDOSignerNames are the names the FIDO Alliance signs BLOBs under.
var FIDOSignerNames = []string{"mds.fidoalliance.org", "mds3.fidoalliance.org"}

// DefaultMDSRoots returns the FIDO MDS3 BLOB signing root (GlobalSign Root
// R46, as go-webauthn ships it).
func DefaultMDSRoots() []*x509.Certificate {
	der, err := base64.StdEncoding.DecodeString(metadata.ProductionMDSRoot)
	if err != nil {
		panic("sesame: embedded MDS root: " + err.Error())
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic("sesame: embedded MDS root: " + err.Error())
	}
	return []*x509.Certificate{c}
}

// Errors of ParseMDS wrap ErrMDS.
var ErrMDS = errors.New("metadata BLOB refused")

// maxMDSBlob bounds a BLOB file (the FIDO one is a few megabytes).
const maxMDSBlob = 64 << 20

var mdsAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// ParseMDS verifies an MDS3 BLOB (a JWS in compact form whose x5c header
// chains to one of the roots, checked at now, with no network access: no
// CRL or OCSP fetching) and keeps what attestation checks need. warnings
// name entries that were skipped because they could not be read.
func ParseMDS(blob []byte, opt MDSOptions, now time.Time) (md *Metadata, warnings []string, err error) {
	if len(blob) > maxMDSBlob {
		return nil, nil, fmt.Errorf("%w: the file is larger than %d MiB", ErrMDS, maxMDSBlob>>20)
	}
	parts := strings.Split(string(bytes.TrimSpace(blob)), ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: it is not a JWT (three dot-separated parts); download the BLOB itself, not a web page", ErrMDS)
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
		X5U string   `json:"x5u"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("%w: unreadable header: %v", ErrMDS, err)
	}
	if !slices.Contains(mdsAlgorithms, header.Alg) {
		return nil, nil, fmt.Errorf("%w: signature algorithm %q is not accepted", ErrMDS, header.Alg)
	}
	if header.X5U != "" || len(header.X5C) == 0 {
		return nil, nil, fmt.Errorf("%w: the header carries no x5c certificate chain", ErrMDS)
	}
	chain := make([]*x509.Certificate, 0, len(header.X5C))
	for i, s := range header.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: x5c certificate %d is not base64: %v", ErrMDS, i+1, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: x5c certificate %d: %v", ErrMDS, i+1, err)
		}
		chain = append(chain, c)
	}
	roots := opt.Roots
	if len(roots) == 0 {
		roots = DefaultMDSRoots()
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	signer := chain[0]
	if _, err := signer.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, fmt.Errorf("%w: the signing certificate %q does not chain to the trusted root: %v", ErrMDS, signer.Subject.String(), err)
	}
	if len(opt.SignerNames) > 0 && !slices.ContainsFunc(opt.SignerNames, func(n string) bool { return signer.VerifyHostname(n) == nil }) {
		return nil, nil, fmt.Errorf("%w: the signing certificate %q is not for %s", ErrMDS, signer.Subject.String(), strings.Join(opt.SignerNames, " or "))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: unreadable signature", ErrMDS)
	}
	if err := jwt.GetSigningMethod(header.Alg).Verify(parts[0]+"."+parts[1], sig, signer.PublicKey); err != nil {
		return nil, nil, fmt.Errorf("%w: the signature does not verify: %v", ErrMDS, err)
	}
	var payload mdsPayload
	if err := decodeSegment(parts[1], &payload); err != nil {
		return nil, nil, fmt.Errorf("%w: unreadable payload: %v", ErrMDS, err)
	}
	if payload.Number <= 0 {
		return nil, nil, fmt.Errorf("%w: the payload has no serial number", ErrMDS)
	}
	if _, err := time.Parse(time.DateOnly, payload.NextUpdate); err != nil {
		return nil, nil, fmt.Errorf("%w: nextUpdate %q is not a date", ErrMDS, payload.NextUpdate)
	}
	md = &Metadata{Schema: MetadataSchema, Number: payload.Number, NextUpdate: payload.NextUpdate, Signer: signer.Subject.String()}
	for i, e := range payload.Entries {
		entry, err := e.convert()
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("entry %d (%s) skipped: %v", i+1, e.label(), err))
			continue
		}
		if entry.AAGUID == "" && len(entry.KeyIDs) == 0 {
			continue // UAF authenticators: not WebAuthn
		}
		md.Entries = append(md.Entries, entry)
	}
	return md, warnings, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// The parts of the MDS3 payload Sesame reads.
type mdsPayload struct {
	Number     int        `json:"no"`
	NextUpdate string     `json:"nextUpdate"`
	Entries    []mdsEntry `json:"entries"`
}

type mdsEntry struct {
	AAGUID string   `json:"aaguid"`
	KeyIDs []string `json:"attestationCertificateKeyIdentifiers"`
	Stmt   struct {
		Description      string   `json:"description"`
		AttestationTypes []string `json:"attestationTypes"`
		Roots            []string `json:"attestationRootCertificates"`
	} `json:"metadataStatement"`
	Status []struct {
		Status           string `json:"status"`
		EffectiveDate    string `json:"effectiveDate"`
		SunsetDate       string `json:"sunsetDate"`
		Certificate      string `json:"certificate"`
		BatchCertificate string `json:"batchCertificate"`
	} `json:"statusReports"`
}

func (e mdsEntry) label() string {
	if e.AAGUID != "" {
		return e.AAGUID
	}
	if e.Stmt.Description != "" {
		return e.Stmt.Description
	}
	return "no AAGUID"
}

func (e mdsEntry) convert() (MetadataEntry, error) {
	var out MetadataEntry
	if e.AAGUID != "" {
		b, err := ParseAAGUID(strings.ToLower(e.AAGUID))
		if err != nil {
			return out, err
		}
		out.AAGUID = FormatAAGUID(b)
	}
	for _, k := range e.KeyIDs {
		out.KeyIDs = append(out.KeyIDs, strings.ToLower(k))
	}
	out.Name = strings.TrimSpace(e.Stmt.Description)
	out.AttestationTypes = e.Stmt.AttestationTypes
	for i, r := range e.Stmt.Roots {
		der, err := base64.StdEncoding.DecodeString(r)
		if err != nil {
			return out, fmt.Errorf("attestation root %d is not base64", i+1)
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return out, fmt.Errorf("attestation root %d: %v", i+1, err)
		}
		out.Roots = append(out.Roots, der)
	}
	for i, s := range e.Status {
		r := StatusReport{Status: s.Status, EffectiveDate: s.EffectiveDate, SunsetDate: s.SunsetDate}
		for _, d := range []string{s.EffectiveDate, s.SunsetDate} {
			if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
				return out, fmt.Errorf("status report %d: %q is not a date", i+1, d)
			}
		}
		cert := s.Certificate
		if cert == "" {
			cert = s.BatchCertificate
		}
		if cert != "" {
			der, err := base64.StdEncoding.DecodeString(cert)
			if err != nil {
				return out, fmt.Errorf("status report %d: certificate is not base64", i+1)
			}
			r.Certificate = der
		}
		out.Status = append(out.Status, r)
	}
	return out, nil
}

// ErrOlderMetadata refuses a BLOB older than the one loaded.
var ErrOlderMetadata = problem.New(http.StatusConflict, "metadata_older",
	"This metadata BLOB is older than the one already loaded. Load the newer one, or force it if you mean to go back.")

// MetadataStore loads and saves the metadata document.
type MetadataStore struct {
	Store store.Store
	Now   func() time.Time
}

// Load returns the loaded metadata, or nil when none was loaded.
func (s *MetadataStore) Load(ctx context.Context) (*Metadata, error) {
	md, _, err := s.load(ctx)
	return md, err
}

// load also returns the stored bytes (nil when none), for the
// compare-and-set of Save.
func (s *MetadataStore) load(ctx context.Context) (*Metadata, []byte, error) {
	b, err := s.Store.GetSetting(ctx, MetadataKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var md Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, nil, fmt.Errorf("the stored authenticator metadata is damaged: %w", err)
	}
	if md.Schema > MetadataSchema {
		return nil, nil, fmt.Errorf("the stored authenticator metadata has schema %d, newer than this Sesame reads", md.Schema)
	}
	return &md, b, nil
}

// ErrMetadataChanged refuses a load that raced another one: the serial
// number check was made against metadata that has since been replaced.
var ErrMetadataChanged = problem.New(http.StatusConflict, "metadata_changed",
	"The authenticator metadata was changed by someone else meanwhile; reload and try again.")

// Save stores md, replacing what was loaded, and records it in the audit
// log. A BLOB with a lower serial number than the loaded one is refused
// (a rollback to metadata from before a revocation) unless force is set.
func (s *MetadataStore) Save(ctx context.Context, actor audit.Actor, md *Metadata, force bool) error {
	before, beforeRaw, err := s.load(ctx)
	if err != nil {
		return err
	}
	if before != nil && md.Number < before.Number && !force {
		return ErrOlderMetadata.WithDetail("loaded no %d, new no %d", before.Number, md.Number)
	}
	now := s.Now()
	md.Schema, md.LoadedAt, md.LoadedBy = MetadataSchema, now.UTC().Truncate(time.Millisecond), string(actor)
	b, err := json.Marshal(md)
	if err != nil {
		return err
	}
	if err := s.Store.SwapSetting(ctx, MetadataKey, beforeRaw, b); errors.Is(err, store.ErrConflict) {
		return ErrMetadataChanged
	} else if err != nil {
		return err
	}
	detail := map[string]any{"no": md.Number, "next_update": md.NextUpdate, "entries": len(md.Entries), "signer": md.Signer}
	if before != nil {
		detail["previous_no"] = before.Number
	}
	audit.Log(ctx, s.Store, now, actor, "metadata.load", "fido-mds", detail)
	return nil
}
