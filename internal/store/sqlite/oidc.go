package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// The OpenID provider's storage (oidcstore.Store).

var _ oidcstore.Store = (*Store)(nil)

// oidcStmts caches the prepared statements of the provider's hot queries
// (every token request runs them): in a pure-Go SQLite, preparing is most
// of the cost of a small statement. Keyed by database handle; the entries
// of a closed Store stay until the process ends, which only tests notice.
var oidcStmts sync.Map // oidcStmtKey -> *sql.Stmt

type oidcStmtKey struct {
	db    *sql.DB
	query string
}

func oidcStmt(ctx context.Context, d *sql.DB, query string) (*sql.Stmt, error) {
	k := oidcStmtKey{d, query}
	if st, ok := oidcStmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := d.PrepareContext(ctx, query)
	if err != nil {
		return nil, mapErr(err)
	}
	if prev, loaded := oidcStmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// oidcQueryRow runs a prepared read on the read pool.
func (s *Store) oidcQueryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := oidcStmt(ctx, s.read.DB, query)
	if err != nil {
		return errRow{err}
	}
	// Lookups by key: see db.lookup.
	return st.QueryRowContext(context.WithoutCancel(ctx), cleanArgs(args)...)
}

// The statements of the token endpoint's write transactions, run on the
// writer's connection with statements prepared once (rawTx).
const (
	oidcRedeem = `
		UPDATE oidc_auth_requests SET redeemed_at = ?, grant_id = ?, expires_at = max(expires_at, ?)
		WHERE id = ? AND code_hash IS NOT NULL AND redeemed_at IS NULL`
	oidcInsertGrant = `
		INSERT INTO oidc_grants (` + oidcGrantColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	oidcInsertRefreshToken = `
		INSERT INTO oidc_refresh_tokens (hash, grant_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?)`
	oidcUseRefreshToken = `
		UPDATE oidc_refresh_tokens SET used_at = ?
		WHERE hash = ? AND used_at IS NULL AND grant_id = ?
			AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = grant_id AND g.revoked_at IS NULL)`
	oidcAuthRequestExists   = `SELECT 1 FROM oidc_auth_requests WHERE id = ?`
	oidcRefreshTokenExists  = `SELECT 1 FROM oidc_refresh_tokens WHERE hash = ?`
	oidcCompleteAuthRequest = `
		UPDATE oidc_auth_requests SET user_id = ?, credential_id = ?, method = ?, auth_time = ?,
			amr = ?, acr = ?, done_at = ?, session_id = ?
		WHERE id = ? AND code_hash IS NULL`
	oidcSetAuthCode = `
		UPDATE oidc_auth_requests SET code_hash = ?, code_expires_at = ?
		WHERE id = ? AND code_hash IS NULL AND user_id <> ''`
)

