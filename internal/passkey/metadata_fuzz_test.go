package passkey

import (
	"crypto/x509"
	"testing"
	"time"
)

func FuzzParseMDS(f *testing.F) {
	f.Add([]byte("a.b.c"))
	f.Add([]byte("eyJhbGciOiJFUzI1NiIsIng1YyI6WyJBQUFBIl19.e30.AAAA"))
	f.Add([]byte(""))
	root := &x509.Certificate{}
	f.Fuzz(func(t *testing.T, blob []byte) {
		md, _, err := ParseMDS(blob, MDSOptions{Roots: []*x509.Certificate{root}}, time.Now())
		if err == nil || md != nil {
			t.Fatalf("an unsigned blob was accepted: %v", md)
		}
	})
}

func FuzzCheckAttestation(f *testing.F) {
	f.Add("packed", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, []byte{1, 2, 3})
	f.Add("none", []byte(nil), []byte(nil))
	md := &Metadata{Entries: []MetadataEntry{{AAGUID: "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa", Roots: [][]byte{{1}}}}}
	f.Fuzz(func(t *testing.T, format string, cert, aaguid []byte) {
		f := AttestationFacts{Format: format, AAGUID: aaguid}
		if cert != nil {
			f.X5C = [][]byte{cert}
		}
		if res := CheckAttestation(f, md, time.Now()); res.Trusted {
			t.Fatalf("garbage trusted: %+v", res)
		}
	})
}
