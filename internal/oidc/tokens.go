package oidc

import (
	"context"
	"errors"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// Token families: a redeemed code creates a grant; its refresh tokens
// rotate at every use; presenting a refresh token that was already used
// means two parties hold the family, and the whole family is revoked
// (OAuth 2.0 Security BCP, RFC 9700 4.14).

// redeem turns a completed authorization request into a grant, exactly
// once. With refresh, the grant lives as long as a refresh family may and
// gets its first refresh token (returned); without, it lives as long as
// its one access token. The redemption is stored by the request's write
// (see stage).
func (p *Provider) redeem(ctx context.Context, r *authRequest, refresh bool) (oidcstore.Grant, string, error) {
	tc := callOf(ctx)
	var u store.User
	var err error
	if r.user != nil {
		// Read with the request.
		if u = *r.user; u.ID != r.rec.Auth.UserID || u.Disabled {
			err = errUserDisabled
		}
	} else {
		u, err = p.activeUser(ctx, r.rec.Auth.UserID)
	}
	if err != nil {
		return oidcstore.Grant{}, "", tc.refusal("user_unavailable", err.Error(), oidc.ErrInvalidGrant().WithDescription("the user can no longer sign in"))
	}
	tc.user = &u
	now := p.now()
	g := oidcstore.Grant{
		ID: store.NewID(), ClientID: r.rec.ClientID, UserID: u.ID, Scopes: r.params.Scopes,
		CredentialID: r.rec.Auth.CredentialID, Method: r.rec.Auth.Method, AuthTime: r.rec.Auth.AuthTime,
		AMR: r.rec.Auth.AMR, ACR: r.rec.Auth.ACR, CreatedAt: now, ExpiresAt: now.Add(p.life.AccessToken),
		SessionID: r.rec.Auth.SessionID,
	}
	var token string
	var rt *oidcstore.RefreshToken
	if refresh {
		g.ExpiresAt = now.Add(p.life.RefreshFamily)
		token = newOpaqueToken()
		rt = &oidcstore.RefreshToken{Hash: tokenHash(token), GrantID: g.ID, CreatedAt: now,
			ExpiresAt: minTime(now.Add(p.life.RefreshToken), g.ExpiresAt)}
	}
	tc.grant = &g
	tc.refresh = refresh
	err = p.stage(ctx, tc, func(ctx context.Context, signIn *store.SignInEvent) error {
		err := p.oidcStore.RedeemAuthCode(ctx, r.rec.ID, g, rt, now.Add(p.life.CodeReplay), signIn)
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another exchange of the same code won the race: a replay.
			tc.grant, tc.refresh = nil, false
			if rec, gerr := p.oidcStore.GetAuthRequest(ctx, r.rec.ID); gerr == nil {
				p.revokeGrant(ctx, rec.GrantID, "code_reused")
			}
			return tc.refusal("code_reused", "code redeemed concurrently; the other exchange's grant revoked",
				oidc.ErrInvalidGrant().WithDescription("invalid code"))
		case errors.Is(err, store.ErrNotFound):
			tc.grant, tc.refresh = nil, false
			return tc.refusal("user_unavailable", "the user or passkey was deleted before the code was redeemed",
				oidc.ErrInvalidGrant().WithDescription("the user can no longer sign in"))
		}
		return err
	})
	if err != nil {
		return oidcstore.Grant{}, "", err
	}
	return g, token, nil
}

// refreshRequest checks a refresh token: known, not used before, its grant
// standing and unexpired, its user still enabled. The token, its grant and
// its user are one read.
func (p *Provider) refreshRequest(ctx context.Context, token string) (*refreshRequest, error) {
	tc := callOf(ctx)
	invalid := oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	rt, g, u, err := p.oidcStore.GetRefreshTokenUser(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, tc.refusal("unknown_refresh_token", "refresh token never issued, or its grant ended", invalid)
	} else if err != nil {
		return nil, err
	}
	tc.grant = &g
	now := p.now()
	switch {
	case !g.RevokedAt.IsZero():
		return nil, tc.refusal("grant_revoked", fmt.Sprintf("grant %s revoked (%s)", g.ID, g.RevokeReason), invalid)
	case !rt.UsedAt.IsZero():
		p.revokeGrant(ctx, g.ID, "refresh_token_reused")
		return nil, tc.refusal("refresh_token_reused",
			fmt.Sprintf("refresh token already used at %s: grant %s revoked", rt.UsedAt.Format("2006-01-02T15:04:05.000Z07:00"), g.ID), invalid)
	case !now.Before(rt.ExpiresAt) || !now.Before(g.ExpiresAt):
		return nil, tc.refusal("refresh_token_expired", "refresh token or grant expired", invalid)
	}
	if u.Disabled {
		p.revokeGrant(ctx, g.ID, "user_unavailable")
		return nil, tc.refusal("user_unavailable", errUserDisabled.Error(), invalid)
	}
	tc.user = &u
	return &refreshRequest{token: rt, grant: g, scopes: g.Scopes}, nil
}

