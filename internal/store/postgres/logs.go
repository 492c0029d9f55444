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

// AppendSignIn ignores e.ID and returns the one assigned.
func (s *Store) AppendSignIn(ctx context.Context, e store.SignInEvent) (int64, error) {
	var id int64
	err := s.queryRow(ctx, `
		INSERT INTO signins (time, user_id, username, ip, user_agent, app, method, result,
			reason, detail, credential_id, aaguid, model, passkey_type, phishing,
			client, country, action, trusted_device, bound_passkey_device, access)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		RETURNING id`,
		ts(e.Time), e.UserID, e.Username, e.IP, e.UserAgent, e.App, e.Method, e.Result,
		e.Reason, e.Detail, e.CredentialID, e.AAGUID, e.Model, e.PasskeyType, e.Phishing,
		e.Client, e.Country, e.Action, e.TrustedDevice, e.BoundPasskeyDevice, e.Access).Scan(&id)
	return id, mapErr(err)
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

// DeleteSignInsBefore is the retention expiry.
func (s *Store) DeleteSignInsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM signins WHERE time < $1`, ts(cutoff)))
}
