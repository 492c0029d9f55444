package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/store"
)

// The roll-out report's aggregate reads (store.ReportStore).

var _ store.ReportStore = (*Store)(nil)

// EachUserPasskeys walks the users with a summary of their passkeys. A
// security key is a device-bound passkey whose transports include usb,
// nfc or ble.
func (s *Store) EachUserPasskeys(ctx context.Context, fn func(store.UserPasskeys) error) error {
	rows, err := s.query(ctx, `
		SELECT u.id, u.username, u.admin, u.disabled,
			EXISTS (SELECT 1 FROM taps t WHERE t.user_id = u.id),
			count(c.id),
			count(c.id) FILTER (WHERE c.backup_eligible),
			count(c.id) FILTER (WHERE NOT c.backup_eligible),
			count(c.id) FILTER (WHERE NOT c.backup_eligible AND c.transports && ARRAY['usb', 'nfc', 'ble']),
			LEAST(count(DISTINCT c.aaguid), 2)
		FROM users u LEFT JOIN credentials c ON c.user_id = u.id
		GROUP BY u.id
		ORDER BY u.username COLLATE "C"`)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u store.UserPasskeys
		if err := rows.Scan(&u.UserID, &u.Username, &u.Admin, &u.Disabled, &u.HasTAP,
			&u.Passkeys, &u.Synced, &u.DeviceBound, &u.SecurityKeys, &u.Models); err != nil {
			return mapErr(err)
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// EachMembership walks the memberships.
func (s *Store) EachMembership(ctx context.Context, fn func(groupID, userID string) error) error {
	rows, err := s.query(ctx, `SELECT group_id, user_id FROM group_members`)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g, u string
		if err := rows.Scan(&g, &u); err != nil {
			return mapErr(err)
		}
		if err := fn(g, u); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// SignInDays reads the sign-in counters.
func (s *Store) SignInDays(ctx context.Context, since time.Time) ([]store.SignInDay, error) {
	rows, err := s.query(ctx, `
		SELECT day, group_id, method, count FROM signin_daily
		WHERE day >= $1 ORDER BY day, group_id COLLATE "C", method COLLATE "C"`, store.DayNumber(since))
	return collect(rows, err, func(r pgx.Row) (store.SignInDay, error) {
		var d store.SignInDay
		var day int64
		err := r.Scan(&day, &d.GroupID, &d.Method, &d.Count)
		d.Day = store.DayTime(day)
		return d, mapErr(err)
	})
}

// RegistrationDays counts the passkeys registered per day.
func (s *Store) RegistrationDays(ctx context.Context, since time.Time) ([]store.RegistrationDay, error) {
	rows, err := s.query(ctx, `
		SELECT floor(extract(epoch FROM created_at) / 86400)::bigint AS day,
			count(*) FILTER (WHERE backup_eligible), count(*) FILTER (WHERE NOT backup_eligible)
		FROM credentials WHERE created_at >= $1
		GROUP BY day ORDER BY day`, store.DayTime(store.DayNumber(since)))
	return collect(rows, err, func(r pgx.Row) (store.RegistrationDay, error) {
		var d store.RegistrationDay
		var day int64
		err := r.Scan(&day, &d.Synced, &d.DeviceBound)
		d.Day = store.DayTime(day)
		return d, mapErr(err)
	})
}

// ReportOnlyDays reads the report-only counters per day.
func (s *Store) ReportOnlyDays(ctx context.Context, since time.Time) ([]store.ReportOnlyDay, error) {
	rows, err := s.query(ctx, `
		SELECT day, policy, outcome, count FROM report_only_daily
		WHERE day >= $1 ORDER BY day, policy COLLATE "C", outcome COLLATE "C"`, store.DayNumber(since))
	return collect(rows, err, func(r pgx.Row) (store.ReportOnlyDay, error) {
		var d store.ReportOnlyDay
		var day int64
		err := r.Scan(&day, &d.Policy, &d.Outcome, &d.Count)
		d.Day = store.DayTime(day)
		return d, mapErr(err)
	})
}

// ReportOnlyUsers reads the report-only counters per user.
func (s *Store) ReportOnlyUsers(ctx context.Context, since time.Time) ([]store.ReportOnlyUser, error) {
	rows, err := s.query(ctx, `
		SELECT policy, user_id, outcome, count, last_at FROM report_only_users
		WHERE last_at >= $1 ORDER BY policy COLLATE "C", user_id COLLATE "C", outcome COLLATE "C"`, ts(since))
	return collect(rows, err, func(r pgx.Row) (store.ReportOnlyUser, error) {
		var u store.ReportOnlyUser
		var last time.Time
		err := r.Scan(&u.Policy, &u.UserID, &u.Outcome, &u.Count, &last)
		u.Last = fromTS(last)
		return u, mapErr(err)
	})
}

// CampaignUsers reads the campaign outcomes from the audit log.
func (s *Store) CampaignUsers(ctx context.Context) ([]store.CampaignUser, error) {
	rows, err := s.query(ctx, `
		SELECT DISTINCT u.id COLLATE "C", substr(a.action, 10) COLLATE "C"
		FROM audit_events a JOIN users u ON u.username = a.target
		WHERE a.action LIKE 'campaign.%'
		ORDER BY 1, 2`)
	return collect(rows, err, func(r pgx.Row) (store.CampaignUser, error) {
		var c store.CampaignUser
		return c, mapErr(r.Scan(&c.UserID, &c.Outcome))
	})
}
