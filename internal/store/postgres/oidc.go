package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// The OpenID provider's storage (oidcstore.Store). The compare-and-set
// operations are UPDATEs whose WHERE clause PostgreSQL re-checks after
// waiting for a concurrent writer of the same row, inside a transaction
// when more than one row changes.

var _ oidcstore.Store = (*Store)(nil)

// writeTx runs fn in one transaction (OIDC, logouts, group changes).
func (s *Store) writeTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return mapErr(pgx.BeginFunc(ctx, s.pool, fn))
}

// oidcMissingOrConflict explains why a conditional statement changed
// nothing: the record is missing (ErrNotFound) or its condition failed
// (ErrConflict).
func oidcMissingOrConflict(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string, args ...any) error {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	} else if err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

// --- clients ---

const oidcClientColumns = `id, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	signing_alg, created_at, updated_at, required_acr, allow_missing_pkce, backchannel_logout_uri`

func scanOIDCClient(row pgx.Row) (oidcstore.Client, error) {
	var c oidcstore.Client
	var created, updated time.Time
	err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.SigningAlg, &created, &updated, &c.RequiredACR, &c.AllowMissingPKCE, &c.BackchannelLogoutURI)
	if err != nil {
		return oidcstore.Client{}, mapErr(err)
	}
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs = fromList(c.RedirectURIs), fromList(c.PostLogoutRedirectURIs)
	c.CreatedAt, c.UpdatedAt = fromTS(created), fromTS(updated)
	return c, nil
}

func (s *Store) CreateClient(ctx context.Context, c oidcstore.Client) error {
	_, err := s.exec(ctx, `
		INSERT INTO oidc_clients (`+oidcClientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, blob(c.SecretHash), c.Public, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.SigningAlg, ts(c.CreatedAt), ts(c.UpdatedAt), c.RequiredACR, c.AllowMissingPKCE, c.BackchannelLogoutURI)
	return mapErr(err)
}

func (s *Store) GetClient(ctx context.Context, id string) (oidcstore.Client, error) {
	return scanOIDCClient(s.queryRow(ctx, `SELECT `+oidcClientColumns+` FROM oidc_clients WHERE id = $1`, id))
}

func (s *Store) ListClients(ctx context.Context) ([]oidcstore.Client, error) {
	rows, err := s.query(ctx, `SELECT `+oidcClientColumns+` FROM oidc_clients ORDER BY id`)
	return collect(rows, err, scanOIDCClient)
}

func (s *Store) UpdateClient(ctx context.Context, c oidcstore.Client) error {
	return mustAffect(s.exec(ctx, `
		UPDATE oidc_clients SET secret_hash = $1, public = $2, redirect_uris = $3,
			post_logout_redirect_uris = $4, signing_alg = $5, updated_at = $6, required_acr = $7,
			allow_missing_pkce = $8, backchannel_logout_uri = $9
		WHERE id = $10`,
		blob(c.SecretHash), c.Public, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		c.SigningAlg, ts(c.UpdatedAt), c.RequiredACR, c.AllowMissingPKCE, c.BackchannelLogoutURI, c.ID))
}

// DeleteClient relies on the cascades for the client's requests, grants
// and refresh tokens.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM oidc_clients WHERE id = $1`, id))
}

// --- authorization requests ---

const oidcAuthRequestColumns = `id, client_id, params, created_at, expires_at, user_id,
	credential_id, method, auth_time, amr, acr, done_at, code_hash, code_expires_at,
	redeemed_at, grant_id, session_id`

