package oidc

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// Signing algorithms. ES256 is the default: short signatures, fast. RS256
// is there for relying parties too old to verify anything else.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Algorithms lists the signing algorithms Sesame offers, default first.
var Algorithms = []string{ES256, RS256}

// rsaBits: 2048 is what old relying parties expect; the RS256 key exists
// only for them.
const rsaBits = 2048

// KeyPolicy is when signing keys change.
//
// Every algorithm in use has a current key, which signs, and a next key,
// which is published in the JWKS from the moment it is made but signs
// nothing until it is promoted: on schedule (RotateEvery after the current
// key took over) or by command. A promoted key signs no earlier than
// PublishAhead after it was made, so a relying party that cached the JWKS
// for as long as Sesame allows already knows it. The key it replaces is
// retired: still published for Retain, until every token it signed has
// expired.
type KeyPolicy struct {
	// RotateEvery is how long a key signs before the next takes over.
	RotateEvery time.Duration
	// PublishAhead is the least time a key is published in the JWKS before
	// it signs: at least the JWKS cache lifetime Sesame advertises plus
	// Propagation (shorter values are raised to that).
	PublishAhead time.Duration
	// Propagation is how long every Sesame instance needs to see a change
	// to the keys (twice the key cache lifetime).
	Propagation time.Duration
	// Retain is how long a replaced key stays published: the longest
	// lifetime of a token it signed, plus clock skew.
	Retain time.Duration
}

// JWKSMaxAge is the cache lifetime the JWKS advertises (Cache-Control
// max-age). Keys are published at least this long before they sign.
const JWKSMaxAge = 5 * time.Minute

// keyState is a stored key with what the schedule says about it now.
type keyState int

const (
	keyNext    keyState = iota // published, not signing yet
	keyCurrent                 // the one signing for its algorithm
	keyRetired                 // replaced, still published while its tokens live
	keyExpired                 // replaced long enough ago: may be deleted
)

func (s keyState) String() string {
	return [...]string{"next", "current", "retired", "expired"}[s]
}

// keySchedule classifies keys at now. Per algorithm, keys take over from
// each other in NotBefore order; a key is replaced when the next one's
// NotBefore arrives and stays published for retain after that. It also
// returns, per key ID, until when a retired key stays published.
func keySchedule(keys []oidcstore.SigningKey, now time.Time, retain time.Duration) (map[string]keyState, map[string]time.Time) {
	byAlg := map[string][]oidcstore.SigningKey{}
	for _, k := range keys {
		byAlg[k.Algorithm] = append(byAlg[k.Algorithm], k)
	}
	states := make(map[string]keyState, len(keys))
	until := map[string]time.Time{}
	for _, ks := range byAlg {
		sort.SliceStable(ks, func(i, j int) bool {
			if !ks[i].NotBefore.Equal(ks[j].NotBefore) {
				return ks[i].NotBefore.Before(ks[j].NotBefore)
			}
			return ks[i].ID < ks[j].ID
		})
		for i, k := range ks {
			switch {
			case k.NotBefore.After(now):
				states[k.ID] = keyNext
			case i+1 == len(ks) || ks[i+1].NotBefore.After(now):
				states[k.ID] = keyCurrent
			default:
				end := ks[i+1].NotBefore.Add(retain)
				until[k.ID] = end
				if now.Before(end) {
					states[k.ID] = keyRetired
				} else {
					states[k.ID] = keyExpired
				}
			}
		}
	}
	return states, until
}

// latestKey is the key of alg with the latest NotBefore (ties: greatest
// ID), as AddSigningKey compares; ok is false when alg has no key.
func latestKey(keys []oidcstore.SigningKey, alg string) (latest oidcstore.SigningKey, ok bool) {
	for _, k := range keys {
		if k.Algorithm != alg {
			continue
		}
		if !ok || k.NotBefore.After(latest.NotBefore) || (k.NotBefore.Equal(latest.NotBefore) && k.ID > latest.ID) {
			latest, ok = k, true
		}
	}
	return latest, ok
}

