package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// Passkeys and temporary access passes.

const credentialColumns = `id, user_id, credential_id, public_key, algorithm, aaguid,
	attestation_format, attestation_trust, transports, sign_count, backup_eligible,
	backup_state, name, created_at, last_used_at`

// credentialRow is what a row of credentialColumns scans into: dest
// appends the scan destinations in column order, finish makes the
// store.Credential of them (see userRow).
type credentialRow struct {
	c         store.Credential
	signCount int64
	created   time.Time
	lastUsed  *time.Time
}

func (r *credentialRow) dest(to []any) []any {
	return append(to, &r.c.ID, &r.c.UserID, &r.c.CredentialID, &r.c.PublicKey, &r.c.Algorithm, &r.c.AAGUID,
		&r.c.AttestationFormat, &r.c.AttestationTrust, &r.c.Transports, &r.signCount, &r.c.BackupEligible,
		&r.c.BackupState, &r.c.Name, &r.created, &r.lastUsed)
}

func (r *credentialRow) finish() store.Credential {
	r.c.Transports = fromList(r.c.Transports)
	r.c.SignCount = uint32(r.signCount)
	r.c.CreatedAt, r.c.LastUsedAt = fromTS(r.created), fromNullTS(r.lastUsed)
	return r.c
}

func scanCredential(row pgx.Row) (store.Credential, error) {
	var r credentialRow
	if err := row.Scan(r.dest(nil)...); err != nil {
		return store.Credential{}, mapErr(err)
	}
	return r.finish(), nil
}

func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	_, err := s.exec(ctx, `
		INSERT INTO credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, c.UserID, blob(c.CredentialID), blob(c.PublicKey), c.Algorithm, blob(c.AAGUID),
		c.AttestationFormat, c.AttestationTrust, list(c.Transports), int64(c.SignCount), c.BackupEligible,
		c.BackupState, c.Name, ts(c.CreatedAt), tsOrNull(c.LastUsedAt))
	return mapErr(err)
}

func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	return scanCredential(s.queryRow(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
}

func (s *Store) GetCredentialByCredentialID(ctx context.Context, credentialID []byte) (store.Credential, error) {
	return scanCredential(s.queryRow(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE credential_id = $1`, blob(credentialID)))
}

// GetCredentialWithUser reads the passkey and its user in one statement,
// one round trip instead of two.
func (s *Store) GetCredentialWithUser(ctx context.Context, credentialID []byte) (store.Credential, store.User, error) {
	var r struct {
		c credentialRow
		u userRow
	}
	err := s.queryRow(ctx, credentialWithUserSQL, blob(credentialID)).
		Scan(r.u.dest(r.c.dest(make([]any, 0, joinedColumns)))...)
	if err != nil {
		return store.Credential{}, store.User{}, mapErr(err)
	}
	return r.c.finish(), r.u.finish(), nil
}

// joinedColumns is room for the scan destinations of two joined records,
// so they are appended into one slice without growing it.
const joinedColumns = 32

var credentialWithUserSQL = `
		SELECT ` + prefixed("c", credentialColumns) + `, ` + prefixed("u", userColumns) + `
		FROM credentials c JOIN users u ON u.id = c.user_id
		WHERE c.credential_id = $1`

// ListCredentials orders by creation time, then by insertion for equal times.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.query(ctx, `
		SELECT `+credentialColumns+` FROM credentials
		WHERE user_id = $1
		ORDER BY created_at, seq`, userID)
	return collect(rows, err, scanCredential)
}

// RecordCredentialUse is one conditional UPDATE: a racer that waited for
// another's update of the row sees the new counter when PostgreSQL re-checks
// the WHERE clause, so it no longer matches.
func (s *Store) RecordCredentialUse(ctx context.Context, id string, use store.CredentialUse) error {
	err := mustAffect(s.exec(ctx, `
		UPDATE credentials
		SET sign_count = $1::bigint, backup_state = $2, last_used_at = $3
		WHERE id = $4 AND ($1::bigint = 0 OR sign_count < $1::bigint)`,
		int64(use.SignCount), use.BackupState, tsOrNull(use.UsedAt), id))
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing changed: tell a missing credential from a counter that did not
	// move forward.
	var one int
	if err := s.queryRow(ctx, `SELECT 1 FROM credentials WHERE id = $1`, id).Scan(&one); err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

func (s *Store) RenameCredential(ctx context.Context, id, name string) error {
	return mustAffect(s.exec(ctx, `UPDATE credentials SET name = $1 WHERE id = $2`, name, id))
}

// DeleteCredential ends the sessions created with it by cascade
// (sessions.credential_id).
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM credentials WHERE id = $1`, id))
}

const tapColumns = `user_id, hash, one_time, created_by, created_at, starts_at, expires_at, used_at`

func scanTAP(row pgx.Row) (store.TAP, error) {
	var t store.TAP
	var created, starts, expires time.Time
	var used *time.Time
	err := row.Scan(&t.UserID, &t.Hash, &t.OneTime, &t.CreatedBy, &created, &starts, &expires, &used)
	if err != nil {
		return store.TAP{}, mapErr(err)
	}
	t.CreatedAt, t.StartsAt, t.ExpiresAt = fromTS(created), fromTS(starts), fromTS(expires)
	t.UsedAt = fromNullTS(used)
	return t, nil
}

// PutTAP replaces any pass the user had; an unknown user is ErrNotFound.
func (s *Store) PutTAP(ctx context.Context, t store.TAP) error {
	_, err := s.exec(ctx, `
		INSERT INTO taps (`+tapColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id) DO UPDATE SET
			hash = excluded.hash,
			one_time = excluded.one_time,
			created_by = excluded.created_by,
			created_at = excluded.created_at,
			starts_at = excluded.starts_at,
			expires_at = excluded.expires_at,
			used_at = excluded.used_at`,
		t.UserID, blob(t.Hash), t.OneTime, t.CreatedBy, ts(t.CreatedAt),
		ts(t.StartsAt), ts(t.ExpiresAt), tsOrNull(t.UsedAt))
	return mapErr(err)
}

func (s *Store) GetTAP(ctx context.Context, userID string) (store.TAP, error) {
	return scanTAP(s.queryRow(ctx, `SELECT `+tapColumns+` FROM taps WHERE user_id = $1`, userID))
}

// UseTAP checks and marks the pass in one statement: the validity rules are
// in the WHERE clause, which PostgreSQL re-checks after waiting for a
// concurrent use, so a one-time pass matches for exactly one caller.
func (s *Store) UseTAP(ctx context.Context, userID string, hash []byte, now time.Time) (store.TAP, error) {
	return scanTAP(s.queryRow(ctx, `
		UPDATE taps SET used_at = $3
		WHERE user_id = $1 AND hash = $2
			AND starts_at <= $3 AND $3 < expires_at
			AND (NOT one_time OR used_at IS NULL)
		RETURNING `+tapColumns,
		userID, blob(hash), ts(now)))
}

func (s *Store) DeleteTAP(ctx context.Context, userID string) error {
	return mustAffect(s.exec(ctx, `DELETE FROM taps WHERE user_id = $1`, userID))
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