// oidcMissingOrConflictRaw explains why a conditional statement changed
// nothing: the record is missing (ErrNotFound) or its condition failed
// (ErrConflict).
func oidcMissingOrConflictRaw(t rawTx, query string, args ...any) error {
	if _, err := t.queryInt64(query, args...); err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

// appendSignInRaw appends e to the sign-in log in t, moving the report
// counters as AppendSignIn does.
func appendSignInRaw(t rawTx, e *store.SignInEvent) error {
	if e == nil {
		return nil
	}
	if _, err := t.queryInt64(appendSignInSQL, signInArgs(*e)...); err != nil {
		return mapErr(err)
	}
	if !store.CountedSignIn(*e) {
		return nil
	}
	return mapErr(countSignIn(*e, func(query string, args ...any) error {
		_, err := t.exec(query, args...)
		return err
	}))
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// --- clients ---

const oidcClientColumns = `id, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	signing_alg, created_at, updated_at, required_acr, allow_missing_pkce, backchannel_logout_uri`

func scanOIDCClient(row scanner) (oidcstore.Client, error) {
	var c oidcstore.Client
	var redirects, postLogout string
	var created, updated int64
	err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &redirects, &postLogout, &c.SigningAlg, &created, &updated, &c.RequiredACR, &c.AllowMissingPKCE, &c.BackchannelLogoutURI)
	if err != nil {
		return oidcstore.Client{}, mapErr(err)
	}
	if c.RedirectURIs, err = decodeList(redirects); err != nil {
		return oidcstore.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = decodeList(postLogout); err != nil {
		return oidcstore.Client{}, err
	}
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

func (s *Store) CreateClient(ctx context.Context, c oidcstore.Client) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO oidc_clients (`+oidcClientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, blob(c.SecretHash), c.Public, encodeList(c.RedirectURIs), encodeList(c.PostLogoutRedirectURIs),
		c.SigningAlg, millis(c.CreatedAt), millis(c.UpdatedAt), c.RequiredACR, c.AllowMissingPKCE, c.BackchannelLogoutURI)
	return mapErr(err)
}

func (s *Store) GetClient(ctx context.Context, id string) (oidcstore.Client, error) {
	return scanOIDCClient(s.oidcQueryRow(ctx,
		`SELECT `+oidcClientColumns+` FROM oidc_clients WHERE id = ?`, id))
}

func (s *Store) ListClients(ctx context.Context) ([]oidcstore.Client, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+oidcClientColumns+` FROM oidc_clients ORDER BY id`)
	return collect(rows, err, scanOIDCClient)
}

func (s *Store) UpdateClient(ctx context.Context, c oidcstore.Client) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE oidc_clients SET secret_hash = ?, public = ?, redirect_uris = ?,
			post_logout_redirect_uris = ?, signing_alg = ?, updated_at = ?, required_acr = ?,
			allow_missing_pkce = ?, backchannel_logout_uri = ?
		WHERE id = ?`,
		blob(c.SecretHash), c.Public, encodeList(c.RedirectURIs), encodeList(c.PostLogoutRedirectURIs),
		c.SigningAlg, millis(c.UpdatedAt), c.RequiredACR, c.AllowMissingPKCE, c.BackchannelLogoutURI, c.ID))
}

// DeleteClient relies on the cascades for the client's requests, grants
// and refresh tokens.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM oidc_clients WHERE id = ?`, id))
}

// --- authorization requests ---

const oidcAuthRequestColumns = `id, client_id, params, created_at, expires_at, user_id,
	credential_id, method, auth_time, amr, acr, done_at, code_hash, code_expires_at,
	redeemed_at, grant_id, session_id`

func scanOIDCAuthRequest(row scanner) (oidcstore.AuthRequest, error) {
	var r oidcstore.AuthRequest
	var created, expires int64
	var authTime, doneAt, codeExpires, redeemed sql.NullInt64
	var amr string
	err := row.Scan(&r.ID, &r.ClientID, &r.Params, &created, &expires, &r.Auth.UserID,
		&r.Auth.CredentialID, &r.Auth.Method, &authTime, &amr, &r.Auth.ACR, &doneAt, &r.CodeHash,
		&codeExpires, &redeemed, &r.GrantID, &r.Auth.SessionID)
	if err != nil {
		return oidcstore.AuthRequest{}, mapErr(err)
	}
	if r.Auth.AMR, err = decodeList(amr); err != nil {
		return oidcstore.AuthRequest{}, err
	}
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	r.Auth.AuthTime, r.Auth.At = fromNullMillis(authTime), fromNullMillis(doneAt)
	r.CodeExpiresAt, r.RedeemedAt = fromNullMillis(codeExpires), fromNullMillis(redeemed)
	return r, nil
}

func (s *Store) PutAuthRequest(ctx context.Context, r oidcstore.AuthRequest) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO oidc_auth_requests (`+oidcAuthRequestColumns+`)
		VALUES (?, ?, ?, ?, ?, '', '', '', NULL, '[]', '', NULL, NULL, NULL, NULL, '', '')`,
		r.ID, r.ClientID, blob(r.Params), millis(r.CreatedAt), millis(r.ExpiresAt))
	return mapErr(err)
}

func (s *Store) GetAuthRequest(ctx context.Context, id string) (oidcstore.AuthRequest, error) {
	return scanOIDCAuthRequest(s.oidcQueryRow(ctx,
		`SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE id = ?`, id))
}

// CompleteAuthRequest only changes a request that has no code yet; which of
// "missing" and "too late" applies is told apart after the fact, inside the
// same transaction.
func (s *Store) CompleteAuthRequest(ctx context.Context, id string, a oidcstore.Authentication) error {
	return mapErr(s.batch.do(ctx, func(t rawTx) error {
		n, err := t.exec(oidcCompleteAuthRequest,
			a.UserID, a.CredentialID, a.Method, millis(a.AuthTime), encodeList(a.AMR), a.ACR, millis(a.At), a.SessionID, id)
		if err != nil || n == 1 {
			return mapErr(err)
		}
		return oidcMissingOrConflictRaw(t, oidcAuthRequestExists, id)
	}))
}

// oidcMissingOrConflict is oidcMissingOrConflictRaw in a database/sql
// transaction.
func oidcMissingOrConflict(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	} else if err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

func (s *Store) SetAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt time.Time) error {
	return mapErr(s.batch.do(ctx, func(t rawTx) error {
		n, err := t.exec(oidcSetAuthCode, blob(codeHash), millis(expiresAt), id)
		if err != nil || n == 1 {
			return mapErr(err)
		}
		return oidcMissingOrConflictRaw(t, oidcAuthRequestExists, id)
	}))
}

func (s *Store) GetAuthRequestByCode(ctx context.Context, codeHash []byte) (oidcstore.AuthRequest, error) {
	if len(codeHash) == 0 {
		return oidcstore.AuthRequest{}, store.ErrNotFound
	}
	return scanOIDCAuthRequest(s.oidcQueryRow(ctx,
		`SELECT `+oidcAuthRequestColumns+` FROM oidc_auth_requests WHERE code_hash = ?`, codeHash))
}

// RedeemAuthCode is one write transaction: the redemption, the grant, its
// first refresh token and the sign-in log entry commit together.
// oidcUserOrNone selects the user columns of a LEFT JOIN on users u, ”
// and zeros when there is no such user.
const oidcUserOrNone = `coalesce(u.id, ''), coalesce(u.username, ''), coalesce(u.email, ''),
	coalesce(u.display_name, ''), coalesce(u.external_id, ''), coalesce(u.disabled, 0), coalesce(u.admin, 0),
	coalesce(u.created_at, 0), coalesce(u.updated_at, 0)`

// GetAuthRequestByCodeUser reads the request and its user in one
// statement: the code exchange's one read.
func (s *Store) GetAuthRequestByCodeUser(ctx context.Context, codeHash []byte) (oidcstore.AuthRequest, store.User, error) {
	if len(codeHash) == 0 {
		return oidcstore.AuthRequest{}, store.User{}, store.ErrNotFound
	}
	row := s.oidcQueryRow(ctx, `
		SELECT `+prefixed("r", oidcAuthRequestColumns)+`, `+oidcUserOrNone+`
		FROM oidc_auth_requests r LEFT JOIN users u ON u.id = r.user_id
		WHERE r.code_hash = ?`, codeHash)
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
	return mapErr(s.batch.do(ctx, func(t rawTx) error {
		n, err := t.exec(oidcRedeem, millis(g.CreatedAt), g.ID, millis(keepUntil), requestID)
		if err != nil {
			return mapErr(err)
		} else if n == 0 {
			return oidcMissingOrConflictRaw(t, oidcAuthRequestExists, requestID)
		}
		if err := insertOIDCGrant(t, g); err != nil {
			return err
		}
		if rt != nil {
			if err := insertOIDCRefreshToken(t, *rt); err != nil {
				return err
			}
		}
		return appendSignInRaw(t, signIn)
	}))
}

func (s *Store) DeleteExpiredAuthRequests(ctx context.Context, now time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at <= ?`, millis(now)))
}

// --- grants ---

const oidcGrantColumns = `id, client_id, user_id, scopes, credential_id, method, auth_time, amr, acr,
	created_at, expires_at, revoked_at, revoke_reason, session_id`

func scanOIDCGrant(row scanner) (oidcstore.Grant, error) {
	g, _, err := scanOIDCGrantAnd(row)
	return g, err
}

// scanOIDCGrantAnd scans a grant's columns followed by more.
func scanOIDCGrantAnd(row scanner, more ...any) (oidcstore.Grant, bool, error) {
	var g oidcstore.Grant
	var scopes, amr string
	var credentialID sql.NullString
	var authTime, created, expires int64
	var revoked sql.NullInt64
	dest := append([]any{&g.ID, &g.ClientID, &g.UserID, &scopes, &credentialID, &g.Method, &authTime,
		&amr, &g.ACR, &created, &expires, &revoked, &g.RevokeReason, &g.SessionID}, more...)
	if err := row.Scan(dest...); err != nil {
		return oidcstore.Grant{}, false, mapErr(err)
	}
	var err error
	if g.Scopes, err = decodeList(scopes); err != nil {
		return oidcstore.Grant{}, false, err
	}
	if g.AMR, err = decodeList(amr); err != nil {
		return oidcstore.Grant{}, false, err
	}
	g.CredentialID = credentialID.String
	g.AuthTime, g.CreatedAt, g.ExpiresAt = fromMillis(authTime), fromMillis(created), fromMillis(expires)
	g.RevokedAt = fromNullMillis(revoked)
	return g, true, nil
}