// rotationDue says whether a next key must be added for alg now, and from
// when it signs: whenever the algorithm has keys but none waiting, the
// next one is published at once, to sign RotateEvery after the current
// key took over (and never sooner than PublishAhead from now). An
// algorithm with no key at all gets its first when first needed.
func rotationDue(keys []oidcstore.SigningKey, alg string, now time.Time, p KeyPolicy) (bool, time.Time) {
	latest, ok := latestKey(keys, alg)
	if !ok || latest.NotBefore.After(now) {
		return false, time.Time{}
	}
	next := latest.NotBefore.Add(p.RotateEvery)
	if earliest := now.Add(p.PublishAhead); next.Before(earliest) {
		next = earliest // overdue (no instance ran for a while): publish, then sign
	}
	return true, next
}

// promotionTime is when a promoted next key may start signing: at once
// when immediately is set, else once every instance has seen the change
// and the key has been published for PublishAhead. ok is false when the
// key is already scheduled that soon.
func promotionTime(next oidcstore.SigningKey, now time.Time, immediately bool, p KeyPolicy) (time.Time, bool) {
	at := now
	if !immediately {
		at = now.Add(p.Propagation)
		if earliest := next.CreatedAt.Add(p.PublishAhead); at.Before(earliest) {
			at = earliest
		}
	}
	return at, at.Before(next.NotBefore)
}

// --- sealing private keys ---

// keySealer encrypts private keys at rest with AES-256-GCM under a key
// derived from the server secret. The key's ID and algorithm are the
// additional data, so a sealed key cannot be swapped onto another record.
type keySealer struct{ aead cipher.AEAD }

func newKeySealer(key []byte) (*keySealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("oidc: the key-encryption key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keySealer{aead: aead}, nil
}

func sealAD(id, alg string) []byte { return []byte("sesame/oidc-signing-key\x00" + alg + "\x00" + id) }

func (s *keySealer) seal(id, alg string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("sesame: no randomness: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, sealAD(id, alg))
}

var errKeyUnreadable = errors.New("oidc: a signing key cannot be decrypted: the server secret differs from the one that sealed it")

func (s *keySealer) open(id, alg string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errKeyUnreadable
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], sealAD(id, alg))
	if err != nil {
		return nil, errKeyUnreadable
	}
	return plain, nil
}

// newSigningKey generates a key of alg and seals it.
func newSigningKey(s *keySealer, alg string, now, notBefore time.Time) (oidcstore.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return oidcstore.SigningKey{}, fmt.Errorf("oidc: unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return oidcstore.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return oidcstore.SigningKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return oidcstore.SigningKey{}, err
	}
	id := store.NewID()
	return oidcstore.SigningKey{
		ID: id, Algorithm: alg, PrivateKey: s.seal(id, alg, der), PublicKey: pub,
		CreatedAt: now, NotBefore: notBefore,
	}, nil
}

// --- the key ring: keys in memory, refreshed from the store ---

// keyCacheTTL is how long an instance trusts its copy of the key list.
const keyCacheTTL = 30 * time.Second

// liveKey is a decrypted key.
type liveKey struct {
	rec     oidcstore.SigningKey
	private crypto.Signer
	public  crypto.PublicKey
}

// op.SigningKey and op.Key.
func (k *liveKey) ID() string { return k.rec.ID }
func (k *liveKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.rec.Algorithm)
}
func (k *liveKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.rec.Algorithm)
}
func (k *liveKey) Use() string { return "sig" }

// Key is the private key for signing (op.SigningKey); the JWKS uses
// publicKey through jwk.
func (k *liveKey) Key() any { return k.private }

// jwkKey is the public half as op.Key wants it.
type jwkKey struct{ *liveKey }

func (k jwkKey) Key() any { return k.public }

// keyring holds the signing keys of this instance. It reloads them from
// the store every keyCacheTTL (and when it meets an unknown key ID), adds
// scheduled keys when due, and creates a key for an algorithm when first
// needed. Several instances may do this at once: AddSigningKey's
// compare-and-set keeps them from adding more than one key.
type keyring struct {
	store  oidcstore.Store
	sealer *keySealer
	policy KeyPolicy
	now    func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	recs     []oidcstore.SigningKey
	live     map[string]*liveKey
}

