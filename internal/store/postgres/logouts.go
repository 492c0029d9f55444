package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/oidc/oidcstore"
	"github.com/sesame-idp/sesame/internal/store"
)

// --- back-channel logout outbox ---

const logoutColumns = `id, client_id, subject, session_id, reason, created_at, attempts, next_attempt_at,
	lease_owner, lease_until, done_at, delivered, last_error`

// leaseNone is how "not leased" is stored in the NOT NULL lease_until.
var leaseNone = time.Unix(0, 0).UTC()

func scanLogout(row pgx.Row) (oidcstore.Logout, error) {
	var l oidcstore.Logout
	var created, next, lease time.Time
	var done *time.Time
	err := row.Scan(&l.ID, &l.ClientID, &l.Subject, &l.SessionID, &l.Reason, &created, &l.Attempts, &next,
		&l.LeaseOwner, &lease, &done, &l.Delivered, &l.LastError)
	if err != nil {
		return oidcstore.Logout{}, mapErr(err)
	}
	l.CreatedAt, l.NextAttemptAt, l.DoneAt = fromTS(created), fromTS(next), fromNullTS(done)
	if !lease.Equal(leaseNone) {
		l.LeaseUntil = fromTS(lease)
	}
	return l, nil
}

func leaseTS(t time.Time) time.Time {
	if t.IsZero() {
		return leaseNone
	}
	return ts(t)
}

func (s *Store) ListLogoutTargets(ctx context.Context, q oidcstore.LogoutQuery) ([]oidcstore.LogoutTarget, error) {
	var where string
	var arg any
	switch {
	case q.UserID != "":
		where, arg = `g.user_id = $1`, q.UserID
	case q.CredentialID != "":
		where, arg = `g.credential_id = $1`, q.CredentialID
	case len(q.SessionIDs) > 0:
		where, arg = `g.session_id = ANY($1) AND g.session_id <> ''`, q.SessionIDs
	default:
		return nil, nil
	}
	rows, err := s.query(ctx, `
		SELECT DISTINCT g.client_id, g.user_id, g.session_id
		FROM oidc_grants g JOIN oidc_clients c ON c.id = g.client_id
		WHERE c.backchannel_logout_uri <> '' AND `+where+`
		  AND NOT EXISTS (SELECT 1 FROM oidc_logout_outbox o
			WHERE o.client_id = g.client_id AND o.subject = g.user_id
			  AND (o.session_id = g.session_id OR (o.session_id = '' AND o.created_at >= g.created_at)))
		ORDER BY g.client_id, g.user_id, g.session_id`, arg)
	return collect(rows, err, func(row pgx.Row) (oidcstore.LogoutTarget, error) {
		var t oidcstore.LogoutTarget
		return t, mapErr(row.Scan(&t.ClientID, &t.Subject, &t.SessionID))
	})
}

func (s *Store) AddLogouts(ctx context.Context, ls []oidcstore.Logout) error {
	if len(ls) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx pgx.Tx) error {
		for _, l := range ls {
			_, err := tx.Exec(ctx, `INSERT INTO oidc_logout_outbox (`+logoutColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				l.ID, l.ClientID, l.Subject, l.SessionID, l.Reason, ts(l.CreatedAt), l.Attempts, ts(l.NextAttemptAt),
				l.LeaseOwner, leaseTS(l.LeaseUntil), tsOrNull(l.DoneAt), l.Delivered, l.LastError)
			if err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

func (s *Store) GetLogout(ctx context.Context, id string) (oidcstore.Logout, error) {
	return scanLogout(s.queryRow(ctx, `SELECT `+logoutColumns+` FROM oidc_logout_outbox WHERE id = $1`, id))
}

// ClaimLogouts leases in one statement; FOR UPDATE SKIP LOCKED makes
// concurrent claims (other instances) take other rows instead of waiting
// for, or taking, the same ones.
func (s *Store) ClaimLogouts(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]oidcstore.Logout, error) {
	rows, err := s.query(ctx, `
		UPDATE oidc_logout_outbox SET lease_owner = $1, lease_until = $2
		WHERE id IN (
			SELECT id FROM oidc_logout_outbox
			WHERE done_at IS NULL AND next_attempt_at <= $3 AND lease_until <= $3
			ORDER BY next_attempt_at, created_at, id
			LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING `+logoutColumns, owner, ts(leaseUntil), ts(now), limit)
	return collect(rows, err, scanLogout)
}

func (s *Store) FinishLogout(ctx context.Context, id, owner string, o oidcstore.LogoutOutcome) error {
	done := time.Time{}
	next := o.NextAttemptAt
	if o.Delivered || o.GiveUp {
		done, next = o.At, o.At
	}
	n, err := affected(s.exec(ctx, `UPDATE oidc_logout_outbox
		SET attempts = attempts + 1, lease_owner = '', lease_until = $1, next_attempt_at = $2,
			done_at = $3, delivered = $4, last_error = $5
		WHERE id = $6 AND lease_owner = $7 AND done_at IS NULL`,
		leaseNone, ts(next), tsOrNull(done), o.Delivered, o.Error, id, owner))
	if err != nil || n == 1 {
		return err
	}
	var one int
	if err := s.queryRow(ctx, `SELECT 1 FROM oidc_logout_outbox WHERE id = $1`, id).Scan(&one); err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

func (s *Store) DeleteFinishedLogouts(ctx context.Context, before time.Time) (int, error) {
	return affected(s.exec(ctx, `DELETE FROM oidc_logout_outbox WHERE done_at IS NOT NULL AND done_at < $1`, ts(before)))
}
