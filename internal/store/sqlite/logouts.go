package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
)

// --- back-channel logout outbox ---

const logoutColumns = `id, client_id, subject, session_id, reason, created_at, attempts, next_attempt_at,
	lease_owner, lease_until, done_at, delivered, last_error`

func scanLogout(row scanner) (oidcstore.Logout, error) {
	var l oidcstore.Logout
	var created, next, lease int64
	var done sql.NullInt64
	err := row.Scan(&l.ID, &l.ClientID, &l.Subject, &l.SessionID, &l.Reason, &created, &l.Attempts, &next,
		&l.LeaseOwner, &lease, &done, &l.Delivered, &l.LastError)
	if err != nil {
		return oidcstore.Logout{}, mapErr(err)
	}
	l.CreatedAt, l.NextAttemptAt, l.DoneAt = fromMillis(created), fromMillis(next), fromNullMillis(done)
	if lease != 0 {
		l.LeaseUntil = fromMillis(lease)
	}
	return l, nil
}

func (s *Store) ListLogoutTargets(ctx context.Context, q oidcstore.LogoutQuery) ([]oidcstore.LogoutTarget, error) {
	var where string
	var args []any
	switch {
	case q.UserID != "":
		where, args = `g.user_id = ?`, []any{q.UserID}
	case q.CredentialID != "":
		where, args = `g.credential_id = ?`, []any{q.CredentialID}
	case len(q.SessionIDs) > 0:
		where = `g.session_id IN (?` + strings.Repeat(`, ?`, len(q.SessionIDs)-1) + `) AND g.session_id <> ''`
		for _, id := range q.SessionIDs {
			args = append(args, id)
		}
	default:
		return nil, nil
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT DISTINCT g.client_id, g.user_id, g.session_id
		FROM oidc_grants g JOIN oidc_clients c ON c.id = g.client_id
		WHERE c.backchannel_logout_uri <> '' AND `+where+`
		  AND NOT EXISTS (SELECT 1 FROM oidc_logout_outbox o
			WHERE o.client_id = g.client_id AND o.subject = g.user_id
			  AND (o.session_id = g.session_id OR (o.session_id = '' AND o.created_at >= g.created_at)))
		ORDER BY g.client_id, g.user_id, g.session_id`, args...)
	return collect(rows, err, func(row scanner) (oidcstore.LogoutTarget, error) {
		var t oidcstore.LogoutTarget
		return t, mapErr(row.Scan(&t.ClientID, &t.Subject, &t.SessionID))
	})
}

func (s *Store) AddLogouts(ctx context.Context, ls []oidcstore.Logout) error {
	if len(ls) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, l := range ls {
			_, err := tx.ExecContext(ctx, `INSERT INTO oidc_logout_outbox (`+logoutColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				l.ID, l.ClientID, l.Subject, l.SessionID, l.Reason, millis(l.CreatedAt), l.Attempts, millis(l.NextAttemptAt),
				l.LeaseOwner, leaseMillis(l.LeaseUntil), millisOrNull(l.DoneAt), l.Delivered, l.LastError)
			if err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

func leaseMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

func (s *Store) GetLogout(ctx context.Context, id string) (oidcstore.Logout, error) {
	return scanLogout(s.read.QueryRowContext(ctx, `SELECT `+logoutColumns+` FROM oidc_logout_outbox WHERE id = ?`, id))
}

// ClaimLogouts selects and leases in one write transaction: SQLite's
// single writer makes concurrent claims take turns.
func (s *Store) ClaimLogouts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]oidcstore.Logout, error) {
	var out []oidcstore.Logout
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT `+logoutColumns+` FROM oidc_logout_outbox
			WHERE done_at IS NULL AND next_attempt_at <= ? AND lease_until <= ?
			ORDER BY next_attempt_at, created_at, id LIMIT ?`, millis(now), millis(now), limit)
		ls, err := collect(rows, err, scanLogout)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if _, err := tx.ExecContext(ctx, `UPDATE oidc_logout_outbox SET lease_owner = ?, lease_until = ? WHERE id = ?`,
				owner, millis(leaseUntil), l.ID); err != nil {
				return mapErr(err)
			}
			l.LeaseOwner, l.LeaseUntil = owner, fromMillis(millis(leaseUntil))
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

func (s *Store) FinishLogout(ctx context.Context, id, owner string, o oidcstore.LogoutOutcome) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		done := time.Time{}
		next := o.NextAttemptAt
		if o.Delivered || o.GiveUp {
			done, next = o.At, o.At
		}
		res, err := tx.ExecContext(ctx, `UPDATE oidc_logout_outbox
			SET attempts = attempts + 1, lease_owner = '', lease_until = 0, next_attempt_at = ?,
				done_at = ?, delivered = ?, last_error = ?
			WHERE id = ? AND lease_owner = ? AND done_at IS NULL`,
			millis(next), millisOrNull(done), o.Delivered, o.Error, id, owner)
		if n, err := affected(res, err); err != nil || n == 1 {
			return err
		}
		return oidcMissingOrConflict(ctx, tx, `SELECT 1 FROM oidc_logout_outbox WHERE id = ?`, id)
	})
}

func (s *Store) DeleteFinishedLogouts(ctx context.Context, before time.Time) (int, error) {
	return affected(s.write.ExecContext(ctx, `DELETE FROM oidc_logout_outbox WHERE done_at IS NOT NULL AND done_at < ?`, millis(before)))
}
