package oidc

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// server is op's LegacyServer with Sesame's rules where op is more lenient
// than Sesame wants, and with every token issuance and refusal written to
// the sign-in log.
type server struct {
	*op.LegacyServer
	p *Provider
}

// corsOptions let browser apps on other origins call the token, userinfo
// and revocation endpoints. Unlike op's default, credentials (cookies) are
// never allowed cross-origin: none of those endpoints uses cookies.
func corsOptions() *cors.Options {
	return &cors.Options{
		AllowOriginFunc:  func(string) bool { return true },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		AllowCredentials: false,
		MaxAge:           600,
	}
}

// Discovery advertises what Sesame does, which is less than op's defaults:
// the code flow only, PKCE with S256 only.
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	d, ok := resp.Data.(*oidc.DiscoveryConfiguration)
	if !ok {
		return resp, nil
	}
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery), string(oidc.ResponseModeFormPost)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.BackChannelLogoutSupported, d.BackChannelLogoutSessionSupported = true, true
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	d.RevocationEndpointAuthMethodsSupported = d.TokenEndpointAuthMethodsSupported
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.IDTokenSigningAlgValuesSupported = Algorithms
	d.ACRValuesSupported = ACRValues
	d.ScopesSupported = SupportedScopes
	d.ClaimsSupported = supportedClaims
	d.RequestParameterSupported = false
	d.RequestURIParameterSupported = false
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.DeviceAuthorizationEndpoint = ""
	return resp, nil
}

// VerifyAuthRequest finds the app. An unknown client_id is refused on an
// error page, never by redirect: nothing says where to.
func (s *server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.ClientID == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("client_id is missing")
	}
	c, err := storage{s.p}.GetClientByClientID(ctx, r.Data.ClientID)
	if errors.Is(err, errUnknownClient) {
		s.p.recordRefusal(ctx, r.Data.ClientID, "", "unknown_client", "authorization request for an unknown client_id")
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client_id")
	} else if err != nil {
		return nil, err
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: c}, nil
}

// pkceExempt: only a confidential app an admin exempted may leave PKCE
// out (RFC 9700 2.1.1 requires it of every client by default).
func pkceExempt(c op.Client) bool {
	cl, ok := c.(*client)
	return ok && !cl.rec.Public && cl.rec.AllowMissingPKCE
}

// Authorize runs after op has matched the redirect URI exactly, so
// refusals from here on go back to the app. Sesame requires PKCE with S256
// from every app unless an admin exempted a confidential one, and accepts
// S256 only: "plain" protects nothing a leaked code does not already give
// away.
func (s *server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	d := r.Data
	refuse := func(reason string, e *oidc.Error) (*op.Redirect, error) {
		s.p.recordRefusal(ctx, d.ClientID, "", reason, e.Description)
		return op.TryErrorRedirect(ctx, d, e, s.p.op.Encoder(), nil)
	}
	switch {
	case d.CodeChallenge != "" && d.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return refuse("pkce_method", oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256"))
	case d.CodeChallenge == "" && d.CodeChallengeMethod != "":
		return refuse("pkce_missing", oidc.ErrInvalidRequest().WithDescription("code_challenge is missing"))
	case d.CodeChallenge == "" && !pkceExempt(r.Client):
		return refuse("pkce_missing", oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with code_challenge_method S256) is required for this app"))
	case d.CodeChallenge != "" && (len(d.CodeChallenge) < 43 || len(d.CodeChallenge) > 128):
		return refuse("pkce_malformed", oidc.ErrInvalidRequest().WithDescription("code_challenge is malformed"))
	case !slices.Contains(d.Scopes, oidc.ScopeOpenID):
		return refuse("openid_scope_missing", oidc.ErrInvalidScope().WithDescription("the openid scope is required"))
	case len(d.State) > 2048 || len(d.Nonce) > 2048:
		return refuse("oversized", oidc.ErrInvalidRequest().WithDescription("state or nonce is too long"))
	case d.ResponseMode != "" && d.ResponseMode != oidc.ResponseModeQuery && d.ResponseMode != oidc.ResponseModeFormPost:
		return refuse("response_mode", oidc.ErrInvalidRequest().WithDescription("response_mode must be query or form_post"))
	}
	return s.LegacyServer.Authorize(ctx, r)
}

// VerifyClient authenticates the app at the token, revocation and
// introspection endpoints, logging refusals.
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := s.LegacyServer.VerifyClient(ctx, r)
	if err != nil {
		reason := "invalid_client"
		if errors.Is(err, errWrongSecret) {
			reason = "wrong_client_secret"
		} else if errors.Is(err, errUnknownClient) {
			reason = "unknown_client"
		}
		s.p.recordRefusal(ctx, r.Data.ClientID, "", reason, "client authentication failed at "+r.URL.Path)
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
			// RFC 6749 5.2: a failed client authentication is a 401.
			return nil, op.NewStatusError(oe, http.StatusUnauthorized)
		}
	}
	return c, err
}

