package e2e

// Signing keys are published before they sign: a relying party that
// fetched the JWKS once, before anyone signed in, verifies the ID tokens
// Sesame issues across a rotation.

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	sesameoidc "github.com/sesame-idp/sesame/internal/oidc"
)

// fetchJWKS reads the JWKS as an app does at start-up.
func fetchJWKS(t testing.TB, inst *instance) (jose.JSONWebKeySet, http.Header) {
	t.Helper()
	res, err := http.Get(inst.URL + "/oauth2/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return set, res.Header
}

// staticRP verifies ID tokens with the keys it fetched once, never again
// (go-oidc's StaticKeySet), and refuses a key ID it has not seen.
type staticRP struct {
	kids     []string
	verifier *gooidc.IDTokenVerifier
}

func newStaticRP(t testing.TB, inst *instance, clientID string) staticRP {
	set, _ := fetchJWKS(t, inst)
	var rp staticRP
	var pubs []crypto.PublicKey
	for _, k := range set.Keys {
		rp.kids = append(rp.kids, k.KeyID)
		pubs = append(pubs, k.Key)
	}
	rp.verifier = gooidc.NewVerifier(inst.URL, &gooidc.StaticKeySet{PublicKeys: pubs},
		&gooidc.Config{ClientID: clientID, Now: inst.clock.Now, SupportedSigningAlgs: []string{"ES256", "RS256"}})
	return rp
}

func (rp staticRP) verify(t testing.TB, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := jws.Signatures[0].Header.KeyID
	if !slices.Contains(rp.kids, kid) {
		t.Fatalf("ID token signed with key %s, unknown to the app that cached the JWKS %v", kid, rp.kids)
	}
	if _, err := rp.verifier.Verify(context.Background(), raw); err != nil {
		t.Fatalf("the app with the cached JWKS refused the ID token: %v", err)
	}
	return kid
}

func keyStates(t testing.TB, inst *instance) map[string]string {
	t.Helper()
	keys, err := inst.App.OIDC.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range keys {
		m[k.ID] = k.State
	}
	return m
}

func TestOIDCKeysPublishedAhead(t *testing.T) {
	inst := startSesame(t, sesameOptions{})
	ctx := context.Background()

	// A fresh database: the JWKS already holds the current and the next
	// key, with the cache lifetime keys are published ahead of.
	set, h := fetchJWKS(t, inst)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS on a fresh database has %d keys, want the current and the next", len(set.Keys))
	}
	if cc := h.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control %q", cc)
	}
	static := newStaticRP(t, inst, "grafana")

	c, pk := inst.onboard(t, "alice", softOptions{})
	c.signInWithPasskey(t, pk, "")
	rp := newRelyingParty(t, inst, "grafana", rpOptions{})
	first := static.verify(t, rp.signIn(t, c).rawID)
	if keyStates(t, inst)[first] != "current" {
		t.Fatalf("signed by %s: %v", first, keyStates(t, inst))
	}

	// Forced rotation (sesame keys rotate): the next key, which the app
	// cached, takes over once it has been published long enough.
	k, err := inst.App.OIDC.RotateKey(ctx, sesameoidc.ES256, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if kid := static.verify(t, rp.signIn(t, c).rawID); kid != first {
		t.Errorf("the promoted key signed before it was published for the JWKS cache lifetime")
	}
	inst.clock.Advance(sesameoidc.JWKSMaxAge + 2*time.Minute)
	second := static.verify(t, rp.signIn(t, c).rawID)
	if second != k.ID || second == first {
		t.Errorf("after the rotation, signed by %s, want the promoted key %s", second, k.ID)
	}
	states := keyStates(t, inst)
	if states[first] != "retired" || states[second] != "current" || len(states) != 3 {
		t.Errorf("key states after the rotation: %v", states)
	}
	// The retired key stays published for the tokens it signed.
	set, _ = fetchJWKS(t, inst)
	if len(set.Keys) != 3 || len(set.Key(first)) == 0 {
		t.Errorf("JWKS after the rotation: %d keys, retired key published: %v", len(set.Keys), len(set.Key(first)) > 0)
	}

	// An app that refreshed its JWKS after the cache lifetime knows the
	// new next key before an immediate rotation makes it sign.
	static = newStaticRP(t, inst, "grafana")
	k, err = inst.App.OIDC.RotateKey(ctx, sesameoidc.ES256, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if kid := static.verify(t, rp.signIn(t, c).rawID); kid != k.ID {
		t.Errorf("after an immediate rotation, signed by %s, want %s", kid, k.ID)
	}
}