func scanOIDCAuthRequest(row pgx.Row) (oidcstore.AuthRequest, error) {
	var r oidcstore.AuthRequest
	var created, expires time.Time
	var authTime, doneAt, codeExpires, redeemed *time.Time
	err := row.Scan(&r.ID, &r.ClientID, &r.Params, &created, &expires, &r.Auth.UserID,
		&r.Auth.CredentialID, &r.Auth.Method, &authTime, &r.Auth.AMR, &r.Auth.ACR, &doneAt, &r.CodeHash,
		&codeExpires, &redeemed, &r.GrantID, &r.Auth.SessionID)
	if err != nil {
		return oidcstore.AuthRequest{}, mapErr(err)
	}
	r.Auth.AMR = fromList(r.Auth.AMR)
	if len(r.CodeHash) == 0 {
		r.CodeHash = nil
	}
	r.CreatedAt, r.ExpiresAt = fromTS(created), fromTS(expires)
	r.Auth.AuthTime, r.Auth.At = fromNullTS(authTime), fromNullTS(doneAt)
	r.CodeExpiresAt, r.RedeemedAt = fromNullTS(codeExpires), fromNullTS(redeemed)
	return r, nil
}

func (s *Store) PutAuthRequest(ctx context.Context, r oidcstore.AuthRequest) error {
	_, err := s.exec(ctx, `
		INSERT INTO oidc_auth_requests (`+oidcAuthRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, '', '', '', NULL, '{}', '', NULL, NULL, NULL, NULL, '', '')`,
		r.ID, r.ClientID, blob(r.Params), ts(r.CreatedAt), ts(r.ExpiresAt))
	return mapErr(err)
}

func (s *Store) GetAuthRequest(ctx context.Context, id string) (oidcstore.AuthRequest, error) {
	return scanOIDCAuthRequest(s.queryRow(ctx,
		`SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE id = $1`, id))
}

func (s *Store) CompleteAuthRequest(ctx context.Context, id string, a oidcstore.Authentication) error {
	n, err := affected(s.exec(ctx, `
		UPDATE oidc_auth_requests SET user_id = $1, credential_id = $2, method = $3, auth_time = $4,
			amr = $5, acr = $6, done_at = $7, session_id = $8
		WHERE id = $9 AND code_hash IS NULL`,
		a.UserID, a.CredentialID, a.Method, ts(a.AuthTime), list(a.AMR), a.ACR, ts(a.At), a.SessionID, id))
	if err != nil || n == 1 {
		return err
	}
	return oidcMissingOrConflict(ctx, s.pool, `SELECT 1 FROM oidc_auth_requests WHERE id = $1`, id)
}

func (s *Store) SetAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error {
	n, err := affected(s.exec(ctx, `
		UPDATE oidc_auth_requests SET code_hash = $1, code_expires_at = $2
		WHERE id = $3 AND code_hash IS NULL AND user_id <> ''`,
		blob(codeHash), ts(expiresAt), id))
	if err != nil || n == 1 {
		return err
	}
	return oidcMissingOrConflict(ctx, s.pool, `SELECT 1 FROM oidc_auth_requests WHERE id = $1`, id)
}

func (s *Store) GetAuthRequestByCode(ctx context.Context, codeHash []byte) (oidcstore.AuthRequest, error) {
	if len(codeHash) == 0 {
		return oidcstore.AuthRequest{}, store.ErrNotFound
	}
	return scanOIDCAuthRequest(s.queryRow(ctx,
		`SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE code_hash = $1`, codeHash))
}

// oidcSignInColumns and oidcSignInValues insert a sign-in log entry from
// parameters $first.. in a statement that selects from one row, when.
const oidcSignInColumns = `time, user_id, username, ip, user_agent, app, method, result,
	reason, detail, credential_id, aaguid, model, passkey_type, phishing,
	client, country, action, trusted_device, bound_passkey_device, access`

func oidcSignInInsert(first int, from string) string {
	types := []string{"timestamptz", "text", "text", "text", "text", "text", "text", "text",
		"text", "text", "text", "text", "text", "text", "boolean",
		"text", "text", "text", "boolean", "boolean", "text"}
	values := make([]string, len(types))
	for i, t := range types {
		values[i] = fmt.Sprintf("$%d::%s", first+i, t)
	}
	return `INSERT INTO signins (` + oidcSignInColumns + `) SELECT ` + strings.Join(values, ", ") + ` FROM ` + from
}

func oidcSignInArgs(e store.SignInEvent) []any {
	return []any{ts(e.Time), e.UserID, e.Username, e.IP, e.UserAgent, e.App, e.Method, e.Result,
		e.Reason, e.Detail, e.CredentialID, e.AAGUID, e.Model, e.PasskeyType, e.Phishing,
		e.Client, e.Country, e.Action, e.TrustedDevice, e.BoundPasskeyDevice, e.Access}
}

// oidcRedeemSQL redeems a code, creates the grant and (when $20) its first
// refresh token, in one statement: the grant and token inserts select from
// the redemption, so they happen only when it did. It returns the number of
// requests redeemed (0 or 1).
const oidcRedeemSQL = `
	WITH r AS (
		UPDATE oidc_auth_requests SET redeemed_at = $1, grant_id = $2, expires_at = greatest(expires_at, $3)
		WHERE id = $4 AND code_hash IS NOT NULL AND redeemed_at IS NULL
		RETURNING id
	), g AS (
		INSERT INTO oidc_grants (` + oidcGrantColumns + `)
		SELECT $2::text, $5::text, $6::text, $7::text[], $8::text, $9::text, $10::timestamptz, $11::text[], $12::text,
			$13::timestamptz, $14::timestamptz, $15::timestamptz, $16::text, $17::text
		FROM r
		RETURNING id
	), t AS (
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at, used_at)
		SELECT $18::bytea, id, $19::timestamptz, $21::timestamptz, $22::timestamptz FROM g WHERE $20::boolean
	)`

// RedeemAuthCode is one statement (and, for a sign-in log entry that moves
// the report counters, one transaction): the redemption, the grant, its
// first refresh token and the sign-in log entry commit together.
// GetAuthRequestByCodeUser reads the request and its user in one
// statement: the code exchange's one read.
func (s *Store) GetAuthRequestByCodeUser(ctx context.Context, codeHash []byte) (oidcstore.AuthRequest, store.User, error) {
	if len(codeHash) == 0 {
		return oidcstore.AuthRequest{}, store.User{}, store.ErrNotFound
	}
	row := s.queryRow(ctx, `
		SELECT r.id, r.client_id, r.params, r.created_at, r.expires_at, r.user_id,
			r.credential_id, r.method, r.auth_time, r.amr, r.acr, r.done_at, r.code_hash, r.code_expires_at,
			r.redeemed_at, r.grant_id, r.session_id,
			coalesce(u.id, ''), coalesce(u.username, ''), coalesce(u.email, ''), coalesce(u.display_name, ''),
			coalesce(u.external_id, ''), coalesce(u.disabled, false), coalesce(u.admin, false),
			coalesce(u.created_at, 'epoch'), coalesce(u.updated_at, 'epoch')
		FROM oidc_auth_requests r LEFT JOIN users u ON u.id = r.user_id
		WHERE r.code_hash = $1`, codeHash)
	var r oidcstore.AuthRequest
	u, err := scanUser(scanFunc(func(userDest ...any) error {
		var err error
		r, err = scanOIDCAuthRequest(scanFunc(func(reqDest ...any) error {
			return row.Scan(append(reqDest, userDest...)...)
		}))
		return err
	}))
	if err != nil {
		return oidcstore.AuthRequest{}, store.User{}, mapErr(err)
	}
	if u.ID == "" {
		u = store.User{}
	}
	return r, u, nil
}

func (s *Store) RedeemAuthCode(ctx context.Context, requestID string, g oidcstore.Grant, rt *oidcstore.RefreshToken, keepUntil time.Time, signIn *store.SignInEvent) error {
	var next oidcstore.RefreshToken
	if rt != nil {
		next = *rt
	}
	args := []any{ts(g.CreatedAt), g.ID, ts(keepUntil), requestID,
		g.ClientID, g.UserID, g.Scopes, nullIfEmpty(g.CredentialID), g.Method,
		ts(g.AuthTime), g.AMR, g.ACR, ts(g.CreatedAt), ts(g.ExpiresAt), tsOrNull(g.RevokedAt), g.RevokeReason, g.SessionID,
		blob(next.Hash), ts(next.CreatedAt), rt != nil, ts(next.ExpiresAt), tsOrNull(next.UsedAt)}
	query := oidcRedeemSQL
	if signIn != nil {
		query += `, l AS (` + oidcSignInInsert(len(args)+1, "r") + `)`
		args = append(args, oidcSignInArgs(*signIn)...)
	}
	query += ` SELECT count(*) FROM r`
	return s.oidcOneStep(ctx, signIn, func(q oidcQuerier) error {
		var n int
		if err := q.QueryRow(ctx, query, cleanArgs(args)...).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n == 0 {
			return oidcMissingOrConflict(ctx, q, `SELECT 1 FROM oidc_auth_requests WHERE id = $1`, requestID)
		}
		return nil
	})
}

type oidcQuerier interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// oidcOneStep runs a write that is one statement, unless signIn is a
// counted sign-in: then the statement and the report counters are one
// transaction.
func (s *Store) oidcOneStep(ctx context.Context, signIn *store.SignInEvent, fn func(q oidcQuerier) error) error {
	if signIn == nil || !store.CountedSignIn(*signIn) {
		return fn(s.pool)
	}
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return countSignIn(ctx, tx, *signIn)
	})
}

func (s *Store) DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at <= $1`, ts(now)))
}