// CodeExchange is op's, but always checks PKCE when the request had a
// challenge: op skips the check for confidential apps that leave out the
// verifier, which would make PKCE optional for a code thief.
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	c, _ := r.Client.(*client)
	tc := &tokenCall{grantType: string(oidc.GrantTypeCode), client: c, deferWrite: true}
	ctx = withTokenCall(ctx, tc)
	resp, err := s.codeExchange(ctx, tc, r)
	return s.p.finishToken(ctx, tc, resp, err)
}

func (s *server) codeExchange(ctx context.Context, tc *tokenCall, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	storage := s.p.op.Storage()
	authReq, err := storage.AuthRequestByCode(ctx, r.Data.Code)
	if err != nil {
		var oe *oidc.Error
		if !errors.As(err, &oe) {
			err = oidc.ErrServerError().WithParent(err)
		}
		return nil, err
	}
	if authReq.GetClientID() != r.Client.GetID() {
		return nil, tc.refusal("code_of_other_client", "code issued to "+authReq.GetClientID(), oidc.ErrInvalidGrant().WithDescription("invalid code"))
	}
	if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, authReq.GetCodeChallenge()); err != nil {
		var oe *oidc.Error
		errors.As(err, &oe)
		return nil, tc.refusal("pkce_failed", oe.Description, oe)
	}
	if r.Data.RedirectURI != authReq.GetRedirectURI() {
		return nil, tc.refusal("redirect_uri_mismatch", "redirect_uri differs from the authorization request's",
			oidc.ErrInvalidGrant().WithDescription("redirect_uri does not correspond"))
	}
	resp, err := s.tokenResponse(ctx, authReq, r.Client, r.Data.Code)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

// RefreshToken is op's, with the token family logic in storage and the
// app's signing algorithm in the context.
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	c, _ := r.Client.(*client)
	tc := &tokenCall{grantType: string(oidc.GrantTypeRefreshToken), client: c, deferWrite: true}
	ctx = withTokenCall(ctx, tc)
	resp, err := s.refreshToken(ctx, tc, r)
	return s.p.finishToken(ctx, tc, resp, err)
}

func (s *server) refreshToken(ctx context.Context, tc *tokenCall, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	request, err := s.p.refreshRequest(ctx, r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	if request.GetClientID() != r.Client.GetID() {
		// Not a reuse by the family's holder: another app holds this
		// token, so the family is compromised all the same.
		s.p.revokeGrant(ctx, request.grant.ID, "refresh_token_of_other_client")
		return nil, tc.refusal("refresh_token_of_other_client", "refresh token issued to "+request.GetClientID(),
			oidc.ErrInvalidGrant().WithDescription("invalid refresh token"))
	}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, request); err != nil {
		return nil, tc.refusal("invalid_scope", "refresh asked for scopes beyond the grant", oidc.ErrInvalidScope())
	}
	resp, err := s.tokenResponse(ctx, request, r.Client, "")
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

// Grants Sesame does not offer.

func (s *server) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *server) TokenExchange(context.Context, *op.ClientRequest[oidc.TokenExchangeRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *server) ClientCredentialsExchange(context.Context, *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *server) DeviceToken(context.Context, *op.ClientRequest[oidc.DeviceAccessTokenRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}
