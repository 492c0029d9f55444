package samlidp

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crewjam/saml"

	"github.com/sesame-idp/sesame/internal/oidc"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

const goodMetadata = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://wiki.example.com/saml">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://wiki.example.com/acs" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`

func TestParseSPMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, xml string
		ok        bool
	}{
		{"valid", goodMetadata, true},
		{"loopback http ACS", strings.Replace(goodMetadata, "https://wiki.example.com/acs", "http://localhost:9/acs", 1), true},
		{"no entity ID", strings.Replace(goodMetadata, `entityID="https://wiki.example.com/saml"`, "", 1), false},
		{"plain http ACS", strings.Replace(goodMetadata, "https://wiki.example.com/acs", "http://wiki.example.com/acs", 1), false},
		{"only a redirect ACS", strings.Replace(goodMetadata, "HTTP-POST", "HTTP-Redirect", 1), false},
		{"not XML", "<EntityDescriptor", false},
		{"empty", "", false},
		{"too big", goodMetadata + strings.Repeat(" ", maxMetadata), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ed, err := ParseSPMetadata([]byte(tc.xml))
			if tc.ok && (err != nil || ed.EntityID != "https://wiki.example.com/saml") {
				t.Fatalf("want accepted, got %v", err)
			}
			if !tc.ok && (err == nil || problem.As(err).Code != ErrMetadata.Code) {
				t.Fatalf("want bad_saml_metadata, got %v", err)
			}
		})
	}
}

func TestBuildMetadataRoundTrip(t *testing.T) {
	md, err := buildMetadata("urn:wiki", "https://wiki.example.com/acs")
	if err != nil {
		t.Fatal(err)
	}
	ed, err := ParseSPMetadata(md)
	if err != nil {
		t.Fatalf("built metadata does not parse: %v\n%s", err, md)
	}
	a := appFrom(store.SAMLApp{Name: "wiki", EntityID: ed.EntityID, Metadata: md})
	if a.EntityID != "urn:wiki" || len(a.ACSURLs) != 1 || a.ACSURLs[0] != "https://wiki.example.com/acs" || a.SignsRequest {
		t.Errorf("app = %+v", a)
	}
}

func TestValidURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://sp.example.com/acs": true, "http://localhost:8080/acs": true, "http://127.0.0.1/acs": true,
		"http://sp.example.com/acs": false, "ftp://sp.example.com": false, "https://user@sp.example.com/": false,
		"https://sp.example.com/#frag": false, "/relative": false, "": false,
	} {
		if got := validURL(raw); got != want {
			t.Errorf("validURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestClassRefs(t *testing.T) {
	seen := map[string]bool{}
	for _, acr := range oidc.ACRValues {
		c := ClassRef(acr)
		if c == "" || seen[c] {
			t.Errorf("acr %q: class %q is empty or shared", acr, c)
		}
		seen[c] = true
	}
	if ClassRef("unknown") != "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified" {
		t.Error("an unknown acr must assert unspecified")
	}
	// An SP asking for the device-bound class asks for phrh; the password
	// class is never a requirement (SPs ask for it out of habit).
	req := &saml.IdpAuthnRequest{Request: saml.AuthnRequest{RequestedAuthnContext: &saml.RequestedAuthnContext{
		Comparison: "minimum", AuthnContextClassRef: ClassRef(oidc.ACRPhishingResistantHardware)}}}
	if got := requestedACRs(req); len(got) != 1 || got[0] != oidc.ACRPhishingResistantHardware {
		t.Errorf("requestedACRs = %v", got)
	}
	req.Request.RequestedAuthnContext.AuthnContextClassRef = ClassRef(oidc.ACRPassword)
	if got := requestedACRs(req); len(got) != 0 {
		t.Errorf("PasswordProtectedTransport became a requirement: %v", got)
	}
}

func TestNameIDs(t *testing.T) {
	p := &IdP{pairwise: bytes.Repeat([]byte{7}, 32)}
	u := store.User{ID: "u1", Email: "ada@example.org"}
	v, f, err := p.nameID(FormatEmail, "sp1", u)
	if err != nil || v != "ada@example.org" || f != string(saml.EmailAddressNameIDFormat) {
		t.Errorf("email NameID = %q %q %v", v, f, err)
	}
	a1, f, _ := p.nameID(FormatPersistent, "sp1", u)
	a2, _, _ := p.nameID(FormatPersistent, "sp1", u)
	b, _, _ := p.nameID(FormatPersistent, "sp2", u)
	other, _, _ := p.nameID(FormatPersistent, "sp1", store.User{ID: "u2"})
	if a1 != a2 || a1 == b || a1 == other || strings.Contains(a1, "u1") || f != string(saml.PersistentNameIDFormat) {
		t.Errorf("persistent NameIDs: same SP %q/%q, other SP %q, other user %q", a1, a2, b, other)
	}
	if _, _, err := p.nameID(FormatEmail, "sp1", store.User{ID: "u3"}); err == nil {
		t.Error("an email NameID for a user without an email was made")
	}
	for format, want := range map[string]string{
		string(saml.EmailAddressNameIDFormat): FormatEmail, string(saml.PersistentNameIDFormat): FormatPersistent,
		string(saml.TransientNameIDFormat): "", "": "",
	} {
		f := format
		req := &saml.IdpAuthnRequest{Request: saml.AuthnRequest{NameIDPolicy: &saml.NameIDPolicy{Format: &f}}}
		if got := requestedFormat(req); got != want {
			t.Errorf("requestedFormat(%q) = %q, want %q", format, got, want)
		}
	}
}

// Instances starting at once on one database sign with one key.
func TestOneSigningKeyAcrossInstances(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sesame.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kek, pw := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	const n = 4
	certs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := New(Config{BaseURL: "https://login.example.com", Store: st, Apps: st, KeyEncryptionKey: kek, PairwiseKey: pw})
			if err != nil {
				t.Error(err)
				return
			}
			idp, err := p.provider(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			certs[i] = idp.Certificate.Raw
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(certs[i], certs[0]) {
			t.Fatalf("instance %d signs with another certificate than instance 0", i)
		}
	}
	// The key is sealed with the key-encryption key: another one cannot open it.
	p, _ := New(Config{BaseURL: "https://login.example.com", Store: st, Apps: st, KeyEncryptionKey: bytes.Repeat([]byte{9}, 32), PairwiseKey: pw})
	if _, _, err := p.signingKey(context.Background()); err == nil || !strings.Contains(err.Error(), "server secret") {
		t.Errorf("a wrong key-encryption key: %v", err)
	}
}
