package oidc

import (
	"context"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// tokenResponse is op.CreateTokenResponse for Sesame's two grants (code
// exchange and refresh), with the claims Sesame adds (scope, auth_time,
// amr, acr, sid) set as the registered claims op's claim types have for
// them rather than as extra claims. A claim set with extra claims costs op
// three JSON passes (encode, decode into a map with the extras, encode
// again), which were a tenth of a refresh grant's CPU; without extras it
// is one. The tokens carry the same claims as op's
// (TestTokenResponseMatchesOp), signed the same way.
func (s *server) tokenResponse(ctx context.Context, req op.IDTokenRequest, c op.Client, code string) (*oidc.AccessTokenResponse, error) {
	st := storage{s.p}
	issuer := op.IssuerFromContext(ctx)
	skew := c.ClockSkew()

	var id, refresh string
	var exp time.Time
	var err error
	if needsRefreshToken(req, c) {
		id, refresh, exp, err = st.CreateAccessAndRefreshTokens(ctx, req, "")
	} else {
		id, exp, err = st.CreateAccessToken(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	validity := exp.Add(skew).Sub(time.Now().UTC())

	key, err := st.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return nil, err
	}

	// The access token (RFC 9068): what GetPrivateClaimsFromRequest adds
	// for op, as registered claims.
	authTime, amr, acr := authenticationOf(req)
	at := oidc.NewAccessTokenClaims(issuer, req.GetSubject(), req.GetAudience(), exp, id, c.GetID(), skew)
	at.Scopes = req.GetScopes()
	at.AuthTime = oidc.FromTime(authTime)
	at.AuthenticationMethodsReferences = amr
	at.AuthenticationContextClassReference = acr
	accessToken, err := crypto.Sign(at, signer)
	if err != nil {
		return nil, err
	}

	// The ID token, as op.CreateIDToken makes it, with what
	// SetUserinfoFromRequest adds for op as registered claims.
	var nonce string
	acr = ""
	if ar, ok := req.(*authRequest); ok {
		acr, nonce = ar.GetACR(), ar.GetNonce()
	}
	idExp := time.Now().UTC().Add(skew).Add(c.IDTokenLifetime())
	claims := oidc.NewIDTokenClaims(issuer, req.GetSubject(), req.GetAudience(), idExp, req.GetAuthTime(), nonce, acr, req.GetAMR(), req.GetClientID(), skew)
	if claims.AccessTokenHash, err = oidc.ClaimHash(accessToken, key.SignatureAlgorithm()); err != nil {
		return nil, err
	}
	scopes := c.RestrictAdditionalIdTokenScopes()(req.GetScopes())
	if !c.IDTokenUserinfoClaimsAssertion() {
		scopes = withoutUserinfoScopes(scopes)
	}
	if len(scopes) > 0 {
		info := new(oidc.UserInfo)
		if err := s.p.userinfo(ctx, info, req.GetSubject(), scopes); err != nil {
			return nil, err
		}
		claims.SetUserInfo(info)
		if r, ok := req.(*refreshRequest); ok && r.grant.ACR != "" {
			claims.AuthenticationContextClassReference = r.grant.ACR
		}
		claims.SessionID = sessionOf(req)
	}
	if code != "" {
		if claims.CodeHash, err = oidc.ClaimHash(code, key.SignatureAlgorithm()); err != nil {
			return nil, err
		}
	}
	idToken, err := crypto.Sign(claims, signer)
	if err != nil {
		return nil, err
	}
	if ar, ok := req.(*authRequest); ok {
		if err := st.DeleteAuthRequest(ctx, ar.GetID()); err != nil {
			return nil, err
		}
	}
	return &oidc.AccessTokenResponse{
		AccessToken:  accessToken,
		IDToken:      idToken,
		RefreshToken: refresh,
		TokenType:    oidc.BearerToken,
		ExpiresIn:    uint64(validity.Seconds()),
		Scope:        req.GetScopes(),
	}, nil
}

// needsRefreshToken is op's rule: a code exchange gets a refresh token
// when offline_access was granted to an app allowed the refresh grant; a
// refresh always gets the next one.
func needsRefreshToken(req op.IDTokenRequest, c op.Client) bool {
	switch r := req.(type) {
	case *authRequest:
		return slices.Contains(r.GetScopes(), oidc.ScopeOfflineAccess) && r.GetResponseType() == oidc.ResponseTypeCode &&
			op.ValidateGrantType(c, oidc.GrantTypeRefreshToken)
	case *refreshRequest:
		return true
	}
	return false
}

// authenticationOf is how and when the user of a token request signed in.
func authenticationOf(req op.TokenRequest) (authTime time.Time, amr []string, acr string) {
	switch r := req.(type) {
	case *authRequest:
		return r.rec.Auth.AuthTime, r.rec.Auth.AMR, r.rec.Auth.ACR
	case *refreshRequest:
		return r.grant.AuthTime, r.grant.AMR, r.grant.ACR
	}
	return time.Time{}, nil, ""
}

// sessionOf is the sid of a token request: the Sesame session, which
// back-channel logout tokens name.
func sessionOf(req op.TokenRequest) string {
	switch r := req.(type) {
	case *authRequest:
		return r.rec.Auth.SessionID
	case *refreshRequest:
		return r.grant.SessionID
	}
	return ""
}

// withoutUserinfoScopes is op's: the scopes whose claims userinfo serves.
func withoutUserinfoScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeAddress, oidc.ScopePhone:
		default:
			out = append(out, s)
		}
	}
	return out
}
