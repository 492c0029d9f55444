package oidc

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// authParams are the validated parameters of an authorization request, as
// kept in the store between the request's steps.
type authParams struct {
	RedirectURI         string   `json:"redirect_uri"`
	Scopes              []string `json:"scope"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	MaxAge              *uint    `json:"max_age,omitempty"`
	ACRValues           []string `json:"acr_values,omitempty"`
	LoginHint           string   `json:"login_hint,omitempty"`
	HintUserID          string   `json:"hint_sub,omitempty"` // sub of a valid id_token_hint
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
}

func paramsFrom(r *oidc.AuthRequest, hintUserID string) authParams {
	return authParams{
		RedirectURI: r.RedirectURI, Scopes: r.Scopes, ResponseType: string(r.ResponseType),
		ResponseMode: string(r.ResponseMode), State: r.State, Nonce: r.Nonce, Prompt: r.Prompt,
		MaxAge: r.MaxAge, ACRValues: r.ACRValues, LoginHint: r.LoginHint, HintUserID: hintUserID,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: string(r.CodeChallengeMethod),
	}
}

// authRequest is a stored authorization request as op sees it.
type authRequest struct {
	rec    oidcstore.AuthRequest
	params authParams
	// user is rec's user as read with it (zero when deleted), or nil when
	// not read.
	user *store.User
}

var _ op.AuthRequest = (*authRequest)(nil)

func decodeAuthRequest(rec oidcstore.AuthRequest) (*authRequest, error) {
	r := &authRequest{rec: rec}
	if err := json.Unmarshal(rec.Params, &r.params); err != nil {
		return nil, fmt.Errorf("oidc: authorization request %s: %w", rec.ID, err)
	}
	return r, nil
}

func (r *authRequest) GetID() string          { return r.rec.ID }
func (r *authRequest) GetACR() string         { return r.rec.Auth.ACR }
func (r *authRequest) GetAMR() []string       { return r.rec.Auth.AMR }
func (r *authRequest) GetAudience() []string  { return []string{r.rec.ClientID} }
func (r *authRequest) GetAuthTime() time.Time { return r.rec.Auth.AuthTime }
func (r *authRequest) GetClientID() string    { return r.rec.ClientID }
func (r *authRequest) GetNonce() string       { return r.params.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.params.RedirectURI }
func (r *authRequest) GetScopes() []string    { return r.params.Scopes }
func (r *authRequest) GetState() string       { return r.params.State }
func (r *authRequest) GetSubject() string     { return r.rec.Auth.UserID }
func (r *authRequest) Done() bool             { return r.rec.Done() }
func (r *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(r.params.ResponseType)
}
func (r *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(r.params.ResponseMode)
}

func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if r.params.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: r.params.CodeChallenge, Method: oidc.CodeChallengeMethod(r.params.CodeChallengeMethod)}
}

func (r *authRequest) hasPrompt(p string) bool { return slices.Contains(r.params.Prompt, p) }

func (r *authRequest) demands() demands {
	return demands{
		PromptNone: r.hasPrompt(oidc.PromptNone), PromptLogin: r.hasPrompt(oidc.PromptLogin),
		PromptConsent: r.hasPrompt(oidc.PromptConsent), MaxAge: r.params.MaxAge,
		ACRValues: r.params.ACRValues, HintUserID: r.params.HintUserID, CreatedAt: r.rec.CreatedAt,
	}
}

// refreshRequest is a refresh token presented at the token endpoint, with
// the grant it belongs to.
type refreshRequest struct {
	token  oidcstore.RefreshToken
	grant  oidcstore.Grant
	scopes []string // narrowed by the request's scope parameter, if given
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string                 { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string            { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.grant.UserID }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }
