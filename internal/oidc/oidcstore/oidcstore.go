// Package oidcstore defines what the OpenID provider keeps in the database:
// registered apps (clients), authorization requests and their codes, grants
// (token families) with their refresh tokens, and signing keys. Everything
// lives in the database rather than process memory, because several Sesame
// instances may share one database and a flow begun on one instance must
// finish on another.
//
// The records are plain values; the decisions (what a code or token is
// worth, which key signs) are made in package oidc. The backends (sqlite,
// postgres) implement Store and must pass storetest.RunOIDC.
//
// The rules of package store apply: times read back truncated to the
// millisecond in UTC, zero times read back as zero, nil and empty lists are
// not told apart, ErrNotFound and ErrConflict from package store are the
// errors for missing records and failed uniqueness or compare-and-set
// conditions.
package oidcstore

import (
	"context"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Client is an app registered to sign people in through Sesame.
type Client struct {
	ID                     string // the client_id; chosen at registration, unique
	SecretHash             []byte // SHA-256 of the client secret; empty for a public client
	Public                 bool   // no secret: PKCE is what binds the code to the app
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	SigningAlg             string // "ES256" or "RS256": how this app's ID tokens are signed
	// RequiredACR is the authentication context class every sign-in to
	// this app must meet (the acr value of an authentication strength,
	// e.g. "phrh"); "" for none beyond what the app asks for.
	RequiredACR string
	// AllowMissingPKCE exempts a confidential app that cannot send PKCE
	// from the rule that every authorization request carries an S256
	// code_challenge. Never set for a public app.
	AllowMissingPKCE bool
	// BackchannelLogoutURI is where the app receives logout tokens
	// (OpenID Connect Back-Channel Logout); "" for none.
	BackchannelLogoutURI string
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Authentication is how the user signed in for an authorization request.
type Authentication struct {
	UserID       string
	CredentialID string // Sesame credential ID of the passkey used, if one was
	Method       string // the session's method: "passkey", "tap", ...
	AuthTime     time.Time
	AMR          []string
	ACR          string
	At           time.Time // when the request was completed
	SessionID    string    // the sid of the Sesame session signed in with; "" when unknown
}

// AuthRequest is one authorization request from its arrival at the
// authorization endpoint to the redemption of its code.
type AuthRequest struct {
	ID        string
	ClientID  string
	Params    []byte // the validated request parameters, as package oidc encodes them
	CreatedAt time.Time
	ExpiresAt time.Time // the record may be deleted from then on

	// Set by CompleteAuthRequest once the user is signed in; zero before.
	Auth Authentication

	// Set by SetAuthCode; a request gets at most one code.
	CodeHash      []byte
	CodeExpiresAt time.Time

	// Set by RedeemAuthCode; a code is redeemed at most once.
	RedeemedAt time.Time
	GrantID    string
}

// Done reports whether the user has signed in for the request.
func (r AuthRequest) Done() bool { return r.Auth.UserID != "" }

// Grant is what a redeemed code gave an app: the user's consent in effect,
// and the family of tokens issued under it. Revoking the grant makes every
// access and refresh token of the family worthless.
type Grant struct {
	ID           string
	ClientID     string
	UserID       string
	Scopes       []string
	CredentialID string // passkey used at sign-in, if one was; deleting it deletes the grant
	Method       string
	AuthTime     time.Time
	AMR          []string
	ACR          string
	CreatedAt    time.Time
	ExpiresAt    time.Time // absolute end: no token of the family outlives it
	RevokedAt    time.Time // zero while the grant stands
	RevokeReason string
	SessionID    string // sid of the Sesame session it was issued in (back-channel logout)
}

// RefreshToken is one refresh token of a grant. Only its hash is kept.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until it is exchanged (rotated) for the next one
}

// SigningKey is a key that signs ID and access tokens. The private key is
// stored encrypted by package oidc; the store never sees it in the clear.
type SigningKey struct {
	ID         string // the JWK "kid"
	Algorithm  string // "ES256" or "RS256"
	PrivateKey []byte // sealed PKCS#8
	PublicKey  []byte // PKIX DER
	CreatedAt  time.Time
	NotBefore  time.Time // signs from this time on, until a newer key of its algorithm takes over
}

// LogoutQuery selects the sign-ins to apps a back-channel logout is for:
// the grants of UserID (every session of the user), or those issued in
// one of SessionIDs, or those made with CredentialID. Exactly one is set.
type LogoutQuery struct {
	UserID       string
	SessionIDs   []string
	CredentialID string
}

// LogoutTarget is one app session to log out: an app with a back-channel
// logout URI, the user (sub) and the Sesame session (sid, may be "").
type LogoutTarget struct {
	ClientID  string
	Subject   string
	SessionID string
}

// Logout is one logout token in the outbox: waiting, being delivered
// (leased), or finished (delivered or given up). Its ID is the token's jti.
type Logout struct {
	ID            string
	ClientID      string
	Subject       string
	SessionID     string
	Reason        string // why: signout, passkey_revoked, user_disabled, user_deleted
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string    // "" when not leased
	LeaseUntil    time.Time // zero when not leased
	DoneAt        time.Time // zero until delivered or given up
	Delivered     bool
	LastError     string
}

// LogoutOutcome is the result of one delivery attempt.
type LogoutOutcome struct {
	At            time.Time
	Delivered     bool      // the app accepted the token: done
	GiveUp        bool      // failed for the last time: done, not delivered
	NextAttemptAt time.Time // when not done: when to try again
	Error         string    // "" when delivered
}

// Store is the OpenID provider's storage. Implementations must be safe for
// concurrent use by many goroutines and by many processes sharing one
// database.
type Store interface {
	// Clients. IDs are unique (ErrConflict). UpdateClient replaces every
	// mutable field (secret hash, URIs, algorithm, UpdatedAt) by ID.
	// DeleteClient also deletes the client's authorization requests and
	// grants (and so its refresh tokens) in the same step.
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error) // ordered by ID
	UpdateClient(ctx context.Context, c Client) error
	DeleteClient(ctx context.Context, id string) error

	// Authorization requests. PutAuthRequest with an ID in use is
	// ErrConflict, with an unknown client ErrNotFound. The Auth, code and
	// redemption fields of the record passed are ignored.
	PutAuthRequest(ctx context.Context, r AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// CompleteAuthRequest records who signed in. It may be called again
	// (the user signed in afresh) until a code is issued, then ErrConflict.
	CompleteAuthRequest(ctx context.Context, id string, a Authentication) error
	// SetAuthCode records the code issued for a completed request. A
	// request not yet completed, or that already has a code, is
	// ErrConflict, so one request yields at most one code.
	SetAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error
	GetAuthRequestByCode(ctx context.Context, codeHash []byte) (AuthRequest, error)
	// GetAuthRequestByCodeUser also returns the user who signed in for the
	// request, in one read: a zero User when there is none or the user no
	// longer exists.
	GetAuthRequestByCodeUser(ctx context.Context, codeHash []byte) (AuthRequest, store.User, error)
	// RedeemAuthCode marks the request's code redeemed at g.CreatedAt and
	// creates the grant (and its first refresh token when rt is not nil) in
	// the same step, and keeps the request until keepUntil so that a replay
	// of the code can still be recognised. Of concurrent redemptions of one
	// code exactly one succeeds; the others get ErrConflict and change
	// nothing. A request without a code is ErrConflict too. When signIn is
	// not nil it is appended to the sign-in log (as store.Store's
	// AppendSignIn would) in the same step, and only if the redemption
	// succeeds: one write for the whole token response.
	RedeemAuthCode(ctx context.Context, requestID string, g Grant, rt *RefreshToken, keepUntil time.Time, signIn *store.SignInEvent) error
	// DeleteExpiredAuthRequests removes requests with ExpiresAt <= now.
	DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int, error)

	// Grants. RevokeGrant sets RevokedAt and RevokeReason unless already
	// revoked (then it changes nothing and succeeds); unknown ID is
	// ErrNotFound. RevokeGrants revokes every standing grant of the user to
	// the client (any client when clientID is empty) and returns how many.
	// GetGrantUser is GetGrant that also returns the grant's user, in one
	// read.
	GetGrant(ctx context.Context, id string) (Grant, error)
	GetGrantUser(ctx context.Context, id string) (Grant, store.User, error)
	RevokeGrant(ctx context.Context, id string, at time.Time, reason string) error
	RevokeGrants(ctx context.Context, userID, clientID string, at time.Time, reason string) (int, error)
	// DeleteExpiredGrants removes grants with ExpiresAt <= now, and their
	// refresh tokens.
	DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error)

	// Refresh tokens. GetRefreshToken returns the token and its grant;
	// GetRefreshTokenUser also the grant's user, in one read.
	// RotateRefreshToken marks the token with oldHash used at now and
	// stores next (of the same grant) in one step. It is a compare-and-set:
	// when the old token is already used or its grant revoked, it fails with
	// ErrConflict and changes nothing, so of concurrent rotations of one
	// token exactly one succeeds. An unknown old token is ErrNotFound. When
	// signIn is not nil it is appended to the sign-in log in the same step,
	// and only if the rotation succeeds.
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, Grant, error)
	GetRefreshTokenUser(ctx context.Context, hash []byte) (RefreshToken, Grant, store.User, error)
	RotateRefreshToken(ctx context.Context, oldHash []byte, next RefreshToken, now time.Time, signIn *store.SignInEvent) error

	// Signing keys. ListSigningKeys orders by NotBefore, then ID.
	// AddSigningKey is a compare-and-set on the newest key of the
	// algorithm: it adds k only while the key of k.Algorithm with the
	// latest NotBefore (ties: greatest ID) has the ID ifLatest (empty: no
	// key of that algorithm exists), else ErrConflict. So instances that
	// decide to rotate at the same moment add one key, not several.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, k SigningKey, ifLatest string) error
	// PromoteSigningKey brings forward the time the next key (the newest
	// of its algorithm, published ahead) starts signing: it sets the
	// NotBefore of key id to notBefore. It is a compare-and-set: unless id
	// is the newest key of its algorithm, notBefore is before its
	// NotBefore, and no other key of the algorithm has a NotBefore after
	// notBefore, it fails with ErrConflict and changes nothing (so of
	// concurrent promotions exactly one succeeds). Unknown id: ErrNotFound.
	PromoteSigningKey(ctx context.Context, id string, notBefore time.Time) error
	DeleteSigningKey(ctx context.Context, id string) error

	// Back-channel logout outbox. ListLogoutTargets returns the distinct
	// (client, subject, session) of the grants q selects whose client has
	// a back-channel logout URI, ordered by client, subject, session,
	// leaving out what an outbox entry already covers: one for the same
	// client, subject and session, or one for the client and subject with
	// no session (all of them) created at or after the grant.
	// AddLogouts inserts entries (IDs unique: ErrConflict) in one step.
	// ClaimLogouts leases up to limit entries that are not done, are due
	// (NextAttemptAt <= now) and not leased (LeaseUntil <= now) to owner
	// until leaseUntil, oldest first; concurrent claims never return the
	// same entry. FinishLogout records an attempt by the lease's owner:
	// attempts+1, the lease released, done when delivered or given up; an
	// entry not leased by owner (or done) is ErrConflict, unknown
	// ErrNotFound. DeleteFinishedLogouts removes entries done before.
	ListLogoutTargets(ctx context.Context, q LogoutQuery) ([]LogoutTarget, error)
	AddLogouts(ctx context.Context, ls []Logout) error
	GetLogout(ctx context.Context, id string) (Logout, error)
	ClaimLogouts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Logout, error)
	FinishLogout(ctx context.Context, id, owner string, o LogoutOutcome) error
	DeleteFinishedLogouts(ctx context.Context, before time.Time) (int, error)
}