func insertOIDCGrant(t rawTx, g oidcstore.Grant) error {
	_, err := t.exec(oidcInsertGrant,
		g.ID, g.ClientID, g.UserID, encodeList(g.Scopes), nullIfEmpty(g.CredentialID), g.Method,
		millis(g.AuthTime), encodeList(g.AMR), g.ACR, millis(g.CreatedAt), millis(g.ExpiresAt),
		millisOrNull(g.RevokedAt), g.RevokeReason, g.SessionID)
	return mapErr(err)
}

func (s *Store) GetGrant(ctx context.Context, id string) (oidcstore.Grant, error) {
	return scanOIDCGrant(s.oidcQueryRow(ctx,
		`SELECT `+oidcGrantColumns+` FROM oidc_grants WHERE id = ?`, id))
}

// scanFunc is a scanner made of a function: it lets scanUser's
// destinations follow another record's in one row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// GetGrantUser reads the grant and its user in one statement: the userinfo
// endpoint's one read.
func (s *Store) GetGrantUser(ctx context.Context, id string) (oidcstore.Grant, store.User, error) {
	row := s.oidcQueryRow(ctx, `
		SELECT `+prefixed("g", oidcGrantColumns)+`, `+prefixed("u", userColumns)+`
		FROM oidc_grants g JOIN users u ON u.id = g.user_id
		WHERE g.id = ?`, id)
	var g oidcstore.Grant
	u, err := scanUser(scanFunc(func(userDest ...any) error {
		var err error
		g, _, err = scanOIDCGrantAnd(row, userDest...)
		return err
	}))
	if err != nil {
		return oidcstore.Grant{}, store.User{}, mapErr(err)
	}
	return g, u, nil
}

func (s *Store) RevokeGrant(ctx context.Context, id string, at time.Time, reason string) error {
	return mustAffect(s.write.ExecContext(ctx, `
		UPDATE oidc_grants SET revoked_at = coalesce(revoked_at, ?),
			revoke_reason = CASE WHEN revoked_at IS NULL THEN ? ELSE revoke_reason END
		WHERE id = ?`, millis(at), reason, id))
}

func (s *Store) RevokeGrants(ctx context.Context, userID, clientID string, at time.Time, reason string) (int, error) {
	return affected(s.write.ExecContext(ctx, `
		UPDATE oidc_grants SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND (? = '' OR client_id = ?) AND revoked_at IS NULL`,
		millis(at), reason, userID, clientID, clientID))
}