func newKeyring(st oidcstore.Store, sealer *keySealer, policy KeyPolicy, now func() time.Time) *keyring {
	return &keyring{store: st, sealer: sealer, policy: policy, now: now, live: map[string]*liveKey{}}
}

// load refreshes the cache when it is older than maxAge (0: always).
// Called with mu held.
func (r *keyring) load(ctx context.Context, maxAge time.Duration) error {
	now := r.now()
	if !r.loadedAt.IsZero() && maxAge > 0 && now.Sub(r.loadedAt) < maxAge && now.After(r.loadedAt.Add(-time.Second)) {
		return nil
	}
	recs, err := r.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, alg := range Algorithms {
		if due, notBefore := rotationDue(recs, alg, now, r.policy); due {
			latest, _ := latestKey(recs, alg)
			k, err := r.add(ctx, alg, now, notBefore, latest.ID)
			if err == nil {
				recs = append(recs, k)
			} else if !errors.Is(err, store.ErrConflict) {
				return err
			} else if recs, err = r.store.ListSigningKeys(ctx); err != nil { // another instance rotated
				return err
			}
		}
	}
	live := make(map[string]*liveKey, len(recs))
	for _, rec := range recs {
		if k, ok := r.live[rec.ID]; ok {
			// Reuse the decrypted key; the record may have changed (a
			// promotion moves NotBefore).
			live[rec.ID] = &liveKey{rec: rec, private: k.private, public: k.public}
			continue
		}
		k, err := r.decode(rec)
		if err != nil {
			return err
		}
		live[rec.ID] = k
	}
	r.recs, r.live, r.loadedAt = recs, live, now
	return nil
}

func (r *keyring) add(ctx context.Context, alg string, now, notBefore time.Time, ifLatest string) (oidcstore.SigningKey, error) {
	k, err := newSigningKey(r.sealer, alg, now, notBefore)
	if err != nil {
		return k, err
	}
	return k, r.store.AddSigningKey(ctx, k, ifLatest)
}

func (r *keyring) decode(rec oidcstore.SigningKey) (*liveKey, error) {
	der, err := r.sealer.open(rec.ID, rec.Algorithm, rec.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w (key %s)", err, rec.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("oidc: signing key %s: %w", rec.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("oidc: signing key %s is not a signing key", rec.ID)
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey:
		if rec.Algorithm != ES256 {
			return nil, fmt.Errorf("oidc: signing key %s is ECDSA but marked %s", rec.ID, rec.Algorithm)
		}
	case *rsa.PrivateKey:
		if rec.Algorithm != RS256 {
			return nil, fmt.Errorf("oidc: signing key %s is RSA but marked %s", rec.ID, rec.Algorithm)
		}
	default:
		return nil, fmt.Errorf("oidc: signing key %s has an unsupported type", rec.ID)
	}
	return &liveKey{rec: rec, private: signer, public: signer.Public()}, nil
}

// signer returns the current key of alg, creating the algorithm's first
// keys (current and next) when there are none.
func (r *keyring) signer(ctx context.Context, alg string) (*liveKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx, keyCacheTTL); err != nil {
		return nil, err
	}
	return r.ensureLocked(ctx, alg)
}

// ensureLocked returns the current key of alg, making the algorithm's first
// key, which signs at once, when it has none (its next key is added by the
// reload). Only the very first key of an algorithm is made like this;
// later ones are published ahead.
func (r *keyring) ensureLocked(ctx context.Context, alg string) (*liveKey, error) {
	if k := r.currentLocked(alg); k != nil {
		return k, nil
	}
	now := r.now()
	latest, _ := latestKey(r.recs, alg)
	if _, err := r.add(ctx, alg, now, now, latest.ID); err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	if err := r.load(ctx, 0); err != nil {
		return nil, err
	}
	if k := r.currentLocked(alg); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("oidc: no %s signing key is in effect", alg)
}

