package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	c                  store.Credential
	transports         string
	signCount, created int64
	lastUsed           sql.NullInt64
}

func (r *credentialRow) dest(to []any) []any {
	return append(to, &r.c.ID, &r.c.UserID, &r.c.CredentialID, &r.c.PublicKey, &r.c.Algorithm, &r.c.AAGUID,
		&r.c.AttestationFormat, &r.c.AttestationTrust, &r.transports, &r.signCount, &r.c.BackupEligible,
		&r.c.BackupState, &r.c.Name, &r.created, &r.lastUsed)
}

func (r *credentialRow) finish() (store.Credential, error) {
	var err error
	if r.c.Transports, err = decodeList(r.transports); err != nil {
		return store.Credential{}, err
	}
	r.c.SignCount = uint32(r.signCount)
	r.c.CreatedAt, r.c.LastUsedAt = fromMillis(r.created), fromNullMillis(r.lastUsed)
	return r.c, nil
}

func scanCredential(row scanner) (store.Credential, error) {
	var r credentialRow
	if err := row.Scan(r.dest(nil)...); err != nil {
		return store.Credential{}, mapErr(err)
	}
	return r.finish()
}

func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO credentials (`+credentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, blob(c.CredentialID), blob(c.PublicKey), c.Algorithm, blob(c.AAGUID),
		c.AttestationFormat, c.AttestationTrust, encodeList(c.Transports), int64(c.SignCount), c.BackupEligible,
		c.BackupState, c.Name, millis(c.CreatedAt), millisOrNull(c.LastUsedAt))
	return mapErr(err)
}

func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	return scanCredential(s.read.QueryRowContext(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE id = ?`, id))
}

func (s *Store) GetCredentialByCredentialID(ctx context.Context, credentialID []byte) (store.Credential, error) {
	return scanCredential(s.read.QueryRowContext(ctx,
		`SELECT `+credentialColumns+` FROM credentials WHERE credential_id = ?`, blob(credentialID)))
}

// GetCredentialWithUser reads the passkey and its user in one statement:
// under write load every statement on the read pool starts a read
// transaction on a page cache the writer invalidated, so one lookup instead
// of two saves those reads again.
func (s *Store) GetCredentialWithUser(ctx context.Context, credentialID []byte) (store.Credential, store.User, error) {
	var r struct {
		c credentialRow
		u userRow
	}
	err := s.read.lookup(ctx, credentialWithUserSQL, blob(credentialID)).
		Scan(r.u.dest(r.c.dest(make([]any, 0, joinedColumns)))...)
	if err != nil {
		return store.Credential{}, store.User{}, mapErr(err)
	}
	c, err := r.c.finish()
	if err != nil {
		return store.Credential{}, store.User{}, err
	}
	return c, r.u.finish(), nil
}

// joinedColumns is room for the scan destinations of two joined records,
// so they are appended into one slice without growing it.
const joinedColumns = 32

var credentialWithUserSQL = `
		SELECT ` + prefixed("c", credentialColumns) + `, ` + prefixed("u", userColumns) + `
		FROM credentials c JOIN users u ON u.id = c.user_id
		WHERE c.credential_id = ?`

// ListCredentials orders by creation time, then by insertion for equal times.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+credentialColumns+` FROM credentials
		WHERE user_id = ?
		ORDER BY created_at, rowid`, userID)
	return collect(rows, err, scanCredential)
}

// RecordCredentialUse is one conditional UPDATE, so of two racing sign-ins
// presenting the same counter only the first to take the write lock passes.
func (s *Store) RecordCredentialUse(ctx context.Context, id string, use store.CredentialUse) error {
	res, err := s.write.ExecContext(ctx, recordUseSQL, useArgs(id, use)...)
	if err := mustAffect(res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing changed: tell a missing credential from a counter that did not
	// move forward.
	return useRefused(s.read.QueryRowContext(ctx, credentialExistsSQL, id))
}

const (
	recordUseSQL = `
		UPDATE credentials
		SET sign_count = ?1, backup_state = ?2, last_used_at = ?3
		WHERE id = ?4 AND (?1 = 0 OR sign_count < ?1)`
	credentialExistsSQL = `SELECT 1 FROM credentials WHERE id = ?`
)

func useArgs(id string, use store.CredentialUse) []any {
	return []any{int64(use.SignCount), use.BackupState, millisOrNull(use.UsedAt), id}
}

// useRefused says why a credential use changed nothing, from the result of
// credentialExistsSQL: the credential is gone, or its counter did not move
// forward.
func useRefused(row *sql.Row) error {
	var one int
	if err := row.Scan(&one); err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

func (s *Store) RenameCredential(ctx context.Context, id, name string) error {
	return mustAffect(s.write.ExecContext(ctx, `UPDATE credentials SET name = ? WHERE id = ?`, name, id))
}

// DeleteCredential ends the sessions created with it by cascade
// (sessions.credential_id).
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM credentials WHERE id = ?`, id))
}

const tapColumns = `user_id, hash, one_time, created_by, created_at, starts_at, expires_at, used_at`

func scanTAP(row scanner) (store.TAP, error) {
	var t store.TAP
	var created, starts, expires int64
	var used sql.NullInt64
	err := row.Scan(&t.UserID, &t.Hash, &t.OneTime, &t.CreatedBy, &created, &starts, &expires, &used)
	if err != nil {
		return store.TAP{}, mapErr(err)
	}
	t.CreatedAt, t.StartsAt, t.ExpiresAt = fromMillis(created), fromMillis(starts), fromMillis(expires)
	t.UsedAt = fromNullMillis(used)
	return t, nil
}

// PutTAP replaces any pass the user had; an unknown user is ErrNotFound.
func (s *Store) PutTAP(ctx context.Context, t store.TAP) error {
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO taps (`+tapColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET
			hash = excluded.hash,
			one_time = excluded.one_time,
			created_by = excluded.created_by,
			created_at = excluded.created_at,
			starts_at = excluded.starts_at,
			expires_at = excluded.expires_at,
			used_at = excluded.used_at`,
		t.UserID, blob(t.Hash), t.OneTime, t.CreatedBy, millis(t.CreatedAt),
		millis(t.StartsAt), millis(t.ExpiresAt), millisOrNull(t.UsedAt))
	return mapErr(err)
}

func (s *Store) GetTAP(ctx context.Context, userID string) (store.TAP, error) {
	return scanTAP(s.read.QueryRowContext(ctx, `SELECT `+tapColumns+` FROM taps WHERE user_id = ?`, userID))
}

// UseTAP checks and marks the pass in one statement: the validity rules are
// in the WHERE clause, so a one-time pass matches for exactly one caller.
// The hash is a keyed hash of the secret, so comparing it in SQL reveals
// nothing useful through timing.
func (s *Store) UseTAP(ctx context.Context, userID string, hash []byte, now time.Time) (store.TAP, error) {
	return scanTAP(s.write.QueryRowContext(ctx, `
		UPDATE taps SET used_at = ?3
		WHERE user_id = ?1 AND hash = ?2
			AND starts_at <= ?3 AND ?3 < expires_at
			AND (NOT one_time OR used_at IS NULL)
		RETURNING `+tapColumns,
		userID, blob(hash), millis(now)))
}

func (s *Store) DeleteTAP(ctx context.Context, userID string) error {
	return mustAffect(s.write.ExecContext(ctx, `DELETE FROM taps WHERE user_id = ?`, userID))
}