func (s *Store) DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM oidc_grants WHERE expires_at <= ?`, millis(now)))
}

// --- refresh tokens ---

func insertOIDCRefreshToken(t rawTx, rt oidcstore.RefreshToken) error {
	_, err := t.exec(oidcInsertRefreshToken,
		blob(rt.Hash), rt.GrantID, millis(rt.CreatedAt), millis(rt.ExpiresAt), millisOrNull(rt.UsedAt))
	return mapErr(err)
}

func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (oidcstore.RefreshToken, oidcstore.Grant, error) {
	if len(hash) == 0 {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.ErrNotFound
	}
	rt := oidcstore.RefreshToken{Hash: hash}
	var created, expires int64
	var used sql.NullInt64
	g, _, err := scanOIDCGrantAnd(s.oidcQueryRow(ctx, `
		SELECT `+prefixed("g", oidcGrantColumns)+`, t.created_at, t.expires_at, t.used_at
		FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id
		WHERE t.hash = ?`, hash), &created, &expires, &used)
	if err != nil {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, err
	}
	rt.GrantID = g.ID
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromMillis(created), fromMillis(expires), fromNullMillis(used)
	return rt, g, nil
}

// GetRefreshTokenUser reads the token, its grant and the grant's user in
// one statement: the refresh grant's one read.
func (s *Store) GetRefreshTokenUser(ctx context.Context, hash []byte) (oidcstore.RefreshToken, oidcstore.Grant, store.User, error) {
	if len(hash) == 0 {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.User{}, store.ErrNotFound
	}
	row := s.oidcQueryRow(ctx, `
		SELECT `+prefixed("g", oidcGrantColumns)+`, t.created_at, t.expires_at, t.used_at, `+prefixed("u", userColumns)+`
		FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id
		WHERE t.hash = ?`, hash)
	rt := oidcstore.RefreshToken{Hash: hash}
	var created, expires int64
	var used sql.NullInt64
	var g oidcstore.Grant
	u, err := scanUser(scanFunc(func(userDest ...any) error {
		var err error
		g, _, err = scanOIDCGrantAnd(row, append([]any{&created, &expires, &used}, userDest...)...)
		return err
	}))
	if err != nil {
		return oidcstore.RefreshToken{}, oidcstore.Grant{}, store.User{}, mapErr(err)
	}
	rt.GrantID = g.ID
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromMillis(created), fromMillis(expires), fromNullMillis(used)
	return rt, g, u, nil
}

// RotateRefreshToken is one write transaction: the old token used, the
// next one stored, and the sign-in log entry commit together.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next oidcstore.RefreshToken, now time.Time, signIn *store.SignInEvent) error {
	return mapErr(s.batch.do(ctx, func(t rawTx) error {
		n, err := t.exec(oidcUseRefreshToken, millis(now), blob(oldHash), next.GrantID)
		if err != nil {
			return mapErr(err)
		} else if n == 0 {
			return oidcMissingOrConflictRaw(t, oidcRefreshTokenExists, blob(oldHash))
		}
		if err := insertOIDCRefreshToken(t, next); err != nil {
			return err
		}
		return appendSignInRaw(t, signIn)
	}))
}

// --- signing keys ---

const oidcKeyColumns = `id, algorithm, private_key, public_key, created_at, not_before`

func scanOIDCKey(row scanner) (oidcstore.SigningKey, error) {
	var k oidcstore.SigningKey
	var created, notBefore int64
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &notBefore); err != nil {
		return oidcstore.SigningKey{}, mapErr(err)
	}
	k.CreatedAt, k.NotBefore = fromMillis(created), fromMillis(notBefore)
	return k, nil
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]oidcstore.SigningKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+oidcKeyColumns+` FROM oidc_signing_keys ORDER BY not_before, id`)
	return collect(rows, err, scanOIDCKey)
}

// AddSigningKey checks the newest key and inserts in one write
// transaction; SQLite's single writer makes that a compare-and-set.
func (s *Store) AddSigningKey(ctx context.Context, k oidcstore.SigningKey, ifLatest string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var latest string
		err := tx.QueryRowContext(ctx, `
			SELECT id FROM oidc_signing_keys WHERE algorithm = ?
			ORDER BY not_before DESC, id DESC LIMIT 1`, k.Algorithm).Scan(&latest)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return mapErr(err)
		}
		if latest != ifLatest {
			return store.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO oidc_signing_keys (`+oidcKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.Algorithm, blob(k.PrivateKey), blob(k.PublicKey), millis(k.CreatedAt), millis(k.NotBefore))
		return mapErr(err)
	})
}

// PromoteSigningKey checks and updates in one write transaction.
func (s *Store) PromoteSigningKey(ctx context.Context, id string, notBefore time.Time) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var alg string
		var current int64
		err := tx.QueryRowContext(ctx, `SELECT algorithm, not_before FROM oidc_signing_keys WHERE id = ?`, id).Scan(&alg, &current)
		if err != nil {
			return mapErr(err)
		}
		var latest string
		if err := tx.QueryRowContext(ctx, `
			SELECT id FROM oidc_signing_keys WHERE algorithm = ?
			ORDER BY not_before DESC, id DESC LIMIT 1`, alg).Scan(&latest); err != nil {
			return mapErr(err)
		}
		nb := millis(notBefore)
		if latest != id || nb >= current {
			return store.ErrConflict
		}
		var later int
		if err := tx.QueryRowContext(ctx, `
			SELECT COUNT(*) FROM oidc_signing_keys WHERE algorithm = ? AND id <> ? AND not_before > ?`,
			alg, id, nb).Scan(&later); err != nil {
			return mapErr(err)
		}
		if later > 0 {
			return store.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `UPDATE oidc_signing_keys SET not_before = ? WHERE id = ?`, nb, id)
		return mapErr(err)
	})
}

func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM oidc_signing_keys WHERE id = ?`, id))
}
