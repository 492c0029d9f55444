package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// Append-only logs. IDs come from identity columns: increasing in the order
// they are assigned (a record committed later may carry a smaller ID than
// one already visible, which is why lists order by time first).

// defaultLimit is what a list returns when the caller does not say.
const defaultLimit = 100

const signInColumns = `id, time, user_id, username, ip, user_agent, app, method, result,
	reason, detail, credential_id, aaguid, model, passkey_type, phishing,
	client, country, action, trusted_device, bound_passkey_device, access`

func scanSignIn(row pgx.Row) (store.SignInEvent, error) {
	var e store.SignInEvent
	var t time.Time
	err := row.Scan(&e.ID, &t, &e.UserID, &e.Username, &e.IP, &e.UserAgent, &e.App, &e.Method, &e.Result,
		&e.Reason, &e.Detail, &e.CredentialID, &e.AAGUID, &e.Model, &e.PasskeyType, &e.Phishing,
		&e.Client, &e.Country, &e.Action, &e.TrustedDevice, &e.BoundPasskeyDevice, &e.Access)
	if err != nil {
		return store.SignInEvent{}, mapErr(err)
	}
	e.Time = fromTS(t)
	return e, nil
}

// AppendSignIn ignores e.ID and returns the one assigned. A counted
// sign-in (store.CountedSignIn) also moves the report counters, in the
// same transaction.
func (s *Store) AppendSignIn(ctx context.Context, e store.SignInEvent) (int64, error) {
	const insert = `
		INSERT INTO signins (time, user_id, username, ip, user_agent, app, method, result,
			reason, detail, credential_id, aaguid, model, passkey_type, phishing,
			client, country, action, trusted_device, bound_passkey_device, access)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		RETURNING id`
	args := cleanArgs([]any{ts(e.Time), e.UserID, e.Username, e.IP, e.UserAgent, e.App, e.Method, e.Result,
		e.Reason, e.Detail, e.CredentialID, e.AAGUID, e.Model, e.PasskeyType, e.Phishing,
		e.Client, e.Country, e.Action, e.TrustedDevice, e.BoundPasskeyDevice, e.Access})
	var id int64
	if !store.CountedSignIn(e) {
		return id, mapErr(s.pool.QueryRow(ctx, insert, args...).Scan(&id))
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, insert, args...).Scan(&id); err != nil {
			return err
		}
		return countSignIn(ctx, tx, e)
	})
	return id, mapErr(err)
}

// countSignIn moves the report counters for a counted sign-in
// (store.CountedSignIn), in tx.
func countSignIn(ctx context.Context, tx pgx.Tx, e store.SignInEvent) error {
	day := store.DayNumber(e.Time)
	method, user := store.CleanText(e.Method), store.CleanText(e.UserID)
	if _, err := tx.Exec(ctx, `
		INSERT INTO signin_daily (day, group_id, method, count)
		SELECT $1::integer, '', $2::text, 1
		UNION ALL
		SELECT $1::integer, group_id, $2::text, 1 FROM group_members WHERE user_id = $3
		ON CONFLICT (day, group_id, method) DO UPDATE SET count = signin_daily.count + 1`,
		day, method, user); err != nil {
		return err
	}
	return countReportOnly(ctx, tx, e)
}

// countReportOnly moves the counters of a counted sign-in's report-only
// Conditional Access outcomes, in tx.
func countReportOnly(ctx context.Context, tx pgx.Tx, e store.SignInEvent) error {
	day := store.DayNumber(e.Time)
	user := store.CleanText(e.UserID)
	for _, o := range store.ReportOnlyOutcomes(e.Access) {
		policy := store.CleanText(o.Policy)
		if _, err := tx.Exec(ctx, `
			INSERT INTO report_only_daily (day, policy, outcome, count) VALUES ($1, $2, $3, 1)
			ON CONFLICT (day, policy, outcome) DO UPDATE SET count = report_only_daily.count + 1`,
			day, policy, o.Outcome); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO report_only_users (policy, user_id, outcome, count, last_at) VALUES ($1, $2, $3, 1, $4)
			ON CONFLICT (policy, user_id, outcome) DO UPDATE SET count = report_only_users.count + 1,
				last_at = GREATEST(report_only_users.last_at, excluded.last_at)`,
			policy, user, o.Outcome, ts(e.Time)); err != nil {
			return err
		}
	}
	return nil
}

// ListSignIns returns matching records newest first (by time, then ID).
func (s *Store) ListSignIns(ctx context.Context, f store.SignInFilter) ([]store.SignInEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.App != "" {
		add("app = $%d", f.App)
	}
	if f.Result != "" {
		add("result = $%d", f.Result)
	}
	if !f.Since.IsZero() {
		add("time >= $%d", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < $%d", ts(f.Until))
	}
	query := `SELECT ` + signInColumns + ` FROM signins`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limitOrDefault(f.Limit))
	query += fmt.Sprintf(` ORDER BY time DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.query(ctx, query, args...)
	return collect(rows, err, scanSignIn)
}

const auditColumns = `id, time, actor, action, target, detail`

func scanAudit(row pgx.Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	var t time.Time
	if err := row.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
		return store.AuditEvent{}, mapErr(err)
	}
	e.Time = fromTS(t)
	return e, nil
}

// AppendAudit ignores e.ID and returns the one assigned.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	var id int64
	err := s.queryRow(ctx, `
		INSERT INTO audit_events (time, actor, action, target, detail)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING id`,
		ts(e.Time), e.Actor, e.Action, e.Target, e.Detail).Scan(&id)
	return id, mapErr(err)
}

// ListAudit returns the latest records, newest first (by time, then ID).
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEvent, error) {
	rows, err := s.query(ctx, `
		SELECT `+auditColumns+` FROM audit_events
		ORDER BY time DESC, id DESC LIMIT $1`, limitOrDefault(limit))
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
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM signins WHERE time < $1`, ts(cutoff))
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		day := store.DayNumber(cutoff)
		if _, err := tx.Exec(ctx, `DELETE FROM signin_daily WHERE day < $1`, day); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM report_only_daily WHERE day < $1`, day); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM report_only_users WHERE last_at < $1`, ts(cutoff))
		return err
	})
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}
