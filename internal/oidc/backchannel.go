package oidc

// OpenID Connect Back-Channel Logout 1.0: when a Sesame session ends (the
// user signs out, is disabled or deleted, or a passkey's sessions are
// revoked), every app with a back-channel logout URI that got tokens in
// that session receives a signed logout token. The tokens go through a
// durable outbox: enqueued when the session ends, delivered by whichever
// instance leases them, retried with backoff, every outcome recorded.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// backchannelLogoutEvent is the events member of a logout token.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// SessionID is the sid Sesame gives apps for a session: derived one way
// from the session token's hash, so it names the session without being
// usable as its cookie.
func SessionID(tokenHash []byte) string {
	if len(tokenHash) == 0 {
		return ""
	}
	h := sha256.Sum256(append([]byte("sesame/oidc-sid/v1\x00"), tokenHash...))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// Delivery: a logout token lives for logoutTokenTTL; a delivery attempt
// waits deliveryTimeout for the app; an instance leases what it delivers
// for logoutLease (longer than an attempt), so another instance takes over
// only if this one died.
const (
	logoutTokenTTL  = 2 * time.Minute
	deliveryTimeout = 10 * time.Second
	logoutLease     = time.Minute
	logoutBatch     = 20
	logoutAttempts  = 8
	// Finished entries are kept this long for `sesame app show` and
	// investigations, then swept.
	logoutKeep = 7 * 24 * time.Hour
)

// logoutRetry says, after the n-th failed attempt (n >= 1), whether to try
// again and after how long: 30s, 1m, 2m, ... capped at an hour, giving up
// after logoutAttempts attempts.
func logoutRetry(n int) (time.Duration, bool) {
	if n >= logoutAttempts {
		return 0, false
	}
	d := 30 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour), true
}

// SessionsEnded queues logout tokens for the apps signed in to in the
// ending sessions (store.SessionEndHook). Errors are logged: the sessions
// end anyway.
func (p *Provider) SessionsEnded(ctx context.Context, e store.SessionEnd) {
	var q oidcstore.LogoutQuery
	switch {
	case e.AllSessions && e.UserID != "":
		q.UserID = e.UserID
	case e.CredentialID != "":
		q.CredentialID = e.CredentialID
	case len(e.SessionHashes) > 0:
		for _, h := range e.SessionHashes {
			q.SessionIDs = append(q.SessionIDs, SessionID(h))
		}
	default:
		return
	}
	targets, err := p.oidcStore.ListLogoutTargets(ctx, q)
	if err != nil {
		p.log.ErrorContext(ctx, "finding the apps to log out failed", "reason", e.Reason, "err", err)
		return
	}
	if e.AllSessions {
		targets = perApp(targets)
	}
	if len(targets) == 0 {
		return
	}
	now := p.now()
	ls := make([]oidcstore.Logout, len(targets))
	for i, t := range targets {
		ls[i] = oidcstore.Logout{ID: store.NewID(), ClientID: t.ClientID, Subject: t.Subject, SessionID: t.SessionID,
			Reason: e.Reason, CreatedAt: now, NextAttemptAt: now}
	}
	if err := p.oidcStore.AddLogouts(ctx, ls); err != nil {
		p.log.ErrorContext(ctx, "queueing back-channel logout tokens failed", "reason", e.Reason, "count", len(ls), "err", err)
		return
	}
	p.log.InfoContext(ctx, "back-channel logout tokens queued", "reason", e.Reason, "count", len(ls))
	select {
	case p.logoutKick <- struct{}{}:
	default:
	}
}

// perApp: when every session of a user ends (disabled, deleted), each app
// gets one token naming the user (sub) and no session, which logs out all
// of the user's sessions with the app.
func perApp(targets []oidcstore.LogoutTarget) []oidcstore.LogoutTarget {
	var out []oidcstore.LogoutTarget
	seen := map[[2]string]bool{}
	for _, t := range targets {
		k := [2]string{t.ClientID, t.Subject}
		if !seen[k] {
			seen[k] = true
			out = append(out, oidcstore.LogoutTarget{ClientID: t.ClientID, Subject: t.Subject})
		}
	}
	return out
}

