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

// AppendSignIn ignores e.ID and returns the one assigned. A counted
// sign-in (store.CountedSignIn) also moves the report counters, in the
// same transaction.
func (s *Store) AppendSignIn(ctx context.Context, e store.SignInEvent) (int64, error) {
	var id int64
	err := s.batch.do(ctx, func(t rawTx) error {
		var err error
		if id, err = t.queryInt64(appendSignInSQL, signInArgs(e)...); err != nil {
			return mapErr(err)
		}
		if !store.CountedSignIn(e) {
			return nil
		}
		return mapErr(countSignIn(e, func(query string, args ...any) error {
			_, err := t.exec(query, args...)
			return err
		}))
	})
	if err != nil {
		return 0, err
	}
	return id, nil
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

// The statements countSignIn runs.
const (
	countDaily = `
		INSERT INTO signin_daily (day, group_id, method, count)
		SELECT day, group_id, method, 1 FROM (
			SELECT ? AS day, '' AS group_id, ? AS method
			UNION ALL
			SELECT ?, group_id, ? FROM group_members WHERE user_id = ?
		) WHERE true
		ON CONFLICT (day, group_id, method) DO UPDATE SET count = count + 1`
	countReportOnlyDay = `
		INSERT INTO report_only_daily (day, policy, outcome, count) VALUES (?, ?, ?, 1)
		ON CONFLICT (day, policy, outcome) DO UPDATE SET count = count + 1`
	countReportOnlyUser = `
		INSERT INTO report_only_users (policy, user_id, outcome, count, last_at) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (policy, user_id, outcome) DO UPDATE SET count = count + 1, last_at = max(last_at, excluded.last_at)`
)

// countSignIn moves the report counters for a counted sign-in, with exec
// running each statement in the record's transaction.
func countSignIn(e store.SignInEvent, exec func(query string, args ...any) error) error {
	day := store.DayNumber(e.Time)
	if err := exec(countDaily, day, e.Method, day, e.Method, e.UserID); err != nil {
		return err
	}
	for _, o := range store.ReportOnlyOutcomes(e.Access) {
		if err := exec(countReportOnlyDay, day, o.Policy, o.Outcome); err != nil {
			return err
		}
		if err := exec(countReportOnlyUser, o.Policy, e.UserID, o.Outcome, millis(e.Time)); err != nil {
			return err
		}
	}
	return nil
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

// DeleteSignInsBefore is the retention expiry. The report counters of the
// days wholly before cutoff go with the records.
func (s *Store) DeleteSignInsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM signins WHERE time < ?`, millis(cutoff))
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr(err)
	}
	day := store.DayNumber(cutoff)
	for _, q := range []string{`DELETE FROM signin_daily WHERE day < ?`, `DELETE FROM report_only_daily WHERE day < ?`} {
		if _, err := tx.ExecContext(ctx, q, day); err != nil {
			return 0, mapErr(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM report_only_users WHERE last_at < ?`, millis(cutoff)); err != nil {
		return 0, mapErr(err)
	}
	return int(n), mapErr(tx.Commit())
}