// rotate replaces the presented refresh token with a new one, stored by
// the request's write (see stage). Losing a race against another use of
// the same token is a reuse too.
func (p *Provider) rotate(ctx context.Context, r *refreshRequest) (string, error) {
	tc := callOf(ctx)
	now := p.now()
	token := newOpaqueToken()
	next := oidcstore.RefreshToken{Hash: tokenHash(token), GrantID: r.grant.ID, CreatedAt: now,
		ExpiresAt: minTime(now.Add(p.life.RefreshToken), r.grant.ExpiresAt)}
	tc.refresh = true
	err := p.stage(ctx, tc, func(ctx context.Context, signIn *store.SignInEvent) error {
		err := p.oidcStore.RotateRefreshToken(ctx, r.token.Hash, next, now, signIn)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			tc.refresh = false
			p.revokeGrant(ctx, r.grant.ID, "refresh_token_reused")
			return tc.refusal("refresh_token_reused", fmt.Sprintf("refresh token used concurrently: grant %s revoked", r.grant.ID),
				oidc.ErrInvalidGrant().WithDescription("invalid refresh token"))
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// stage holds a token request's write until its tokens are signed, when
// the request is one of the token endpoint's (tc.deferWrite): then
// commitTokens makes it, with the sign-in log entry, as one write. So a
// token response costs one write, the tokens sent are exactly those
// stored, and a failure to sign stores nothing. Elsewhere the write is
// made at once.
func (p *Provider) stage(ctx context.Context, tc *tokenCall, write func(ctx context.Context, signIn *store.SignInEvent) error) error {
	if tc.deferWrite {
		tc.write = write
		return nil
	}
	return write(ctx, nil)
}

// commitTokens makes the staged write of a token request whose tokens are
// signed, with its sign-in log entry.
func (p *Provider) commitTokens(ctx context.Context, tc *tokenCall) error {
	if tc.write == nil {
		return nil
	}
	write := tc.write
	tc.write = nil
	ev := p.tokenEvent(ctx, tc, nil)
	if err := write(ctx, &ev); err != nil {
		return err
	}
	tc.logged = true
	return nil
}

// revokeGrant revokes a family, logging (not returning) a failure: it is
// called while refusing something else.
func (p *Provider) revokeGrant(ctx context.Context, grantID, reason string) {
	if grantID == "" {
		return
	}
	if err := p.oidcStore.RevokeGrant(ctx, grantID, p.now(), reason); err != nil && !errors.Is(err, store.ErrNotFound) {
		p.log.ErrorContext(ctx, "revoking a token family failed", "grant", grantID, "reason", reason, "err", err)
		return
	}
	p.log.WarnContext(ctx, "token family revoked", "grant", grantID, "reason", reason)
}

// liveGrant is the standing, unexpired grant of an access token, and its
// user, in one read.
func (p *Provider) liveGrant(ctx context.Context, tokenID string) (oidcstore.Grant, store.User, error) {
	g, u, err := p.oidcStore.GetGrantUser(ctx, grantOfTokenID(tokenID))
	if errors.Is(err, store.ErrNotFound) {
		return g, u, oidc.ErrAccessDenied().WithDescription("token revoked")
	} else if err != nil {
		return g, u, err
	}
	if !g.RevokedAt.IsZero() || !p.now().Before(g.ExpiresAt) {
		return g, u, oidc.ErrAccessDenied().WithDescription("token revoked")
	}
	return g, u, nil
}

var errUserDisabled = errors.New("user disabled or deleted")

func (p *Provider) activeUser(ctx context.Context, id string) (store.User, error) {
	u, err := p.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return u, errUserDisabled
	}
	return u, err
}

// userinfo fills the claims the scopes allow, for the request's user when
// it has been read already.
func (p *Provider) userinfo(ctx context.Context, info *oidc.UserInfo, userID string, scopes []string) error {
	tc := callOf(ctx)
	var u store.User
	if tc.user != nil && tc.user.ID == userID {
		u = *tc.user
	} else {
		var err error
		if u, err = p.activeUser(ctx, userID); err != nil {
			return oidc.ErrAccessDenied().WithDescription("the user can no longer sign in")
		}
	}
	return p.claims(ctx, info, u, scopes)
}

// claims fills the claims of an enabled user that the scopes allow.
// email_verified is true: addresses in Sesame's directory are set by
// administrators, not claimed by the user.
func (p *Provider) claims(ctx context.Context, info *oidc.UserInfo, u store.User, scopes []string) error {
	if u.Disabled {
		return oidc.ErrAccessDenied().WithDescription("the user can no longer sign in")
	}
	info.Subject = u.ID
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.Name = u.DisplayName
			if info.Name == "" {
				info.Name = u.Username
			}
			info.PreferredUsername = u.Username
			info.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			if u.Email != "" {
				info.Email, info.EmailVerified = u.Email, true
			}
		case ScopeGroups:
			groups, err := p.store.ListUserGroups(ctx, u.ID)
			if err != nil {
				return err
			}
			names := make([]string, len(groups))
			for i, g := range groups {
				names[i] = g.Name
			}
			info.AppendClaims("groups", names)
		}
	}
	return nil
}

func (p *Provider) newClient(rec oidcstore.Client) *client {
	return &client{rec: rec, loginURL: p.issuer + pathContinue, idTokenTTL: p.life.IDToken}
}

var _ op.Client = (*client)(nil)
