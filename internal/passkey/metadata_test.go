package passkey

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

const (
	modelA = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
	modelB = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"
)

func TestParseMDS(t *testing.T) {
	now := time.Now()
	root := newRootCA(t, "Test MDS Root")
	inter := root.intermediate(t, "Test MDS Intermediate")
	signer := inter.signerCert(t, "mds.example.test")
	vendor := newRootCA(t, "Vendor Attestation Root")
	otherRoot := newRootCA(t, "Someone Else")
	entries := []map[string]any{
		mdsEntryJSON(strings.ToUpper(modelA), "Test Key A", []*x509.Certificate{vendor.cert}),
		mdsEntryJSON(modelB, "Test Key B", []*x509.Certificate{vendor.cert}, map[string]any{"status": "REVOKED", "effectiveDate": "2025-06-01"}),
		{"aaid": "4e4e#4005", "metadataStatement": map[string]any{"description": "UAF thing"}, "timeOfLastStatusChange": "2024-01-01"},
		mdsEntryJSON("not-a-guid", "Broken", nil),
	}
	good := signBlob(t, signer, []*x509.Certificate{signer.cert, inter.cert}, 42, entries...)
	opts := MDSOptions{Roots: []*x509.Certificate{root.cert}}

	md, warnings, err := ParseMDS(good, opts, now)
	if err != nil {
		t.Fatal(err)
	}
	if md.Number != 42 || md.NextUpdate != "2026-12-01" || !strings.Contains(md.Signer, "mds.example.test") || len(md.Entries) != 2 {
		t.Fatalf("parsed %+v", md)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not-a-guid") {
		t.Errorf("warnings %v", warnings)
	}
	a, ok := md.ByAAGUID(mustAAGUID(t, modelA))
	if !ok || a.Name != "Test Key A" || len(a.Roots) != 1 || a.AAGUID != modelA {
		t.Errorf("entry A %+v", a)
	}
	if b, _ := md.ByAAGUID(mustAAGUID(t, modelB)); b == nil || b.Status[0].Status != "REVOKED" {
		t.Errorf("entry B %+v", b)
	}
	if md.ModelName(mustAAGUID(t, modelA)) != "Test Key A" || md.ModelName(mustAAGUID(t, yubikey5)) != "YubiKey 5 Series" {
		t.Error("ModelName")
	}
	if _, _, err := ParseMDS(good, MDSOptions{Roots: opts.Roots, SignerNames: []string{"mds.example.test"}}, now); err != nil {
		t.Errorf("matching signer name: %v", err)
	}

	// Tampering with any part of the JWS breaks it.
	parts := strings.Split(string(good), ".")
	otherPayload := strings.Split(string(signBlob(t, signer, []*x509.Certificate{signer.cert, inter.cert}, 43, entries...)), ".")[1]
	rogueSigner := otherRoot.signerCert(t, "mds.example.test")
	tests := []struct {
		name string
		blob []byte
		opts MDSOptions
		err  string
	}{
		{"not a JWT", []byte("<html>"), opts, "not a JWT"},
		{"swapped payload", []byte(parts[0] + "." + otherPayload + "." + parts[2]), opts, "does not verify"},
		{"signed under another root", signBlob(t, rogueSigner, []*x509.Certificate{rogueSigner.cert}, 42, entries...), opts, "does not chain"},
		{"default FIDO root", good, MDSOptions{}, "does not chain"},
		{"missing intermediate", signBlob(t, signer, []*x509.Certificate{signer.cert}, 42, entries...), opts, "does not chain"},
		{"wrong signer name", good, MDSOptions{Roots: opts.Roots, SignerNames: FIDOSignerNames}, "is not for mds.fidoalliance.org"},
		{"expired chain", good, MDSOptions{Roots: opts.Roots}, ""},
		{"no x5c", []byte(strings.Replace(string(good), parts[0], "eyJhbGciOiJFUzI1NiJ9", 1)), opts, "no x5c"},
		{"alg none", []byte("eyJhbGciOiJub25lIn0." + parts[1] + "."), opts, `algorithm "none"`},
	}
	for _, tt := range tests {
		at := now
		if tt.name == "expired chain" {
			at = now.Add(2 * 365 * 24 * time.Hour)
			tt.err = "does not chain"
		}
		_, _, err := ParseMDS(tt.blob, tt.opts, at)
		if err == nil || !errors.Is(err, ErrMDS) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: ParseMDS = %v; want ErrMDS containing %q", tt.name, err, tt.err)
		}
	}
	if len(DefaultMDSRoots()) != 1 || !strings.Contains(DefaultMDSRoots()[0].Subject.CommonName, "GlobalSign") {
		t.Error("embedded FIDO root")
	}
}

func TestMetadataStore(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms := &MetadataStore{Store: st, Now: time.Now}
	if md, err := ms.Load(ctx); md != nil || err != nil {
		t.Fatalf("nothing loaded: %v %v", md, err)
	}
	md := &Metadata{Number: 5, NextUpdate: "2026-12-01", Entries: []MetadataEntry{{AAGUID: modelA, Name: "A"}}}
	if err := ms.Save(ctx, audit.CLI, md, false); err != nil {
		t.Fatal(err)
	}
	got, err := ms.Load(ctx)
	if err != nil || got.Number != 5 || len(got.Entries) != 1 || got.LoadedBy != "cli" {
		t.Fatalf("loaded %+v %v", got, err)
	}
	older := &Metadata{Number: 4, NextUpdate: "2026-11-01"}
	if err := ms.Save(ctx, audit.CLI, older, false); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("rollback accepted: %v", err)
	}
	if err := ms.Save(ctx, audit.CLI, older, true); err != nil {
		t.Errorf("forced rollback: %v", err)
	}
	events, _ := st.ListAudit(ctx, 5)
	if len(events) != 2 || events[0].Action != "metadata.load" || !strings.Contains(events[0].Detail, `"previous_no":5`) {
		t.Errorf("audit %+v", events)
	}
}
