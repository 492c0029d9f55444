package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/problem"
	"github.com/sesame-idp/sesame/internal/store"
)

// Tokens issues, lists, revokes and checks the bearer tokens provisioning
// clients use. A token is 256 random bits, shown once; only its SHA-256 is
// kept (a fast hash is right for a long random secret, as for app secrets).
type Tokens struct {
	Store store.Store
	Now   func() time.Time
}

// TokenPrefix starts every token, so a leaked one is recognisable (secret
// scanners) and a wrong kind of secret is told apart at once.
const TokenPrefix = "sesame_scim_"

var (
	ErrTokenExists  = problem.New(http.StatusConflict, "scim_token_exists", "A SCIM token with that name already exists; revoke it first or choose another name.")
	ErrUnknownToken = problem.New(http.StatusNotFound, "unknown_scim_token", "There is no SCIM token with that name.")
)

// NormalizeTokenName: 1 to 64 of a-z 0-9 . _ -, starting with a letter or
// digit, lower-cased.
func NormalizeTokenName(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > 64 {
		return "", problem.BadRequest("A SCIM token name must be 1 to 64 characters long.")
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("._-", r)) {
			return "", problem.BadRequest("A SCIM token name may only use letters, digits and . _ -, and must start with a letter or digit.")
		}
	}
	return s, nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Issue creates a token named name and returns it; it cannot be shown
// again.
func (t *Tokens) Issue(ctx context.Context, actor audit.Actor, name string) (string, error) {
	name, err := NormalizeTokenName(name)
	if err != nil {
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := t.Now()
	err = t.Store.CreateSCIMToken(ctx, store.SCIMToken{Name: name, Hash: hashToken(token), CreatedBy: string(actor), CreatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		return "", ErrTokenExists
	} else if err != nil {
		return "", err
	}
	audit.Log(ctx, t.Store, now, actor, "scim.token.issue", name, nil)
	return token, nil
}

// List returns the tokens (names and dates; the hashes are of no use to
// anyone reading the list).
func (t *Tokens) List(ctx context.Context) ([]store.SCIMToken, error) {
	list, err := t.Store.ListSCIMTokens(ctx)
	for i := range list {
		list[i].Hash = nil
	}
	return list, err
}

// Revoke deletes a token: the next request with it gets 401.
func (t *Tokens) Revoke(ctx context.Context, actor audit.Actor, name string) error {
	n, err := NormalizeTokenName(name)
	if err != nil {
		return ErrUnknownToken
	}
	if err := t.Store.DeleteSCIMToken(ctx, n); errors.Is(err, store.ErrNotFound) {
		return ErrUnknownToken
	} else if err != nil {
		return err
	}
	audit.Log(ctx, t.Store, t.Now(), actor, "scim.token.revoke", n, nil)
	return nil
}

// Authenticate returns the name of the token presented, or ok false. Every
// stored hash is compared, in constant time, whatever matches: there are
// few tokens, and the time taken says nothing about which one is close.
func (t *Tokens) Authenticate(ctx context.Context, presented string) (name string, ok bool, err error) {
	if !strings.HasPrefix(presented, TokenPrefix) {
		return "", false, nil
	}
	list, err := t.Store.ListSCIMTokens(ctx)
	if err != nil {
		return "", false, err
	}
	h := hashToken(presented)
	for _, tok := range list {
		if subtle.ConstantTimeCompare(h, tok.Hash) == 1 {
			name, ok = tok.Name, true
		}
	}
	return name, ok, nil
}