// --- grants ---

const oidcGrantColumns = `id, client_id, user_id, scopes, credential_id, method, auth_time, amr, acr,
	created_at, expires_at, revoked_at, revoke_reason, session_id`

// scanOIDCGrantAnd scans a grant's columns followed by more.
func scanOIDCGrantAnd(row pgx.Row, more ...any) (oidcstore.Grant, error) {
	var g oidcstore.Grant
	var credentialID *string
	var authTime, created, expires time.Time
	var revoked *time.Time
	dest := append([]any{&g.ID, &g.ClientID, &g.UserID, &g.Scopes, &credentialID, &g.Method, &authTime,
		&g.AMR, &g.ACR, &created, &expires, &revoked, &g.RevokeReason, &g.SessionID}, more...)
	if err := row.Scan(dest...); err != nil {
		return oidcstore.Grant{}, mapErr(err)
	}
	g.Scopes, g.AMR = fromList(g.Scopes), fromList(g.AMR)
	if credentialID != nil {
		g.CredentialID = *credentialID
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt = fromTS(authTime), fromTS(created), fromTS(expires)
	g.RevokedAt = fromNullTS(revoked)
	return g, nil
}

func (s *Store) GetGrant(ctx context.Context, id string) (oidcstore.Grant, error) {
	return scanOIDCGrantAnd(s.queryRow(ctx, `SELECT `+oidcGrantColumns+` FROM oidc_grants WHERE id = $1`, id))
}

// scanFunc is a pgx.Row made of a function: it lets scanUser's
// destinations follow another record's in one row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// GetGrantUser reads the grant and its user in one statement: the userinfo
// endpoint's one read.
func (s *Store) GetGrantUser(ctx context.Context, id string) (oidcstore.Grant, store.User, error) {
	row := s.queryRow(ctx, `
		SELECT g.id, g.client_id, g.user_id, g.scopes, g.credential_id, g.method, g.auth_time, g.amr, g.acr,
			g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, g.session_id,
			u.id, u.username, u.email, u.display_name, u.external_id, u.disabled, u.admin, u.created_at, u.updated_at
		FROM oidc_grants g JOIN users u ON u.id = g.user_id
		WHERE g.id = $1`, id)
	var g oidcstore.Grant
	u, err := scanUser(scanFunc(func(userDest ...any) error {
		var err error
		g, err = scanOIDCGrantAnd(row, userDest...)
		return err
	}))
	if err != nil {
		return oidcstore.Grant{}, store.User{}, mapErr(err)
	}
	return g, u, nil
}

func (s *Store) RevokeGrant(ctx context.Context, id string, at time.Time, reason string) error {
	return mustAffect(s.exec(ctx, `
		UPDATE oidc_grants SET revoked_at = coalesce(revoked_at, $1),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN $2 ELSE revoke_reason END
		WHERE id = $3`, ts(at), reason, id))
}

func (s *Store) RevokeGrants(ctx context.Context, userID, clientID string, at time.Time, reason string) (int, error) {
	return affected(s.exec(ctx, `
		UPDATE oidc_grants SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND ($4 = '' OR client_id = $4) AND revoked_at IS NULL`,
		ts(at), reason, userID, clientID))
}

func (s *Store) DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM oidc_grants WHERE expires_at <= $1`, ts(now)))
}

// --- refresh tokens ---

func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (oidcstore.RefreshToken, oidcstore.Grant, error) {
	if len(hash) == 0 {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.ErrNotFound
	}
	rt := oidcstore.RefreshToken{Hash: hash}
	var created, expires time.Time
	var used *time.Time
	g, err := scanOIDCGrantAnd(s.queryRow(ctx, `
		SELECT g.id, g.client_id, g.user_id, g.scopes, g.credential_id, g.method, g.auth_time, g.amr, g.acr,
			g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, g.session_id, t.created_at, t.expires_at, t.used_at
		FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id
		WHERE t.hash = $1`, hash), &created, &expires, &used)
	if err != nil {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, err
	}
	rt.GrantID = g.ID
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromTS(created), fromTS(expires), fromNullTS(used)
	return rt, g, nil
}

// GetRefreshTokenUser reads the token, its grant and the grant's user in
// one statement: the refresh grant's one read.
func (s *Store) GetRefreshTokenUser(ctx context.Context, hash []byte) (oidcstore.RefreshToken, oidcstore.Grant, store.User, error) {
	if len(hash) == 0 {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.User{}, store.ErrNotFound
	}
	row := s.queryRow(ctx, `
		SELECT g.id, g.client_id, g.user_id, g.scopes, g.credential_id, g.method, g.auth_time, g.amr, g.acr,
			g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, g.session_id, t.created_at, t.expires_at, t.used_at,
			u.id, u.username, u.email, u.display_name, u.external_id, u.disabled, u.admin, u.created_at, u.updated_at
		FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id
		WHERE t.hash = $1`, hash)
	rt := oidcstore.RefreshToken{Hash: hash}
	var created, expires time.Time
	var used *time.Time
	var g oidcstore.Grant
	u, err := scanUser(scanFunc(func(userDest ...any) error {
		var err error
		g, err = scanOIDCGrantAnd(row, append([]any{&created, &expires, &used}, userDest...)...)
		return err
	}))
	if err != nil {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.User{}, mapErr(err)
	}
	rt.GrantID = g.ID
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromTS(created), fromTS(expires), fromNullTS(used)
	return rt, g, u, nil
}

// oidcRotateSQL rotates a refresh token in one statement. It locks the
// grant (FOR SHARE) while the grant stands, so that it serializes with a
// concurrent revocation, which takes the row's update lock; a revocation
// that commits first leaves no grant row to lock (the lock re-checks
// revoked_at on the row's newest version), and then no token is used. The
// UPDATE's own re-check after waiting for a concurrent rotation of the
// same token makes it a compare-and-set on used_at. The next token is
// inserted only when the old one was used. It returns the number of
// tokens used (0 or 1).
const oidcRotateSQL = `
	WITH g AS (
		SELECT id FROM oidc_grants WHERE id = $3 AND revoked_at IS NULL FOR SHARE
	), used AS (
		UPDATE oidc_refresh_tokens SET used_at = $1
		WHERE hash = $2 AND used_at IS NULL AND grant_id IN (SELECT id FROM g)
		RETURNING grant_id
	), t AS (
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at, used_at)
		SELECT $4::bytea, grant_id, $5::timestamptz, $6::timestamptz, $7::timestamptz FROM used
	)`

// RotateRefreshToken is one statement (and, for a sign-in log entry that
// moves the report counters, one transaction): the old token used, the
// next one stored, and the sign-in log entry commit together.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next oidcstore.RefreshToken, now time.Time, signIn *store.SignInEvent) error {
	args := []any{ts(now), blob(oldHash), next.GrantID, blob(next.Hash), ts(next.CreatedAt), ts(next.ExpiresAt), tsOrNull(next.UsedAt)}
	query := oidcRotateSQL
	if signIn != nil {
		query += `, l AS (` + oidcSignInInsert(len(args)+1, "used") + `)`
		args = append(args, oidcSignInArgs(*signIn)...)
	}
	query += ` SELECT count(*) FROM used`
	return s.oidcOneStep(ctx, signIn, func(q oidcQuerier) error {
		var n int
		if err := q.QueryRow(ctx, query, cleanArgs(args)...).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n == 0 {
			return oidcMissingOrConflict(ctx, q, `SELECT 1 FROM oidc_refresh_tokens WHERE hash = $1`, blob(oldHash))
		}
		return nil
	})
}

// --- signing keys ---

const oidcKeyColumns = `id, algorithm, private_key, public_key, created_at, not_before`

func scanOIDCKey(row pgx.Row) (oidcstore.SigningKey, error) {
	var k oidcstore.SigningKey
	var created, notBefore time.Time
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &notBefore); err != nil {
		return oidcstore.SigningKey{}, mapErr(err)
	}
	k.CreatedAt, k.NotBefore = fromTS(created), fromTS(notBefore)
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]oidcstore.SigningKey, error) {
	rows, err := s.query(ctx, `SELECT `+oidcKeyColumns+` FROM oidc_signing_keys ORDER BY not_before, id`)
	return collect(rows, err, scanOIDCKey)
}

// AddSigningKey takes a table lock that conflicts with itself (but not
// with readers), so checking the newest key and inserting is one step
// among all instances.
func (s *Store) AddSigningKey(ctx context.Context, k oidcstore.SigningKey, ifLatest string) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE oidc_signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return mapErr(err)
		}
		var latest string
		err := tx.QueryRow(ctx, `
			SELECT id FROM oidc_signing_keys WHERE algorithm = $1
			ORDER BY not_before DESC, id DESC LIMIT 1`, k.Algorithm).Scan(&latest)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return mapErr(err)
		}
		if latest != ifLatest {
			return store.ErrConflict
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO oidc_signing_keys (`+oidcKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.ID, k.Algorithm, blob(k.PrivateKey), blob(k.PublicKey), ts(k.CreatedAt), ts(k.NotBefore))
		return mapErr(err)
	})
}

