package signin_test

// Benchmarks of the server side of a passkey sign-in, with a real SQLite
// store, and of one raw P-256 signature verification for scale. Each
// reports, besides ns/op, the process's CPU time per operation
// (cpu-ns/op) and that CPU time counted in P-256 verifications
// (p256-verifies/op), so the ratio can be read off directly:
//
//	go test -run '^$' -bench . -benchmem ./internal/signin ./internal/passkey
//
// See docs/performance.md.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/loadgen/benchmeter"
	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlite"
)

// BenchmarkP256Verify is the unit the sign-in cost is measured in: one
// ECDSA P-256 verification of a SHA-256 digest, what checking an ES256
// passkey's signature costs at the very least.
func BenchmarkP256Verify(b *testing.B) { benchmeter.BenchmarkP256Verify(b) }

const (
	benchOrigin = "https://login.example.com"
	benchRPID   = "login.example.com"
)

// benchEnv is a sign-in service on a fresh SQLite database with one user
// who registered a synced software passkey with the real ceremony.
type benchEnv struct {
	ctx   context.Context
	store *sqlite.Store
	svc   *signin.Service
	user  store.User
	rp    virtualwebauthn.RelyingParty
	cred  virtualwebauthn.Credential
	auth  virtualwebauthn.Authenticator
	meta  signin.Meta
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sesame.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := config.Defaults()
	rp, err := passkey.NewRP(config.RelyingParty{ID: benchRPID, Name: "Sesame", Origins: []string{benchOrigin}}, cfg.ChallengeTTL)
	if err != nil {
		b.Fatal(err)
	}
	dir := &directory.Service{Store: st, Now: time.Now}
	svc := &signin.Service{
		Store: st, RP: rp, Dir: dir, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ChallengeTTL: cfg.ChallengeTTL, SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax,
	}
	u, err := dir.CreateUser(ctx, "bench", directory.NewUser{Username: "bench-0001"})
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{
		ctx: ctx, svc: svc, user: u, store: st,
		rp:   virtualwebauthn.RelyingParty{ID: benchRPID, Name: "Sesame", Origin: benchOrigin},
		cred: newCredential(b),
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
			UserHandle: []byte(u.ID), BackupEligible: true, BackupState: true,
		}),
		meta: signin.Meta{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) bench"},
	}
	sess := store.Session{UserID: u.ID}
	c, err := svc.BeginRegistration(ctx, sess)
	if err != nil {
		b.Fatal(err)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		b.Fatal(err)
	}
	resp := virtualwebauthn.CreateAttestationResponse(e.rp, e.auth, e.cred, *opts)
	if _, err := svc.FinishRegistration(ctx, sess, c.ID, []byte(resp), "", e.meta); err != nil {
		b.Fatal(err)
	}
	return e
}

// newCredential is a software P-256 passkey whose public key
// virtualwebauthn encodes correctly (it drops leading zero bytes of the
// coordinates, which would make one key in about 128 unusable).
func newCredential(b *testing.B) virtualwebauthn.Credential {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		pub, _ := key.PublicKey.Bytes()
		if pub[1] == 0 || pub[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			b.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// signed is a begun discoverable ceremony and the authenticator's answer.
type signed struct {
	ceremony string
	response []byte
}

// sign answers a begun ceremony as the user's authenticator would.
func (e *benchEnv) sign(b *testing.B, c signin.Ceremony) signed {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		b.Fatal(err)
	}
	return signed{c.ID, []byte(virtualwebauthn.CreateAssertionResponse(e.rp, e.auth, e.cred, *opts))}
}

func (e *benchEnv) begin(b *testing.B) signin.Ceremony {
	c, err := e.svc.BeginSignIn(e.ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// batch is how many ceremonies are prepared with the timer stopped at a
// time: few enough that the table of pending challenges stays small, as
// in a server, and many enough that stopping the timer costs little.
const batch = 128

// BenchmarkBeginSignIn: a discoverable (usernameless) ceremony begins:
// a random challenge, the options, and the state sealed into the ceremony
// ID (nothing written).
func BenchmarkBeginSignIn(b *testing.B) {
	e := newBenchEnv(b)
	m := benchmeter.Start(b)
	for b.Loop() {
		e.begin(b)
	}
	m.Report()
}

// BenchmarkFinishSignIn is the whole server-side verification of a
// discoverable sign-in: open the sealed ceremony, parse the response,
// check origin and RP ID, look the passkey and its user up (one join),
// verify the signature, and in one transaction mark the ceremony used,
// record the passkey's use, create the session and append the sign-in
// record. One at a time: every transaction commits alone.
func BenchmarkFinishSignIn(b *testing.B) {
	e := newBenchEnv(b)
	m := benchmeter.Start(b)
	var ready []signed
	for b.Loop() {
		if len(ready) == 0 {
			m.StopTimer()
			for range batch {
				ready = append(ready, e.sign(b, e.begin(b)))
			}
			m.StartTimer()
		}
		s := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		if _, err := e.svc.FinishSignIn(e.ctx, s.ceremony, s.response, e.meta); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}

// BenchmarkAuthenticate is one use of a session cookie: look the session
// and its user up (read only, as last-seen moves at most once a minute).
func BenchmarkAuthenticate(b *testing.B) {
	e := newBenchEnv(b)
	s := e.sign(b, e.begin(b))
	res, err := e.svc.FinishSignIn(e.ctx, s.ceremony, s.response, e.meta)
	if err != nil {
		b.Fatal(err)
	}
	m := benchmeter.Start(b)
	for b.Loop() {
		if _, _, err := e.svc.Authenticate(e.ctx, res.Token); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}

// BenchmarkSignIn is everything the sign-in service does for one complete
// sign-in as `sesame bench` makes it: begin, finish, and one use of the
// new session. Only the authenticator's signing is outside the timer.
// HTTP and JSON handling are not included (see `sesame bench` for those).
func BenchmarkSignIn(b *testing.B) {
	e := newBenchEnv(b)
	m := benchmeter.Start(b)
	var begun []signin.Ceremony
	var ready []signed
	for b.Loop() {
		if len(ready) == 0 {
			begun = begun[:0]
			for range batch {
				begun = append(begun, e.begin(b))
			}
			m.StopTimer()
			for _, c := range begun {
				ready = append(ready, e.sign(b, c))
			}
			m.StartTimer()
		}
		s := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		res, err := e.svc.FinishSignIn(e.ctx, s.ceremony, s.response, e.meta)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := e.svc.Authenticate(e.ctx, res.Token); err != nil {
			b.Fatal(err)
		}
	}
	m.Report()
}

// BenchmarkFinishSignInParallel is BenchmarkFinishSignIn with 16 finishes
// in flight at once per core, as a busy server has them: the SQLite group
// commit then puts several in one transaction. The ceremonies are begun
// and signed before the timer starts.
func BenchmarkFinishSignInParallel(b *testing.B) {
	e := newBenchEnv(b)
	ready := make([]signed, b.N)
	for i := range ready {
		ready[i] = e.sign(b, e.begin(b))
	}
	var next atomic.Int64
	b.SetParallelism(16)
	m := benchmeter.Start(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := ready[next.Add(1)-1]
			if _, err := e.svc.FinishSignIn(e.ctx, s.ceremony, s.response, e.meta); err != nil {
				b.Error(err)
				return
			}
		}
	})
	m.Report()
	if tx, writes := e.store.WriteBatches(); tx > 0 {
		b.ReportMetric(float64(writes)/float64(tx), "writes/commit")
	}
}