// logoutClaims are a logout token's claims (Back-Channel Logout 1.0 2.4):
// no nonce.
type logoutClaims struct {
	Issuer   string                    `json:"iss"`
	Audience string                    `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	JTI      string                    `json:"jti"`
	Subject  string                    `json:"sub,omitempty"`
	SID      string                    `json:"sid,omitempty"`
	Events   map[string]map[string]any `json:"events"`
}

// logoutToken signs the token for one outbox entry with the key the app's
// ID tokens are signed with.
func (p *Provider) logoutToken(ctx context.Context, l oidcstore.Logout, c oidcstore.Client, now time.Time) (string, error) {
	alg := c.SigningAlg
	if alg == "" {
		alg = ES256
	}
	k, err := p.keys.signer(ctx, alg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.private},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader(jose.HeaderKey("kid"), k.rec.ID))
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(logoutClaims{Issuer: p.issuer, Audience: c.ID, IssuedAt: now.Unix(),
		Expiry: now.Add(logoutTokenTTL).Unix(), JTI: l.ID, Subject: l.Subject, SID: l.SessionID,
		Events: map[string]map[string]any{backchannelLogoutEvent: {}}})
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// logoutOwner names this instance's leases.
func newLogoutOwner() string {
	var b [9]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DeliverLogouts sends the logout tokens that are due, leased by this
// instance, and returns how many it handled. The server calls it in a
// loop (RunLogoutDelivery); tests call it directly.
func (p *Provider) DeliverLogouts(ctx context.Context) (int, error) {
	now := p.now()
	batch, err := p.oidcStore.ClaimLogouts(ctx, p.logoutOwner, now, now.Add(logoutLease), logoutBatch)
	if err != nil {
		return 0, err
	}
	for _, l := range batch {
		p.deliverLogout(ctx, l)
	}
	return len(batch), nil
}

func (p *Provider) deliverLogout(ctx context.Context, l oidcstore.Logout) {
	now := p.now()
	var deliverErr error
	c, err := p.oidcStore.GetClient(ctx, l.ClientID)
	switch {
	case err != nil:
		deliverErr = fmt.Errorf("reading the app: %w", err)
	case c.BackchannelLogoutURI == "":
		deliverErr = errors.New("the app no longer has a back-channel logout URI")
	default:
		deliverErr = p.postLogout(ctx, l, c, now)
	}
	o := oidcstore.LogoutOutcome{At: now, Delivered: deliverErr == nil}
	result := "delivered"
	if deliverErr != nil {
		o.Error = truncate(deliverErr.Error(), 500)
		if wait, again := logoutRetry(l.Attempts + 1); again && c.BackchannelLogoutURI != "" {
			o.NextAttemptAt, result = now.Add(wait), "retry"
		} else {
			o.GiveUp, result = true, "failed"
		}
	}
	if err := p.oidcStore.FinishLogout(ctx, l.ID, p.logoutOwner, o); err != nil {
		// The lease ran out and another instance took the entry over: its
		// outcome counts.
		p.log.WarnContext(ctx, "recording a back-channel logout delivery failed", "jti", l.ID, "app", l.ClientID, "err", err)
		return
	}
	detail := map[string]any{"jti": l.ID, "sub": l.Subject, "sid": l.SessionID, "reason": l.Reason,
		"result": result, "attempt": l.Attempts + 1}
	if deliverErr != nil {
		detail["error"] = o.Error
		p.log.WarnContext(ctx, "back-channel logout delivery failed", "app", l.ClientID, "jti", l.ID, "attempt", l.Attempts+1, "result", result, "err", deliverErr)
	} else {
		p.log.InfoContext(ctx, "back-channel logout delivered", "app", l.ClientID, "jti", l.ID, "attempt", l.Attempts+1)
	}
	if result != "retry" {
		audit.Log(ctx, p.store, now, audit.Actor("system"), "app.backchannel_logout", l.ClientID, detail)
	}
}

// postLogout POSTs the token as the form parameter logout_token; the app
// answers 200 (or 204) when it accepted it. Redirects are not followed.
func (p *Provider) postLogout(ctx context.Context, l oidcstore.Logout, c oidcstore.Client, now time.Time) error {
	token, err := p.logoutToken(ctx, l, c, now)
	if err != nil {
		return fmt.Errorf("signing the logout token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	res, err := p.logoutClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("the app answered HTTP %d", res.StatusCode)
	}
	return nil
}

// RunLogoutDelivery delivers logout tokens until ctx ends: at once when
// this instance queued some, and every interval for the rest (retries,
// and tokens queued by other instances or the CLI).
func (p *Provider) RunLogoutDelivery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := p.DeliverLogouts(ctx)
			if err != nil {
				p.log.WarnContext(ctx, "claiming back-channel logout tokens failed", "err", err)
			}
			if n < logoutBatch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.logoutKick:
		}
	}
}