// currentLocked is the key of alg that signs now: the one with the latest
// NotBefore not in the future.
func (r *keyring) currentLocked(alg string) *liveKey {
	now := r.now()
	var cur *liveKey
	for _, rec := range r.recs {
		if rec.Algorithm != alg || rec.NotBefore.After(now) {
			continue
		}
		if cur == nil || rec.NotBefore.After(cur.rec.NotBefore) || (rec.NotBefore.Equal(cur.rec.NotBefore) && rec.ID > cur.rec.ID) {
			cur = r.live[rec.ID]
		}
	}
	return cur
}

// published returns the keys for the JWKS: next, current and retired.
// The default algorithm's keys are made on first need, so the JWKS holds
// them from the first request on a fresh database.
func (r *keyring) published(ctx context.Context) ([]*liveKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx, keyCacheTTL); err != nil {
		return nil, err
	}
	if _, err := r.ensureLocked(ctx, ES256); err != nil {
		return nil, err
	}
	return r.publishedLocked(), nil
}

func (r *keyring) publishedLocked() []*liveKey {
	states, _ := keySchedule(r.recs, r.now(), r.policy.Retain)
	var out []*liveKey
	for _, rec := range r.recs {
		if states[rec.ID] != keyExpired {
			out = append(out, r.live[rec.ID])
		}
	}
	return out
}

// verifier finds the published key with this ID, reloading once when it is
// not known (another instance may have just added it).
func (r *keyring) verifier(ctx context.Context, kid string) (*liveKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx, keyCacheTTL); err != nil {
		return nil, err
	}
	find := func() *liveKey {
		for _, k := range r.publishedLocked() {
			if k.rec.ID == kid {
				return k
			}
		}
		return nil
	}
	if k := find(); k != nil {
		return k, nil
	}
	// Reload at most once a second for unknown IDs, so a flood of forged
	// key IDs cannot turn into a flood of database reads.
	if r.now().Sub(r.loadedAt) >= time.Second {
		if err := r.load(ctx, 0); err != nil {
			return nil, err
		}
		if k := find(); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("oidc: unknown signing key %q", kid)
}

// invalidate makes the next use reload from the store.
func (r *keyring) invalidate() {
	r.mu.Lock()
	r.loadedAt = time.Time{}
	r.mu.Unlock()
}

// VerifySignature implements oidc.KeySet for the tokens Sesame itself
// verifies (access tokens at userinfo and introspection, id_token_hint).
func (r *keyring) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: want exactly one signature")
	}
	h := jws.Signatures[0].Header
	k, err := r.verifier(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if h.Algorithm != k.rec.Algorithm {
		return nil, fmt.Errorf("oidc: token signed with %s, key %s is %s", h.Algorithm, k.rec.ID, k.rec.Algorithm)
	}
	return jws.Verify(k.public)
}

// --- key management for the CLI ---

// KeyInfo describes a signing key for people.
type KeyInfo struct {
	ID             string
	Algorithm      string
	State          string // next, current, retired, expired
	CreatedAt      time.Time
	NotBefore      time.Time // signs from
	PublishedUntil time.Time // for a retired key: when it leaves the JWKS; zero otherwise
}

// Keys lists the signing keys, oldest first.
func (p *Provider) Keys(ctx context.Context) ([]KeyInfo, error) {
	recs, err := p.oidcStore.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	states, until := keySchedule(recs, p.now(), p.keyPolicy.Retain)
	out := make([]KeyInfo, 0, len(recs))
	for _, k := range recs {
		out = append(out, KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: states[k.ID].String(),
			CreatedAt: k.CreatedAt, NotBefore: k.NotBefore, PublishedUntil: until[k.ID]})
	}
	return out, nil
}

