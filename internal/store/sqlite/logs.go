package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// Append-only logs. The IDs are rowids: SQLite assigns them increasing
// (max + 1) and, since nothing is ever deleted, never reuses one.

// defaultLimit is what a list returns when the caller does not say.
const defaultLimit = 100

const signInColumns = `id, time, user_id, username, ip, user_agent, app, method, result,
	reason, detail, credential_id, aaguid, model, passkey_type, phishing,
	client, country, action, trusted_device, bound_passkey_device, access`

func scanSignIn(row scanner) (store.SignInEvent, error) {
	var e store.SignInEvent
	var t int64
	err := row.Scan(&e.ID, &t, &e.UserID, &e.Username, &e.IP, &e.UserAgent, &e.App, &e.Method, &e.Result,
		&e.Reason, &e.Detail, &e.CredentialID, &e.AAGUID, &e.Model, &e.PasskeyType, &e.Phishing,
		&e.Client, &e.Country, &e.Action, &e.TrustedDevice, &e.BoundPasskeyDevice, &e.Access)
	if err != nil {
		return store.SignInEvent{}, mapErr(err)
	}
	e.Time = fromMillis(t)
	return e, nil
}

// AppendSignIn ignores e.ID and returns the one assigned.
func (s *Store) AppendSignIn(ctx context.Context, e store.SignInEvent) (int64, error) {
	var id int64
	err := s.write.QueryRowContext(ctx, appendSignInSQL, signInArgs(e)...).Scan(&id)
	return id, mapErr(err)
}

const appendSignInSQL = `
		INSERT INTO signins (time, user_id, username, ip, user_agent, app, method, result,
			reason, detail, credential_id, aaguid, model, passkey_type, phishing,
			client, country, action, trusted_device, bound_passkey_device, access)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`

func signInArgs(e store.SignInEvent) []any {
	return []any{millis(e.Time), e.UserID, e.Username, e.IP, e.UserAgent, e.App, e.Method, e.Result,
		e.Reason, e.Detail, e.CredentialID, e.AAGUID, e.Model, e.PasskeyType, e.Phishing,
		e.Client, e.Country, e.Action, e.TrustedDevice, e.BoundPasskeyDevice, e.Access}
}

// ListSignIns returns matching records newest first (by time, then ID).
func (s *Store) ListSignIns(ctx context.Context, f store.SignInFilter) ([]store.SignInEvent, error) {
	var where []string
	var args []any
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.App != "" {
		where, args = append(where, "app = ?"), append(args, f.App)
	}
	if f.Result != "" {
		where, args = append(where, "result = ?"), append(args, f.Result)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, millis(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, millis(f.Until))
	}
	query := `SELECT ` + signInColumns + ` FROM signins`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limitOrDefault(f.Limit))
	rows, err := s.read.QueryContext(ctx, query, args...)
	return collect(rows, err, scanSignIn)
}

const auditColumns = `id, time, actor, action, target, detail`

func scanAudit(row scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var t int64
	if err := row.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
		return store.AuditEvent{}, mapErr(err)
	}
	e.Time = fromMillis(t)
	return e, nil
}

// AppendAudit ignores e.ID and returns the one assigned.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	var id int64
	err := s.write.QueryRowContext(ctx, `
		INSERT INTO audit_events (time, actor, action, target, detail)
		VALUES (?, ?, ?, ?, ?)
		RETURNING id`,
		millis(e.Time), e.Actor, e.Action, e.Target, e.Detail).Scan(&id)
	return id, mapErr(err)
}

// ListAudit returns the latest records, newest first (by time, then ID).
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEvent, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT `+auditColumns+` FROM audit_events
		ORDER BY time DESC, id DESC LIMIT ?`, limitOrDefault(limit))
	return collect(rows, err, scanAudit)
}

func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// DeleteSignInsBefore is the retention expiry.
func (s *Store) DeleteSignInsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM signins WHERE time < ?`, millis(cutoff)))
}
