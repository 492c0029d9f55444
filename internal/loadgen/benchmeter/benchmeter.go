// Package benchmeter adds two figures to a Go benchmark's ns/op, so that
// the cost of a sign-in can be read off in the unit the performance aim
// uses (see docs/performance.md):
//
//   - cpu-ns/op: the CPU time of the whole process per operation (every
//     thread: the caller, the database driver, the garbage collector).
//     It is what a server pays and, unlike wall time, it hardly changes
//     when other processes compete for the cores.
//   - p256-verifies/op: that CPU time counted in raw ECDSA P-256
//     verifications of a SHA-256 digest, the least that checking an ES256
//     passkey's signature costs.
//
// Time spent with the timer stopped (through the Meter) is left out.
package benchmeter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"testing"
	"time"
)

// Meter measures one benchmark.
type Meter struct {
	b       *testing.B
	cpu     time.Duration
	started time.Duration
}

var (
	p256Once sync.Once
	p256CPU  time.Duration // CPU time of one verification
)

// Start begins measuring and reports allocations; call it just before the
// loop. The first call in a test binary times one P-256 verification: the
// best of five rounds of 500. (testing.Benchmark cannot be used for that:
// benchmarks do not nest.)
func Start(b *testing.B) *Meter {
	p256Once.Do(func() {
		if _, ok := processCPU(); !ok {
			return
		}
		pub, digest, sig := P256Signature(b)
		for range 5 {
			start, _ := processCPU()
			for range 500 {
				ecdsa.VerifyASN1(pub, digest, sig)
			}
			end, _ := processCPU()
			if d := (end - start) / 500; d > 0 && (p256CPU == 0 || d < p256CPU) {
				p256CPU = d
			}
		}
	})
	b.ReportAllocs()
	now, _ := processCPU()
	return &Meter{b: b, started: now}
}

// StopTimer stops the benchmark's timer and the CPU meter.
func (m *Meter) StopTimer() {
	m.b.StopTimer()
	now, _ := processCPU()
	m.cpu += now - m.started
}

// StartTimer starts them again.
func (m *Meter) StartTimer() {
	m.started, _ = processCPU()
	m.b.StartTimer()
}

// Report ends measuring and reports; call it just after the loop.
func (m *Meter) Report() {
	now, ok := processCPU()
	m.cpu += now - m.started
	if !ok || m.b.N == 0 {
		return
	}
	perOp := float64(m.cpu) / float64(m.b.N)
	m.b.ReportMetric(perOp, "cpu-ns/op")
	if p256CPU > 0 {
		m.b.ReportMetric(perOp/float64(p256CPU), "p256-verifies/op")
	}
}

// P256Signature returns a public key, a SHA-256 digest and a valid
// ASN.1 signature of it, for benchmarking verification.
func P256Signature(b testing.TB) (*ecdsa.PublicKey, []byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authenticatorData || SHA-256(clientDataJSON)"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	return &key.PublicKey, digest[:], sig
}

// BenchmarkP256Verify is the unit: call it from a benchmark of that name
// in each package whose benchmarks use a Meter, so the unit's own
// figures stand next to theirs.
func BenchmarkP256Verify(b *testing.B) {
	pub, digest, sig := P256Signature(b)
	m := Start(b)
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			b.Fatal("signature does not verify")
		}
	}
	m.Report()
}
