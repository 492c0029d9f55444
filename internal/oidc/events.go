package oidc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/passkey"
	"github.com/sesame-idp/sesame/internal/store"
)

// Every token issued and every refusal goes to the sign-in log with the
// app, so an admin sees which apps a user signed in to, with which passkey,
// and why an app was turned away.

// MethodOIDC is the sign-in log method of refusals that happen before the
// user is known (unknown app, wrong secret, bad code).
const MethodOIDC = "oidc"

type requestMeta struct {
	IP        string
	UserAgent string
}

func metaOf(ctx context.Context) requestMeta {
	m, _ := ctx.Value(metaKey).(requestMeta)
	return m
}

// clientIP is the peer address; like the web server, the provider does not
// trust X-Forwarded-For.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// finishToken ends a token request: once its tokens are signed, its write
// (with the sign-in log entry) is made, and only then are they sent; the
// outcome is logged either way.
func (p *Provider) finishToken(ctx context.Context, tc *tokenCall, resp *op.Response, err error) (*op.Response, error) {
	if err == nil {
		if err = p.commitTokens(ctx, tc); err != nil {
			resp = nil
		}
	}
	p.recordToken(ctx, tc, err)
	return resp, err
}

// recordToken logs the outcome of a token request, unless its write
// logged it already.
func (p *Provider) recordToken(ctx context.Context, tc *tokenCall, err error) {
	ev := p.tokenEvent(ctx, tc, err)
	if err != nil {
		level := p.log.InfoContext
		if ev.Reason == "code_reused" || ev.Reason == "refresh_token_reused" || ev.Reason == "refresh_token_of_other_client" {
			level = p.log.WarnContext
		}
		level(ctx, "token request refused", "app", ev.App, "user", ev.Username, "reason", ev.Reason, "detail", ev.Detail, "ip", ev.IP)
	}
	if !tc.logged {
		p.appendSignIn(ctx, ev)
	}
	if p.onToken != nil {
		p.onToken(tc.grantType, ev.Result)
	}
}

// tokenEvent is the sign-in log entry of a token request.
func (p *Provider) tokenEvent(ctx context.Context, tc *tokenCall, err error) store.SignInEvent {
	m := metaOf(ctx)
	ev := store.SignInEvent{Time: p.now(), IP: m.IP, UserAgent: m.UserAgent, Method: MethodOIDC, Result: store.ResultSuccess}
	if tc.client != nil {
		ev.App = tc.client.rec.ID
	}
	if tc.grant != nil {
		ev.App = tc.grant.ClientID
		ev.UserID = tc.grant.UserID
		if tc.grant.Method != "" {
			ev.Method = tc.grant.Method
		}
		if tc.grant.CredentialID != "" {
			p.describeCredential(ctx, &ev, tc.grant.CredentialID)
		}
	}
	if tc.user != nil {
		ev.UserID, ev.Username = tc.user.ID, tc.user.Username
	} else if ev.UserID != "" {
		if u, err := p.store.GetUser(ctx, ev.UserID); err == nil {
			ev.Username = u.Username
		}
	}
	if err == nil {
		issued := "id_token, access_token"
		if tc.refresh {
			issued += ", refresh_token"
		}
		ev.Detail = tc.grantType + " grant: issued " + issued
	} else {
		ev.Result = store.ResultFailure
		var oe *oidc.Error
		if errors.As(err, &oe) {
			ev.Reason, ev.Detail = string(oe.ErrorType), oe.Description
		} else {
			ev.Reason, ev.Detail = "internal", err.Error()
		}
		if tc.reason != "" {
			ev.Reason, ev.Detail = tc.reason, tc.detail
		}
		ev.Detail = tc.grantType + " grant refused: " + ev.Detail
	}
	return cleanEvent(ev)
}

// recordRefusal logs an authorization or client-authentication refusal.
func (p *Provider) recordRefusal(ctx context.Context, clientID, userID, reason, detail string) {
	m := metaOf(ctx)
	ev := store.SignInEvent{Time: p.now(), IP: m.IP, UserAgent: m.UserAgent, App: truncate(clientID, 100),
		UserID: userID, Method: MethodOIDC, Result: store.ResultFailure, Reason: reason, Detail: detail}
	if userID != "" {
		if u, err := p.store.GetUser(ctx, userID); err == nil {
			ev.Username = u.Username
		}
	}
	p.log.InfoContext(ctx, "authorization refused", "app", ev.App, "user", ev.Username, "reason", reason, "detail", detail, "ip", ev.IP)
	p.appendSignIn(ctx, ev)
}

// credentialDescription is what the sign-in log says about a passkey. It
// comes from the AAGUID and the backup-eligible flag, which never change
// for a credential, so it can be remembered.
type credentialDescription struct{ aaguid, model, kind string }

func (p *Provider) describeCredential(ctx context.Context, ev *store.SignInEvent, credentialID string) {
	ev.CredentialID = credentialID
	p.credMu.Lock()
	d, ok := p.creds[credentialID]
	p.credMu.Unlock()
	if !ok {
		c, err := p.store.GetCredential(ctx, credentialID)
		if err != nil {
			return
		}
		d = credentialDescription{passkey.FormatAAGUID(c.AAGUID), passkey.ModelName(c.AAGUID),
			string(passkey.Classify(c.BackupEligible, c.BackupState))}
		p.credMu.Lock()
		if p.creds == nil || len(p.creds) >= 10_000 {
			p.creds = map[string]credentialDescription{}
		}
		p.creds[credentialID] = d
		p.credMu.Unlock()
	}
	ev.AAGUID, ev.Model, ev.PasskeyType = d.aaguid, d.model, d.kind
}

// cleanEvent bounds what the log keeps of a detail.
func cleanEvent(ev store.SignInEvent) store.SignInEvent {
	ev.Detail = strings.ToValidUTF8(truncate(ev.Detail, 1000), "?")
	return ev
}

func (p *Provider) appendSignIn(ctx context.Context, ev store.SignInEvent) {
	if _, err := p.store.AppendSignIn(ctx, cleanEvent(ev)); err != nil {
		p.log.ErrorContext(ctx, "sign-in log write failed", "err", err)
	}
}
