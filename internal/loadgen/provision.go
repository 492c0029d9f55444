// Package loadgen is the load generator behind `sesame bench`: it gives
// bench users software passkeys through the real registration ceremony and
// then signs them in over HTTP, as many at a time as asked, measuring
// throughput, latency and CPU.
//
// The software authenticator is github.com/descope/virtualwebauthn. It
// panics instead of returning errors, so every call into it is wrapped in
// a recover here; it stays out of the server's code.
package loadgen

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/sesame-idp/sesame/internal/app"
	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/directory"
	"github.com/sesame-idp/sesame/internal/signin"
	"github.com/sesame-idp/sesame/internal/store"
)

// Actor is who the audit log says created the bench users and passkeys.
const Actor audit.Actor = "bench"

// Username is the name of bench user i (1-based).
func Username(i int) string { return fmt.Sprintf("bench-%04d", i) }

// Authenticator flags of the bench passkeys: synced (backup eligible and
// backed up), like the iCloud Keychain and Google Password Manager passkeys
// most people use, which also keep their signature counter at zero.
var benchAuthenticator = virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true}

// ProvisionStats says what provisioning did.
type ProvisionStats struct {
	Reused, Registered, CreatedUsers int
}

// Provision makes sure users bench-0001 .. bench-N exist, are enabled and
// each have a software passkey whose private key is in the keys file in
// the data directory. Passkeys from an earlier run are reused when the
// user, the passkey and the RP ID are still the same; otherwise a new
// passkey is registered with the real ceremony (BeginRegistration,
// virtualwebauthn, FinishRegistration: full attestation verification).
func Provision(ctx context.Context, a *app.App, n int, progress io.Writer) ([]Passkey, ProvisionStats, error) {
	var stats ProvisionStats
	if progress == nil {
		progress = io.Discard
	}
	rpCfg, err := a.Config.RelyingParty()
	if err != nil {
		return nil, stats, err
	}
	rp := virtualwebauthn.RelyingParty{ID: rpCfg.ID, Name: rpCfg.Name, Origin: rpCfg.Origins[0]}
	path := filepath.Join(a.Config.DataDir, KeysFile)
	kf, err := loadKeys(path)
	if err != nil {
		return nil, stats, err
	}
	known := map[string]Passkey{}
	if kf.RPID == rp.ID {
		for _, p := range kf.Passkeys {
			known[p.Username] = p
		}
	} else if len(kf.Passkeys) > 0 {
		fmt.Fprintf(progress, "The saved bench passkeys are for RP ID %q, not %q: registering new ones.\n", kf.RPID, rp.ID)
	}

	// Whatever happens, keep the keys of what was registered: those
	// passkeys are in the database now, and a next run can reuse them.
	ready := make([]Passkey, 0, n)
	registered := false
	save := func() error {
		if !registered {
			return nil
		}
		all, have := append([]Passkey(nil), ready...), map[string]bool{}
		for _, p := range ready {
			have[p.Username] = true
		}
		// Keep the passkeys of bench users beyond N too (an earlier, larger run).
		for _, p := range kf.Passkeys {
			if kf.RPID == rp.ID && !have[p.Username] {
				all = append(all, p)
			}
		}
		if err := saveKeys(path, keysFile{RPID: rp.ID, Passkeys: all}); err != nil {
			return fmt.Errorf("saving the bench keys in %s: %w", path, err)
		}
		return nil
	}
	fail := func(err error) ([]Passkey, ProvisionStats, error) {
		return nil, stats, errors.Join(err, save())
	}

	fmt.Fprintf(progress, "Provisioning %d bench users with software passkeys (RP ID %s, origin %s)\n", n, rp.ID, rp.Origin)
	start, lastReport := time.Now(), time.Now()
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		name := Username(i)
		u, err := a.Dir.User(ctx, name)
		if errors.Is(err, directory.ErrUnknownUser) {
			u, err = a.Dir.CreateUser(ctx, Actor, directory.NewUser{Username: name, DisplayName: fmt.Sprintf("Bench user %d", i)})
			stats.CreatedUsers++
		}
		if err != nil {
			return fail(fmt.Errorf("bench user %s: %w", name, err))
		}
		if u.Disabled {
			if u, err = a.Dir.SetDisabled(ctx, Actor, name, false); err != nil {
				return fail(fmt.Errorf("enabling bench user %s: %w", name, err))
			}
		}
		if p, ok := known[name]; ok && p.UserID == u.ID && usable(ctx, a.Store, p) {
			ready = append(ready, p)
			stats.Reused++
		} else {
			p, err := register(ctx, a.SignIn, u, rp)
			if err != nil {
				return fail(fmt.Errorf("registering a passkey for %s: %w", name, err))
			}
			ready = append(ready, p)
			registered = true
			stats.Registered++
		}
		if time.Since(lastReport) >= time.Second || i == n {
			lastReport = time.Now()
			fmt.Fprintf(progress, "  %d/%d users ready (%d passkeys registered, %d reused)\n", i, n, stats.Registered, stats.Reused)
		}
	}
	if err := save(); err != nil {
		return nil, stats, err
	}
	if stats.Registered > 0 {
		took := time.Since(start)
		fmt.Fprintf(progress, "Registered %d passkeys in %s (%s each); private keys saved in %s\n",
			stats.Registered, took.Round(time.Millisecond), (took / time.Duration(stats.Registered)).Round(time.Microsecond), path)
	}
	return ready, stats, nil
}