// PromoteSigningKey takes the same lock as AddSigningKey, so promotions
// and additions are one step each among all instances.
func (s *Store) PromoteSigningKey(ctx context.Context, id string, notBefore time.Time) error {
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE oidc_signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return mapErr(err)
		}
		var alg string
		var current time.Time
		if err := tx.QueryRow(ctx, `SELECT algorithm, not_before FROM oidc_signing_keys WHERE id = $1`, id).Scan(&alg, &current); err != nil {
			return mapErr(err)
		}
		var latest string
		if err := tx.QueryRow(ctx, `
			SELECT id FROM oidc_signing_keys WHERE algorithm = $1
			ORDER BY not_before DESC, id DESC LIMIT 1`, alg).Scan(&latest); err != nil {
			return mapErr(err)
		}
		nb := ts(notBefore)
		if latest != id || !nb.Before(current) {
			return store.ErrConflict
		}
		var later int
		if err := tx.QueryRow(ctx, `
			SELECT COUNT(*) FROM oidc_signing_keys WHERE algorithm = $1 AND id <> $2 AND not_before > $3`,
			alg, id, nb).Scan(&later); err != nil {
			return mapErr(err)
		}
		if later > 0 {
			return store.ErrConflict
		}
		_, err := tx.Exec(ctx, `UPDATE oidc_signing_keys SET not_before = $1 WHERE id = $2`, nb, id)
		return mapErr(err)
	})
}

func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM oidc_signing_keys WHERE id = $1`, id))
}