// RotateKey promotes the next key of alg, which has been published ahead:
// it signs once every instance has seen the change and it has been in the
// JWKS for KeyPolicy.PublishAhead (at once with immediately); the key it
// replaces stays published until the tokens it signed have expired, and a
// new next key is published.
//
// dropOld (with immediately) is for a key thought compromised: every key
// of alg is replaced by a new one that signs at once, and the old ones
// leave the JWKS (tokens they signed stop verifying).
func (p *Provider) RotateKey(ctx context.Context, alg string, immediately, dropOld bool) (KeyInfo, error) {
	if alg != ES256 && alg != RS256 {
		return KeyInfo{}, fmt.Errorf("unsupported signing algorithm %q: use %s or %s", alg, ES256, RS256)
	}
	if dropOld && !immediately {
		return KeyInfo{}, errors.New("dropping the old keys needs an immediate rotation: nothing would sign until the new key takes over")
	}
	if dropOld {
		return p.replaceKeys(ctx, alg)
	}
	for range 3 {
		// The keyring makes the algorithm's current and next keys if
		// missing.
		p.keys.invalidate()
		if _, err := p.keys.signer(ctx, alg); err != nil {
			return KeyInfo{}, err
		}
		recs, err := p.oidcStore.ListSigningKeys(ctx)
		if err != nil {
			return KeyInfo{}, err
		}
		now := p.now()
		next, _ := latestKey(recs, alg)
		if !next.NotBefore.After(now) {
			continue // no next key yet: another instance is adding it
		}
		at, sooner := promotionTime(next, now, immediately, p.keyPolicy)
		if sooner {
			err := p.oidcStore.PromoteSigningKey(ctx, next.ID, at)
			if errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return KeyInfo{}, err
			}
			next.NotBefore = at
		}
		p.keys.invalidate()
		if immediately {
			if _, err := p.keys.signer(ctx, alg); err != nil { // publishes the new next key
				return KeyInfo{}, err
			}
		}
		state := keyNext
		if !next.NotBefore.After(now) {
			state = keyCurrent
		}
		return KeyInfo{ID: next.ID, Algorithm: alg, State: state.String(), CreatedAt: next.CreatedAt, NotBefore: next.NotBefore}, nil
	}
	return KeyInfo{}, errors.New("the signing keys changed three times while rotating; try again")
}

// replaceKeys replaces every key of alg by a new one that signs at once.
func (p *Provider) replaceKeys(ctx context.Context, alg string) (KeyInfo, error) {
	for range 3 {
		recs, err := p.oidcStore.ListSigningKeys(ctx)
		if err != nil {
			return KeyInfo{}, err
		}
		now := p.now()
		latest, _ := latestKey(recs, alg)
		notBefore := now
		if latest.NotBefore.After(notBefore) {
			notBefore = latest.NotBefore.Add(time.Millisecond) // the new key must be the newest
		}
		k, err := p.keys.add(ctx, alg, now, notBefore, latest.ID)
		if errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return KeyInfo{}, err
		}
		for _, old := range recs {
			if old.Algorithm == alg {
				if err := p.oidcStore.DeleteSigningKey(ctx, old.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return KeyInfo{}, err
				}
			}
		}
		p.keys.invalidate()
		if _, err := p.keys.signer(ctx, alg); err != nil {
			return KeyInfo{}, err
		}
		return KeyInfo{ID: k.ID, Algorithm: alg, State: keyCurrent.String(), CreatedAt: k.CreatedAt, NotBefore: k.NotBefore}, nil
	}
	return KeyInfo{}, errors.New("the signing keys changed three times while rotating; try again")
}

// EnsureKey makes sure alg has a key in effect (creating its first one).
func (p *Provider) EnsureKey(ctx context.Context, alg string) error {
	_, err := p.keys.signer(ctx, alg)
	return err
}

// pruneKeys deletes keys no token can need any more.
func (p *Provider) pruneKeys(ctx context.Context) (int, error) {
	recs, err := p.oidcStore.ListSigningKeys(ctx)
	if err != nil {
		return 0, err
	}
	states, _ := keySchedule(recs, p.now(), p.keyPolicy.Retain)
	n := 0
	for _, k := range recs {
		if states[k.ID] == keyExpired {
			if err := p.oidcStore.DeleteSigningKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n++
		}
	}
	if n > 0 {
		p.keys.invalidate()
	}
	return n, nil
}