// usable reports whether a saved passkey is still registered to its user.
func usable(ctx context.Context, st store.Store, p Passkey) bool {
	c, err := st.GetCredentialByCredentialID(ctx, p.CredentialID)
	return err == nil && c.UserID == p.UserID && bytes.Equal(c.CredentialID, p.CredentialID)
}

// register runs the real registration ceremony for u with a new software
// passkey, in process (the bench users have no session to do it over
// HTTP, and no temporary access pass is needed to prove anything here).
func register(ctx context.Context, svc *signin.Service, u store.User, rp virtualwebauthn.RelyingParty) (Passkey, error) {
	sess := store.Session{UserID: u.ID}
	c, err := svc.BeginRegistration(ctx, sess)
	if err != nil {
		return Passkey{}, err
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		return Passkey{}, fmt.Errorf("reading the creation options: %w", err)
	}
	cred, err := NewCredential()
	if err != nil {
		return Passkey{}, err
	}
	auth := virtualwebauthn.NewAuthenticatorWithOptions(benchAuthenticator)
	auth.Aaguid = [16]byte{} // "Passkey" in the pages: no model claimed
	var resp string
	if err := recovered(func() { resp = virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *opts) }); err != nil {
		return Passkey{}, err
	}
	meta := signin.Meta{UserAgent: userAgent}
	if _, err := svc.FinishRegistration(ctx, sess, c.ID, []byte(resp), "Bench passkey", meta); err != nil {
		return Passkey{}, err
	}
	return Passkey{Username: u.Username, UserID: u.ID, CredentialID: cred.ID, PrivateKey: cred.Key.Data}, nil
}

// NewCredential makes a software P-256 passkey for virtualwebauthn.
// virtualwebauthn writes the public key's coordinates as big integers,
// dropping leading zero bytes, so one key in about 128 would be sent with
// a short coordinate and (rightly) refused by the server; such keys are
// skipped here.
func NewCredential() (virtualwebauthn.Credential, error) {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return virtualwebauthn.Credential{}, err
		}
		pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return virtualwebauthn.Credential{}, err
		}
		if pub[1] == 0 || pub[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return virtualwebauthn.Credential{}, err
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der), nil
	}
}

// recovered runs f, turning a panic (virtualwebauthn's way of failing)
// into an error.
func recovered(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("software authenticator: %v", v)
		}
	}()
	f()
	return nil
}
